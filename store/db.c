/* db: atomic report storage. Every file is written under a temporary name,
 * fsync'ed, then renamed: a reader (btcrash list, flush) sees either no file
 * or a whole one, even if the helper is killed at its deadline mid-write.
 * Listing, attachments, the bound and minidumps live in db_list.c,
 * db_attach.c, db_prune.c and db_minidump.c; what they share is in
 * db_internal.h. */
#include "db.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_internal.h"
#include "fileio.h"
#include "uuid.h"

int
btc_db_mkdir_p(const char *dir)
{
    char *path = strdup(dir);
    size_t len;
    int r = 0;

    if (!path)
        return -ENOMEM;
    if (!*path) {
        free(path);
        return -EINVAL;
    }
    len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    /* Walk the prefixes: "/a", "/a/b", ..., then the whole path. */
    for (char *p = path + 1;; p++) {
        bool last = *p == '\0';

        if (*p != '/' && !last)
            continue;
        *p = '\0';
        if (mkdir(path, 0700) == 0) {
            /* mkdir's mode is masked by the umask; a database others can
             * read would leak crash data, one we cannot enter is useless. */
            if (chmod(path, 0700) < 0) {
                r = -errno;
                break;
            }
        } else if (errno != EEXIST) {
            r = -errno;
            break;
        }
        if (last)
            break;
        *p = '/';
    }
    if (r == 0) {
        struct stat st;

        if (stat(path, &st) < 0)
            r = -errno;
        else if (!S_ISDIR(st.st_mode))
            r = -ENOTDIR;
    }
    free(path);
    return r;
}

/* Whether @path itself (not what it points to) is a symbolic link. */
static bool
is_symlink(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

bool
btc_db_uuid_is_safe(const char *uuid)
{
    size_t n = strspn(uuid, "0123456789abcdefABCDEF-");

    /* No '/', no "..", nothing a file name could be abused with. */
    return n > 0 && n <= 64 && uuid[n] == '\0';
}

/* Whether the open directory @fd may hold our reports (DESIGN.md §6): our
 * own, and nobody else may add, swap or remove files in it. Checked on the
 * descriptor every later *at call uses, so a rename of the path after the
 * check changes nothing. */
static int
check_trusted(int fd)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -errno;
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return -EPERM;
    return 0;
}

/*
 * Open @dir, a directory that must be the user's own: not a symbolic link
 * (O_NOFOLLOW: -ELOOP), owned by the effective uid and writable by nobody
 * else (-EPERM). With the /tmp fallback anyone could have made it first.
 * Writers @create it; readers must not leave an empty database behind.
 */
