/* test_db: the crash database (submit/db*.c): atomic stores, file layout and
 * permissions, the trust checks on the directory, attachment copies, and
 * what a listing does with files it cannot parse; each test in its own
 * mkdtemp directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

/* flock is wrapped at the link (-Wl,--wrap=flock, tests/unit/CMakeLists.txt)
 * so that a test can act between a claimer's open and its flock: when
 * g_before_flock is set, the next flock runs it first (once). */
int __real_flock(int fd, int op);
int __wrap_flock(int fd, int op);

/* read is wrapped too (-Wl,--wrap=read): with g_read_delay_ns set, every
 * read of the code under test takes that long, so that a copy cannot beat
 * its deadline however fast the machine. */
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);

static long g_read_delay_ns;

ssize_t
__wrap_read(int fd, void *buf, size_t n)
{
    if (g_read_delay_ns > 0) {
        struct timespec ts = {0, g_read_delay_ns};

        nanosleep(&ts, NULL);
    }
    return __real_read(fd, buf, n);
}

static void (*g_before_flock)(void *ctx);
static void *g_before_flock_ctx;

int
__wrap_flock(int fd, int op)
{
    void (*fn)(void *) = g_before_flock;

    g_before_flock = NULL;
    if (fn)
        fn(g_before_flock_ctx);
    return __real_flock(fd, op);
}

struct fixture {
    char root[64];
    char db[128];
    mode_t saved_umask;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    strcpy(f->root, "/tmp/btc-test-db-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    /* A nested path, so that mkdir -p has parents to create. */
    snprintf(f->db, sizeof(f->db), "%s/state/btcrash", f->root);
    f->saved_umask = umask(022);
    *state = f;
    return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    umask(f->saved_umask);
    nftw(f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static json_t *
load_file(const char *path)
{
    json_error_t err;

    return json_load_file(path, 0, &err);
}

static mode_t
mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void
write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* The whole of @path, NUL-terminated (malloc'ed). */
static char *
read_text(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = fopen(path, "r");

    assert_non_null(fp);
    text = calloc(1, 4096);
    assert_non_null(text);
    len = fread(text, 1, 4095, fp);
    text[len] = '\0';
    fclose(fp);
    return text;
}

static bool
exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* How many entries @dir holds, "." and ".." aside; 0 when it is missing. */
static int
count_entries(const char *dir)
{
    struct dirent *de;
    DIR *d = opendir(dir);
    int n = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Whether @dir holds a name ending in ".tmp" (a temporary file). */
static bool
has_temp(const char *dir)
{
    struct dirent *de;
    DIR *d = opendir(dir);
    bool found = false;

    if (!d)
        return false;
    while ((de = readdir(d)) && !found) {
        size_t len = strlen(de->d_name);

        found = len > 4 && !strcmp(de->d_name + len - 4, ".tmp");
    }
    closedir(d);
    return found;
}

/* The state a report made in local mode starts with. */
static json_t *
local_state(void)
{
    json_t *st = json_pack("{s:s, s:s}", "state", "pending", "mode", "local");

    assert_non_null(st);
    return st;
}

/* btc_db_store with a local pending state, the claim released at once. */
static int
store_plain(const char *dir, json_t *report, char **ret_path)
{
    json_t *st = local_state();
    int r = btc_db_store(dir, report, st, ret_path, NULL);

    json_decref(st);
    return r;
}

static void
test_db_store_writes_report_and_pending_state(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s, s:i}", "uuid", UUID, "timestamp", 1700000000);
    json_t *made =
        json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "state", "pending", "mode", "endpoint",
                  "endpoint_id", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                  "attachments", "name", "app.log", "source", "/var/log/app.log");
    json_t *stored, *st;
    char *path = NULL, expected[256], state_path[256];

    assert_int_equal(btc_db_store(f->db, report, made, &path, NULL), 0);
    snprintf(expected, sizeof(expected), "%s/%s.json", f->db, UUID);
    assert_string_equal(path, expected);
    stored = load_file(path);
    assert_non_null(stored);
    assert_true(json_equal(stored, report));

    snprintf(state_path, sizeof(state_path), "%s/%s.state", f->db, UUID);
    st = load_file(state_path);
    assert_non_null(st);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "pending");
    /* The state is stored as given: everything a sender needs. */
    assert_true(json_equal(st, made));

    json_decref(st);
    json_decref(made);
    json_decref(stored);
    json_decref(report);
    free(path);
}

static void
test_db_store_makes_directories_0700_and_files_0600_whatever_the_umask(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s}", "uuid", UUID);
    char *path = NULL, parent[160], state_path[256];

    umask(0); /* would give 0777 / 0666 if the code trusted it */
    assert_int_equal(store_plain(f->db, report, &path), 0);
    assert_int_equal(mode_of(f->db), 0700);
    snprintf(parent, sizeof(parent), "%s/state", f->root);
    assert_int_equal(mode_of(parent), 0700);
    assert_int_equal(mode_of(path), 0600);
    snprintf(state_path, sizeof(state_path), "%s/%s.state", f->db, UUID);
    assert_int_equal(mode_of(state_path), 0600);
    json_decref(report);
    free(path);
}

static void
test_db_store_leaves_no_temporary_files(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s}", "uuid", UUID);
    char *path = NULL;
    struct dirent *de;
    int n = 0;
    DIR *d;

    assert_int_equal(store_plain(f->db, report, &path), 0);
    d = opendir(f->db);
    assert_non_null(d);
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        assert_true(!strcmp(de->d_name, UUID ".json") || !strcmp(de->d_name, UUID ".state"));
        n++;
    }
    closedir(d);
    assert_int_equal(n, 2);
    json_decref(report);
    free(path);
}

static void
test_db_store_replaces_an_existing_report_whole(void **state)
{
    struct fixture *f = *state;
    json_t *first = json_pack("{s:s, s:s}", "uuid", UUID, "v", "first");
    json_t *second = json_pack("{s:s, s:s}", "uuid", UUID, "v", "second");
    json_t *stored;
    char *p1 = NULL, *p2 = NULL;

    assert_int_equal(store_plain(f->db, first, &p1), 0);
    assert_int_equal(store_plain(f->db, second, &p2), 0);
    stored = load_file(p2);
    assert_non_null(stored);
    assert_string_equal(json_string_value(json_object_get(stored, "v")), "second");
    json_decref(stored);
    json_decref(first);
    json_decref(second);
    free(p1);
    free(p2);
}

static void
test_db_store_rejects_missing_or_unsafe_uuid(void **state)
{
    struct fixture *f = *state;
    json_t *none = json_object();
    json_t *traversal = json_pack("{s:s}", "uuid", "../../etc/passwd");
    json_t *empty = json_pack("{s:s}", "uuid", "");
    json_t *good = json_pack("{s:s}", "uuid", UUID), *not_object = json_array();
    char *path = NULL;

    assert_int_equal(store_plain(f->db, none, &path), -EINVAL);
    assert_int_equal(store_plain(f->db, traversal, &path), -EINVAL);
    assert_int_equal(store_plain(f->db, empty, &path), -EINVAL);
    /* A state is required, and must be an object. */
    assert_int_equal(btc_db_store(f->db, good, NULL, &path, NULL), -EINVAL);
    assert_int_equal(btc_db_store(f->db, good, not_object, &path, NULL), -EINVAL);
    assert_null(path);
    /* Refused before anything was created. */
    assert_false(exists(f->db));
    json_decref(good);
    json_decref(not_object);
    json_decref(none);
    json_decref(traversal);
    json_decref(empty);
}

static void
test_db_write_state_replaces_the_state_file(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s}", "uuid", UUID);
    json_t *sent = json_pack("{s:s, s:s}", "state", "sent", "rxid", "abc");
    json_t *st;
    char *path = NULL, state_path[256];

    assert_int_equal(store_plain(f->db, report, &path), 0);
    assert_int_equal(btc_db_write_state(f->db, UUID, sent), 0);
    snprintf(state_path, sizeof(state_path), "%s/%s.state", f->db, UUID);
    st = load_file(state_path);
    assert_non_null(st);
    assert_true(json_equal(st, sent));
    assert_int_equal(mode_of(state_path), 0600);
    assert_int_equal(btc_db_write_state(f->db, "a/b", sent), -EINVAL);
    json_decref(st);
    json_decref(sent);
    json_decref(report);
    free(path);
}

static void
test_db_mkdir_p_fails_when_a_file_is_in_the_way(void **state)
{
    struct fixture *f = *state;
    char file[128], below[160];
    FILE *fp;

    snprintf(file, sizeof(file), "%s/file", f->root);
    fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(btc_db_mkdir_p(file), -ENOTDIR);
    snprintf(below, sizeof(below), "%s/sub", file);
    assert_int_equal(btc_db_mkdir_p(below), -ENOTDIR);
    assert_int_equal(btc_db_mkdir_p(""), -EINVAL);
}

static void
test_db_mkdir_p_keeps_mode_of_existing_directory(void **state)
{
    struct fixture *f = *state;

    /* The user may point the database at a directory of their own. */
    assert_int_equal(chmod(f->root, 0750), 0);
    assert_int_equal(btc_db_mkdir_p(f->root), 0);
    assert_int_equal(mode_of(f->root), 0750);
}

static void
test_db_store_refuses_directory_others_own_and_can_write(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s}", "uuid", UUID);
    char *path = NULL, shared[128];

    if (geteuid() != 0) {
        json_decref(report);
        skip(); /* needs chown to another user */
    }
    snprintf(shared, sizeof(shared), "%s/shared", f->root);
    assert_int_equal(mkdir(shared, 0777), 0);
    assert_int_equal(chmod(shared, 0777), 0);
    assert_int_equal(chown(shared, 65534, 65534), 0);
    assert_int_equal(store_plain(shared, report, &path), -EPERM);
    assert_null(path);
    json_decref(report);
}

/* A report like the helper's, as far as `btcrash list` reads it. */
static void
store_report(struct fixture *f, const char *uuid, long long ts, const char *state_name)
{
    json_t *report = json_pack(
        "{s:s, s:I, s:{s:s}, s:[s], s:s, s:{s:{s:s, s:[{s:s, s:s, s:i, s:s}, {s:s}]}}, "
        "s:{s:{s:s}}}",
        "uuid", uuid, "timestamp", (json_int_t)ts, "attributes", "application", "demo-crash",
        "classifiers", "SIGSEGV", "mainThread", "42", "threads", "42", "name", "demo", "stack",
        "funcName", "write_null", "library", "/bin/demo", "line", 17, "sourceCode", "s1",
        "funcName", "main", "sourceCode", "s1", "path", "/src/demo.c");
    char *path = NULL;

    assert_non_null(report);
    assert_int_equal(store_plain(f->db, report, &path), 0);
    if (state_name) {
        json_t *st = json_pack("{s:s}", "state", state_name);

        assert_int_equal(btc_db_write_state(f->db, uuid, st), 0);
        json_decref(st);
    }
    json_decref(report);
    free(path);
}

