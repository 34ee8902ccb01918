/* db: the crash database (DESIGN.md §6): one file per report in a 0700
 * directory, written atomically. Helper process and btcrash command.
 *
 * Layout of the database directory:
 *   <uuid>.json   the report, exactly the JSON that is uploaded (0600);
 *   <uuid>.state  a small JSON object (0600): "state" ("pending", "sent",
 *                 "rejected"), "mode" ("endpoint" or "local"), for an
 *                 endpoint "endpoint_id" (btc_http_endpoint_id: a hash, the
 *                 token is never stored) and "endpoint_url" (redacted), and
 *                 "attachments", [{"name", "source"}]; the submission code
 *                 adds status, attempts, times;
 *   <uuid>.dmp    the minidump of the report, when BACKTRACE_FORMAT=minidump
 *                 (0600); written after its report, whose state then says
 *                 "format": "minidump" (btc_db_store_minidump); what is
 *                 sent instead of the report's JSON;
 *   <uuid>.d/     the copies of the report's attachments, by name; the only
 *                 files ever uploaded with it; flock'ed by the copier while
 *                 it fills it (btc_db_copy_attachment_paths);
 *   <uuid>.json.corrupt, <uuid>.state.corrupt
 *                 files that could not be parsed, moved aside (btc_db_list);
 *   .<name>.*.tmp temporary files of a write in progress (flock'ed by their
 *                 writer until renamed), or left by a helper killed
 *                 mid-write (no lock: btc_db_prune removes them); readers
 *                 skip names starting with '.'.
 * The state is renamed into place before its report, and the report is
 * claimed (flock) before it has its name: whoever sees a report sees its
 * whole state, and cannot send it while its maker still holds it. A report
 * without a state file (an older version's) is pending, made for no known
 * endpoint. Keeping the state apart means the uploaded bytes never need
 * rewriting, and a state change is one small atomic rename.
 *
 * Trust (DESIGN.md §6): the directory is used only when it is a directory,
 * not a symbolic link, owned by the effective uid and not writable by group
 * or others; every file in it is opened relative to its descriptor with
 * O_NOFOLLOW, and only regular files are read.
 */
#ifndef BTCRASH_DB_H
#define BTCRASH_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The bound on the database (DESIGN.md §6 asks for one): past either limit,
 * btc_db_prune deletes corrupt reports first, then sent ones, then rejected
 * ones, then pending ones, oldest first within each state. The bytes are
 * everything in the directory, as `du -sb` counts them: reports, states,
 * minidumps, copies, temporary files, orphans, and files that are not the
 * database's (counted, never removed). */
#define BTC_DB_MAX_REPORTS 100
#define BTC_DB_MAX_BYTES   (256ull * 1024 * 1024)
/* A copy directory, state file or minidump without its report is an orphan
 * once it has not changed for this long (and, for a copy directory, nobody holds
 * its lock): longer than any writer takes between making one and storing
 * its report. */
#define BTC_DB_ORPHAN_AGE_S 60
/* A copied attachment larger than this is cut, and the report says so. */
#define BTC_DB_MAX_ATTACHMENT_BYTES (16ull * 1024 * 1024)
/* The copies of one report's attachments together take at most this much:
 * a file that would take them past it is left out, and the report says
 * so. Four whole attachments; a quarter of BTC_DB_MAX_BYTES. */
#define BTC_DB_MAX_REPORT_ATTACHMENT_BYTES (64ull * 1024 * 1024)

/**
 * Store @report (which must have a "uuid") as DIR/<uuid>.json with @state
 * (an object with everything a sender needs: see the layout above) as its
 * state file, written first. Creates DIR (and missing parents) with mode
 * 0700; the files are 0600, written to temporary names, fsync'ed and
 * renamed into place. The report is claimed (btc_db_claim) before it
 * appears, so no other process can send it until the caller is done.
 *
 * Returns: 0, *ret_path (malloc'ed; caller frees) and, when @ret_claim is
 *          not NULL, the claim in *ret_claim (release it with
 *          btc_db_unclaim; when NULL it is released at once); or -errno:
 *          -EINVAL for a missing or unsafe uuid (anything but hex digits and
 *          '-') or a @state that is no object, -ELOOP when DIR is a symbolic
 *          link, -EPERM when DIR is not the user's own (btc_db_strerror
 *          says why).
 * Borrows: @dir, @report, @state.
 */
