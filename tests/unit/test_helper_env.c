/* Unit tests of preload/helper_env.c: the helper's environment and the
 * constructor's configuration look-ups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_env.h"

static size_t
count(char **vars)
{
    size_t n = 0;

    while (vars[n])
        n++;
    return n;
}

static bool
contains(char **vars, const char *var)
{
    for (; *vars; vars++)
        if (strcmp(*vars, var) == 0)
            return true;
    return false;
}

static void
test_helper_env_keeps_backtrace_vars_and_drops_ld_preload(void **state)
{
    (void)state;
    char *env[] = {"PATH=/usr/bin",
                   "LD_PRELOAD=/x/libbtcrash.so",
                   "BACKTRACE_TIMEOUT=2",
                   "HOME=/home/u",
                   "LC_ALL=C",
                   "SECRET_KEY=hunter2",
                   "https_proxy=http://proxy:3128",
                   "DEBUGINFOD_URLS=https://debuginfod.example",
                   NULL};
    struct btc_helper_env e;

    assert_int_equal(btc_helper_env_prepare(env, &e), 0);
    assert_false(e.in_helper);
    assert_true(contains(e.vars, "BACKTRACE_TIMEOUT=2"));
    assert_true(contains(e.vars, "HOME=/home/u"));
    assert_true(contains(e.vars, "LC_ALL=C"));
    assert_true(contains(e.vars, "https_proxy=http://proxy:3128"));
    assert_true(contains(e.vars, BTC_HELPER_MARKER "=1"));
    assert_false(contains(e.vars, "LD_PRELOAD=/x/libbtcrash.so"));
    assert_false(contains(e.vars, "PATH=/usr/bin"));
    assert_false(contains(e.vars, "SECRET_KEY=hunter2"));
    /* The helper fetches missing debug files from there (capture/debuginfod.c). */
    assert_true(contains(e.vars, "DEBUGINFOD_URLS=https://debuginfod.example"));
    assert_int_equal(count(e.vars), 6);
}

static void
test_helper_env_copies_survive_changes_to_the_original(void **state)
{
    (void)state;
    char var[] = "BACKTRACE_TOKEN=abc";
    char *env[] = {var, NULL};
    struct btc_helper_env e;

    assert_int_equal(btc_helper_env_prepare(env, &e), 0);
    memset(var, 'X', sizeof(var) - 1); /* a program rewriting its environ block */
    assert_string_equal(btc_helper_env_lookup("BACKTRACE_TOKEN", &e), "abc");
}

static void
test_helper_env_marker_means_inert(void **state)
{
    (void)state;
    char *env[] = {"BACKTRACE_DEBUG_BACKTRACE=1", BTC_HELPER_MARKER "=1", NULL};
    struct btc_helper_env e;

    assert_int_equal(btc_helper_env_prepare(env, &e), 0);
    assert_true(e.in_helper);
    /* The marker is added once, not copied twice. */
    size_t markers = 0;
    for (char **v = e.vars; *v; v++)
        markers += strncmp(*v, BTC_HELPER_MARKER "=", sizeof(BTC_HELPER_MARKER)) == 0;
    assert_int_equal(markers, 1);
}

static void
test_helper_env_lookup_matches_whole_names_only(void **state)
{
    (void)state;
    char *env[] = {"BACKTRACE_TIMEOUT_EXTRA=9", "BACKTRACE_TIMEOUT=2", "BACKTRACE_TOKEN=", NULL};
    struct btc_helper_env e;

    assert_int_equal(btc_helper_env_prepare(env, &e), 0);
    assert_string_equal(btc_helper_env_lookup("BACKTRACE_TIMEOUT", &e), "2");
    assert_string_equal(btc_helper_env_lookup("BACKTRACE_TOKEN", &e), "");
    assert_null(btc_helper_env_lookup("BACKTRACE_ENDPOINT", &e));
    assert_null(btc_helper_env_lookup("BACKTRACE_TIME", &e));
}

static void
test_helper_env_handles_more_than_the_static_store(void **state)
{
    (void)state;
    enum { N = 300 };
    static char bufs[N][40];
    static char *env[N + 1];
    struct btc_helper_env e;

    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "BACKTRACE_X%03d=%d", i, i);
        env[i] = bufs[i];
    }
    env[N] = NULL;
    assert_int_equal(btc_helper_env_prepare(env, &e), 0);
    assert_int_equal(count(e.vars), N + 1);
    assert_string_equal(btc_helper_env_lookup("BACKTRACE_X299", &e), "299");
    assert_string_equal(btc_helper_env_lookup("BACKTRACE_X000", &e), "0");
    /* Past the static store the copy is one malloc'ed block, which the
     * library keeps for the life of the process; here it is ours. */
    free(e.vars);
}

static void
test_helper_env_accepts_an_empty_environment(void **state)
{
    (void)state;
    struct btc_helper_env e;

    assert_int_equal(btc_helper_env_prepare(NULL, &e), 0);
    assert_int_equal(count(e.vars), 1);
    assert_false(e.in_helper);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helper_env_keeps_backtrace_vars_and_drops_ld_preload),
        cmocka_unit_test(test_helper_env_copies_survive_changes_to_the_original),
        cmocka_unit_test(test_helper_env_marker_means_inert),
        cmocka_unit_test(test_helper_env_lookup_matches_whole_names_only),
        cmocka_unit_test(test_helper_env_handles_more_than_the_static_store),
        cmocka_unit_test(test_helper_env_accepts_an_empty_environment),
    };
    return cmocka_run_group_tests_name("helper_env", tests, NULL, NULL);
}