static void
make_uuid(char *buf, unsigned i)
{
    sprintf(buf, "%08x-0000-4000-8000-000000000000", i);
}

static const struct btc_db_entry *
find_entry(const struct btc_db_entry *e, size_t n, const char *uuid)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(e[i].uuid, uuid))
            return &e[i];
    return NULL;
}

static void
test_db_list_sorts_oldest_first_and_reads_report_and_state(void **state)
{
    struct fixture *f = *state;
    json_t *rejected = json_pack("{s:s, s:i, s:i, s:s}", "state", "rejected", "http_status", 400,
                                 "attempts", 1, "last_error", "HTTP 400");
    json_t *sent = json_pack("{s:s, s:s, s:i}", "state", "sent", "rxid", "rx-1", "attempts", 2);
    struct btc_db_entry *e = NULL;
    char path[256];
    size_t n = 0;

    store_report(f, "cccc", 300, NULL);
    store_report(f, "bbbb", 100, NULL);
    store_report(f, "aaaa", 200, NULL);
    store_report(f, "0000", 200, NULL);
    assert_int_equal(btc_db_write_state(f->db, "cccc", rejected), 0);
    assert_int_equal(btc_db_write_state(f->db, "aaaa", sent), 0);
    /* No state file at all: pending, as db.h promises. */
    snprintf(path, sizeof(path), "%s/bbbb.state", f->db);
    assert_int_equal(unlink(path), 0);

    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(e[0].uuid, "bbbb");
    assert_string_equal(e[1].uuid, "0000"); /* same time as aaaa: by uuid */
    assert_string_equal(e[2].uuid, "aaaa");
    assert_string_equal(e[3].uuid, "cccc");

    assert_string_equal(e[0].state, "pending");
    assert_int_equal(e[0].timestamp, 100);
    assert_int_equal(e[0].http_status, 0);
    assert_int_equal(e[0].attempts, 0);
    assert_null(e[0].rxid);
    assert_null(e[0].last_error);
    assert_string_equal(e[0].application, "demo-crash");
    assert_string_equal(e[0].classifier, "SIGSEGV");
    assert_string_equal(e[0].top_frame, "write_null at /src/demo.c:17");
    assert_true(e[0].bytes > 0);

    assert_string_equal(e[2].state, "sent");
    assert_string_equal(e[2].rxid, "rx-1");
    assert_int_equal(e[2].attempts, 2);
    assert_string_equal(e[3].state, "rejected");
    assert_int_equal(e[3].http_status, 400);
    assert_string_equal(e[3].last_error, "HTTP 400");
    btc_db_entries_free(e, n);
    json_decref(rejected);
    json_decref(sent);
}

static void
test_db_list_skips_dot_files_and_junk(void **state)
{
    struct fixture *f = *state;
    struct btc_db_entry *e = NULL;
    char path[256];
    size_t n = 0;

    store_report(f, UUID, 1, NULL);
    snprintf(path, sizeof(path), "%s/." UUID ".json.1234abcd.tmp", f->db);
    write_file(path, "{\"uuid\":");
    snprintf(path, sizeof(path), "%s/.abcd.json", f->db);
    write_file(path, "{}");
    snprintf(path, sizeof(path), "%s/notes.txt", f->db);
    write_file(path, "hello");
    snprintf(path, sizeof(path), "%s/not-a-uuid!.json", f->db);
    write_file(path, "{}");
    snprintf(path, sizeof(path), "%s/abcd.state", f->db); /* a state without its report */
    write_file(path, "{\"state\":\"pending\"}");

    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].uuid, UUID);
    assert_null(e[0].problem);
    btc_db_entries_free(e, n);
    /* Nothing was moved aside: none of it is a report. */
    snprintf(path, sizeof(path), "%s/not-a-uuid!.json", f->db);
    assert_true(exists(path));
    snprintf(path, sizeof(path), "%s/.abcd.json", f->db);
    assert_true(exists(path));
}

static void
test_db_list_moves_aside_a_report_that_is_not_a_json_object(void **state)
{
    static const char *const bad[][2] = {
        {"abcdef01", "{not json"},
        {"abcdef02", "[1,2]"},
        {"abcdef03", "\"text\""},
        {"abcdef04", ""},
    };
    const size_t nbad = sizeof(bad) / sizeof(bad[0]);
    struct fixture *f = *state;
    struct btc_db_entry *e = NULL;
    char path[256];
    size_t n = 0;

    store_report(f, UUID, 1, NULL);
    for (size_t i = 0; i < nbad; i++) {
        snprintf(path, sizeof(path), "%s/%s.json", f->db, bad[i][0]);
        write_file(path, bad[i][1]);
    }

    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 1 + nbad);
    assert_string_equal(find_entry(e, n, UUID)->state, "pending");
    assert_null(find_entry(e, n, UUID)->problem);
    for (size_t i = 0; i < nbad; i++) {
        const struct btc_db_entry *c = find_entry(e, n, bad[i][0]);
        char *text;

        assert_non_null(c);
        assert_string_equal(c->state, "corrupt");
        assert_non_null(c->problem);
        assert_non_null(strstr(c->problem, "moved aside"));
        assert_non_null(strstr(c->problem, ".json.corrupt"));
        assert_null(c->mode);
        assert_null(c->application);
        snprintf(path, sizeof(path), "%s/%s.json", f->db, bad[i][0]);
        assert_false(exists(path));
        /* Kept as it was, for whoever wants to look. */
        snprintf(path, sizeof(path), "%s/%s.json.corrupt", f->db, bad[i][0]);
        text = read_text(path);
        assert_string_equal(text, bad[i][1]);
        free(text);
    }
    btc_db_entries_free(e, n);

    /* The next listing finds the .corrupt file: still listed, still
     * corrupt, and no report is made of it again. */
    e = NULL;
    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 1 + nbad);
    for (size_t i = 0; i < nbad; i++) {
        const struct btc_db_entry *c = find_entry(e, n, bad[i][0]);

        assert_non_null(c);
        assert_string_equal(c->state, "corrupt");
        assert_non_null(c->problem);
        snprintf(path, sizeof(path), "%s/%s.json", f->db, bad[i][0]);
        assert_false(exists(path));
    }
    btc_db_entries_free(e, n);
}

static void
test_db_list_moves_aside_a_linked_fifo_or_directory_report(void **state)
{
    struct fixture *f = *state;
    struct btc_db_entry *e = NULL;
    const struct btc_db_entry *c;
    char path[256], outside[160], *text;
    struct stat st;
    size_t n = 0;

    store_report(f, UUID, 1, NULL);
    /* A link to a well-formed report elsewhere: never read through. */
    snprintf(outside, sizeof(outside), "%s/outside.json", f->root);
    write_file(outside, "{\"uuid\":\"ffff0001\",\"timestamp\":5}");
    snprintf(path, sizeof(path), "%s/ffff0001.json", f->db);
    assert_int_equal(symlink(outside, path), 0);
    /* A FIFO: reading it must not block. */
    snprintf(path, sizeof(path), "%s/ffff0002.json", f->db);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(path, sizeof(path), "%s/ffff0003.json", f->db);
    assert_int_equal(mkdir(path, 0700), 0);

    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(find_entry(e, n, UUID)->state, "pending");
    c = find_entry(e, n, "ffff0001");
    assert_non_null(c);
    assert_string_equal(c->state, "corrupt");
    assert_non_null(strstr(c->problem, "symbolic link"));
    assert_non_null(strstr(c->problem, "moved aside"));
    assert_true(c->timestamp != 5); /* its target was never read */
    for (int i = 2; i <= 3; i++) {
        char id[16];

        snprintf(id, sizeof(id), "ffff000%d", i);
        c = find_entry(e, n, id);
        assert_non_null(c);
        assert_string_equal(c->state, "corrupt");
        assert_non_null(strstr(c->problem, "not a regular file"));
        assert_non_null(strstr(c->problem, "moved aside"));
        snprintf(path, sizeof(path), "%s/%s.json", f->db, id);
        assert_false(exists(path));
    }
    btc_db_entries_free(e, n);
    /* The link itself was moved, its target left alone. */
    snprintf(path, sizeof(path), "%s/ffff0001.json.corrupt", f->db);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    text = read_text(outside);
    assert_string_equal(text, "{\"uuid\":\"ffff0001\",\"timestamp\":5}");
    free(text);
}

static void
test_db_list_repairs_a_state_that_does_not_parse(void **state)
{
    static const char *const bad[] = {
        "{not json",
        "[1,2]",
        "{\"state\":\"bogus\"}",
        "{\"state\":7}",
        "{\"state\":\"pending\",\"attachments\":\"a.log\"}",
        "{\"state\":\"pending\",\"mode\":5}",
    };
    const size_t nbad = sizeof(bad) / sizeof(bad[0]);
    struct fixture *f = *state;
    struct btc_db_entry *e = NULL;
    char id[40], path[256], target[256];
    size_t n = 0;

    for (size_t i = 0; i < nbad; i++) {
        make_uuid(id, (unsigned)i);
        store_report(f, id, 100 + (long long)i, NULL);
        snprintf(path, sizeof(path), "%s/%s.state", f->db, id);
        write_file(path, bad[i]);
    }
    /* The first one has copies: a regular file is listed again, a dot
     * file, a link and a directory are not. */
    make_uuid(id, 0);
    snprintf(path, sizeof(path), "%s/%s.d", f->db, id);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s.d/a.log", f->db, id);
    write_file(path, "log");
    snprintf(path, sizeof(path), "%s/%s.d/.a.log.1234.tmp", f->db, id);
    write_file(path, "half");
    snprintf(target, sizeof(target), "%s/%s.d/a.log", f->db, id);
    snprintf(path, sizeof(path), "%s/%s.d/link", f->db, id);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/%s.d/sub", f->db, id);
    assert_int_equal(mkdir(path, 0700), 0);

    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, nbad);
    for (size_t i = 0; i < nbad; i++) {
        json_t *st, *want;
        char *text;

        make_uuid(id, (unsigned)i);
        assert_string_equal(e[i].uuid, id);
        /* Pending again, made for no known endpoint: sent only on request. */
        assert_string_equal(e[i].state, "pending");
        assert_null(e[i].mode);
        assert_null(e[i].endpoint_id);
        assert_null(e[i].endpoint_url);
        assert_non_null(e[i].problem);
        assert_non_null(strstr(e[i].problem, "moved aside"));
        assert_non_null(strstr(e[i].problem, ".state.corrupt"));
        assert_non_null(strstr(e[i].problem, "no known endpoint"));
        assert_string_equal(e[i].application, "demo-crash"); /* the report is intact */

        snprintf(path, sizeof(path), "%s/%s.state.corrupt", f->db, id);
        text = read_text(path);
        assert_string_equal(text, bad[i]);
        free(text);
        snprintf(path, sizeof(path), "%s/%s.state", f->db, id);
        st = load_file(path);
        assert_non_null(st);
        want = i == 0 ? json_pack("{s:s, s:[{s:s}]}", "state", "pending", "attachments", "name",
                                  "a.log")
                      : json_pack("{s:s, s:[]}", "state", "pending", "attachments");
        assert_true(json_equal(st, want));
        assert_int_equal(mode_of(path), 0600);
        json_decref(st);
        json_decref(want);
    }
    btc_db_entries_free(e, n);

    /* Repaired once: the next listing has nothing to say. */
    e = NULL;
    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, nbad);
    for (size_t i = 0; i < nbad; i++) {
        assert_string_equal(e[i].state, "pending");
        assert_null(e[i].problem);
    }
    btc_db_entries_free(e, n);
}