int btc_db_store(const char *dir, json_t *report, json_t *state, char **ret_path, int *ret_claim);

/**
 * Replace the stored report DIR/<uuid>.json with a new version, @report
 * (whose "uuid" must be @uuid), while the caller keeps its claim: the
 * report is improved in place (more threads, attachment notes) and no
 * other process can send it, or prune it, between the versions. The new
 * version is written as btc_db_store writes (temporary name, fsync,
 * rename over the old one), so a reader (btcrash list, show, flush) sees
 * the old version or the new one, whole. With @state not NULL, the state
 * file is replaced first (btc_db_write_state; should we stop between the
 * two, the new state goes with the old report); NULL leaves it untouched.
 *
 * The claim is a lock on the report file's inode, and the new version is a
 * new inode: it is locked before it gets the name, the old claim is then
 * released, and *@claim becomes the new one. Claimers (btc_db_claim) check
 * after locking that the name is still the inode they locked, so none can
 * slip in through the old inode.
 *
 * In the helper: btc_db_store(dir, report, state, &path, &claim); copy the
 * attachments (btc_db_copy_attachment_paths); add their notes to the
 * report and their list to the state; btc_db_replace(dir, uuid, report,
 * state, &claim); send; btc_db_unclaim(claim).
 *
 * Returns: 0 and *@claim (the old descriptor closed), or -errno with
 *          *@claim and both files as they were (the state already replaced
 *          when only the report failed): -EINVAL for a bad argument or a
 *          @report whose uuid is not @uuid, -ENOENT when there is no such
 *          report, -ESTALE when *@claim is not on the report file as it is
 *          now, btc_db_open_dir's errors, write errors (-ENOSPC, -EFBIG...).
 * Borrows: @dir, @uuid, @report, @state.
 */
int btc_db_replace(const char *dir, const char *uuid, json_t *report, json_t *state, int *claim);

/**
 * Why @dir could not be used, for a message such as "could not store the
 * report in DIR: <this>": for -ELOOP and -EPERM from the calls of this
 * module, what is wrong with the directory ("it belongs to uid 1000, not to
 * uid 0: ..."); for a limit, which one: -EFBIG "file size limit
 * (RLIMIT_FSIZE)", -ENOSPC "the disk is full", -EMFILE "too many open files
 * (RLIMIT_NOFILE)", -ENFILE "too many open files in the system", -EDQUOT
 * "disk quota exceeded", -EROFS "read-only file system"; else
 * strerror(-@err). @err may be given negative or positive.
 *
 * Returns: @buf.
 */
const char *btc_db_strerror(const char *dir, int err, char *buf, size_t size);

/**
 * Atomically replace DIR/<uuid>.state with @state (an object such as
 * {"state":"sent"}), the same way btc_db_store writes.
 *
 * Returns: 0 or -errno (as btc_db_store).
 * Borrows: @dir, @uuid, @state.
 */
int btc_db_write_state(const char *dir, const char *uuid, json_t *state);

/**
 * Create @dir and its missing parents, each with mode 0700 (whatever the
 * umask). Existing directories keep their mode.
 *
 * Returns: 0 or -errno.
 */
int btc_db_mkdir_p(const char *dir);

/* One report as `btcrash list` shows it. Strings are malloc'ed, NULL when
 * unknown. */
struct btc_db_entry {
    char uuid[37];
    char *state;        /* "pending", "sent", "rejected", "throttled" (a crash
                           loop's repeat, kept and counted, not sent), "counted"
                           (its count went with a sent report), or "corrupt" */
    char *mode;         /* "endpoint", "local", or NULL: made for no known endpoint */
    char *endpoint_id;  /* btc_http_endpoint_id of the endpoint it was made for */
    char *endpoint_url; /* that endpoint, redacted, for people */
    long http_status;   /* of the last attempt; 0 when none */
    int attempts;
    int64_t next_attempt; /* when its backoff lets it be tried again (seconds
                             since the epoch), or 0 */
    int64_t timestamp;    /* the report's "timestamp" (seconds) */
    char *application;
    char *classifier; /* e.g. "SIGSEGV" */
    char *top_frame;  /* "func at file:line" of the faulting thread's first frame */
    char *last_error;
    char *rxid;
    char *signature; /* a throttled or counted crash's signature (db_loop), or NULL */
    char *problem;   /* what was wrong with its files, and what was done about it */
    uint64_t bytes;  /* all its files on disk: report, state, minidump, copies */
};

