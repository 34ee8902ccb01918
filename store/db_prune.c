/* db_prune: the bound on the database, BTC_DB_MAX_REPORTS and
 * BTC_DB_MAX_BYTES, and the removal of what killed writers left behind
 * (see db.h). */
#include "db.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db_internal.h"
#include "uuid.h"

/* Deletion order of the bound: corrupt reports can never be sent, sent
 * ones are safe on the server (and so are counted ones: a sent report
 * carries their count), rejected ones will never be sent, pending and
 * throttled ones are what is left to lose. */
static int
prune_tier(const char *state)
{
    if (!strcmp(state, "corrupt"))
        return 0;
    if (!strcmp(state, "sent") || !strcmp(state, "counted"))
        return 1;
    if (!strcmp(state, "rejected"))
        return 2;
    return 3;
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* The uuid of "<uuid><suffix>" into @uuid (BTC_UUID_STR_LEN + 1 bytes);
 * false when @name is not of that form with a safe uuid. */
static bool
uuid_of(const char *name, const char *suffix, char *uuid)
{
    size_t n = strlen(name), m = strlen(suffix);

    if (name[0] == '.' || !ends_with(name, suffix) || n - m > BTC_UUID_STR_LEN)
        return false;
    memcpy(uuid, name, n - m);
    uuid[n - m] = '\0';
    return btc_db_uuid_is_safe(uuid);
}

/* Whether @uuid has a report, readable or moved aside as corrupt: then its
 * state and copies are its own, not orphans. */
static bool
has_report(int dirfd, const char *uuid)
{
    char name[128];
    struct stat st;

    snprintf(name, sizeof(name), "%s.json", uuid);
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
        return true; /* in doubt, it stays */
    snprintf(name, sizeof(name), "%s.json.corrupt", uuid);
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

/* Whether @st was last changed long enough ago (BTC_DB_ORPHAN_AGE_S) for no
 * live writer to be about to give it its report. A time in the future (a
 * clock set back) is recent. */
static bool
is_old(const struct stat *st, time_t now)
{
    return st->st_mtime <= now && now - st->st_mtime >= BTC_DB_ORPHAN_AGE_S;
}

/*
 * Remove the temporary file @name of @dirfd unless its writer is alive:
 * btc_db_open_temp locks every temporary file until it is renamed or
 * removed, and the kernel drops that lock when the writer dies. So a lock
 * we can take means nobody writes it any more. Something else under a
 * temporary name (a link, a FIFO) is not a writer's: the name goes, never
 * what it points to. Returns 1 when removed, 0 when kept.
 */
static int
remove_temp(int dirfd, const char *name)
{
    struct stat st;
    int fd, r = 0;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
        return 0;
    if (!S_ISREG(st.st_mode))
        return unlinkat(dirfd, name, 0) == 0;
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    /* Locked, and still the file of that name (a writer re-checks the name
     * after its own lock, and takes another when we hold this one). */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && btc_db_names_fd(dirfd, name, fd) > 0)
        r = unlinkat(dirfd, name, 0) == 0;
    close(fd);
    return r;
}

/* remove_temp for every temporary file (".*.tmp") of the directory @fd. */
static int
remove_temps(int fd)
{
    struct dirent *de;
    DIR *d;
    int dfd, n = 0;

    dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    while ((de = readdir(d)))
        if (de->d_name[0] == '.' && ends_with(de->d_name, ".tmp"))
            n += remove_temp(fd, de->d_name);
    closedir(d);
    return n;
}

/*
 * The copy directory @name of @uuid: its temporary files left by a killed
 * copier go; the directory itself goes when it has no report, nobody holds
 * its lock (btc_db_copy_attachment_paths locks it while it fills it), and it
 * was last changed BTC_DB_ORPHAN_AGE_S ago. The age covers the moment
 * between a copier's mkdir and its lock, and a helper that copies before it
 * stores the report; the lock covers a copy however long it takes.
 * Returns the number of entries removed.
 */
static int
sweep_copies(int dirfd, const char *name, const char *uuid, const char *keep, time_t now)
{
    struct stat st;
    int fd, n = 0;

    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* A link or a file under a copy directory's name, with no report:
         * never ours to follow; the name goes once it is old. */
        if ((errno == ENOTDIR || errno == ELOOP) && !(keep && !strcmp(uuid, keep)) &&
            !has_report(dirfd, uuid) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            is_old(&st, now) && unlinkat(dirfd, name, 0) == 0)
            return 1;
        return 0;
    }
    /* The age before the temporaries go: removing them changes it. */
    if (fstat(fd, &st) < 0) {
        close(fd);
        return 0;
    }
    n = remove_temps(fd);
    if ((keep && !strcmp(uuid, keep)) || has_report(dirfd, uuid) || !is_old(&st, now) ||
        flock(fd, LOCK_EX | LOCK_NB) < 0 || btc_db_names_fd(dirfd, name, fd) <= 0 ||
        has_report(dirfd, uuid)) {
        close(fd);
        return n;
    }
    /* Locked: a copier that comes now waits, then makes it anew. */
    if (btc_db_remove_tree_at(dirfd, name) == 0)
        n++;
    close(fd);
    return n;
}