static void
test_db_list_of_missing_directory_fails_without_creating_it(void **state)
{
    struct fixture *f = *state;
    struct btc_db_entry *e = NULL;
    size_t n = 0;

    assert_int_equal(btc_db_list(f->db, &e, &n), -ENOENT);
    assert_false(exists(f->db));
    btc_db_entries_free(NULL, 0);
}

static void
test_db_read_state_defaults_to_pending(void **state)
{
    struct fixture *f = *state;
    json_t *st = NULL;
    char path[256];

    assert_int_equal(btc_db_read_state(f->db, UUID, &st), -ENOENT);
    store_report(f, UUID, 1, NULL);
    snprintf(path, sizeof(path), "%s/%s.state", f->db, UUID);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(btc_db_read_state(f->db, UUID, &st), 0);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "pending");
    json_decref(st);
    st = NULL;

    write_file(path, "[1,2]");
    assert_int_equal(btc_db_read_state(f->db, UUID, &st), -EBADMSG);
    /* An object, but not one a reader could rely on. */
    write_file(path, "{\"state\":\"bogus\"}");
    assert_int_equal(btc_db_read_state(f->db, UUID, &st), -EBADMSG);
    write_file(path, "{\"attachments\":{}}");
    assert_int_equal(btc_db_read_state(f->db, UUID, &st), -EBADMSG);
    write_file(path, "{\"mode\":1}");
    assert_int_equal(btc_db_read_state(f->db, UUID, &st), -EBADMSG);
    assert_null(st); /* written only on success */
    write_file(path, "{\"state\":\"sent\",\"rxid\":\"r\"}");
    assert_int_equal(btc_db_read_state(f->db, UUID, &st), 0);
    assert_string_equal(json_string_value(json_object_get(st, "rxid")), "r");
    json_decref(st);
}

static void
test_db_read_report_returns_the_stored_bytes(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s}", "uuid", UUID);
    char *path = NULL, *text = NULL;
    size_t len = 0;

    assert_int_equal(btc_db_read_report(f->db, UUID, &text, &len), -ENOENT);
    assert_int_equal(store_plain(f->db, report, &path), 0);
    assert_int_equal(btc_db_read_report(f->db, UUID, &text, &len), 0);
    assert_int_equal(len, strlen(text));
    assert_string_equal(text, "{\"uuid\":\"" UUID "\"}");
    free(text);
    free(path);
    json_decref(report);
}

static const char *
problem(json_t *problems, size_t i)
{
    return json_string_value(json_array_get(problems, i));
}

static void
test_db_copy_attachments_copies_skips_and_reports_problems(void **state)
{
    struct fixture *f = *state;
    json_t *copied = NULL, *problems = NULL;
    char src_dir[128], a[160], a2[160], fifo[160], missing[160], nl[160], paths[1024];
    char copy[256], dcopy[256];
    struct btc_db_entry *e = NULL;
    size_t n = 0;
    FILE *fp;
    char buf[64];

    umask(0);
    store_report(f, UUID, 1, NULL);
    snprintf(src_dir, sizeof(src_dir), "%s/src", f->root);
    assert_int_equal(mkdir(src_dir, 0755), 0);
    snprintf(a, sizeof(a), "%s/app.log", src_dir);
    write_file(a, "first log\n");
    snprintf(a2, sizeof(a2), "%s/sub", src_dir);
    assert_int_equal(mkdir(a2, 0755), 0);
    snprintf(a2, sizeof(a2), "%s/sub/app.log", src_dir); /* same basename */
    write_file(a2, "second log\n");
    snprintf(fifo, sizeof(fifo), "%s/pipe", src_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(missing, sizeof(missing), "%s/missing.txt", src_dir);
    snprintf(nl, sizeof(nl), "%s/line\nbreak", src_dir);
    write_file(nl, "x");
    snprintf(paths, sizeof(paths), "%s:%s::%s:%s:%s:%s", a, a2, fifo, missing, src_dir, nl);

    assert_int_equal(btc_db_copy_attachments(f->db, UUID, paths, 0, &copied, &problems), 0);
    assert_int_equal(json_array_size(copied), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(copied, 0), "name")),
                        "app.log");
    assert_string_equal(json_string_value(json_object_get(json_array_get(copied, 0), "source")), a);
    snprintf(copy, sizeof(copy), "%s/%s.d/app.log", f->db, UUID);
    /* No "path": a sender finds the copy by its name in <uuid>.d/ alone. */
    assert_null(json_object_get(json_array_get(copied, 0), "path"));
    assert_int_equal(json_object_size(json_array_get(copied, 0)), 2);
    /* A control character in a name never reaches the file name. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(copied, 1), "name")),
                        "line_break");

    assert_int_equal(json_array_size(problems), 4);
    assert_non_null(strstr(problem(problems, 0), "another attachment is named app.log"));
    assert_non_null(strstr(problem(problems, 1), "pipe skipped: not a regular file"));
    assert_non_null(strstr(problem(problems, 2), "missing.txt skipped: No such file"));
    assert_non_null(strstr(problem(problems, 3), "src skipped: not a regular file"));
    for (size_t i = 0; i < json_array_size(problems); i++)
        assert_null(strchr(problem(problems, i), '\n'));

    fp = fopen(copy, "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    assert_string_equal(buf, "first log\n");
    assert_int_equal(mode_of(copy), 0600);
    snprintf(dcopy, sizeof(dcopy), "%s/%s.d", f->db, UUID);
    assert_int_equal(mode_of(dcopy), 0700);

    /* The copies count towards the report's size. */
    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_true(e[0].bytes > strlen("first log\n") + 1);
    btc_db_entries_free(e, n);
    json_decref(copied);
    json_decref(problems);
}

static void
test_db_copy_attachments_cuts_a_large_file(void **state)
{
    struct fixture *f = *state;
    json_t *copied = NULL, *problems = NULL;
    char big[160], copy[256];
    struct stat st;
    FILE *fp;

    snprintf(big, sizeof(big), "%s/big.bin", f->root);
    fp = fopen(big, "w");
    assert_non_null(fp);
    assert_int_equal(ftruncate(fileno(fp), (off_t)BTC_DB_MAX_ATTACHMENT_BYTES + 10), 0);
    fclose(fp);

    assert_int_equal(btc_db_copy_attachments(f->db, UUID, big, 0, &copied, &problems), 0);
    assert_int_equal(json_array_size(copied), 1);
    assert_int_equal(json_array_size(problems), 1);
    assert_non_null(strstr(problem(problems, 0), "big.bin cut at"));
    snprintf(copy, sizeof(copy), "%s/%s.d/big.bin", f->db, UUID);
    assert_int_equal(stat(copy, &st), 0);
    assert_int_equal((uint64_t)st.st_size, BTC_DB_MAX_ATTACHMENT_BYTES);
    json_decref(copied);
    json_decref(problems);
}

static void
test_db_copy_attachments_with_nothing_to_copy_makes_no_directory(void **state)
{
    struct fixture *f = *state;
    json_t *copied = NULL, *problems = NULL;
    char d[256];

    assert_int_equal(btc_db_copy_attachments(f->db, UUID, "", 0, &copied, &problems), 0);
    assert_int_equal(json_array_size(copied), 0);
    assert_int_equal(json_array_size(problems), 0);
    json_decref(copied);
    json_decref(problems);
    assert_int_equal(btc_db_copy_attachments(f->db, UUID, NULL, 0, &copied, &problems), 0);
    json_decref(copied);
    json_decref(problems);
    snprintf(d, sizeof(d), "%s/%s.d", f->db, UUID);
    assert_false(exists(d));
}

static void
test_db_prune_drops_sent_then_rejected_then_pending_oldest_first(void **state)
{
    struct fixture *f = *state;
    struct btc_db_entry *e = NULL;
    char id[40], path[256];
    size_t n = 0;

    /* Two over the bound: the only sent report, then the older rejected one,
     * although pending reports are older still. */
    for (unsigned i = 0; i < BTC_DB_MAX_REPORTS + 2; i++) {
        const char *st = i == 1 || i == 2 ? "rejected" : i == 3 ? "sent" : NULL;

        make_uuid(id, i);
        store_report(f, id, 1000 + i, st);
    }
    assert_int_equal(btc_db_prune(f->db, NULL), 2);
    make_uuid(id, 3);
    snprintf(path, sizeof(path), "%s/%s.json", f->db, id);
    assert_false(exists(path));
    make_uuid(id, 1);
    snprintf(path, sizeof(path), "%s/%s.json", f->db, id);
    assert_false(exists(path));
    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, BTC_DB_MAX_REPORTS);
    make_uuid(id, 0);
    assert_string_equal(e[0].uuid, id);
    btc_db_entries_free(e, n);

    /* Within the bound: nothing to do. */
    assert_int_equal(btc_db_prune(f->db, NULL), 0);

    /* Two over again: the last rejected report, then the oldest pending
     * one but the one to keep. */
    make_uuid(id, 500);
    store_report(f, id, 1, NULL);
    make_uuid(id, 501);
    store_report(f, id, 2, NULL);
    make_uuid(id, 500);
    assert_int_equal(btc_db_prune(f->db, id), 2);
    make_uuid(id, 2);
    snprintf(path, sizeof(path), "%s/%s.json", f->db, id);
    assert_false(exists(path));
    make_uuid(id, 500);
    snprintf(path, sizeof(path), "%s/%s.json", f->db, id);
    assert_true(exists(path));
    make_uuid(id, 501);
    snprintf(path, sizeof(path), "%s/%s.json", f->db, id);
    assert_false(exists(path));
}