/**
 * Every report in DIR, oldest first (by timestamp, then uuid): its
 * <uuid>.json (or .json.corrupt) makes it one, nothing else does (a
 * minidump, a state or copies alone are no report). A report
 * without a state file is pending. Files that cannot be parsed are moved
 * aside and listed with a @problem: a corrupt report as state "corrupt"
 * (never sent; the first to go when the database is pruned), a corrupt
 * state as a fresh pending one made for no known endpoint (so it is sent
 * only when asked for, see btc_deliver_pending). A report that cannot be
 * read at all (it vanished, EACCES) is skipped.
 *
 * Returns: 0 and *ret_entries, *ret_n (free with btc_db_entries_free), -errno.
 */
int btc_db_list(const char *dir, struct btc_db_entry **ret_entries, size_t *ret_n);

/** Frees a list from btc_db_list; accepts NULL. */
void btc_db_entries_free(struct btc_db_entry *entries, size_t n);

/**
 * DIR/<uuid>.state as an object; {"state":"pending"} when the file is
 * missing but the report exists.
 *
 * Returns: 0 and *ret_state (a new reference), -ENOENT without the report,
 *          -EBADMSG for a state that is not a JSON object, -errno.
 */
int btc_db_read_state(const char *dir, const char *uuid, json_t **ret_state);

/**
 * The bytes of DIR/<uuid>.json, NUL-terminated.
 *
 * Returns: 0 and *ret_json (malloc'ed) and *ret_len, or -errno.
 */
int btc_db_read_report(const char *dir, const char *uuid, char **ret_json, size_t *ret_len);

/**
 * Copy the ':'-separated files of @paths into DIR/<uuid>.d/, so a later
 * flush sends what the files held at crash time, in their order, within
 * three bounds:
 *   - each copy is cut at BTC_DB_MAX_ATTACHMENT_BYTES ("attachment X cut
 *     at 16777216 bytes");
 *   - the copies together take at most BTC_DB_MAX_REPORT_ATTACHMENT_BYTES:
 *     a file that does not fit whole in what is left is skipped ("attachment
 *     X skipped: the report's attachments reached 64 MiB", or "its N bytes
 *     would take the report's attachments past 64 MiB"; a later, smaller
 *     one may still fit), and one that grows while it is copied is cut
 *     there ("cut at N bytes: the report's attachments reached 64 MiB");
 *   - @deadline_mono_ns (CLOCK_MONOTONIC, btc_clock_now_ns; 0: none):
 *     files are copied a chunk (256 KiB) at a time with the clock checked
 *     before each; a copy not finished at the deadline is removed (never a
 *     partial file), and it and every file after it are skipped
 *     ("attachment X skipped: time budget for attachments ran out"). The
 *     overrun is one chunk's read and write, plus the fsync of a finished
 *     copy.
 * A second file with the same basename is skipped; a missing or unreadable
 * file, or one that is not a regular file, is skipped.
 *
 * In the helper: call it after btc_db_store, holding the claim, with a
 * deadline that leaves time for the upload; then put the notes in the
 * report and the copies in its state, and btc_db_replace both.
 *
 * Returns: 0, *ret_copied (an array of {"name", "source"} objects: the
 *          basename the copy has in DIR/<uuid>.d/, the original path) and
 *          *ret_problems (an array of one-line strings, one per skipped or
 *          cut file; both new references), or -errno when the directory
 *          cannot be made.
 */
int btc_db_copy_attachments(const char *dir, const char *uuid, const char *paths,
                            int64_t deadline_mono_ns, json_t **ret_copied, json_t **ret_problems);

/**
 * As btc_db_copy_attachments, for the @npaths paths of the array @paths
 * (none of them empty; a path may contain ':'), in that order: the first
 * of two files with the same basename is copied.
 */
