/* db_attach: copies of a crash's attachment files, taken into the database
 * next to its report so a later flush sends what they held at crash time
 * (see db.h). */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_internal.h"
#include "fileio.h"
#include "json_util.h"
#include "utf8.h"

/* Append a one-line problem to @problems: control characters in the
 * (user-controlled) path become '?', bad UTF-8 is repaired. */
static int
add_problem(json_t *problems, const char *fmt, ...)
{
    va_list ap;
    char *line;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -ENOMEM;
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    n = btc_json_append(problems, btc_json_str(line));
    free(line);
    return n;
}

/* The name a copy of @path gets: its basename, made a valid UTF-8 string
 * without control characters, so the name in the report, the file on disk
 * and the multipart part name are the same bytes. NULL for an empty
 * basename ("dir/"); -ENOMEM. */
static int
attachment_name(const char *path, char **ret_name)
{
    const char *base = strrchr(path, '/');
    char *name;
    int r;

    base = base ? base + 1 : path;
    *ret_name = NULL;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return 0;
    r = btc_utf8_repair(base, strlen(base), &name, NULL);
    if (r < 0)
        return r;
    for (char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
    *ret_name = name;
    return 0;
}

static bool
already_copied(json_t *copied, const char *name)
{
    size_t i;
    json_t *v;

    json_array_foreach(copied, i, v)
    {
        if (!strcmp(json_string_value(json_object_get(v, "name")), name))
            return true;
    }
    return false;
}

/* Make DIR/<uuid>.d (0700) on first use; returns its descriptor. */
static int
open_attachment_dir(int dirfd, const char *uuid)
{
    char name[128];
    int fd;

    snprintf(name, sizeof(name), "%s.d", uuid);
    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
        return -errno;
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, 0700) < 0) {
        int r = -errno;

        close(fd);
        return r;
    }
    return fd;
}

/*
 * Copy at most BTC_DB_MAX_ATTACHMENT_BYTES of @src into @name in @attfd.
 * Returns 0, 1 when the file was longer and cut, or -errno.
 */
static int
copy_file(int src, int attfd, const char *name)
{
    const size_t bufsize = 64 * 1024;
    uint64_t total = 0;
    char tmp[256], *buf;
    int fd, cut, r = 0;

    buf = malloc(bufsize);
    if (!buf)
        return -ENOMEM;
    fd = btc_db_open_temp(attfd, name, tmp, sizeof(tmp));
    if (fd < 0) {
        free(buf);
        return fd;
    }
    for (;;) {
        uint64_t left = BTC_DB_MAX_ATTACHMENT_BYTES - total;
        /* At the limit, read one byte more to learn whether it cuts. */
        size_t want = left == 0 ? 1 : left < bufsize ? (size_t)left : bufsize;
        ssize_t n = read(src, buf, want);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        if (left == 0) {
            r = 1;
            break;
        }
        r = btc_file_write_all(fd, buf, (size_t)n);
        if (r < 0)
            break;
        total += (uint64_t)n;
    }
    free(buf);
    if (r < 0) {
        close(fd);
        unlinkat(attfd, tmp, 0);
        return r;
    }
    cut = r;
    r = btc_db_commit_temp(attfd, fd, tmp, name);
    return r < 0 ? r : cut;
}