static void
test_db_prune_counts_attachment_bytes(void **state)
{
    struct fixture *f = *state;
    char path[256];
    FILE *fp;

    store_report(f, "aaaa", 1, "sent");
    store_report(f, "bbbb", 2, NULL);
    store_report(f, "cccc", 3, NULL);
    /* A sparse copy: over the byte bound without using the disk. */
    snprintf(path, sizeof(path), "%s/bbbb.d", f->db);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/bbbb.d/core", f->db);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(ftruncate(fileno(fp), (off_t)BTC_DB_MAX_BYTES + 1), 0);
    fclose(fp);

    /* The small sent report goes first, then the oldest pending one, which
     * holds the bytes; the newest stays. */
    assert_int_equal(btc_db_prune(f->db, NULL), 2);
    snprintf(path, sizeof(path), "%s/aaaa.json", f->db);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/bbbb.d", f->db);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/cccc.json", f->db);
    assert_true(exists(path));
}

static void
test_db_remove_deletes_report_state_and_attachments(void **state)
{
    struct fixture *f = *state;
    json_t *copied = NULL, *problems = NULL;
    char src[160], path[256];

    store_report(f, UUID, 1, "sent");
    snprintf(src, sizeof(src), "%s/a.txt", f->root);
    write_file(src, "a");
    assert_int_equal(btc_db_copy_attachments(f->db, UUID, src, 0, &copied, &problems), 0);
    json_decref(copied);
    json_decref(problems);

    assert_int_equal(btc_db_remove(f->db, UUID), 0);
    snprintf(path, sizeof(path), "%s/%s.json", f->db, UUID);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/%s.state", f->db, UUID);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/%s.d", f->db, UUID);
    assert_false(exists(path));
    assert_true(exists(src));
    assert_int_equal(btc_db_remove(f->db, UUID), -ENOENT);
}

static void
test_db_claim_is_exclusive_until_released(void **state)
{
    struct fixture *f = *state;
    int a = -1, b = -1;

    store_report(f, UUID, 1, "pending");
    assert_int_equal(btc_db_claim(f->db, UUID, &a), 0);
    /* flock conflicts between open file descriptions, even in one process:
     * what a second helper or a concurrent flush would meet. */
    assert_int_equal(btc_db_claim(f->db, UUID, &b), -EBUSY);
    btc_db_unclaim(a);
    assert_int_equal(btc_db_claim(f->db, UUID, &b), 0);
    btc_db_unclaim(b);
    btc_db_unclaim(-1);
    assert_int_equal(btc_db_claim(f->db, "00000000-0000-4000-8000-000000000000", &a), -ENOENT);
    assert_int_equal(btc_db_claim(f->db, "../x", &a), -EINVAL);
}

static void
test_db_prune_skips_a_claimed_report(void **state)
{
    struct fixture *f = *state;
    char uuid[40], path[256];
    int claim = -1;

    /* One over the bound, all pending: the oldest would go, but it is being
     * sent. */
    for (int i = 0; i <= BTC_DB_MAX_REPORTS; i++) {
        snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", i);
        store_report(f, uuid, 1000 + i, "pending");
    }
    assert_int_equal(btc_db_claim(f->db, "00000000-0000-4000-8000-000000000000", &claim), 0);
    assert_int_equal(btc_db_prune(f->db, NULL), 1);
    btc_db_unclaim(claim);
    snprintf(path, sizeof(path), "%s/00000000-0000-4000-8000-000000000000.json", f->db);
    assert_true(exists(path));
    snprintf(path, sizeof(path), "%s/00000000-0000-4000-8000-000000000001.json", f->db);
    assert_false(exists(path));
}

static void
test_db_every_function_rejects_an_unsafe_uuid(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {"../x", "..", "a/b", "", "abc.json", "x", "/etc/passwd", "ab cd"};
    json_t *st = NULL, *copied = NULL, *problems = NULL;
    json_t *sent = json_pack("{s:s}", "state", "sent");
    char *text = NULL, victim[160];
    int claim = -1;
    size_t len;

    store_report(f, UUID, 1, NULL);
    /* Something a crafted id might reach, one level up. */
    snprintf(victim, sizeof(victim), "%s/state/x.json", f->root);
    write_file(victim, "{}");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(btc_db_read_state(f->db, bad[i], &st), -EINVAL);
        assert_int_equal(btc_db_read_report(f->db, bad[i], &text, &len), -EINVAL);
        assert_int_equal(btc_db_copy_attachments(f->db, bad[i], victim, 0, &copied, &problems),
                         -EINVAL);
        assert_int_equal(btc_db_remove(f->db, bad[i]), -EINVAL);
        assert_int_equal(btc_db_prune(f->db, bad[i]), -EINVAL);
        assert_int_equal(btc_db_claim(f->db, bad[i], &claim), -EINVAL);
        assert_int_equal(btc_db_open_attachment(f->db, bad[i], "x.json"), -EINVAL);
        assert_int_equal(btc_db_write_state(f->db, bad[i], sent), -EINVAL);
    }
    assert_int_equal(btc_db_read_state(f->db, NULL, &st), -EINVAL);
    assert_int_equal(btc_db_remove(f->db, NULL), -EINVAL);
    assert_true(exists(victim));
    assert_null(st);
    assert_null(text);
    assert_int_equal(claim, -1);
    json_decref(sent);
}

static void
test_db_store_returns_the_report_claimed(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s}", "uuid", UUID), *st = local_state();
    char *path = NULL;
    int claim = -1, other = -1;

    assert_int_equal(btc_db_store(f->db, report, st, &path, &claim), 0);
    assert_true(claim >= 0);
    /* Nobody else can send it until its maker lets go. */
    assert_int_equal(btc_db_claim(f->db, UUID, &other), -EBUSY);
    btc_db_unclaim(claim);
    assert_int_equal(btc_db_claim(f->db, UUID, &other), 0);
    btc_db_unclaim(other);
    free(path);

    /* Without @ret_claim it is released at once. */
    path = NULL;
    assert_int_equal(btc_db_store(f->db, report, st, &path, NULL), 0);
    assert_int_equal(btc_db_claim(f->db, UUID, &other), 0);
    btc_db_unclaim(other);
    free(path);
    json_decref(st);
    json_decref(report);
}

static void
test_db_refuses_its_own_directory_when_group_or_others_can_write(void **state)
{
    static const mode_t modes[] = {0777, 0770, 0720, 0702};
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s}", "uuid", UUID), *st = NULL;
    struct btc_db_entry *e = NULL;
    char *path = NULL, *text = NULL, buf[256], want[32];
    int claim = -1;
    size_t n = 0, len = 0;

    assert_int_equal(store_plain(f->db, report, &path), 0);
    free(path);
    path = NULL;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(f->db, modes[i]), 0);
        assert_int_equal(store_plain(f->db, report, &path), -EPERM);
        assert_int_equal(btc_db_write_state(f->db, UUID, report), -EPERM);
        assert_int_equal(btc_db_list(f->db, &e, &n), -EPERM);
        assert_int_equal(btc_db_read_state(f->db, UUID, &st), -EPERM);
        assert_int_equal(btc_db_read_report(f->db, UUID, &text, &len), -EPERM);
        assert_int_equal(btc_db_claim(f->db, UUID, &claim), -EPERM);
        assert_int_equal(btc_db_open_attachment(f->db, UUID, "a.log"), -EPERM);
        assert_int_equal(btc_db_remove(f->db, UUID), -EPERM);
        assert_int_equal(btc_db_prune(f->db, NULL), -EPERM);
        /* Refused, not repaired behind the user's back. */
        assert_int_equal(mode_of(f->db), modes[i]);
        snprintf(want, sizeof(want), "mode %04o", (unsigned)modes[i]);
        assert_non_null(strstr(btc_db_strerror(f->db, -EPERM, buf, sizeof(buf)), want));
    }
    assert_null(path);
    assert_null(st);
    assert_null(text);
    assert_int_equal(claim, -1);
    /* Back to 0700: the report was never touched. */
    assert_int_equal(chmod(f->db, 0700), 0);
    assert_int_equal(btc_db_read_report(f->db, UUID, &text, &len), 0);
    free(text);
    json_decref(report);
}

static void
test_db_refuses_a_0700_directory_another_uid_owns(void **state)
{
    struct fixture *f = *state;
    json_t *report;
    struct btc_db_entry *e = NULL;
    char *path = NULL, other[128], buf[256];
    size_t n = 0;

    if (geteuid() != 0)
        skip(); /* needs chown to another user */
    report = json_pack("{s:s}", "uuid", UUID);
    snprintf(other, sizeof(other), "%s/other", f->root);
    assert_int_equal(mkdir(other, 0700), 0);
    assert_int_equal(chown(other, 65534, 65534), 0);
    assert_int_equal(store_plain(other, report, &path), -EPERM);
    assert_null(path);
    assert_int_equal(btc_db_list(other, &e, &n), -EPERM);
    btc_db_strerror(other, -EPERM, buf, sizeof(buf));
    assert_non_null(strstr(buf, "uid 65534"));
    json_decref(report);
}

static void
test_db_refuses_a_symlink_to_a_good_directory(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s}", "uuid", UUID), *st = NULL;
    json_t *copied = NULL, *problems = NULL;
    struct btc_db_entry *e = NULL;
    char *path = NULL, *text = NULL, link[128], src[160], buf[256];
    int claim = -1;
    size_t n = 0, len = 0;

    assert_int_equal(store_plain(f->db, report, &path), 0);
    free(path);
    path = NULL;
    snprintf(src, sizeof(src), "%s/a.log", f->root);
    write_file(src, "a");
    snprintf(link, sizeof(link), "%s/link", f->root);
    assert_int_equal(symlink(f->db, link), 0);

    assert_int_equal(store_plain(link, report, &path), -ELOOP);
    assert_int_equal(btc_db_write_state(link, UUID, report), -ELOOP);
    assert_int_equal(btc_db_list(link, &e, &n), -ELOOP);
    assert_int_equal(btc_db_read_state(link, UUID, &st), -ELOOP);
    assert_int_equal(btc_db_read_report(link, UUID, &text, &len), -ELOOP);
    assert_int_equal(btc_db_claim(link, UUID, &claim), -ELOOP);
    assert_int_equal(btc_db_open_attachment(link, UUID, "a.log"), -ELOOP);
    assert_int_equal(btc_db_copy_attachments(link, UUID, src, 0, &copied, &problems), -ELOOP);
    assert_int_equal(btc_db_remove(link, UUID), -ELOOP);
    assert_int_equal(btc_db_prune(link, NULL), -ELOOP);
    assert_non_null(strstr(btc_db_strerror(link, -ELOOP, buf, sizeof(buf)), "symbolic link"));
    assert_null(path);
    assert_null(st);
    assert_null(text);
    assert_null(copied);
    assert_int_equal(claim, -1);
    /* The directory behind it is fine, and untouched. */
    assert_int_equal(btc_db_read_report(f->db, UUID, &text, &len), 0);
    free(text);
    json_decref(report);
}