int btc_db_copy_attachment_paths(const char *dir, const char *uuid, const char *const *paths,
                                 size_t npaths, int64_t deadline_mono_ns, json_t **ret_copied,
                                 json_t **ret_problems);

/**
 * Open the attachment copy @name of report @uuid for reading: the regular
 * file DIR/<uuid>.d/<name>, reached from DIR's descriptor without following
 * a link. This is the only way a sender opens an attachment: whatever a
 * state file says, nothing outside the report's own copies is sent.
 *
 * Returns: the descriptor (O_CLOEXEC; caller closes), or -errno: -EINVAL
 *          when @name is not a plain file name ("", ".", "..", a '/'),
 *          -ELOOP for a symbolic link, -EMEDIUMTYPE for anything that is not
 *          a regular file, -ENOENT, and btc_db_open_dir's errors.
 */
int btc_db_open_attachment(const char *dir, const char *uuid, const char *name);

/**
 * Remove what writers killed mid-way left in DIR, and nothing a live writer
 * still needs:
 *   - temporary files (".*.tmp", in DIR and in every <uuid>.d/) whose lock
 *     can be taken: btc_db_open_temp's writer holds it until the rename,
 *     and the kernel drops it when the writer dies;
 *   - <uuid>.d/ directories without a report (<uuid>.json or
 *     <uuid>.json.corrupt) that nobody holds locked (a copier holds its
 *     directory's lock) and that did not change for BTC_DB_ORPHAN_AGE_S;
 *   - <uuid>.state and <uuid>.state.corrupt files without a report, that
 *     did not change for BTC_DB_ORPHAN_AGE_S (btc_db_store writes the state
 *     just before its report);
 *   - <uuid>.dmp files without a report, that did not change for
 *     BTC_DB_ORPHAN_AGE_S (left by a removal that was interrupted).
 * Nothing of @keep_uuid (may be NULL) is removed. Links are never
 * followed: a link under such a name is removed itself.
 *
 * Returns: the number of files and directories removed, or -errno
 *          (btc_db_open_dir's, -EINVAL for an unsafe @keep_uuid).
 */
int btc_db_remove_orphans(const char *dir, const char *keep_uuid);

/**
 * Remove the orphans (btc_db_remove_orphans), then enforce
 * BTC_DB_MAX_REPORTS and BTC_DB_MAX_BYTES (see above) on what is left,
 * never deleting @keep_uuid (may be NULL) nor a report another process
 * has claimed. Called by the helper after each crash and by `btcrash
 * flush`.
 *
 * Returns: the number of reports deleted, or -errno.
 */
int btc_db_prune(const char *dir, const char *keep_uuid);

/**
 * Claim DIR/<uuid> for sending: an exclusive, non-blocking flock on the
 * report file. Crash helpers and `btcrash flush` all claim a report before
 * sending it, so two processes never send the same report; the kernel drops
 * the claim when its holder dies, so a killed helper leaves nothing stuck.
 * The report file's inode changes only through btc_db_replace, which moves
 * the claim along; after locking, the name is checked to still be the
 * locked inode (else the new one is tried), so a claim is always on the
 * report as it is.
 *
 * Returns: 0 and *ret_fd (pass to btc_db_unclaim), -EBUSY when another
 *          process holds the claim, -ENOENT, -EINVAL for an unsafe uuid,
 *          other -errno.
 */
int btc_db_claim(const char *dir, const char *uuid, int *ret_fd);

/** Releases a claim; accepts -1. */
void btc_db_unclaim(int fd);

/**
 * Delete DIR/<uuid>.json, its state, its minidump and its attachments.
 *
 * Returns: 0 or -errno.
 */
int btc_db_remove(const char *dir, const char *uuid);

