/* db_list: every report of the database with what `btcrash list` shows of
 * it, read from its report and state files (see db.h). */
#include "db.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_internal.h"
#include "uuid.h"

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
    r = btc_db_read_at(dirfd, name, &text, &len);
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
    r = btc_db_read_state_at(dirfd, uuid, &state);
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
    return btc_db_uuid_is_safe(uuid);
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

    dirfd = btc_db_open_dir(dir, false);
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