static void
test_db_mkdir_p_creates_a_missing_directory_0700_that_the_db_trusts(void **state)
{
    struct fixture *f = *state;
    struct btc_db_entry *e = NULL;
    char parent[160];
    size_t n = 1;

    /* The fallback: a directory nobody made yet, whatever the umask. */
    umask(0);
    assert_false(exists(f->db));
    assert_int_equal(btc_db_mkdir_p(f->db), 0);
    assert_int_equal(mode_of(f->db), 0700);
    snprintf(parent, sizeof(parent), "%s/state", f->root);
    assert_int_equal(mode_of(parent), 0700);
    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 0);
    btc_db_entries_free(e, n);
}

static void
test_db_open_attachment_opens_only_a_regular_copy_of_the_report(void **state)
{
    static const char *const bad_names[] = {"",     ".",           "..",     "a/b",
                                            "../x", "/etc/passwd", "a.log/", "../" UUID ".json"};
    struct fixture *f = *state;
    json_t *copied = NULL, *problems = NULL;
    char src[160], path[256], target[256], buf[16];
    ssize_t got;
    int fd;

    store_report(f, UUID, 1, NULL);
    snprintf(src, sizeof(src), "%s/a.log", f->root);
    write_file(src, "hello");
    assert_int_equal(btc_db_copy_attachments(f->db, UUID, src, 0, &copied, &problems), 0);
    json_decref(copied);
    json_decref(problems);

    fd = btc_db_open_attachment(f->db, UUID, "a.log");
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    got = read(fd, buf, sizeof(buf));
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "hello", 5);
    close(fd);

    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
        assert_int_equal(btc_db_open_attachment(f->db, UUID, bad_names[i]), -EINVAL);
    assert_int_equal(btc_db_open_attachment(f->db, UUID, NULL), -EINVAL);
    assert_int_equal(btc_db_open_attachment(f->db, "../x", "a.log"), -EINVAL);
    assert_int_equal(btc_db_open_attachment(f->db, NULL, "a.log"), -EINVAL);

    /* Links are not followed, not even to the report's own copy. */
    snprintf(path, sizeof(path), "%s/%s.d/passwd", f->db, UUID);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    assert_int_equal(btc_db_open_attachment(f->db, UUID, "passwd"), -ELOOP);
    snprintf(target, sizeof(target), "%s/%s.d/a.log", f->db, UUID);
    snprintf(path, sizeof(path), "%s/%s.d/alias", f->db, UUID);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(btc_db_open_attachment(f->db, UUID, "alias"), -ELOOP);
    /* Neither a FIFO (without blocking) nor a directory is a copy. */
    snprintf(path, sizeof(path), "%s/%s.d/fifo", f->db, UUID);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(btc_db_open_attachment(f->db, UUID, "fifo"), -EMEDIUMTYPE);
    snprintf(path, sizeof(path), "%s/%s.d/sub", f->db, UUID);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(btc_db_open_attachment(f->db, UUID, "sub"), -EMEDIUMTYPE);

    assert_int_equal(btc_db_open_attachment(f->db, UUID, "missing.log"), -ENOENT);
    /* A report without copies at all. */
    store_report(f, "abcd", 2, NULL);
    assert_int_equal(btc_db_open_attachment(f->db, "abcd", "a.log"), -ENOENT);
}

static void
test_db_open_attachment_refuses_a_linked_copy_directory(void **state)
{
    struct fixture *f = *state;
    json_t *copied = NULL, *problems = NULL;
    char src[160], target[256], path[256];

    store_report(f, UUID, 1, NULL);
    store_report(f, "abcd", 2, NULL);
    snprintf(src, sizeof(src), "%s/a.log", f->root);
    write_file(src, "hello");
    assert_int_equal(btc_db_copy_attachments(f->db, UUID, src, 0, &copied, &problems), 0);
    json_decref(copied);
    json_decref(problems);
    /* abcd.d -> <UUID>.d: another report's copies are not abcd's. */
    snprintf(target, sizeof(target), "%s/%s.d", f->db, UUID);
    snprintf(path, sizeof(path), "%s/abcd.d", f->db);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(btc_db_open_attachment(f->db, "abcd", "a.log"), -ELOOP);
    /* Removing abcd removes the link, never what it points to. */
    assert_int_equal(btc_db_remove(f->db, "abcd"), 0);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof(path), "%s/%s.d/a.log", f->db, UUID);
    assert_int_equal(access(path, F_OK), 0);
}

static void
test_db_prune_deletes_corrupt_reports_first(void **state)
{
    struct fixture *f = *state;
    char id[40], path[256];

    /* One over the bound: the only corrupt report goes, although it is the
     * newest, and a sent one is there. */
    for (unsigned i = 0; i <= BTC_DB_MAX_REPORTS; i++) {
        make_uuid(id, i);
        store_report(f, id, 1000 + i, i == 0 ? "sent" : NULL);
    }
    make_uuid(id, 7);
    snprintf(path, sizeof(path), "%s/%s.json", f->db, id);
    write_file(path, "{not json");
    assert_int_equal(btc_db_prune(f->db, NULL), 1);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/%s.json.corrupt", f->db, id);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/%s.state", f->db, id);
    assert_false(exists(path));
    make_uuid(id, 0);
    snprintf(path, sizeof(path), "%s/%s.json", f->db, id);
    assert_true(exists(path));
}

static void
test_db_remove_deletes_the_files_moved_aside(void **state)
{
    static const char *const suffixes[] = {".json", ".json.corrupt", ".state", ".state.corrupt",
                                           ".d"};
    struct fixture *f = *state;
    json_t *copied = NULL, *problems = NULL;
    struct btc_db_entry *e = NULL;
    char src[160], path[256];
    size_t n = 0;

    store_report(f, UUID, 1, "pending");
    snprintf(src, sizeof(src), "%s/a.txt", f->root);
    write_file(src, "a");
    assert_int_equal(btc_db_copy_attachments(f->db, UUID, src, 0, &copied, &problems), 0);
    json_decref(copied);
    json_decref(problems);
    snprintf(path, sizeof(path), "%s/%s.json", f->db, UUID);
    write_file(path, "[]");
    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].state, "corrupt");
    btc_db_entries_free(e, n);
    snprintf(path, sizeof(path), "%s/%s.state.corrupt", f->db, UUID);
    write_file(path, "{");

    assert_int_equal(btc_db_remove(f->db, UUID), 0);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s%s", f->db, UUID, suffixes[i]);
        assert_false(exists(path));
    }
    assert_int_equal(btc_db_remove(f->db, UUID), -ENOENT);

    /* Only a .corrupt file left: it is still the report's, and removable. */
    snprintf(path, sizeof(path), "%s/abcd.json.corrupt", f->db);
    write_file(path, "x");
    assert_int_equal(btc_db_remove(f->db, "abcd"), 0);
    assert_false(exists(path));
}

static void
test_db_strerror_names_the_limit_that_was_reached(void **state)
{
    struct fixture *f = *state;
    static const struct {
        int err;
        const char *want;
    } k_cases[] = {
        {EFBIG, "file size limit (RLIMIT_FSIZE)"},
        {ENOSPC, "the disk is full"},
        {EMFILE, "too many open files (RLIMIT_NOFILE)"},
        {EDQUOT, "disk quota exceeded"},
        {EROFS, "read-only file system"},
    };
    char buf[256];

    for (size_t i = 0; i < sizeof(k_cases) / sizeof(k_cases[0]); i++) {
        assert_string_equal(btc_db_strerror(f->db, -k_cases[i].err, buf, sizeof(buf)),
                            k_cases[i].want);
        /* Positive errno values say the same. */
        assert_string_equal(btc_db_strerror(f->db, k_cases[i].err, buf, sizeof(buf)),
                            k_cases[i].want);
    }
    /* Anything else is strerror's text. */
    assert_string_equal(btc_db_strerror(f->db, -EIO, buf, sizeof(buf)), strerror(EIO));
}

/* What a helper inheriting a small RLIMIT_FSIZE from the crashed program
 * meets: the store fails with -EFBIG (SIGXFSZ ignored, as the helper's
 * default disposition would kill it otherwise), no temporary file stays,
 * and the message names the limit. In a child: the limit is per process. */
static void
test_db_store_under_rlimit_fsize_fails_with_efbig_in_words(void **state)
{
    struct fixture *f = *state;
    int status = 0;
    pid_t pid;

    assert_int_equal(btc_db_mkdir_p(f->db), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit lim = {.rlim_cur = 64, .rlim_max = 64};
        char pad[512], *path = NULL, buf[256];
        json_t *report, *st = json_pack("{s:s}", "state", "pending");
        int r;

        memset(pad, 'x', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = '\0';
        report = json_pack("{s:s, s:s}", "uuid", UUID, "pad", pad);
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &lim) < 0)
            _exit(10);
        r = btc_db_store(f->db, report, st, &path, NULL);
        if (r != -EFBIG)
            _exit(11);
        if (strcmp(btc_db_strerror(f->db, r, buf, sizeof(buf)), "file size limit (RLIMIT_FSIZE)"))
            _exit(12);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(count_entries(f->db), 0);
}

/* The bytes of DIR/<uuid><suffix> (malloc'ed), or NULL. */
static char *
db_file(struct fixture *f, const char *suffix)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s%s", f->db, UUID, suffix);
    return exists(path) ? read_text(path) : NULL;
}

