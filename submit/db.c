/* db: atomic report storage. Every file is written under a temporary name,
 * fsync'ed, then renamed: a reader (btcrash list, flush) sees either no file
 * or a whole one, even if the helper is killed at its deadline mid-write. */
#include "db.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_util.h"
#include "utf8.h"
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
 * Writers @create it; readers must not leave an empty database behind.
 */
static int
open_dir(const char *dir, bool create)
{
    struct stat st;
    int fd, r;

    if (!dir || !*dir)
        return -EINVAL;
    if (create) {
        r = btc_db_mkdir_p(dir);
        if (r < 0)
            return r;
    }
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

/* Create a temporary file for @name in @dirfd, ".<name>.<random>.tmp", its
 * name written to @tmp. The name is cut so that the whole stays under
 * NAME_MAX even for a long attachment name; the random part keeps it
 * unique. */
static int
open_temp(int dirfd, const char *name, char *tmp, size_t size)
{
    char rnd[BTC_UUID_STR_LEN + 1];
    int fd, r;

    for (int attempt = 0; attempt < 8; attempt++) {
        r = btc_uuid_v4(rnd);
        if (r < 0)
            return r;
        snprintf(tmp, size, ".%.64s.%.8s.tmp", name, rnd);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* Finish a file from open_temp: mode, fsync, close, rename to @name, fsync
 * of the directory so the rename itself survives a power cut. Closes @fd in
 * every case and removes @tmp on failure. */
static int
commit_temp(int dirfd, int fd, const char *tmp, const char *name)
{
    int r = 0;

    /* 0600 exactly, whatever the umask did to the open mode. */
    if (fchmod(fd, 0600) < 0 || fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
        r = -errno;
    if (r < 0) {
        unlinkat(dirfd, tmp, 0);
        return r;
    }
    (void)fsync(dirfd); /* best effort: the data is in place either way */
    return 0;
}

/* Write @data as @name in @dirfd: temporary name, fsync, rename. */
static int
write_atomic(int dirfd, const char *name, const char *data, size_t len)
{
    char tmp[256];
    int fd, r;

    fd = open_temp(dirfd, name, tmp, sizeof(tmp));
    if (fd < 0)
        return fd;
    r = write_all(fd, data, len);
    if (r < 0) {
        close(fd);
        unlinkat(dirfd, tmp, 0);
        return r;
    }
    return commit_temp(dirfd, fd, tmp, name);
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
    dirfd = open_dir(dir, true);
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
    dirfd = open_dir(dir, true);
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

/* ---- Reading, listing, attachments, bound ---- */

/* "DIR/<name>" or "DIR/<a>/<b>", without doubling a trailing '/'. */
static char *
join_path(const char *dir, const char *a, const char *b)
{
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
    char *path;

    if (asprintf(&path, "%s%s%s%s%s", dir, sep, a, b ? "/" : "", b ? b : "") < 0)
        return NULL;
    return path;
}

/*
 * Read the regular file @name in @dirfd (@dirfd may be AT_FDCWD) whole,
 * NUL-terminated. O_NONBLOCK and the regular-file check mean that a FIFO or
 * device planted under a report's name never blocks or drives a reader.
 */
static int
read_at(int dirfd, const char *name, char **ret_data, size_t *ret_len)
{
    size_t len = 0, cap;
    struct stat st;
    char *data = NULL, *bigger;
    int fd, r;

    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        goto fail;
    }
    /* The size is a hint: the file is read to its end whatever it says. */
    cap = (size_t)st.st_size + 1;
    data = malloc(cap);
    if (!data) {
        r = -ENOMEM;
        goto fail;
    }
    for (;;) {
        ssize_t n;

        if (len + 1 == cap) {
            bigger = realloc(data, cap * 2);
            if (!bigger) {
                r = -ENOMEM;
                goto fail;
            }
            data = bigger;
            cap *= 2;
        }
        n = read(fd, data + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    data[len] = '\0';
    *ret_data = data;
    *ret_len = len;
    return 0;
fail:
    free(data);
    close(fd);
    return r;
}

/* The state of @uuid in @dirfd; a missing state file reads as pending (the
 * report is renamed into place before its state, see db.h). */
static int
read_state_at(int dirfd, const char *uuid, json_t **ret_state)
{
    char name[128], *text = NULL;
    json_t *state;
    size_t len;
    int r;

    snprintf(name, sizeof(name), "%s.state", uuid);
    r = read_at(dirfd, name, &text, &len);
    if (r == -ENOENT) {
        state = json_pack("{s:s}", "state", "pending");
        if (!state)
            return -ENOMEM;
        *ret_state = state;
        return 0;
    }
    if (r < 0)
        return r;
    state = json_loadb(text, len, 0, NULL);
    free(text);
    if (!json_is_object(state)) {
        json_decref(state);
        return -EBADMSG;
    }
    *ret_state = state;
    return 0;
}

int
btc_db_read_state(const char *dir, const char *uuid, json_t **ret_state)
{
    char name[128];
    struct stat st;
    int dirfd, r;

    if (!uuid || !uuid_is_safe(uuid))
        return -EINVAL;
    dirfd = open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.json", uuid);
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        r = -errno;
    else
        r = read_state_at(dirfd, uuid, ret_state);
    close(dirfd);
    return r;
}

int
btc_db_read_report(const char *dir, const char *uuid, char **ret_json, size_t *ret_len)
{
    char name[128];
    int dirfd, r;

    if (!uuid || !uuid_is_safe(uuid))
        return -EINVAL;
    dirfd = open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.json", uuid);
    r = read_at(dirfd, name, ret_json, ret_len);
    close(dirfd);
    return r;
}

/* Sum of the sizes of the regular files in @dirfd/@name; 0 when absent. */
static uint64_t
dir_bytes(int dirfd, const char *name)
{
    uint64_t total = 0;
    struct dirent *de;
    struct stat st;
    DIR *d;
    int fd;

    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    while ((de = readdir(d)))
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    closedir(d);
    return total;
}

/* *@field = a copy of the JSON string @v, or NULL when @v is not a string. */
static int
dup_json_str(char **field, json_t *v)
{
    const char *s = json_string_value(v);

    *field = NULL;
    if (!s)
        return 0;
    *field = strdup(s);
    return *field ? 0 : -ENOMEM;
}

/* "func at file:line" of the faulting thread's innermost frame, as `btcrash
 * list` shows it; the module's basename when the file is unknown. */
static int
format_top_frame(json_t *report, char **ret)
{
    const char *tid = json_string_value(json_object_get(report, "mainThread"));
    json_t *thread = tid ? json_object_get(json_object_get(report, "threads"), tid) : NULL;
    json_t *frame = json_array_get(json_object_get(thread, "stack"), 0);
    const char *func, *file = NULL, *lib, *id;
    json_int_t line;
    int n;

    *ret = NULL;
    if (!json_is_object(frame))
        return 0;
    func = json_string_value(json_object_get(frame, "funcName"));
    if (!func)
        func = json_string_value(json_object_get(frame, "address"));
    id = json_string_value(json_object_get(frame, "sourceCode"));
    if (id)
        file = json_string_value(
            json_object_get(json_object_get(json_object_get(report, "sourceCode"), id), "path"));
    lib = json_string_value(json_object_get(frame, "library"));
    line = json_integer_value(json_object_get(frame, "line"));
    if (!func)
        func = "??";
    if (file && line > 0)
        n = asprintf(ret, "%s at %s:%lld", func, file, (long long)line);
    else if (file)
        n = asprintf(ret, "%s at %s", func, file);
    else if (lib)
        n = asprintf(ret, "%s in %s", func, strrchr(lib, '/') ? strrchr(lib, '/') + 1 : lib);
    else
        n = asprintf(ret, "%s", func);
    if (n < 0) {
        *ret = NULL;
        return -ENOMEM;
    }
    return 0;
}

static void
entry_clear(struct btc_db_entry *e)
{
    free(e->state);
    free(e->application);
    free(e->classifier);
    free(e->top_frame);
    free(e->last_error);
    free(e->rxid);
    memset(e, 0, sizeof(*e));
}

/*
 * Fill @e for DIR/<uuid>.json. Returns -ENOMEM, or -EBADMSG (and friends)
 * for a report that cannot be read or parsed, which the caller skips.
 */
static int
load_entry(int dirfd, const char *uuid, struct btc_db_entry *e)
{
    json_t *report = NULL, *state = NULL;
    char name[128], *text = NULL;
    const char *s;
    json_int_t attempts;
    size_t len;
    int r;

    memset(e, 0, sizeof(*e));
    snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
    snprintf(name, sizeof(name), "%s.json", uuid);
    r = read_at(dirfd, name, &text, &len);
    if (r < 0)
        return r;
    e->bytes = len;
    report = json_loadb(text, len, 0, NULL);
    free(text);
    if (!json_is_object(report)) {
        r = -EBADMSG;
        goto done;
    }
    e->timestamp = json_integer_value(json_object_get(report, "timestamp"));
    r = dup_json_str(&e->application,
                     json_object_get(json_object_get(report, "attributes"), "application"));
    if (r >= 0)
        r = dup_json_str(&e->classifier, json_array_get(json_object_get(report, "classifiers"), 0));
    if (r >= 0)
        r = format_top_frame(report, &e->top_frame);
    if (r < 0)
        goto done;

    /* A state file that cannot be parsed must not hide the report: it is
     * still there to be sent, so it lists as pending. */
    r = read_state_at(dirfd, uuid, &state);
    if (r == -ENOMEM)
        goto done;
    s = r < 0 ? NULL : json_string_value(json_object_get(state, "state"));
    e->state = strdup(s ? s : "pending");
    if (!e->state) {
        r = -ENOMEM;
        goto done;
    }
    e->http_status = (long)json_integer_value(json_object_get(state, "http_status"));
    attempts = json_integer_value(json_object_get(state, "attempts"));
    e->attempts = attempts < 0 ? 0 : attempts > INT_MAX ? INT_MAX : (int)attempts;
    r = dup_json_str(&e->last_error, json_object_get(state, "last_error"));
    if (r >= 0)
        r = dup_json_str(&e->rxid, json_object_get(state, "rxid"));
    if (r < 0)
        goto done;
    snprintf(name, sizeof(name), "%s.d", uuid);
    e->bytes += dir_bytes(dirfd, name);
    r = 0;
done:
    json_decref(state);
    json_decref(report);
    if (r < 0)
        entry_clear(e);
    return r;
}

static int
compare_entries(const void *a, const void *b)
{
    const struct btc_db_entry *x = a, *y = b;

    if (x->timestamp != y->timestamp)
        return x->timestamp < y->timestamp ? -1 : 1;
    return strcmp(x->uuid, y->uuid);
}

/* The uuid of a report file name "<uuid>.json" into @uuid (37 bytes), or
 * false for anything else: temporaries, state files, attachment
 * directories, junk. */
static bool
report_name_uuid(const char *name, char *uuid)
{
    size_t len = strlen(name);

    if (name[0] == '.' || len <= 5 || len - 5 > BTC_UUID_STR_LEN ||
        strcmp(name + len - 5, ".json") != 0)
        return false;
    memcpy(uuid, name, len - 5);
    uuid[len - 5] = '\0';
    return uuid_is_safe(uuid);
}

void
btc_db_entries_free(struct btc_db_entry *entries, size_t n)
{
    if (!entries)
        return;
    for (size_t i = 0; i < n; i++)
        entry_clear(&entries[i]);
    free(entries);
}

int
btc_db_list(const char *dir, struct btc_db_entry **ret_entries, size_t *ret_n)
{
    struct btc_db_entry *entries = NULL, *bigger;
    size_t n = 0, cap = 0;
    char uuid[BTC_UUID_STR_LEN + 1];
    struct dirent *de;
    DIR *d = NULL;
    int dirfd, fd, r = 0;

    dirfd = open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    /* readdir gets its own descriptor; dirfd stays for the *at calls. */
    fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !(d = fdopendir(fd))) {
        r = -errno;
        if (fd >= 0)
            close(fd);
        goto done;
    }
    while ((errno = 0, de = readdir(d))) {
        if (!report_name_uuid(de->d_name, uuid))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            bigger = realloc(entries, cap * sizeof(*entries));
            if (!bigger) {
                r = -ENOMEM;
                goto done;
            }
            entries = bigger;
        }
        r = load_entry(dirfd, uuid, &entries[n]);
        if (r == -ENOMEM)
            goto done;
        if (r == 0)
            n++;
        r = 0; /* unreadable or unparsable: skipped */
    }
    if (errno) {
        r = -errno;
        goto done;
    }
    if (n)
        qsort(entries, n, sizeof(*entries), compare_entries);
done:
    if (d)
        closedir(d);
    close(dirfd);
    if (r < 0) {
        btc_db_entries_free(entries, n);
        return r;
    }
    *ret_entries = entries;
    *ret_n = n;
    return 0;
}

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
    fd = open_temp(attfd, name, tmp, sizeof(tmp));
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
        r = write_all(fd, buf, (size_t)n);
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
    r = commit_temp(attfd, fd, tmp, name);
    return r < 0 ? r : cut;
}

int
btc_db_copy_attachments(const char *dir, const char *uuid, const char *paths, json_t **ret_copied,
                        json_t **ret_problems)
{
    json_t *copied = json_array(), *problems = json_array();
    char *list = NULL, *save = NULL, *name = NULL, *copy_path = NULL;
    int dirfd = -1, attfd = -1, src = -1, r = 0;

    if (!copied || !problems) {
        r = -ENOMEM;
        goto done;
    }
    if (!uuid || !uuid_is_safe(uuid)) {
        r = -EINVAL;
        goto done;
    }
    if (!paths || !*paths)
        goto done;
    list = strdup(paths);
    if (!list) {
        r = -ENOMEM;
        goto done;
    }
    dirfd = open_dir(dir, true);
    if (dirfd < 0) {
        r = dirfd;
        goto done;
    }
    for (char *path = strtok_r(list, ":", &save); path; path = strtok_r(NULL, ":", &save)) {
        struct stat st;
        char d_name[128];

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
        snprintf(d_name, sizeof(d_name), "%s.d", uuid);
        copy_path = join_path(dir, d_name, name);
        if (!copy_path) {
            r = -ENOMEM;
            goto done;
        }
        r = btc_json_append(copied, json_pack("{s:s, s:s, s:o}", "name", name, "path", copy_path,
                                              "source", btc_json_str(path)));
        free(copy_path);
        copy_path = NULL;
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
    free(list);
    if (r < 0) {
        json_decref(copied);
        json_decref(problems);
        return r;
    }
    *ret_copied = copied;
    *ret_problems = problems;
    return 0;
}

/* Remove every entry of @dirfd/@name, then the directory itself. */
static int
remove_tree_at(int dirfd, const char *name)
{
    struct dirent *de;
    DIR *d;
    int fd, r = 0;

    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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
        if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT && r == 0)
            r = -errno;
    }
    closedir(d);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
        r = -errno;
    return r;
}

static int
remove_at(int dirfd, const char *uuid)
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
    t = remove_tree_at(dirfd, name);
    if (t == 0)
        found = true;
    else if (t != -ENOENT)
        r = t;
    snprintf(name, sizeof(name), "%s.state", uuid);
    if (unlinkat(dirfd, name, 0) == 0)
        found = true;
    else if (errno != ENOENT && r == 0)
        r = -errno;
    if (r == 0 && !found)
        r = -ENOENT;
    return r;
}

static int
claim_at(int dirfd, const char *uuid, int *ret_fd)
{
    char name[128];
    int fd, r;

    snprintf(name, sizeof(name), "%s.json", uuid);
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        r = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
        return r;
    }
    *ret_fd = fd;
    return 0;
}

