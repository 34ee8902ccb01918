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
#include "path.h"

static uint64_t
tree_bytes(int dirfd, const char *name, int depth)
{
    struct dirent *de;
    struct stat st;
    uint64_t total;
    DIR *d;
    int fd;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    total = (uint64_t)st.st_size;
    if (!S_ISDIR(st.st_mode) || depth == 0)
        return total;
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return total;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return total;
    }
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            total += tree_bytes(fd, de->d_name, depth - 1);
    closedir(d);
    return total;
}

/* du -sb's count, without its hard-link bookkeeping: the database holds
 * no hard links of its own. */
uint64_t
btc_db_tree_bytes(int dirfd, const char *name)
{
    return tree_bytes(dirfd, name, 4);
}

/* Everything of @uuid on disk: the report (or its corrupt copy), the state
 * (and a corrupt one), the minidump and the copy directory; what pruning it
 * frees (btc_db_remove_at removes each of them). */
static uint64_t
entry_bytes(int dirfd, const char *uuid)
{
    static const char *const suffixes[] = {".json",          ".json.corrupt", ".state",
                                           ".state.corrupt", ".dmp",          ".d"};
    uint64_t total = 0;
    char name[128];

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(name, sizeof(name), "%s%s", uuid, suffixes[i]);
        total += btc_db_tree_bytes(dirfd, name);
    }
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
        n = asprintf(ret, "%s in %s", func, btc_basename(lib));
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
    free(e->mode);
    free(e->endpoint_id);
    free(e->endpoint_url);
    free(e->application);
    free(e->classifier);
    free(e->top_frame);
    free(e->last_error);
    free(e->rxid);
    free(e->signature);
    free(e->problem);
    memset(e, 0, sizeof(*e));
}

int
btc_db_entry_from_report(const char *text, size_t len, struct btc_db_entry *e)
{
    json_t *report = json_loadb(text, len, 0, NULL);
    char *app = NULL, *classifier = NULL, *top = NULL;
    int r;

    if (!json_is_object(report)) {
        json_decref(report);
        return -EBADMSG;
    }
    r = dup_json_str(&app, json_object_get(json_object_get(report, "attributes"), "application"));
    if (r >= 0)
        r = dup_json_str(&classifier, json_array_get(json_object_get(report, "classifiers"), 0));
    if (r >= 0)
        r = format_top_frame(report, &top);
    if (r < 0) {
        free(app);
        free(classifier);
        json_decref(report);
        return r;
    }
    e->timestamp = json_integer_value(json_object_get(report, "timestamp"));
    e->application = app;
    e->classifier = classifier;
    e->top_frame = top;
    json_decref(report);
    return 0;
}

int
btc_db_entry_from_state(json_t *state, struct btc_db_entry *e)
{
    const char *s = json_string_value(json_object_get(state, "state"));
    json_int_t attempts;

    e->state = strdup(s ? s : "pending");
    if (!e->state || dup_json_str(&e->mode, json_object_get(state, "mode")) < 0 ||
        dup_json_str(&e->endpoint_id, json_object_get(state, "endpoint_id")) < 0 ||
        dup_json_str(&e->endpoint_url, json_object_get(state, "endpoint_url")) < 0 ||
        dup_json_str(&e->last_error, json_object_get(state, "last_error")) < 0 ||
        dup_json_str(&e->rxid, json_object_get(state, "rxid")) < 0 ||
        dup_json_str(&e->signature, json_object_get(state, "signature")) < 0)
        return -ENOMEM;
    e->http_status = (long)json_integer_value(json_object_get(state, "http_status"));
    attempts = json_integer_value(json_object_get(state, "attempts"));
    e->attempts = attempts < 0 ? 0 : attempts > INT_MAX ? INT_MAX : (int)attempts;
    e->next_attempt = (int64_t)json_integer_value(json_object_get(state, "next_attempt"));
    return 0;
}

/* A fresh state for @uuid, whose own could not be parsed: pending, made for
 * no known endpoint (so sent only when asked for), and listing whatever
 * copies its attachment directory holds. */
