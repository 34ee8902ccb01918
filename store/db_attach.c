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
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "db_internal.h"
#include "fileio.h"
#include "json_util.h"
#include "utf8.h"
#include "path.h"

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
    const char *base = btc_basename(path);
    char *name;
    int r;

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

/*
 * Make DIR/<uuid>.d (0700) on first use; returns its descriptor, locked
 * (flock) until it is closed: btc_db_prune removes a copy directory that
 * has no report only when it can take that lock, so never one being
 * filled. As for temporary files (btc_db_open_temp), a sweeper may have
 * removed the directory between our open and our lock: once locked, the
 * name must still be it, or we make it again.
 */
static int
open_attachment_dir(int dirfd, const char *uuid)
{
    char name[128];
    int fd = -1, r = -EBUSY;

    snprintf(name, sizeof(name), "%s.d", uuid);
    for (int attempt = 0; attempt < 8; attempt++) {
        if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
            return -errno;
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
            close(fd);
            fd = -1;
            /* A sweeper holds it for the moment it takes to check it. */
            btc_clock_sleep_ns(1000000);
            continue;
        }
        /* Any other flock error (a file system that cannot lock a
         * directory: NFS wants it open for writing) leaves it unlocked:
         * the sweep's age rule still spares a directory being filled. */
        if (btc_db_names_fd(dirfd, name, fd) > 0)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        return r;
    if (fchmod(fd, 0700) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* Bytes read and written at a time: the deadline is checked between two,
 * so this bounds by how much a copy can overrun it (a few ms at worst,
 * from a cold disk). */
#define COPY_CHUNK (256u * 1024)

/* Written data is sent to the disk every this many bytes (see copy_file). */
#define COPY_FLUSH (1024u * 1024)

/* How copy_file ended, besides -errno. */
enum {
    COPY_WHOLE = 0, /* the whole file */
    COPY_CUT = 1,   /* its first @max bytes: it was longer */
};

/* Whether @deadline (CLOCK_MONOTONIC ns, 0: none) has passed. */
static bool
past(int64_t deadline)
{
    return deadline > 0 && btc_clock_now_ns() >= deadline;
}

/*
 * Copy at most @max bytes of @src into @name in @attfd, @buf (COPY_CHUNK
 * bytes) at a time, checking @deadline before each read. A copy not
 * finished at the deadline is removed: a file that is there is whole, or
 * cut at a limit the report notes, never cut by chance.
 *
 * Returns: COPY_WHOLE or COPY_CUT and *@ret_bytes, -ETIME when the deadline
 *          came first, or -errno.
 */
static int
copy_file(int src, int attfd, const char *name, uint64_t max, int64_t deadline, char *buf,
          uint64_t *ret_bytes)
{
    uint64_t total = 0, flushed = 0;
    char tmp[256];
    int fd, cut, r = 0;

    fd = btc_db_open_temp(attfd, name, tmp, sizeof(tmp));
    if (fd < 0)
        return fd;
    for (;;) {
        uint64_t left = max - total;
        /* At the limit, read one byte more to learn whether it cuts. */
        size_t want = left == 0 ? 1 : left < COPY_CHUNK ? (size_t)left : COPY_CHUNK;
        ssize_t n;

        if (past(deadline)) {
            r = -ETIME;
            break;
        }
        n = read(src, buf, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        if (left == 0) {
            r = COPY_CUT;
            break;
        }
        r = btc_file_write_all(fd, buf, (size_t)n);
        if (r < 0)
            break;
        total += (uint64_t)n;
        if (total - flushed >= COPY_FLUSH) {
            /* Start writing this stretch back, and wait for the one
             * before: the disk's pace then shows in this loop, where the
             * deadline is checked, instead of in the fsync at the end. */
            (void)sync_file_range(fd, (off_t)flushed, (off_t)(total - flushed),
                                  SYNC_FILE_RANGE_WRITE);
            if (flushed > 0)
                (void)sync_file_range(fd, 0, (off_t)flushed, SYNC_FILE_RANGE_WAIT_BEFORE);
            flushed = total;
        }
    }
    if (r < 0) {
        close(fd);
        unlinkat(attfd, tmp, 0);
        return r;
    }
    cut = r;
    r = btc_db_commit_temp(attfd, fd, tmp, name);
    if (r < 0)
        return r;
    *ret_bytes = total;
    return cut;
}

#define MIB (1024ull * 1024)

int
btc_db_copy_attachment_paths(const char *dir, const char *uuid, const char *const *paths,
                             size_t npaths, int64_t deadline_mono_ns, json_t **ret_copied,
                             json_t **ret_problems)
{
    json_t *copied = json_array(), *problems = json_array();
    const uint64_t budget = BTC_DB_MAX_REPORT_ATTACHMENT_BYTES;
    char *name = NULL, *buf = NULL;
    uint64_t used = 0;
    bool out_of_time = false;
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
    buf = malloc(COPY_CHUNK);
    if (!buf) {
        r = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < npaths; i++) {
        const char *path = paths[i];
        uint64_t size, limit, bytes = 0;
        struct stat st;

        free(name);
        name = NULL;
        if (src >= 0)
            close(src);
        src = -1;
        /* Once time is up, every file left is named, and why. */
        out_of_time = out_of_time || past(deadline_mono_ns);
        if (out_of_time) {
            r = add_problem(problems, "attachment %s skipped: time budget for attachments ran out",
                            path);
            if (r < 0)
                goto done;
            continue;
        }
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
        /* The report's budget: a file that does not fit whole is left out
         * (a smaller one after it may still fit), rather than cut to
         * whatever is left. /proc files say 0 bytes, and a log may grow
         * while it is copied: the copy stops at the budget all the same. */
        size = (uint64_t)st.st_size < BTC_DB_MAX_ATTACHMENT_BYTES ? (uint64_t)st.st_size
                                                                  : BTC_DB_MAX_ATTACHMENT_BYTES;
        if (used >= budget || size > budget - used) {
            if (used >= budget)
                r = add_problem(problems,
                                "attachment %s skipped: the report's attachments reached %llu MiB",
                                path, (unsigned long long)(budget / MIB));
            else
                r = add_problem(problems,
                                "attachment %s skipped: its %llu bytes would take the report's "
                                "attachments past %llu MiB",
                                path, (unsigned long long)size, (unsigned long long)(budget / MIB));
            if (r < 0)
                goto done;
            continue;
        }
        limit = budget - used < BTC_DB_MAX_ATTACHMENT_BYTES ? budget - used
                                                            : BTC_DB_MAX_ATTACHMENT_BYTES;
        if (attfd < 0) {
            attfd = open_attachment_dir(dirfd, uuid);
            if (attfd < 0) {
                r = attfd;
                goto done;
            }
        }
        r = copy_file(src, attfd, name, limit, deadline_mono_ns, buf, &bytes);
        if (r == -ENOMEM)
            goto done;
        if (r == -ETIME) {
            out_of_time = true;
            r = add_problem(problems, "attachment %s skipped: time budget for attachments ran out",
                            path);
            if (r < 0)
                goto done;
            continue;
        }
        if (r < 0) {
            r = add_problem(problems, "attachment %s skipped: %s", path, strerror(-r));
            if (r < 0)
                goto done;
            continue;
        }
        used += bytes;
        if (r == COPY_CUT && limit < BTC_DB_MAX_ATTACHMENT_BYTES)
            r = add_problem(problems,
                            "attachment %s cut at %llu bytes: the report's attachments reached "
                            "%llu MiB",
                            path, (unsigned long long)limit, (unsigned long long)(budget / MIB));
        else if (r == COPY_CUT)
            r = add_problem(problems, "attachment %s cut at %llu bytes", path,
                            (unsigned long long)BTC_DB_MAX_ATTACHMENT_BYTES);
        else
            r = 0;
        if (r < 0)
            goto done;
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
        close(attfd); /* drops the directory's lock */
    if (dirfd >= 0)
        close(dirfd);
    free(name);
    free(buf);
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
btc_db_copy_attachments(const char *dir, const char *uuid, const char *paths,
                        int64_t deadline_mono_ns, json_t **ret_copied, json_t **ret_problems)
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
    r = btc_db_copy_attachment_paths(dir, uuid, v, n, deadline_mono_ns, ret_copied, ret_problems);
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
