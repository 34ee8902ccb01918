/* test_db: the crash database (submit/db.c): atomic stores, file layout and
 * permissions, each test in its own mkdtemp directory. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

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
test_db_store_writes_report_and_pending_state(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s, s:i}", "uuid", UUID, "timestamp", 1700000000);
    json_t *stored, *st;
    char *path = NULL, expected[256], state_path[256];

    assert_int_equal(btc_db_store(f->db, report, &path), 0);
    snprintf(expected, sizeof(expected), "%s/%s.json", f->db, UUID);
    assert_string_equal(path, expected);
    stored = load_file(path);
    assert_non_null(stored);
    assert_true(json_equal(stored, report));

    snprintf(state_path, sizeof(state_path), "%s/%s.state", f->db, UUID);
    st = load_file(state_path);
    assert_non_null(st);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "pending");

    json_decref(st);
    json_decref(stored);
    json_decref(report);
    free(path);
}

static void
test_db_store_makes_directories_0700_and_files_0600_whatever_the_umask(void **state)
{
    struct fixture *f = *state;
    json_t *report = json_pack("{s:s}", "uuid", UUID);
    char *path = NULL, parent[160];

    umask(0); /* would give 0777 / 0666 if the code trusted it */
    assert_int_equal(btc_db_store(f->db, report, &path), 0);
    assert_int_equal(mode_of(f->db), 0700);
    snprintf(parent, sizeof(parent), "%s/state", f->root);
    assert_int_equal(mode_of(parent), 0700);
    assert_int_equal(mode_of(path), 0600);
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

    assert_int_equal(btc_db_store(f->db, report, &path), 0);
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

    assert_int_equal(btc_db_store(f->db, first, &p1), 0);
    assert_int_equal(btc_db_store(f->db, second, &p2), 0);
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
    char *path = NULL;

    assert_int_equal(btc_db_store(f->db, none, &path), -EINVAL);
    assert_int_equal(btc_db_store(f->db, traversal, &path), -EINVAL);
    assert_int_equal(btc_db_store(f->db, empty, &path), -EINVAL);
    assert_null(path);
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

    assert_int_equal(btc_db_store(f->db, report, &path), 0);
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
    assert_int_equal(btc_db_store(shared, report, &path), -EPERM);
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
    assert_int_equal(btc_db_store(f->db, report, &path), 0);
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

static void
write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static bool
exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
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
test_db_list_skips_dot_files_junk_and_a_fifo(void **state)
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
    snprintf(path, sizeof(path), "%s/abcdef.json", f->db); /* not JSON */
    write_file(path, "{not json");
    snprintf(path, sizeof(path), "%s/not-a-uuid!.json", f->db);
    write_file(path, "{}");
    snprintf(path, sizeof(path), "%s/dddd.json", f->db); /* a directory */
    assert_int_equal(mkdir(path, 0700), 0);
    /* A FIFO under a report's name: reading it must neither block nor
     * count it. */
    snprintf(path, sizeof(path), "%s/eeee.json", f->db);
    assert_int_equal(mkfifo(path, 0600), 0);

    assert_int_equal(btc_db_list(f->db, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].uuid, UUID);
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

    write_file(path, "[1,2]");
    assert_int_equal(btc_db_read_state(f->db, UUID, &st), -EBADMSG);
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
    assert_int_equal(btc_db_store(f->db, report, &path), 0);
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

    assert_int_equal(btc_db_copy_attachments(f->db, UUID, paths, &copied, &problems), 0);
    assert_int_equal(json_array_size(copied), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(copied, 0), "name")),
                        "app.log");
    assert_string_equal(json_string_value(json_object_get(json_array_get(copied, 0), "source")), a);
    snprintf(copy, sizeof(copy), "%s/%s.d/app.log", f->db, UUID);
    assert_string_equal(json_string_value(json_object_get(json_array_get(copied, 0), "path")),
                        copy);
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

    assert_int_equal(btc_db_copy_attachments(f->db, UUID, big, &copied, &problems), 0);
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

    assert_int_equal(btc_db_copy_attachments(f->db, UUID, "", &copied, &problems), 0);
    assert_int_equal(json_array_size(copied), 0);
    assert_int_equal(json_array_size(problems), 0);
    json_decref(copied);
    json_decref(problems);
    assert_int_equal(btc_db_copy_attachments(f->db, UUID, NULL, &copied, &problems), 0);
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
    assert_int_equal(btc_db_copy_attachments(f->db, UUID, src, &copied, &problems), 0);
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
    char *text = NULL, victim[160];
    size_t len;

    store_report(f, UUID, 1, NULL);
    /* Something a crafted id might reach, one level up. */
    snprintf(victim, sizeof(victim), "%s/state/x.json", f->root);
    write_file(victim, "{}");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(btc_db_read_state(f->db, bad[i], &st), -EINVAL);
        assert_int_equal(btc_db_read_report(f->db, bad[i], &text, &len), -EINVAL);
        assert_int_equal(btc_db_copy_attachments(f->db, bad[i], victim, &copied, &problems),
                         -EINVAL);
        assert_int_equal(btc_db_remove(f->db, bad[i]), -EINVAL);
        assert_int_equal(btc_db_prune(f->db, bad[i]), -EINVAL);
    }
    assert_int_equal(btc_db_read_state(f->db, NULL, &st), -EINVAL);
    assert_int_equal(btc_db_remove(f->db, NULL), -EINVAL);
    assert_true(exists(victim));
    assert_null(st);
    assert_null(text);
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
        cmocka_unit_test_setup_teardown(test_db_list_skips_dot_files_junk_and_a_fifo, setup,
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
    };

    return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