static void
test_db_replace_swaps_the_report_and_keeps_the_claim(void **state)
{
    struct fixture *f = *state;
    json_t *v1 = json_pack("{s:s, s:i}", "uuid", UUID, "version", 1);
    json_t *v2 = json_pack("{s:s, s:i, s:[s]}", "uuid", UUID, "version", 2, "notes", "more");
    json_t *st = local_state(), *loaded;
    char *path = NULL, *state_before, *state_after, file[256];
    int claim = -1, other = -1, before;

    assert_int_equal(btc_db_store(f->db, v1, st, &path, &claim), 0);
    state_before = db_file(f, ".state");
    before = claim;
    assert_int_equal(btc_db_replace(f->db, UUID, v2, NULL, &claim), 0);
    assert_true(claim >= 0);
    /* The old descriptor went: it guarded an inode that has no name now. */
    assert_true(claim == before || fcntl(before, F_GETFD) < 0);

    /* The new version, whole, under the name; the state untouched. */
    snprintf(file, sizeof(file), "%s/%s.json", f->db, UUID);
    loaded = load_file(file);
    assert_non_null(loaded);
    assert_int_equal(json_integer_value(json_object_get(loaded, "version")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(loaded, "notes"), 0)),
                        "more");
    json_decref(loaded);
    assert_int_equal(mode_of(file), 0600);
    state_after = db_file(f, ".state");
    assert_string_equal(state_after, state_before);
    assert_false(has_temp(f->db));
    assert_int_equal(count_entries(f->db), 2);

    /* Still ours: nobody else can claim it until we let go. */
    assert_int_equal(btc_db_claim(f->db, UUID, &other), -EBUSY);
    btc_db_unclaim(claim);
    assert_int_equal(btc_db_claim(f->db, UUID, &other), 0);
    btc_db_unclaim(other);

    free(state_before);
    free(state_after);
    free(path);
    json_decref(st);
    json_decref(v1);
    json_decref(v2);
}

static void
test_db_replace_writes_the_state_first_when_given_one(void **state)
{
    struct fixture *f = *state;
    json_t *v1 = json_pack("{s:s}", "uuid", UUID), *st = local_state(), *read = NULL;
    json_t *v2 = json_pack("{s:s, s:b}", "uuid", UUID, "improved", 1);
    json_t *st2 = json_pack("{s:s, s:s, s:[{s:s}]}", "state", "pending", "mode", "local",
                            "attachments", "name", "app.log");
    char *path = NULL;
    int claim = -1;

    assert_int_equal(btc_db_store(f->db, v1, st, &path, &claim), 0);
    assert_int_equal(btc_db_replace(f->db, UUID, v2, st2, &claim), 0);
    assert_int_equal(btc_db_read_state(f->db, UUID, &read), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(read, "attachments"), 0), "name")),
                        "app.log");
    assert_false(has_temp(f->db));
    btc_db_unclaim(claim);
    json_decref(read);
    free(path);
    json_decref(st);
    json_decref(st2);
    json_decref(v1);
    json_decref(v2);
}

static void
test_db_replace_of_a_missing_or_unclaimed_report_fails_cleanly(void **state)
{
    struct fixture *f = *state;
    json_t *v1 = json_pack("{s:s, s:i}", "uuid", UUID, "version", 1);
    json_t *v2 = json_pack("{s:s, s:i}", "uuid", UUID, "version", 2);
    json_t *other_uuid = json_pack("{s:s}", "uuid", "00000000-0000-4000-8000-000000000000");
    json_t *st = local_state();
    char *path = NULL, *text;
    int claim = -1, fake;

    /* No report: nothing is written, not even the state; the claim given
     * stays the caller's. */
    assert_int_equal(btc_db_mkdir_p(f->db), 0);
    fake = open(f->db, O_RDONLY | O_DIRECTORY);
    assert_true(fake >= 0);
    assert_int_equal(btc_db_replace(f->db, UUID, v2, st, &fake), -ENOENT);
    assert_int_equal(count_entries(f->db), 0);
    assert_true(fcntl(fake, F_GETFD) >= 0);

    /* A report, but the descriptor is not on it: refused, nothing changed. */
    assert_int_equal(btc_db_store(f->db, v1, st, &path, &claim), 0);
    assert_int_equal(btc_db_replace(f->db, UUID, v2, NULL, &fake), -ESTALE);
    assert_true(fcntl(fake, F_GETFD) >= 0);
    close(fake);
    text = db_file(f, ".json");
    assert_non_null(strstr(text, "\"version\":1"));
    free(text);
    assert_false(has_temp(f->db));

    /* Bad arguments. */
    fake = -1;
    assert_int_equal(btc_db_replace(f->db, UUID, v2, NULL, &fake), -EINVAL);
    assert_int_equal(btc_db_replace(f->db, UUID, other_uuid, NULL, &claim), -EINVAL);
    assert_int_equal(btc_db_replace(f->db, UUID, v2, NULL, NULL), -EINVAL);
    assert_int_equal(btc_db_replace(f->db, "../x", v2, NULL, &claim), -EINVAL);
    btc_db_unclaim(claim);
    free(path);
    json_decref(st);
    json_decref(v1);
    json_decref(v2);
    json_decref(other_uuid);
}

/* The race the inode check closes: a claimer opened the report just before
 * its maker replaced it. Once the maker's old lock is gone, a bare flock on
 * that descriptor succeeds (the old inode is unlocked), but it names
 * nothing any more; btc_db_claim goes by the name, finds the new inode
 * locked, and says -EBUSY. */