int
btc_db_open_dir(const char *dir, bool create)
{
    int fd, r;

    if (!dir || !*dir)
        return -EINVAL;
    if (create) {
        r = btc_db_mkdir_p(dir);
        if (r < 0)
            return r;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOTDIR && is_symlink(dir) ? -ELOOP : -errno;
    r = check_trusted(fd);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

/* The errors a write into the database meets when a limit is reached,
 * said so that the user knows which limit: strerror's "File too large"
 * for EFBIG hides that it is the process's RLIMIT_FSIZE (the crashed
 * program's, which the helper inherits), not the file system's. NULL for
 * any other error. */
static const char *
limit_words(int err)
{
    switch (err) {
    case EFBIG:
        return "file size limit (RLIMIT_FSIZE)";
    case ENOSPC:
        return "the disk is full";
    case EMFILE:
        return "too many open files (RLIMIT_NOFILE)";
    case ENFILE:
        return "too many open files in the system";
    case EDQUOT:
        return "disk quota exceeded";
    case EROFS:
        return "read-only file system";
    default:
        return NULL;
    }
}

const char *
btc_db_strerror(const char *dir, int err, char *buf, size_t size)
{
    struct stat st;

    if (err == -ELOOP) {
        snprintf(buf, size,
                 "it is a symbolic link, and the crash database must be a directory "
                 "of its own");
    } else if (err == -EPERM && dir && lstat(dir, &st) == 0 && st.st_uid != geteuid()) {
        snprintf(buf, size,
                 "it belongs to uid %u, not to uid %u: another user could read or plant "
                 "reports there",
                 (unsigned)st.st_uid, (unsigned)geteuid());
    } else if (err == -EPERM && dir && lstat(dir, &st) == 0) {
        snprintf(buf, size,
                 "its mode %04o lets others write to it: they could plant or swap "
                 "reports there",
                 (unsigned)(st.st_mode & 07777));
    } else if (limit_words(err < 0 ? -err : err)) {
        snprintf(buf, size, "%s", limit_words(err < 0 ? -err : err));
    } else {
        snprintf(buf, size, "%s", strerror(err < 0 ? -err : err));
    }
    return buf;
}

/* The start of every call about one report: refuse an unsafe @uuid before
 * the directory is opened (or created). */
static int
open_dir_for(const char *dir, const char *uuid, bool create)
{
    if (!uuid || !btc_db_uuid_is_safe(uuid))
        return -EINVAL;
    return btc_db_open_dir(dir, create);
}

int
btc_db_names_fd(int dirfd, const char *name, int fd)
{
    struct stat a, b;

    if (fstat(fd, &a) < 0 || fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * Create a temporary file for @name in @dirfd, ".<name>.<random>.tmp", its
 * name written to @tmp. The name is cut so that the whole stays under
 * NAME_MAX even for a long attachment name; the random part keeps it
 * unique.
 *
 * The file is locked (flock) by its writer until it is renamed or removed:
 * that is how btc_db_prune tells the temporary file of a live writer from
 * one a killed helper left (it removes only those whose lock it can take).
 * Between the open and the flock a sweeper could take the lock first and
 * remove the file; so once locked, the name must still be ours, or we
 * start again under a new name. A sweeper that holds the lock makes our
 * flock fail: that name is its to remove, and we take another.
 */
int
btc_db_open_temp(int dirfd, const char *name, char *tmp, size_t size)
{
    char rnd[BTC_UUID_STR_LEN + 1];
    int fd, r;

    for (int attempt = 0; attempt < 8; attempt++) {
        r = btc_uuid_v4(rnd);
        if (r < 0)
            return r;
        snprintf(tmp, size, ".%.64s.%.8s.tmp", name, rnd);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
            r = errno == EWOULDBLOCK ? 0 : -errno;
        else
            r = btc_db_names_fd(dirfd, tmp, fd);
        if (r > 0)
            return fd;
        close(fd);
        if (r < 0 && r != -ENOENT)
            return r;
    }
    return -EEXIST;
}

/* Give the file @fd from btc_db_open_temp its name @name in @dirfd: mode,
 * fsync, rename, and an fsync of the directory so that the rename itself
 * survives a power cut. @fd stays open (a claim may be held on it); @tmp is
 * removed on failure. */
static int
publish_temp(int dirfd, int fd, const char *tmp, const char *name)
{
    int r = 0;

    /* 0600 exactly, whatever the umask did to the open mode. */
    if (fchmod(fd, 0600) < 0 || fsync(fd) < 0 || renameat(dirfd, tmp, dirfd, name) < 0)
        r = -errno;
    if (r < 0) {
        unlinkat(dirfd, tmp, 0);
        return r;
    }
    (void)fsync(dirfd); /* best effort: the data is in place either way */
    return 0;
}

/* Finish a file from btc_db_open_temp as publish_temp does, and close @fd
 * (in every case: once the data is fsync'ed and renamed, close has nothing
 * left to report). */
int
btc_db_commit_temp(int dirfd, int fd, const char *tmp, const char *name)
{
    int r = publish_temp(dirfd, fd, tmp, name);

    close(fd);
    return r;
}

/* Write @data as @name in @dirfd: temporary name, fsync, rename. */
static int
write_atomic(int dirfd, const char *name, const char *data, size_t len)
{
    char tmp[256];
    int fd, r;

    fd = btc_db_open_temp(dirfd, name, tmp, sizeof(tmp));
    if (fd < 0)
        return fd;
    r = btc_file_write_all(fd, data, len);
    if (r < 0) {
        close(fd);
        unlinkat(dirfd, tmp, 0);
        return r;
    }
    return btc_db_commit_temp(dirfd, fd, tmp, name);
}

int
btc_db_store_json_at(int dirfd, const char *name, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    int r;

    if (!text)
        return -ENOMEM;
    r = write_atomic(dirfd, name, text, strlen(text));
    free(text);
    return r;
}

int
btc_db_write_state_at(int dirfd, const char *uuid, json_t *state)
{
    char name[128];

    snprintf(name, sizeof(name), "%s.state", uuid);
    return btc_db_store_json_at(dirfd, name, state);
}

int
btc_db_write_state(const char *dir, const char *uuid, json_t *state)
{
    int dirfd, r;

    if (!json_is_object(state))
        return -EINVAL;
    dirfd = open_dir_for(dir, uuid, true);
    if (dirfd < 0)
        return dirfd;
    r = btc_db_write_state_at(dirfd, uuid, state);
    close(dirfd);
    return r;
}

/*
 * Write @report as @name in @dirfd as write_atomic does, but lock the file
 * (btc_db_claim's flock) before it has its name: from the moment a sender
 * can see the report, it is already claimed by us. The lock is on the
 * inode, so it survives the rename. Returns the locked descriptor.
 */
static int
store_report_claimed(int dirfd, const char *name, json_t *report)
{
    char tmp[256], *text = json_dumps(report, JSON_COMPACT);
    int fd, r;

    if (!text)
        return -ENOMEM;
    fd = btc_db_open_temp(dirfd, name, tmp, sizeof(tmp));
    if (fd < 0) {
        free(text);
        return fd;
    }
    /* btc_db_open_temp's lock is the claim: it moves with the inode. */
    r = btc_file_write_all(fd, text, strlen(text));
    free(text);
    if (r == 0)
        r = publish_temp(dirfd, fd, tmp, name);
    else
        unlinkat(dirfd, tmp, 0);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int
btc_db_store(const char *dir, json_t *report, json_t *state, char **ret_path, int *ret_claim)
{
    const char *uuid = json_string_value(json_object_get(report, "uuid"));
    char name[128], *path = NULL;
    int dirfd, claim = -1, r;

    if (!json_is_object(state) || !ret_path)
        return -EINVAL;
    dirfd = open_dir_for(dir, uuid, true);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.json", uuid);
    if (asprintf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name) < 0) {
        path = NULL;
        r = -ENOMEM;
        goto done;
    }
    /* The state first: the report's appearance is the commit point, and a
     * sender that finds it finds everything it needs (the attachment list,
     * the endpoint) in its state. A state file without its report is
     * ignored by every reader. */
    r = btc_db_write_state_at(dirfd, uuid, state);
    if (r < 0)
        goto done;
    claim = store_report_claimed(dirfd, name, report);
    if (claim < 0) {
        r = claim;
        snprintf(name, sizeof(name), "%s.state", uuid);
        unlinkat(dirfd, name, 0);
        goto done;
    }
    *ret_path = path;
    path = NULL;
    if (ret_claim)
        *ret_claim = claim;
    else
        btc_db_unclaim(claim);
    r = 0;
done:
    free(path);
    close(dirfd);
    return r;
}

/*
 * The report's new version gets a new inode, locked before it has the name
 * (btc_db_open_temp), so at every moment the name is a claimed file: the
 * old inode until the rename, the new one from then on. Claimers re-check
 * the inode after locking (btc_db_claim_at), so one that opened the old
 * file just before the rename gets nothing when the old lock goes.
 */
int
btc_db_replace(const char *dir, const char *uuid, json_t *report, json_t *state, int *claim)
{
    const char *has = json_string_value(json_object_get(report, "uuid"));
    char name[128], tmp[256], *text = NULL;
    int dirfd, fd = -1, r;

    if (!json_is_object(report) || !has || !uuid || strcmp(has, uuid) != 0 ||
        (state && !json_is_object(state)) || !claim || *claim < 0)
        return -EINVAL;
    dirfd = open_dir_for(dir, uuid, false);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.json", uuid);
    /* The caller's claim must be on the report as it is now: anything else
     * means it is not the caller's to replace (removed: -ENOENT). */
    r = btc_db_names_fd(dirfd, name, *claim);
    if (r == 0)
        r = -ESTALE;
    if (r < 0)
        goto done;
    text = json_dumps(report, JSON_COMPACT);
    if (!text) {
        r = -ENOMEM;
        goto done;
    }
    /* The state first, as btc_db_store does: should we stop between the
     * two, the report a sender finds is whole, and its state lists all it
     * needs (copies the old version does not mention are still sent). */
    if (state) {
        r = btc_db_write_state_at(dirfd, uuid, state);
        if (r < 0)
            goto done;
    }
    fd = btc_db_open_temp(dirfd, name, tmp, sizeof(tmp));
    if (fd < 0) {
        r = fd;
        goto done;
    }
    r = btc_file_write_all(fd, text, strlen(text));
    if (r == 0)
        r = publish_temp(dirfd, fd, tmp, name);
    else
        unlinkat(dirfd, tmp, 0);
    if (r < 0) {
        close(fd);
        goto done;
    }
    /* The name is the new, locked inode now: the old lock guards nothing. */
    btc_db_unclaim(*claim);
    *claim = fd;
    r = 0;
done:
    free(text);
    close(dirfd);
    return r;
}

/*
 * The database's own files only: O_NOFOLLOW and the regular-file check mean
 * that a link, FIFO or device planted under a report's name never blocks or
 * drives a reader. The size is not bounded, and only a hint: the file is
 * read to its end whatever it says.
 */
int
btc_db_read_at(int dirfd, const char *name, char **ret_data, size_t *ret_len)
{
    return btc_file_read_at(dirfd, name, SIZE_MAX, BTC_FILE_REGULAR | BTC_FILE_NOFOLLOW, ret_data,
                            ret_len);
}

int
btc_db_parse_state(const char *text, size_t len, json_t **ret_state)
{
    json_t *state = json_loadb(text, len, 0, NULL), *v;
    const char *name;

    if (!json_is_object(state))
        goto bad;
    /* Types the readers rely on; any other member is the writer's business. */
    v = json_object_get(state, "state");
    name = json_string_value(v);
    if (v &&
        (!name || (strcmp(name, "pending") && strcmp(name, "sent") && strcmp(name, "rejected") &&
                   strcmp(name, "throttled") && strcmp(name, "counted"))))
        goto bad;
    v = json_object_get(state, "attachments");
    if (v && !json_is_array(v))
        goto bad;
    v = json_object_get(state, "mode");
    if (v && !json_is_string(v))
        goto bad;
    *ret_state = state;
    return 0;
bad:
    json_decref(state);
    return -EBADMSG;
}

/* The state of @uuid in @dirfd; a missing state file reads as pending (a
 * report without its state is an older version's, see db.h). */
int
btc_db_read_state_at(int dirfd, const char *uuid, json_t **ret_state)
{
    char name[128], *text = NULL;
    json_t *state;
    size_t len;
    int r;

    snprintf(name, sizeof(name), "%s.state", uuid);
    r = btc_db_read_at(dirfd, name, &text, &len);
    if (r == -ENOENT) {
        state = json_pack("{s:s}", "state", "pending");
        if (!state)
            return -ENOMEM;
        *ret_state = state;
        return 0;
    }
    if (r < 0)
        return r;
    r = btc_db_parse_state(text, len, ret_state);
    free(text);
    return r;
}

int
btc_db_read_state(const char *dir, const char *uuid, json_t **ret_state)
{
    char name[128];
    struct stat st;
    int dirfd, r;

    dirfd = open_dir_for(dir, uuid, false);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.json", uuid);
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        r = -errno;
    else
        r = btc_db_read_state_at(dirfd, uuid, ret_state);
    close(dirfd);
    return r;
}

int
btc_db_read_report(const char *dir, const char *uuid, char **ret_json, size_t *ret_len)
{
    char name[128];
    int dirfd, r;

    dirfd = open_dir_for(dir, uuid, false);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.json", uuid);
    r = btc_db_read_at(dirfd, name, ret_json, ret_len);
    close(dirfd);
    return r;
}

/* Remove @dirfd/@name and, when it is a directory, everything in it, down
 * to @depth levels (a copy directory holds files only; anything deeper is
 * not ours, and is left, with an error). Never follows a link: a link goes,
 * what it points to stays. */
static int
remove_tree(int dirfd, const char *name, int depth)
{
    struct dirent *de;
    DIR *d;
    int fd, r = 0, t;

    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
        /* A link or file where the directory should be: it goes, never
         * what it points to. */
        return unlinkat(dirfd, name, 0) == 0 ? 0 : -errno;
    }
    if (fd < 0)
        return -errno;
    d = fdopendir(fd);
    if (!d) {
        r = -errno;
        close(fd);
        return r;
    }
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (unlinkat(fd, de->d_name, 0) == 0 || errno == ENOENT)
            continue;
        t = errno == EISDIR && depth > 0 ? remove_tree(fd, de->d_name, depth - 1) : -errno;
        if (t < 0 && t != -ENOENT && r == 0)
            r = t;
    }
    closedir(d);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
        r = -errno;
    return r;
}

int
btc_db_remove_tree_at(int dirfd, const char *name)
{
    return remove_tree(dirfd, name, 3);
}

int
btc_db_remove_at(int dirfd, const char *uuid)
{
    char name[128];
    bool found = false;
    int r = 0, t;

    /* The report goes first: should we be interrupted, a state file or
     * attachments without their report are ignored by readers, whereas a
     * report without its state would read as pending and be sent again. */
    snprintf(name, sizeof(name), "%s.json", uuid);
    if (unlinkat(dirfd, name, 0) == 0)
        found = true;
    else if (errno != ENOENT)
        return -errno;
    snprintf(name, sizeof(name), "%s.d", uuid);
    t = btc_db_remove_tree_at(dirfd, name);
    if (t == 0)
        found = true;
    else if (t != -ENOENT)
        r = t;
    /* Then the minidump (sent only with its report, which is gone), what
     * btc_db_list moved aside, and last the state. */
    for (int i = 0; i < 4; i++) {
        static const char *const suffixes[] = {".dmp", ".json.corrupt", ".state.corrupt", ".state"};

        snprintf(name, sizeof(name), "%s%s", uuid, suffixes[i]);
        if (unlinkat(dirfd, name, 0) == 0)
            found = true;
        else if (errno != ENOENT && r == 0)
            r = -errno;
    }
    if (r == 0 && !found)
        r = -ENOENT;
    return r;
}

/*
 * The claim is a lock on the report's inode, and btc_db_replace gives the
 * name a new inode (locked before it is renamed over the old one). A
 * claimer that opened the old inode just before the rename could be
 * granted its lock once the maker lets the old one go: it would then hold
 * a lock nobody else checks. So after locking, the name must still be the
 * inode we locked; if it is not, the report was replaced meanwhile, and
 * the new inode is what to claim.
 */
int
btc_db_claim_at(int dirfd, const char *uuid, int *ret_fd)
{
    char name[128];
    int fd, r;

    snprintf(name, sizeof(name), "%s.json", uuid);
    for (int attempt = 0; attempt < 8; attempt++) {
        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            r = errno == EWOULDBLOCK ? -EBUSY : -errno;
            close(fd);
            return r;
        }
        r = btc_db_names_fd(dirfd, name, fd);
        if (r > 0) {
            *ret_fd = fd;
            return 0;
        }
        close(fd);
        if (r < 0)
            return r; /* -ENOENT: removed since we opened it */
    }
    /* Replaced eight times while we looked: someone is busy with it. */
    return -EBUSY;
}

int
btc_db_claim(const char *dir, const char *uuid, int *ret_fd)
{
    int dirfd, r;

    if (!ret_fd)
        return -EINVAL;
    dirfd = open_dir_for(dir, uuid, false);
    if (dirfd < 0)
        return dirfd;
    r = btc_db_claim_at(dirfd, uuid, ret_fd);
    close(dirfd);
    return r;
}

void
btc_db_unclaim(int fd)
{
    if (fd >= 0)
        close(fd); /* drops the flock */
}

int
btc_db_remove(const char *dir, const char *uuid)
{
    int dirfd, r;

    dirfd = open_dir_for(dir, uuid, false);
    if (dirfd < 0)
        return dirfd;
    r = btc_db_remove_at(dirfd, uuid);
    close(dirfd);
    return r;
}