int
btc_db_copy_attachment_paths(const char *dir, const char *uuid, const char *const *paths,
                             size_t npaths, json_t **ret_copied, json_t **ret_problems)
{
    json_t *copied = json_array(), *problems = json_array();
    char *name = NULL;
    int dirfd = -1, attfd = -1, src = -1, r = 0;

    if (!copied || !problems) {
        r = -ENOMEM;
        goto done;
    }
    if (!uuid || !btc_db_uuid_is_safe(uuid)) {
        r = -EINVAL;
        goto done;
    }
    if (npaths == 0)
        goto done;
    dirfd = btc_db_open_dir(dir, true);
    if (dirfd < 0) {
        r = dirfd;
        goto done;
    }
    for (size_t i = 0; i < npaths; i++) {
        const char *path = paths[i];
        struct stat st;

        free(name);
        name = NULL;
        if (src >= 0)
            close(src);
        src = -1;
        r = attachment_name(path, &name);
        if (r < 0)
            goto done;
        if (!name) {
            r = add_problem(problems, "attachment %s skipped: not a file name", path);
            if (r < 0)
                goto done;
            continue;
        }
        if (already_copied(copied, name)) {
            r = add_problem(problems, "attachment %s skipped: another attachment is named %s", path,
                            name);
            if (r < 0)
                goto done;
            continue;
        }
        /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is then
         * refused below, as is anything else that is not a regular file. */
        src = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (src < 0 || fstat(src, &st) < 0) {
            r = add_problem(problems, "attachment %s skipped: %s", path, strerror(errno));
            if (r < 0)
                goto done;
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            r = add_problem(problems, "attachment %s skipped: not a regular file", path);
            if (r < 0)
                goto done;
            continue;
        }
        if (attfd < 0) {
            attfd = open_attachment_dir(dirfd, uuid);
            if (attfd < 0) {
                r = attfd;
                goto done;
            }
        }
        r = copy_file(src, attfd, name);
        if (r == -ENOMEM)
            goto done;
        if (r < 0) {
            r = add_problem(problems, "attachment %s skipped: %s", path, strerror(-r));
            if (r < 0)
                goto done;
            continue;
        }
        if (r == 1) {
            r = add_problem(problems, "attachment %s cut at %llu bytes", path,
                            (unsigned long long)BTC_DB_MAX_ATTACHMENT_BYTES);
            if (r < 0)
                goto done;
        }
        /* No path: the copy is found by name in DIR/<uuid>.d/ alone, so a
         * state file can never point a sender anywhere else. */
        r = btc_json_append(copied,
                            json_pack("{s:s, s:o}", "name", name, "source", btc_json_str(path)));
        if (r < 0)
            goto done;
    }
    r = 0;
done:
    if (src >= 0)
        close(src);
    if (attfd >= 0)
        close(attfd);
    if (dirfd >= 0)
        close(dirfd);
    free(name);
    if (r < 0) {
        json_decref(copied);
        json_decref(problems);
        return r;
    }
    *ret_copied = copied;
    *ret_problems = problems;
    return 0;
}

int
btc_db_copy_attachments(const char *dir, const char *uuid, const char *paths, json_t **ret_copied,
                        json_t **ret_problems)
{
    const char **v = NULL;
    char *list = NULL, *save = NULL;
    size_t n = 0, max = 1;
    int r;

    list = strdup(paths ? paths : "");
    if (!list)
        return -ENOMEM;
    for (const char *p = list; *p; p++)
        max += *p == ':';
    v = calloc(max, sizeof(*v));
    if (!v) {
        free(list);
        return -ENOMEM;
    }
    /* strtok_r: empty elements ("a::b", a trailing ':') name no file. */
    for (char *path = strtok_r(list, ":", &save); path; path = strtok_r(NULL, ":", &save))
        v[n++] = path;
    r = btc_db_copy_attachment_paths(dir, uuid, v, n, ret_copied, ret_problems);
    free(v);
    free(list);
    return r;
}

/* Whether @name can only name a file directly inside a directory. */
static bool
is_plain_name(const char *name)
{
    return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int
btc_db_open_attachment(const char *dir, const char *uuid, const char *name)
{
    char d_name[128];
    struct stat st;
    int dirfd, attfd = -1, fd = -1, r;

    if (!uuid || !btc_db_uuid_is_safe(uuid) || !is_plain_name(name))
        return -EINVAL;
    dirfd = btc_db_open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    snprintf(d_name, sizeof(d_name), "%s.d", uuid);
    attfd = openat(dirfd, d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (attfd < 0) {
        /* O_DIRECTORY|O_NOFOLLOW says ENOTDIR for a link: say what it is. */
        r = errno == ENOTDIR && fstatat(dirfd, d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISLNK(st.st_mode)
                ? -ELOOP
                : -errno;
        goto done;
    }
    /* O_NONBLOCK: a FIFO planted there must not block us; it is refused
     * below with everything else that is not a regular file. */
    fd = openat(attfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        goto done;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EMEDIUMTYPE;
        goto done;
    }
    r = fd;
    fd = -1;
done:
    if (fd >= 0)
        close(fd);
    if (attfd >= 0)
        close(attfd);
    close(dirfd);
    return r;
}