static void
test_db_claim_refuses_the_inode_a_replace_left_behind(void **state)
{
    struct fixture *f = *state;
    json_t *v1 = json_pack("{s:s, s:i}", "uuid", UUID, "version", 1);
    json_t *v2 = json_pack("{s:s, s:i}", "uuid", UUID, "version", 2);
    json_t *st = local_state();
    char *path = NULL, file[256];
    int claim = -1, early, other = -1;

    assert_int_equal(btc_db_store(f->db, v1, st, &path, &claim), 0);
    snprintf(file, sizeof(file), "%s/%s.json", f->db, UUID);
    early = open(file, O_RDONLY | O_CLOEXEC);
    assert_true(early >= 0);
    assert_int_equal(flock(early, LOCK_EX | LOCK_NB), -1);
    assert_int_equal(btc_db_replace(f->db, UUID, v2, NULL, &claim), 0);
    assert_int_equal(flock(early, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(btc_db_claim(f->db, UUID, &other), -EBUSY);
    close(early);
    btc_db_unclaim(claim);
    assert_int_equal(btc_db_claim(f->db, UUID, &other), 0);
    btc_db_unclaim(other);
    free(path);
    json_decref(st);
    json_decref(v1);
    json_decref(v2);
}

/* Another process claims and reads the report as fast as it can while its
 * maker replaces it 300 times: it never gets the claim, and every read is
 * one whole version. */
static void
test_db_replace_never_lets_another_process_claim_or_read_half(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s, s:i, s:s}", "uuid", UUID, "version", 0, "pad", "");
    json_t *st = local_state();
    char *path = NULL, pad[4096];
    int claim = -1, go[2], status = 0;
    pid_t pid;

    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    assert_int_equal(btc_db_store(f->db, report, st, &path, &claim), 0);
    assert_int_equal(pipe(go), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        long tries = 0;

        close(go[1]);
        /* Until the parent closes its end: read() then returns 0. */
        fcntl(go[0], F_SETFL, O_NONBLOCK);
        while (read(go[0], &c, 1) < 0) {
            char *text = NULL;
            size_t len = 0;
            int other = -1, r = btc_db_claim(f->db, UUID, &other);
            json_t *v;

            if (r == 0)
                _exit(20); /* claimed what its maker holds */
            if (r != -EBUSY)
                _exit(21);
            if (btc_db_read_report(f->db, UUID, &text, &len) < 0)
                _exit(22);
            v = json_loadb(text, len, 0, NULL);
            free(text);
            if (!json_is_object(v))
                _exit(23); /* half a file */
            json_decref(v);
            tries++;
        }
        _exit(tries > 0 ? 0 : 24);
    }
    close(go[0]);
    for (int i = 1; i <= 300; i++) {
        json_object_set_new(report, "version", json_integer(i));
        /* Versions of different lengths: a torn read could not parse. */
        json_object_set_new(report, "pad", json_string(pad + (i % 7) * 500));
        assert_int_equal(btc_db_replace(f->db, UUID, report, NULL, &claim), 0);
    }
    usleep(20000);
    close(go[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(has_temp(f->db));
    btc_db_unclaim(claim);
    free(path);
    json_decref(st);
    json_decref(report);
}

struct replace_ctx {
    const char *dir;
    json_t *report;
    int *claim;
    int r;
};

static void
replace_now(void *arg)
{
    struct replace_ctx *c = arg;

    c->r = btc_db_replace(c->dir, UUID, c->report, NULL, c->claim);
}

/* The maker replaces the report after a claimer opened it and before the
 * claimer locks it: the claimer's flock then succeeds on the old inode,
 * which no longer has the name. btc_db_claim must see that the name is
 * another inode, try that one, and find it held: -EBUSY, not a claim. */
static void
test_db_claim_rechecks_the_name_after_a_replace_between_open_and_lock(void **state)
{
    struct fixture *f = *state;
    json_t *v1 = json_pack("{s:s, s:i}", "uuid", UUID, "version", 1);
    json_t *v2 = json_pack("{s:s, s:i}", "uuid", UUID, "version", 2);
    json_t *st = local_state();
    char *path = NULL;
    int claim = -1, other = -1;
    struct replace_ctx c = {.dir = f->db, .report = v2, .claim = &claim, .r = 1};

    assert_int_equal(btc_db_store(f->db, v1, st, &path, &claim), 0);
    g_before_flock = replace_now;
    g_before_flock_ctx = &c;
    assert_int_equal(btc_db_claim(f->db, UUID, &other), -EBUSY);
    assert_null(g_before_flock);
    assert_int_equal(c.r, 0);
    btc_db_unclaim(claim);
    assert_int_equal(btc_db_claim(f->db, UUID, &other), 0);
    btc_db_unclaim(other);
    free(path);
    json_decref(st);
    json_decref(v1);
    json_decref(v2);
}

/* A sparse file of @size bytes at @root/@name into @path. */
static void
sparse_file(const char *root, const char *name, uint64_t size, char *path, size_t psize)
{
    FILE *fp;

    snprintf(path, psize, "%s/%s", root, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(ftruncate(fileno(fp), (off_t)size), 0);
    fclose(fp);
}

/* Sum of the sizes of the files in @dir. */
static uint64_t
dir_size(const char *dir)
{
    struct dirent *de;
    struct stat st;
    uint64_t total = 0;
    char path[512];
    DIR *d = opendir(dir);

    assert_non_null(d);
    while ((de = readdir(d))) {
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (de->d_name[0] != '.' && lstat(path, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

/* 16 + 16 + 16 + 10 MiB fit in the report's 64; the next 16 MiB would not
 * and is left out whole, but a small file after it still fits; once the
 * budget is spent, nothing more is taken. */
static void
test_db_copy_attachments_keeps_within_the_reports_budget(void **state)
{
    struct fixture *f = *state;
    const uint64_t mib = 1024 * 1024;
    json_t *copied = NULL, *problems = NULL;
    char p[8][160], list[1400], d[256];
    size_t used = 0;

    sparse_file(f->root, "a.bin", 16 * mib, p[0], sizeof(p[0]));
    sparse_file(f->root, "b.bin", 16 * mib, p[1], sizeof(p[1]));
    sparse_file(f->root, "c.bin", 16 * mib, p[2], sizeof(p[2]));
    sparse_file(f->root, "d.bin", 10 * mib, p[3], sizeof(p[3]));
    sparse_file(f->root, "e.bin", 16 * mib, p[4], sizeof(p[4]));
    sparse_file(f->root, "small.txt", 6 * mib - 1, p[5], sizeof(p[5]));
    sparse_file(f->root, "one.txt", 1, p[6], sizeof(p[6]));
    sparse_file(f->root, "late.txt", 1, p[7], sizeof(p[7]));
    for (int i = 0; i < 8; i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ":" : "", p[i]);

    assert_int_equal(btc_db_copy_attachments(f->db, UUID, list, 0, &copied, &problems), 0);
    assert_int_equal(json_array_size(copied), 6);
    assert_int_equal(json_array_size(problems), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(copied, 4), "name")),
                        "small.txt");
    assert_string_equal(json_string_value(json_object_get(json_array_get(copied, 5), "name")),
                        "one.txt");
    snprintf(d, sizeof(d),
             "attachment %s skipped: its %llu bytes would take the report's "
             "attachments past 64 MiB",
             p[4], (unsigned long long)(16 * mib));
    assert_string_equal(problem(problems, 0), d);
    /* 64 MiB exactly with one.txt: late.txt finds the budget spent. */
    snprintf(d, sizeof(d), "attachment %s skipped: the report's attachments reached 64 MiB", p[7]);
    assert_string_equal(problem(problems, 1), d);
    snprintf(d, sizeof(d), "%s/%s.d", f->db, UUID);
    assert_int_equal(dir_size(d), BTC_DB_MAX_REPORT_ATTACHMENT_BYTES);
    json_decref(copied);
    json_decref(problems);
}

static int64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Every read takes 2 ms: a small file is copied well within 40 ms, a 16
 * MiB one (64 chunks) cannot be. It is not left half-copied, and it and
 * the files after it are named as skipped for want of time. The call
 * returns within about one chunk of the deadline. */
static void
test_db_copy_attachments_stops_at_the_deadline_without_a_partial_copy(void **state)
{
    struct fixture *f = *state;
    json_t *copied = NULL, *problems = NULL;
    char small[160], big[160], after[160], list[600], want[400], d[256], copy[300];
    int64_t deadline, end;

    snprintf(small, sizeof(small), "%s/small.log", f->root);
    write_file(small, "small\n");
    sparse_file(f->root, "big.core", BTC_DB_MAX_ATTACHMENT_BYTES, big, sizeof(big));
    snprintf(after, sizeof(after), "%s/after.log", f->root);
    write_file(after, "after\n");
    snprintf(list, sizeof(list), "%s:%s:%s", small, big, after);

    g_read_delay_ns = 2000000;
    deadline = mono_ns() + 40000000;
    assert_int_equal(btc_db_copy_attachments(f->db, UUID, list, deadline, &copied, &problems), 0);
    end = mono_ns();
    g_read_delay_ns = 0;
    print_message("returned %.1f ms after the deadline\n", (double)(end - deadline) / 1e6);
    /* Ignoring the deadline, the copy would end 90 ms after it or later. */
    assert_true(end - deadline < 60000000);

    assert_int_equal(json_array_size(copied), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(copied, 0), "name")),
                        "small.log");
    assert_int_equal(json_array_size(problems), 2);
    snprintf(want, sizeof(want), "attachment %s skipped: time budget for attachments ran out", big);
    assert_string_equal(problem(problems, 0), want);
    snprintf(want, sizeof(want), "attachment %s skipped: time budget for attachments ran out",
             after);
    assert_string_equal(problem(problems, 1), want);
    snprintf(d, sizeof(d), "%s/%s.d", f->db, UUID);
    assert_int_equal(count_entries(d), 1);
    assert_false(has_temp(d));
    snprintf(copy, sizeof(copy), "%s/small.log", d);
    assert_true(exists(copy));
    json_decref(copied);
    json_decref(problems);
}

/* A deadline that has passed: every file is named, none is copied, and no
 * copy directory is made. */
static void
test_db_copy_attachments_past_the_deadline_copies_nothing(void **state)
{
    struct fixture *f = *state;
    json_t *copied = NULL, *problems = NULL;
    char a[160], b[160], list[400], d[256];

    snprintf(a, sizeof(a), "%s/a.log", f->root);
    write_file(a, "a\n");
    snprintf(b, sizeof(b), "%s/missing.log", f->root);
    snprintf(list, sizeof(list), "%s:%s", a, b);
    assert_int_equal(btc_db_copy_attachments(f->db, UUID, list, mono_ns() - 1, &copied, &problems),
                     0);
    assert_int_equal(json_array_size(copied), 0);
    assert_int_equal(json_array_size(problems), 2);
    for (size_t i = 0; i < 2; i++)
        assert_non_null(
            strstr(problem(problems, i), "skipped: time budget for attachments ran out"));
    snprintf(d, sizeof(d), "%s/%s.d", f->db, UUID);
    assert_false(exists(d));
    json_decref(copied);
    json_decref(problems);
}

/* @path's modification time set @ago seconds back. */
static void
age_path(const char *path, time_t ago)
{
    struct timespec t[2] = {{time(NULL) - ago, 0}, {time(NULL) - ago, 0}};

    assert_int_equal(utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW), 0);
}

/* A temporary file at @path, locked (a live writer) when @locked: returns
 * its descriptor (keep it open while the writer lives). */
static int
temp_file(const char *path, bool locked, off_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    if (locked)
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    return fd;
}

/* A killed helper's temporary files go, in the database and in a report's
 * copy directory, however young; a live writer's (locked) stay, however
 * old; a link under a temporary name goes, what it points to stays. */
static void
test_db_prune_removes_temporary_files_no_writer_holds(void **state)
{
    struct fixture *f = *state;
    char dead[256], live[256], dead_copy[300], copy[256], link[256], target[256];
    int live_fd;

    store_report(f, UUID, 1, NULL);
    snprintf(dead, sizeof(dead), "%s/.%s.json.0badf00d.tmp", f->db, UUID);
    close(temp_file(dead, false, 100));
    snprintf(live, sizeof(live), "%s/.%s.state.12345678.tmp", f->db, UUID);
    live_fd = temp_file(live, true, 100);
    age_path(live, 3600);
    snprintf(copy, sizeof(copy), "%s/%s.d", f->db, UUID);
    assert_int_equal(mkdir(copy, 0700), 0);
    snprintf(dead_copy, sizeof(dead_copy), "%s/.core.0badf00d.tmp", copy);
    close(temp_file(dead_copy, false, 4096));
    snprintf(copy, sizeof(copy), "%s/%s.d/app.log", f->db, UUID);
    write_file(copy, "kept\n");
    snprintf(target, sizeof(target), "%s/outside.txt", f->root);
    write_file(target, "not the database's\n");
    snprintf(link, sizeof(link), "%s/.planted.0badf00d.tmp", f->db);
    assert_int_equal(symlink(target, link), 0);

    assert_int_equal(btc_db_prune(f->db, NULL), 0);
    assert_false(exists(dead));
    assert_false(exists(dead_copy));
    assert_false(exists(link));
    assert_true(exists(target));
    assert_true(exists(live));
    assert_true(exists(copy));

    /* Once its writer is gone, the next prune takes it. */
    close(live_fd);
    assert_int_equal(btc_db_remove_orphans(f->db, NULL), 1);
    assert_false(exists(live));
}

/* A copy directory without a report goes once it is old and unlocked; a
 * young one, a locked one, one with a report, a corrupt report, or the
 * report to keep stays. A link under such a name goes, never followed. */
static void
test_db_prune_removes_old_unlocked_copy_directories_without_a_report(void **state)
{
    struct fixture *f = *state;
    const char *orphan = "00000000-0000-4000-8000-00000000000a";
    const char *young = "00000000-0000-4000-8000-00000000000b";
    const char *locked = "00000000-0000-4000-8000-00000000000c";
    const char *kept = "00000000-0000-4000-8000-00000000000d";
    const char *corrupt = "00000000-0000-4000-8000-00000000000e";
    const char *linked = "00000000-0000-4000-8000-00000000000f";
    const char *all[] = {orphan, young, locked, kept, corrupt, UUID};
    char d[256], file[300], outside[256];
    int lock_fd;

    store_report(f, UUID, 1, NULL);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        snprintf(d, sizeof(d), "%s/%s.d", f->db, all[i]);
        assert_int_equal(mkdir(d, 0700), 0);
        snprintf(file, sizeof(file), "%s/core", d);
        write_file(file, "copy");
        if (all[i] != young)
            age_path(d, BTC_DB_ORPHAN_AGE_S + 5);
    }
    snprintf(file, sizeof(file), "%s/%s.json.corrupt", f->db, corrupt);
    write_file(file, "{not json");
    snprintf(d, sizeof(d), "%s/%s.d", f->db, locked);
    lock_fd = open(d, O_RDONLY | O_DIRECTORY);
    assert_true(lock_fd >= 0);
    assert_int_equal(flock(lock_fd, LOCK_EX | LOCK_NB), 0);
    snprintf(outside, sizeof(outside), "%s/outside", f->root);
    assert_int_equal(mkdir(outside, 0700), 0);
    snprintf(file, sizeof(file), "%s/precious", outside);
    write_file(file, "x");
    snprintf(d, sizeof(d), "%s/%s.d", f->db, linked);
    assert_int_equal(symlink(outside, d), 0);
    age_path(d, BTC_DB_ORPHAN_AGE_S + 5);

    assert_true(btc_db_remove_orphans(f->db, kept) >= 2);
    snprintf(d, sizeof(d), "%s/%s.d", f->db, orphan);
    assert_false(exists(d));
    snprintf(d, sizeof(d), "%s/%s.d", f->db, linked);
    assert_false(exists(d));
    assert_true(exists(file));
    for (size_t i = 1; i < sizeof(all) / sizeof(all[0]); i++) {
        snprintf(d, sizeof(d), "%s/%s.d/core", f->db, all[i]);
        assert_true(exists(d));
    }
    /* Unlocked, the locked one goes too. */
    close(lock_fd);
    assert_int_equal(btc_db_remove_orphans(f->db, kept), 1);
    snprintf(d, sizeof(d), "%s/%s.d", f->db, locked);
    assert_false(exists(d));
}

/* A state (or corrupt state) whose report is gone goes once it is old; a
 * young one may be a store's that is about to write its report. */
static void
test_db_prune_removes_old_state_files_without_a_report(void **state)
{
    struct fixture *f = *state;
    const char *gone = "00000000-0000-4000-8000-00000000000a";
    const char *young = "00000000-0000-4000-8000-00000000000b";
    char path[256], ok[256];

    store_report(f, UUID, 1, NULL);
    snprintf(ok, sizeof(ok), "%s/%s.state", f->db, UUID);
    age_path(ok, 3600);
    snprintf(path, sizeof(path), "%s/%s.state", f->db, gone);
    write_file(path, "{\"state\":\"sent\"}");
    age_path(path, BTC_DB_ORPHAN_AGE_S + 1);
    snprintf(path, sizeof(path), "%s/%s.state.corrupt", f->db, gone);
    write_file(path, "junk");
    age_path(path, BTC_DB_ORPHAN_AGE_S + 1);
    snprintf(path, sizeof(path), "%s/%s.state", f->db, young);
    write_file(path, "{\"state\":\"pending\"}");

    assert_int_equal(btc_db_prune(f->db, NULL), 0);
    snprintf(path, sizeof(path), "%s/%s.state", f->db, gone);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/%s.state.corrupt", f->db, gone);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/%s.state", f->db, young);
    assert_true(exists(path));
    assert_true(exists(ok));
}

/* ---- minidumps ---------------------------------------------------------- */

static void
test_db_minidump_is_stored_0600_and_opened_back(void **state)
{
    struct fixture *f = *state;
    struct btc_db_entry *e = NULL;
    char path[256], buf[16];
    struct stat st;
    uint64_t size = 0;
    size_t n = 0;
    int fd = -1;

    store_report(f, UUID, 1, "pending");
    assert_int_equal(btc_db_store_minidump(f->db, UUID, "MDMP-one", 8), 0);
    /* Replaced whole. */
    assert_int_equal(btc_db_store_minidump(f->db, UUID, "MDMP-two!", 9), 0);
    snprintf(path, sizeof(path), "%s/%s.dmp", f->db, UUID);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(btc_db_open_minidump(f->db, UUID, &fd, &size), 0);
    assert_int_equal(size, 9);
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), 9);
    assert_memory_equal(buf, "MDMP-two!", 9);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    /* A dump is no report, and counts in its report's bytes. */
    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_true(e[0].bytes >= 9);
    btc_db_entries_free(e, n);
}