int
btc_db_claim(const char *dir, const char *uuid, int *ret_fd)
{
    int dirfd, r;

    if (!uuid || !uuid_is_safe(uuid) || !ret_fd)
        return -EINVAL;
    dirfd = open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    r = claim_at(dirfd, uuid, ret_fd);
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

    if (!uuid || !uuid_is_safe(uuid))
        return -EINVAL;
    dirfd = open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    r = remove_at(dirfd, uuid);
    close(dirfd);
    return r;
}

/* Deletion order of the bound: sent reports are safe on the server,
 * rejected ones will never be sent, pending ones are what is left to lose. */
static int
prune_tier(const char *state)
{
    if (!strcmp(state, "sent"))
        return 0;
    if (!strcmp(state, "rejected"))
        return 1;
    return 2;
}

int
btc_db_prune(const char *dir, const char *keep_uuid)
{
    struct btc_db_entry *entries = NULL;
    uint64_t bytes = 0;
    size_t n = 0, count;
    int dirfd, deleted = 0, first_error = 0, r;

    if (keep_uuid && !uuid_is_safe(keep_uuid))
        return -EINVAL;
    r = btc_db_list(dir, &entries, &n);
    if (r < 0)
        return r;
    dirfd = open_dir(dir, false);
    if (dirfd < 0) {
        btc_db_entries_free(entries, n);
        return dirfd;
    }
    count = n;
    for (size_t i = 0; i < n; i++)
        bytes += entries[i].bytes;
    /* Entries are oldest first already: one pass per tier keeps that order
     * within each state. */
    for (int tier = 0; tier < 3; tier++) {
        for (size_t i = 0; i < n; i++) {
            struct btc_db_entry *e = &entries[i];

            if (count <= BTC_DB_MAX_REPORTS && bytes <= BTC_DB_MAX_BYTES)
                goto done;
            if (prune_tier(e->state) != tier || (keep_uuid && !strcmp(e->uuid, keep_uuid)))
                continue;
            /* A report being sent right now is not ours to delete. */
            int claim = -1;
            if (claim_at(dirfd, e->uuid, &claim) == -EBUSY)
                continue;
            r = remove_at(dirfd, e->uuid);
            btc_db_unclaim(claim);
            if (r < 0 && r != -ENOENT) {
                if (!first_error)
                    first_error = r;
                continue;
            }
            count--;
            bytes -= e->bytes;
            deleted++;
        }
    }
done:
    close(dirfd);
    btc_db_entries_free(entries, n);
    /* Report a failure only when it left nothing done to report. */
    return deleted == 0 && first_error ? first_error : deleted;
}
