/* db_internal: what the files of the db module share (db.c, db_list.c,
 * db_attach.c, db_prune.c, db_minidump.c, db_hold.c, db_loop.c); not part of db.h's contract.
 * Helper process and btcrash command. */
#ifndef BTCRASH_DB_INTERNAL_H
#define BTCRASH_DB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct btc_db_entry;

/** Whether @uuid may name files in the database: hex digits and '-' only. */
bool btc_db_uuid_is_safe(const char *uuid);

/**
 * Open the database directory @dir, creating it (and its parents) first
 * when @create: writers create it, readers must not leave an empty database
 * behind.
 *
 * Returns: the directory's descriptor, or -errno: -ELOOP when it is a
 *          symbolic link, -EPERM when it is not the user's own (another
 *          owner, or writable by group or others; btc_db_strerror says which).
 */
int btc_db_open_dir(const char *dir, bool create);

/**
 * Whether the entry @name of @dirfd (not followed) is the open file @fd:
 * how a lock holder knows that what it locked still has the name.
 *
 * Returns: 1, 0 when the name is another file, -ENOENT when there is none,
 *          -errno.
 */
int btc_db_names_fd(int dirfd, const char *name, int fd);

/**
 * Remove @dirfd/@name and, when it is a directory, what it holds (a few
 * levels down), never following a link.
 *
 * Returns: 0, -ENOENT, -errno (what could not be removed stays).
 */
int btc_db_remove_tree_at(int dirfd, const char *name);

/**
 * How much @dirfd/@name takes, as `du -sb` counts it: its own size and,
 * for a directory, that of everything below it (a few levels down), links
 * counted as links, never followed. 0 when it is missing.
 */
uint64_t btc_db_tree_bytes(int dirfd, const char *name);

/**
 * btc_db_list on the open, trusted database directory @dirfd.
 *
 * Returns: as btc_db_list.
 */
int btc_db_list_at(int dirfd, struct btc_db_entry **ret_entries, size_t *ret_n);

/**
 * Create a temporary file for @name in @dirfd, its name written to @tmp
 * (@size bytes; 256 are enough), locked (flock LOCK_EX) so that
 * btc_db_prune knows it is being written. Finish it with
 * btc_db_commit_temp (or unlink it and close it).
 *
 * Returns: the file's descriptor, or -errno.
 */
int btc_db_open_temp(int dirfd, const char *name, char *tmp, size_t size);

/**
 * Make the file @fd from btc_db_open_temp @name in @dirfd, durably.
 *
 * Returns: 0 or -errno. Closes @fd in every case, and removes @tmp on
 *          failure.
 */
int btc_db_commit_temp(int dirfd, int fd, const char *tmp, const char *name);

/**
 * Read the database file @name in @dirfd whole, NUL-terminated; only a
 * regular file, never through a symbolic link.
 *
 * Returns: 0, *ret_data (malloc'ed) and *ret_len, or -errno.
 */
int btc_db_read_at(int dirfd, const char *name, char **ret_data, size_t *ret_len);

/**
 * Write @value (compact JSON) as @name in @dirfd atomically: temporary
 * file, fsync, rename (0600).
 *
 * Returns: 0 or -errno.
 */
int btc_db_store_json_at(int dirfd, const char *name, json_t *value);

/**
 * Atomically replace @uuid's state in @dirfd with @state, as
 * btc_db_write_state.
 *
 * Returns: 0 or -errno.
 */
int btc_db_write_state_at(int dirfd, const char *uuid, json_t *state);

/**
 * Parse the bytes of a state file: a JSON object whose "state" (when
 * present) is "pending", "sent" or "rejected", whose "attachments" is an
 * array and whose "mode" is a string.
 *
 * Returns: 0 and *ret_state (a new reference), -EBADMSG for anything else.
 */
int btc_db_parse_state(const char *text, size_t len, json_t **ret_state);

/**
 * The state of @uuid in @dirfd, as btc_db_read_state, without checking
 * that the report exists.
 *
 * Returns: 0 and *ret_state (a new reference), -EBADMSG, -errno.
 */
int btc_db_read_state_at(int dirfd, const char *uuid, json_t **ret_state);

/**
 * Fill @e's report fields (timestamp, application, classifier, top frame)
 * from the bytes of a report file.
 *
 * Returns: 0, -EBADMSG when they are not a JSON object, -ENOMEM. @e's
 *          strings are set only on success.
 */
int btc_db_entry_from_report(const char *text, size_t len, struct btc_db_entry *e);

/**
 * Fill @e's state fields (state, mode, endpoint, status, attempts, last
 * error, rxid) from a parsed state (btc_db_parse_state).
 *
 * Returns: 0 or -ENOMEM.
 */
int btc_db_entry_from_state(json_t *state, struct btc_db_entry *e);

/**
 * Claim @uuid in @dirfd, as btc_db_claim.
 *
 * Returns: 0 and *ret_fd, -EBUSY, -errno.
 */
int btc_db_claim_at(int dirfd, const char *uuid, int *ret_fd);

/**
 * Delete @uuid's report, attachments, minidump and state in @dirfd, as
 * btc_db_remove.
 *
 * Returns: 0, -ENOENT when none of them was there, -errno.
 */
int btc_db_remove_at(int dirfd, const char *uuid);

#endif