/**
 * Store the minidump of report @uuid, @len bytes at @data, as
 * DIR/<uuid>.dmp (0600), as btc_db_store writes: temporary name, fsync,
 * rename, so a sender sees no dump or a whole one. Creates DIR as
 * btc_db_store does. An existing dump is replaced.
 *
 * In the helper (BACKTRACE_FORMAT=minidump): btc_db_store the report;
 * btc_db_store_minidump; then a state with "format": "minidump"
 * (btc_db_replace or btc_db_write_state), and btc_deliver_claimed sends
 * the dump. A dump whose state does not say so is never sent.
 *
 * Returns: 0 or -errno: -EINVAL for a missing or unsafe uuid, or NULL
 *          @data with a length; btc_db_open_dir's errors; write errors
 *          (-ENOSPC, -EFBIG...; btc_db_strerror says which limit).
 * Borrows: @dir, @uuid, @data.
 */
int btc_db_store_minidump(const char *dir, const char *uuid, const void *data, size_t len);

/**
 * Open DIR/<uuid>.dmp for reading, relative to DIR's descriptor, without
 * following a link: the only way a sender opens a minidump.
 *
 * Returns: 0, *ret_fd (O_CLOEXEC; caller closes) and *ret_size (its size
 *          at open), or -errno: -ENOENT when there is none, -ELOOP for a
 *          symbolic link, -EINVAL for anything that is not a regular file
 *          (a FIFO does not block), or a missing or unsafe uuid, and
 *          btc_db_open_dir's errors.
 */
int btc_db_open_minidump(const char *dir, const char *uuid, int *ret_fd, uint64_t *ret_size);

/* The longest a server's Retry-After holds an endpoint back: a broken or
 * hostile server cannot stop delivery for longer. */
#define BTC_DB_HOLD_MAX_S (24 * 3600)

/**
 * Hold back every submission to the endpoint @endpoint_id
 * (btc_http_endpoint_id) until @until (seconds since the epoch, cut to
 * BTC_DB_HOLD_MAX_S from now), as a server's Retry-After asked with
 * @http_status: DIR/<endpoint_id>.hold, written atomically; a later call
 * replaces it. A time already past writes nothing.
 *
 * Returns: 0 or -errno (-EINVAL for an id that is not 64 hex digits).
 */
int btc_db_hold_set(const char *dir, const char *endpoint_id, int64_t until, long http_status);

/**
 * Whether submissions to @endpoint_id are held back: read without
 * following a link.
 *
 * Returns: 0, *ret_until (in the future, at most BTC_DB_HOLD_MAX_S from
 *          now) and *ret_status (may be NULL); -ENOENT when there is no
 *          hold or it has passed; -EBADMSG for an unreadable file; other
 *          -errno.
 */
int btc_db_hold_get(const char *dir, const char *endpoint_id, int64_t *ret_until, long *ret_status);

/* The crash-loop record of one crash signature (64 hex digits, the
 * helper's SHA-256 of the signal and the faulting thread's top frames):
 * DIR/<sig>.loop, 0600, flock'ed while open. */
struct btc_db_loop {
    int fd;
    int64_t sent_at;   /* when a report of it was last sent (seconds), or 0 */
    int64_t throttled; /* crashes of it kept since, not sent, not counted yet */
};

/** Whether @id is 64 lowercase hex digits, as an endpoint id (the
 * SHA-256 of btc_http_endpoint_id) or a crash signature is: a file name
 * that cannot leave the directory. */
bool btc_db_hex_id_is_safe(const char *id);

/**
 * Open (create) and lock @sig's record, waiting for another holder until
 * @deadline_mono_ns at most, and read it into *@ret (zeros when new or
 * unreadable). Finish with btc_db_loop_close.
 *
 * Returns: 0, -EINVAL for an unsafe @sig or a record that is not a regular
 *          file, -ELOOP for a link, -EPERM for someone else's file,
 *          -ETIMEDOUT, other -errno.
 */
int btc_db_loop_open(const char *dir, const char *sig, int64_t deadline_mono_ns,
                     struct btc_db_loop *ret);

/**
 * Write @l back when @write, then unlock and close it.
 *
 * Returns: 0 or -errno (the record is closed either way).
 */
int btc_db_loop_close(struct btc_db_loop *l, bool write);

/**
 * The signatures that have a record in DIR.
 *
 * Returns: 0, *ret_sigs (malloc'ed; free it) and *ret_n, or -errno.
 */
int btc_db_loop_list(const char *dir, char (**ret_sigs)[65], size_t *ret_n);

#endif