static int
rebuild_state(int dirfd, const char *uuid)
{
    json_t *state = json_pack("{s:s, s:[]}", "state", "pending", "attachments");
    json_t *list = json_object_get(state, "attachments");
    struct dirent *de;
    char name[128];
    DIR *d = NULL;
    int fd, r;

    if (!state)
        return -ENOMEM;
    snprintf(name, sizeof(name), "%s.d", uuid);
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && !(d = fdopendir(fd)))
        close(fd);
    while (d && (de = readdir(d))) {
        struct stat st;

        if (de->d_name[0] == '.' || fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (json_array_append_new(list, json_pack("{s:s}", "name", de->d_name)) < 0) {
            closedir(d);
            json_decref(state);
            return -ENOMEM;
        }
    }
    if (d)
        closedir(d);
    r = btc_db_write_state_at(dirfd, uuid, state);
    json_decref(state);
    return r;
}

/* Move @uuid's file @suffix (".json", ".state") aside to "<name>.corrupt",
 * and say so in *@problem (malloc'ed). */
static int
move_aside(int dirfd, const char *uuid, const char *suffix, const char *why, char **problem)
{
    char from[128], to[160];
    int n;

    snprintf(from, sizeof(from), "%s%s", uuid, suffix);
    snprintf(to, sizeof(to), "%s.corrupt", from);
    if (renameat(dirfd, from, dirfd, to) == 0)
        n = asprintf(problem, "%s %s; moved aside to %s", from, why, to);
    else
        n = asprintf(problem, "%s %s; it could not be moved aside: %s", from, why, strerror(errno));
    if (n < 0) {
        *problem = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* Why a file the database wrote could not be used, in words. */
static const char *
file_problem(int err)
{
    return err == -EBADMSG  ? "is not valid"
           : err == -ELOOP  ? "is a symbolic link"
           : err == -EINVAL ? "is not a regular file"
                            : "cannot be read";
}

/* Whether read error @err is about the file itself, which is then moved
 * aside: a symbolic link, not a regular file, or not valid. */
static bool
is_bad_file(int err)
{
    return err == -EBADMSG || err == -ELOOP || err == -EINVAL;
}

/* @uuid's state could not be used (@err): the report itself is intact and
 * must not be lost, so the state is moved aside and rebuilt. *@problem
 * says what was done; *@ret_state is the state the report now has. */
static int
repair_state(int dirfd, const char *uuid, int err, char **problem, json_t **ret_state)
{
    char *moved = NULL;
    int r, w;

    r = move_aside(dirfd, uuid, ".state", file_problem(err), &moved);
    if (r < 0)
        return r;
    w = rebuild_state(dirfd, uuid);
    if (w == -ENOMEM ||
        asprintf(problem, "%s; the report is pending again, made for no known endpoint%s", moved,
                 w < 0 ? " (a new state could not be written)" : "") < 0) {
        *problem = NULL;
        free(moved);
        return -ENOMEM;
    }
    free(moved);
    *ret_state = json_pack("{s:s}", "state", "pending");
    return *ret_state ? 0 : -ENOMEM;
}

/* @e for a report kept as <uuid>.json.corrupt: listed, never sent. */
static int
load_corrupt(int dirfd, const char *uuid, const char *problem, struct btc_db_entry *e)
{
    char name[160];
    struct stat st;

    snprintf(name, sizeof(name), "%s.json.corrupt", uuid);
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        e->timestamp = (int64_t)st.st_mtime; /* its own is unknown */
    e->state = strdup("corrupt");
    e->problem = problem ? strdup(problem) : NULL;
    if (!e->problem &&
        asprintf(&e->problem, "%s.json was unusable; kept as %s, never sent", uuid, name) < 0)
        e->problem = NULL;
    return e->state && e->problem ? 0 : -ENOMEM;
}

/*
 * Fill @e for DIR/<uuid>.json (or, with @corrupt, <uuid>.json.corrupt).
 * A report or state that cannot be parsed is moved aside (see btc_db_list).
 * Returns 0, -ENOENT for a report that vanished (skipped), -ENOMEM.
 */
static int
load_entry(int dirfd, const char *uuid, bool corrupt, struct btc_db_entry *e)
{
    json_t *state = NULL;
    char name[128], *text = NULL, *problem = NULL;
    size_t len = 0;
    int r;

    memset(e, 0, sizeof(*e));
    snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
    e->bytes = entry_bytes(dirfd, uuid);
    if (corrupt)
        goto corrupt;
    snprintf(name, sizeof(name), "%s.json", uuid);
    r = btc_db_read_at(dirfd, name, &text, &len);
    if (r == -ENOENT || r == -ENOMEM)
        goto done;
    /* Only what the file is says it is corrupt (a link, not a regular file,
     * not JSON): a failure to read it now (EMFILE, EACCES, EIO) says
     * nothing about the report, which is skipped this time and kept. */
    if (r < 0 && !is_bad_file(r)) {
        r = -ENOENT;
        goto done;
    }
    if (r == 0) {
        r = btc_db_entry_from_report(text, len, e);
        free(text);
        if (r == -ENOMEM)
            goto done;
    }
    if (r < 0) {
        r = move_aside(dirfd, uuid, ".json", file_problem(r), &problem);
        if (r < 0)
            goto done;
        goto corrupt;
    }

    r = btc_db_read_state_at(dirfd, uuid, &state);
    if (r == -ENOMEM)
        goto done;
    if (r < 0 && !is_bad_file(r)) {
        r = -ENOENT;
        goto done;
    }
    if (r < 0) {
        r = repair_state(dirfd, uuid, r, &e->problem, &state);
        if (r < 0)
            goto done;
    }
    r = btc_db_entry_from_state(state, e);
    goto done;
corrupt:
    r = load_corrupt(dirfd, uuid, problem, e);
done:
    free(problem);
    json_decref(state);
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

/* The uuid of a report file name "<uuid>.json" or "<uuid>.json.corrupt"
 * into @uuid (37 bytes), and which of the two in *@corrupt; false for
 * anything else: temporaries, state files, minidumps, attachment
 * directories, junk. */
static bool
report_name_uuid(const char *name, char *uuid, bool *corrupt)
{
    size_t len = strlen(name);

    *corrupt = len > 8 && strcmp(name + len - 8, ".corrupt") == 0;
    if (*corrupt)
        len -= 8;
    if (name[0] == '.' || len <= 5 || len - 5 > BTC_UUID_STR_LEN ||
        strncmp(name + len - 5, ".json", 5) != 0)
        return false;
    memcpy(uuid, name, len - 5);
    uuid[len - 5] = '\0';
    return btc_db_uuid_is_safe(uuid);
}

/* A report moved aside during the listing can be seen again under its new
 * name by the same readdir: keep one entry per uuid, the first. */
static size_t
drop_duplicates(struct btc_db_entry *entries, size_t n)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        bool dup = false;

        for (size_t j = 0; j < kept && !dup; j++)
            dup = strcmp(entries[j].uuid, entries[i].uuid) == 0;
        if (dup) {
            entry_clear(&entries[i]);
            continue;
        }
        if (kept != i) {
            entries[kept] = entries[i];
            memset(&entries[i], 0, sizeof(entries[i]));
        }
        kept++;
    }
    return kept;
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
    int dirfd = btc_db_open_dir(dir, false), r;

    if (dirfd < 0)
        return dirfd;
    r = btc_db_list_at(dirfd, ret_entries, ret_n);
    close(dirfd);
    return r;
}

int
btc_db_list_at(int dirfd, struct btc_db_entry **ret_entries, size_t *ret_n)
{
    struct btc_db_entry *entries = NULL, *bigger;
    size_t n = 0, cap = 0;
    char uuid[BTC_UUID_STR_LEN + 1];
    struct dirent *de;
    DIR *d = NULL;
    int fd, r = 0;

    /* readdir gets its own descriptor; dirfd stays for the *at calls. */
    fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !(d = fdopendir(fd))) {
        r = -errno;
        if (fd >= 0)
            close(fd);
        goto done;
    }
    while ((errno = 0, de = readdir(d))) {
        bool corrupt;

        if (!report_name_uuid(de->d_name, uuid, &corrupt))
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
        r = load_entry(dirfd, uuid, corrupt, &entries[n]);
        if (r == -ENOMEM)
            goto done;
        if (r == 0)
            n++;
        r = 0; /* vanished since readdir: skipped */
    }
    if (errno) {
        r = -errno;
        goto done;
    }
    n = drop_duplicates(entries, n);
    if (n)
        qsort(entries, n, sizeof(*entries), compare_entries);
done:
    if (d)
        closedir(d);
    if (r < 0) {
        btc_db_entries_free(entries, n);
        return r;
    }
    *ret_entries = entries;
    *ret_n = n;
    return 0;
}
