/* test_db: the crash database (submit/db.c): atomic stores, file layout and
 * permissions, each test in its own mkdtemp directory. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
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
    };

    return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
