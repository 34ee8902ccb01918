/* db: atomic report storage. Every file is written under a temporary name,
 * fsync'ed, then renamed: a reader (btcrash list, flush) sees either no file
 * or a whole one, even if the helper is killed at its deadline mid-write. */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static bool
uuid_is_safe(const char *uuid)
{
    size_t n = strspn(uuid, "0123456789abcdefABCDEF-");

    /* No '/', no "..", nothing a file name could be abused with. */
    return n > 0 && n <= 64 && uuid[n] == '\0';
}

/*
 * Open @dir, refusing a directory that another user owns and others may
 * write to: with the /tmp fallback, anyone could have created it first.
 */
static int
open_dir(const char *dir)
{
    struct stat st;
    int fd, r;

    r = btc_db_mkdir_p(dir);
    if (r < 0)
        return r;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if (st.st_uid != geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        return -EPERM;
    }
    return fd;
}

static int
write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write @data as @name in @dirfd: temporary name, fsync, rename, fsync of
 * the directory so the rename itself survives a power cut. */
static int
write_atomic(int dirfd, const char *name, const char *data, size_t len)
{
    char tmp[256], rnd[BTC_UUID_STR_LEN + 1];
    int fd = -1, r;

    for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
        r = btc_uuid_v4(rnd);
        if (r < 0)
            return r;
        snprintf(tmp, sizeof(tmp), ".%s.%.8s.tmp", name, rnd);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST)
            return -errno;
    }
    if (fd < 0)
        return -EEXIST;
    /* 0600 exactly, whatever the umask did to the open mode. */
    if (fchmod(fd, 0600) < 0 || (r = write_all(fd, data, len)) < 0 || fsync(fd) < 0) {
        r = r < 0 ? r : -errno;
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        r = -errno;
        goto fail;
    }
    fd = -1;
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        r = -errno;
        goto fail;
    }
    (void)fsync(dirfd); /* best effort: the data is in place either way */
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlinkat(dirfd, tmp, 0);
    return r;
}

static int
store_json(int dirfd, const char *name, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    int r;

    if (!text)
        return -ENOMEM;
    r = write_atomic(dirfd, name, text, strlen(text));
    free(text);
    return r;
}

static int
write_state_at(int dirfd, const char *uuid, json_t *state)
{
    char name[128];

    snprintf(name, sizeof(name), "%s.state", uuid);
    return store_json(dirfd, name, state);
}

int
btc_db_write_state(const char *dir, const char *uuid, json_t *state)
{
    int dirfd, r;

    if (!uuid || !uuid_is_safe(uuid) || !json_is_object(state))
        return -EINVAL;
    dirfd = open_dir(dir);
    if (dirfd < 0)
        return dirfd;
    r = write_state_at(dirfd, uuid, state);
    close(dirfd);
    return r;
}

int
btc_db_store(const char *dir, json_t *report, char **ret_path)
{
    const char *uuid = json_string_value(json_object_get(report, "uuid"));
    json_t *state = NULL;
    char name[128], *path = NULL;
    int dirfd, r;

    if (!uuid || !uuid_is_safe(uuid))
        return -EINVAL;
    dirfd = open_dir(dir);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.json", uuid);
    r = store_json(dirfd, name, report);
    if (r < 0)
        goto done;
    state = json_pack("{s:s}", "state", "pending");
    if (!state) {
        r = -ENOMEM;
        goto done;
    }
    /* The report is safe already; a missing state file reads as pending. */
    (void)write_state_at(dirfd, uuid, state);
    if (asprintf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name) < 0) {
        r = -ENOMEM;
        goto done;
    }
    *ret_path = path;
done:
    json_decref(state);
    close(dirfd);
    return r;
}