/* A state file (or one moved aside) or a minidump whose report is gone:
 * left by a removal that was interrupted, or, for a state, written by a
 * sender after the report was removed. btc_db_store writes the state just
 * before its report, so a young one may be about to get its report: only
 * an old one goes. A minidump is written after its report; the age covers
 * a writer that would store it first all the same. */
static int
sweep_file(int dirfd, const char *name, const char *uuid, const char *keep, time_t now)
{
    struct stat st;

    if ((keep && !strcmp(uuid, keep)) || has_report(dirfd, uuid) ||
        fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode) ||
        !is_old(&st, now))
        return 0;
    return unlinkat(dirfd, name, 0) == 0;
}

/* Every orphan of the database @dirfd (see btc_db_remove_orphans). */
static int
remove_orphans_at(int dirfd, const char *keep)
{
    char uuid[BTC_UUID_STR_LEN + 1];
    time_t now = time(NULL);
    struct dirent *de;
    DIR *d;
    int fd, n = 0;

    fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    d = fdopendir(fd);
    if (!d) {
        n = -errno;
        close(fd);
        return n;
    }
    while ((de = readdir(d))) {
        const char *name = de->d_name;

        if (name[0] == '.' && ends_with(name, ".tmp"))
            n += remove_temp(dirfd, name);
        else if (uuid_of(name, ".d", uuid))
            n += sweep_copies(dirfd, name, uuid, keep, now);
        else if (uuid_of(name, ".state", uuid) || uuid_of(name, ".state.corrupt", uuid) ||
                 uuid_of(name, ".dmp", uuid))
            n += sweep_file(dirfd, name, uuid, keep, now);
    }
    closedir(d);
    return n;
}

int
btc_db_remove_orphans(const char *dir, const char *keep_uuid)
{
    int dirfd, r;

    if (keep_uuid && !btc_db_uuid_is_safe(keep_uuid))
        return -EINVAL;
    dirfd = btc_db_open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    r = remove_orphans_at(dirfd, keep_uuid);
    close(dirfd);
    return r;
}

int
btc_db_prune(const char *dir, const char *keep_uuid)
{
    struct btc_db_entry *entries = NULL;
    uint64_t bytes;
    size_t n = 0, count;
    int dirfd, deleted = 0, first_error = 0, r;

    if (keep_uuid && !btc_db_uuid_is_safe(keep_uuid))
        return -EINVAL;
    /* One trusted descriptor for everything below: a rename of the path
     * meanwhile cannot point us elsewhere. */
    dirfd = btc_db_open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    (void)remove_orphans_at(dirfd, keep_uuid);
    r = btc_db_list_at(dirfd, &entries, &n);
    if (r < 0) {
        close(dirfd);
        return r;
    }
    count = n;
    /* Everything in the directory counts, as `du -sb` sees it: the reports
     * and all that goes with them, what is being written now, orphans too
     * young to go, and files that are not the database's. */
    bytes = btc_db_tree_bytes(dirfd, ".");
    /* Entries are oldest first already: one pass per tier keeps that order
     * within each state. */
    for (int tier = 0; tier < 4; tier++) {
        for (size_t i = 0; i < n; i++) {
            struct btc_db_entry *e = &entries[i];

            if (count <= BTC_DB_MAX_REPORTS && bytes <= BTC_DB_MAX_BYTES)
                goto done;
            if (prune_tier(e->state) != tier || (keep_uuid && !strcmp(e->uuid, keep_uuid)))
                continue;
            /* A report being sent right now is not ours to delete. */
            int claim = -1;
            if (btc_db_claim_at(dirfd, e->uuid, &claim) == -EBUSY)
                continue;
            r = btc_db_remove_at(dirfd, e->uuid);
            btc_db_unclaim(claim);
            if (r < 0 && r != -ENOENT) {
                if (!first_error)
                    first_error = r;
                continue;
            }
            count--;
            bytes = bytes > e->bytes ? bytes - e->bytes : 0;
            deleted++;
        }
    }
done:
    close(dirfd);
    btc_db_entries_free(entries, n);
    /* Report a failure only when it left nothing done to report. */
    return deleted == 0 && first_error ? first_error : deleted;
}