static void
test_db_minidump_refuses_links_fifos_and_unsafe_names(void **state)
{
    struct fixture *f = *state;
    char path[256], target[256];
    uint64_t size = 0;
    int fd = -1;

    store_report(f, UUID, 1, "pending");
    assert_int_equal(btc_db_store_minidump(f->db, "../x", "M", 1), -EINVAL);
    assert_int_equal(btc_db_store_minidump(f->db, NULL, "M", 1), -EINVAL);
    assert_int_equal(btc_db_store_minidump(f->db, UUID, NULL, 1), -EINVAL);
    assert_int_equal(btc_db_open_minidump(f->db, "../x", &fd, &size), -EINVAL);
    assert_int_equal(btc_db_open_minidump(f->db, UUID, &fd, &size), -ENOENT);
    /* A planted link to a file of the user's is never opened. */
    snprintf(target, sizeof(target), "%s/secret", f->root);
    write_file(target, "secret");
    snprintf(path, sizeof(path), "%s/%s.dmp", f->db, UUID);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(btc_db_open_minidump(f->db, UUID, &fd, &size), -ELOOP);
    assert_int_equal(unlink(path), 0);
    /* A FIFO neither blocks nor is taken for a dump. */
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(btc_db_open_minidump(f->db, UUID, &fd, &size), -EINVAL);
    assert_int_equal(fd, -1);
}

static void
test_db_minidump_goes_with_its_report_or_as_an_old_orphan(void **state)
{
    struct fixture *f = *state;
    const char *gone = "00000000-0000-4000-8000-00000000000a";
    const char *young = "00000000-0000-4000-8000-00000000000b";
    char path[256];

    store_report(f, UUID, 1, "sent");
    assert_int_equal(btc_db_store_minidump(f->db, UUID, "MDMP", 4), 0);
    assert_int_equal(btc_db_remove(f->db, UUID), 0);
    snprintf(path, sizeof(path), "%s/%s.dmp", f->db, UUID);
    assert_false(exists(path));
    /* Without a report: removed once old, kept while young. */
    assert_int_equal(btc_db_store_minidump(f->db, gone, "MDMP", 4), 0);
    snprintf(path, sizeof(path), "%s/%s.dmp", f->db, gone);
    age_path(path, BTC_DB_ORPHAN_AGE_S + 1);
    assert_int_equal(btc_db_store_minidump(f->db, young, "MDMP", 4), 0);
    assert_int_equal(btc_db_prune(f->db, NULL), 0);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/%s.dmp", f->db, young);
    assert_true(exists(path));
}

/* The byte bound counts what no report lists: here a live writer's
 * temporary file (which must stay) takes the database over the bound, and
 * the oldest report goes to make room. The bytes a listing gives a report
 * include its state and its copy directory. */
static void
test_db_prune_counts_everything_in_the_directory(void **state)
{
    struct fixture *f = *state;
    struct btc_db_entry *e = NULL;
    char live[256], path[256];
    size_t n = 0;
    struct stat st;
    uint64_t want = 0;
    int fd;

    store_report(f, "aaaa", 1, NULL);
    store_report(f, "bbbb", 2, NULL);
    snprintf(path, sizeof(path), "%s/aaaa.d", f->db);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 2);
    for (int i = 0; i < 3; i++) {
        static const char *const names[] = {"aaaa.json", "aaaa.state", "aaaa.d"};

        snprintf(path, sizeof(path), "%s/%s", f->db, names[i]);
        assert_int_equal(lstat(path, &st), 0);
        want += (uint64_t)st.st_size;
    }
    assert_int_equal(e[0].bytes, want);
    btc_db_entries_free(e, n);

    snprintf(live, sizeof(live), "%s/.cccc.json.12345678.tmp", f->db);
    fd = temp_file(live, true, (off_t)BTC_DB_MAX_BYTES - 1000);
    assert_int_equal(btc_db_prune(f->db, "bbbb"), 1);
    snprintf(path, sizeof(path), "%s/aaaa.json", f->db);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/bbbb.json", f->db);
    assert_true(exists(path));
    assert_true(exists(live));
    close(fd);
}

static void
sweep_now(void *arg)
{
    struct fixture *f = arg;

    /* The writer's temporary file is not locked yet: it looks orphaned. */
    assert_int_equal(btc_db_remove_orphans(f->db, NULL), 1);
}

/* The one moment a live writer's temporary file has no lock: between its
 * open and its flock. A sweep then removes it; the writer sees that the
 * name is no longer its file, and starts again under another name. */
static void
test_db_store_survives_a_sweep_between_its_temporary_files_open_and_lock(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s}", "uuid", UUID);
    char *path = NULL;

    assert_int_equal(btc_db_mkdir_p(f->db), 0);
    g_before_flock = sweep_now;
    g_before_flock_ctx = f;
    assert_int_equal(store_plain(f->db, report, &path), 0);
    assert_null(g_before_flock);
    assert_true(exists(path));
    assert_false(has_temp(f->db));
    assert_int_equal(count_entries(f->db), 2);
    free(path);
    json_decref(report);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_db_store_writes_report_and_pending_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_db_store_makes_directories_0700_and_files_0600_whatever_the_umask, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_db_store_leaves_no_temporary_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_store_replaces_an_existing_report_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_store_rejects_missing_or_unsafe_uuid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_write_state_replaces_the_state_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_mkdir_p_fails_when_a_file_is_in_the_way, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_mkdir_p_keeps_mode_of_existing_directory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_store_refuses_directory_others_own_and_can_write,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_list_sorts_oldest_first_and_reads_report_and_state,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_list_skips_dot_files_and_junk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_list_moves_aside_a_report_that_is_not_a_json_object,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_list_moves_aside_a_linked_fifo_or_directory_report,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_list_repairs_a_state_that_does_not_parse, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_list_of_missing_directory_fails_without_creating_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_read_state_defaults_to_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_read_report_returns_the_stored_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_copy_attachments_copies_skips_and_reports_problems,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_copy_attachments_cuts_a_large_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_db_copy_attachments_with_nothing_to_copy_makes_no_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_db_prune_drops_sent_then_rejected_then_pending_oldest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_prune_counts_attachment_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_claim_is_exclusive_until_released, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_prune_skips_a_claimed_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_remove_deletes_report_state_and_attachments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_every_function_rejects_an_unsafe_uuid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_store_returns_the_report_claimed, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_db_refuses_its_own_directory_when_group_or_others_can_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_refuses_a_0700_directory_another_uid_owns, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_refuses_a_symlink_to_a_good_directory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_db_mkdir_p_creates_a_missing_directory_0700_that_the_db_trusts, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_db_open_attachment_opens_only_a_regular_copy_of_the_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_open_attachment_refuses_a_linked_copy_directory,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_prune_deletes_corrupt_reports_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_remove_deletes_the_files_moved_aside, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_strerror_names_the_limit_that_was_reached, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_store_under_rlimit_fsize_fails_with_efbig_in_words,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_replace_swaps_the_report_and_keeps_the_claim, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_replace_writes_the_state_first_when_given_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_db_replace_of_a_missing_or_unclaimed_report_fails_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_claim_refuses_the_inode_a_replace_left_behind,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_db_replace_never_lets_another_process_claim_or_read_half, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_db_claim_rechecks_the_name_after_a_replace_between_open_and_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_copy_attachments_keeps_within_the_reports_budget,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_db_copy_attachments_stops_at_the_deadline_without_a_partial_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_copy_attachments_past_the_deadline_copies_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_prune_removes_temporary_files_no_writer_holds,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_db_prune_removes_old_unlocked_copy_directories_without_a_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_minidump_is_stored_0600_and_opened_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_minidump_refuses_links_fifos_and_unsafe_names,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_minidump_goes_with_its_report_or_as_an_old_orphan,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_prune_removes_old_state_files_without_a_report,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_prune_counts_everything_in_the_directory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_db_store_survives_a_sweep_between_its_temporary_files_open_and_lock, setup,
            teardown),
    };

    return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
