/* test_config: the BACKTRACE_* environment contract (DESIGN.md §2) through
 * btc_cfg_load with a fake environment, and the strbuf formatting helpers it
 * is built on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "strbuf.h"

/* ---- fake environment and warning sink ---------------------------------- */

#define MAX_VARS     32
#define MAX_WARNINGS 32

struct fake_env {
    const char *names[MAX_VARS];
    const char *values[MAX_VARS];
    size_t n;
    /* Every name looked up, to catch a variable read under a wrong name. */
    size_t lookups;
};

struct warnings {
    char lines[MAX_WARNINGS][1024];
    size_t n;
    size_t bad_lines; /* lines that did not end in exactly one '\n' */
};

struct fixture {
    struct fake_env env;
    struct warnings w;
    struct btc_config cfg;
    struct btc_config defaults;
};

static const char *
fake_lookup(const char *name, void *ctx)
{
    struct fake_env *env = ctx;

    env->lookups++;
    for (size_t i = 0; i < env->n; i++)
        if (strcmp(env->names[i], name) == 0)
            return env->values[i];
    return NULL;
}

static void
fake_warn(const char *line, size_t len, void *ctx)
{
    struct warnings *w = ctx;

    assert_non_null(line);
    assert_int_equal(strlen(line), len);
    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len) != line + len - 1)
        w->bad_lines++;
    if (w->n < MAX_WARNINGS) {
        assert_true(len < sizeof(w->lines[0]));
        memcpy(w->lines[w->n], line, len + 1);
    }
    w->n++;
}

static void
env_set(struct fake_env *env, const char *name, const char *value)
{
    for (size_t i = 0; i < env->n; i++) {
        if (strcmp(env->names[i], name) == 0) {
            env->values[i] = value;
            return;
        }
    }
    assert_true(env->n < MAX_VARS);
    env->names[env->n] = name;
    env->values[env->n] = value;
    env->n++;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    btc_cfg_defaults(&f->defaults);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    free(*state);
    return 0;
}

/* Loads the configuration from the fixture's environment; returns the
 * number of rejections btc_cfg_load reported. */
static int
load(struct fixture *f)
{
    int r;

    f->w.n = 0;
    f->w.bad_lines = 0;
    memset(&f->cfg, 0xa5, sizeof(f->cfg)); /* must be fully overwritten */
    r = btc_cfg_load(fake_lookup, &f->env, fake_warn, &f->w, &f->cfg);
    assert_int_equal(f->w.bad_lines, 0);
    assert_int_equal((size_t)r, f->w.n);
    return r;
}

/* Sets one variable, loads, and checks that exactly one warning line came out,
 * naming the variable and (when printable) the value. */
static void
expect_one_rejection(struct fixture *f, const char *name, const char *value)
{
    env_set(&f->env, name, value);
    assert_int_equal(load(f), 1);
    assert_int_equal(f->w.n, 1);
    assert_non_null(strstr(f->w.lines[0], name));
    if (strcmp(name, "BACKTRACE_ENDPOINT") != 0) /* shown up to the host only */
        assert_non_null(strstr(f->w.lines[0], value));
}

static void
expect_accepted(struct fixture *f, const char *name, const char *value)
{
    env_set(&f->env, name, value);
    if (load(f) != 0)
        fail_msg("%s='%s' was rejected: %s", name, value, f->w.lines[0]);
}

/* ---- BACKTRACE_FORMAT, BACKTRACE_MINIDUMP_ENVIRONMENT ---------------------- */

static void
test_cfg_format_defaults_to_json(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f), 0);
    assert_int_equal(f->cfg.format, BTC_CFG_FORMAT_JSON);
    assert_false(f->cfg.minidump_environment);
}

static void
test_cfg_format_accepts_json_and_minidump_any_case(void **state)
{
    struct fixture *f = *state;

    expect_accepted(f, "BACKTRACE_FORMAT", "MiniDump");
    assert_int_equal(f->cfg.format, BTC_CFG_FORMAT_MINIDUMP);
    expect_accepted(f, "BACKTRACE_FORMAT", "JSON");
    assert_int_equal(f->cfg.format, BTC_CFG_FORMAT_JSON);
    expect_accepted(f, "BACKTRACE_MINIDUMP_ENVIRONMENT", "yes");
    assert_true(f->cfg.minidump_environment);
}

static void
test_cfg_format_rejects_others_and_keeps_json(void **state)
{
    struct fixture *f = *state;

    expect_one_rejection(f, "BACKTRACE_FORMAT", "minidumps");
    assert_int_equal(f->cfg.format, BTC_CFG_FORMAT_JSON);
    assert_non_null(strstr(f->w.lines[0], "json or minidump"));
}

/* ---- BACKTRACE_CRASH_LOOP_WINDOW, BACKTRACE_WAIT_FOR_UPLOAD -------------- */

static void
test_cfg_loop_window_and_wait_defaults(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f), 0);
    assert_int_equal(f->cfg.crash_loop_window_ms, 60000);
    assert_true(f->cfg.wait_for_upload);
}

static void
test_cfg_loop_window_takes_seconds_and_zero(void **state)
{
    struct fixture *f = *state;

    expect_accepted(f, "BACKTRACE_CRASH_LOOP_WINDOW", "0");
    assert_int_equal(f->cfg.crash_loop_window_ms, 0);
    expect_accepted(f, "BACKTRACE_CRASH_LOOP_WINDOW", "2.5");
    assert_int_equal(f->cfg.crash_loop_window_ms, 2500);
    expect_accepted(f, "BACKTRACE_CRASH_LOOP_WINDOW", "86400");
    assert_int_equal(f->cfg.crash_loop_window_ms, 86400000);
    expect_accepted(f, "BACKTRACE_WAIT_FOR_UPLOAD", "0");
    assert_false(f->cfg.wait_for_upload);
}

static void
test_cfg_loop_window_rejects_garbage_and_keeps_60(void **state)
{
    static const char *const bad[] = {"-1", "1m", "86401", "1e3", " 60"};
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_one_rejection(f, "BACKTRACE_CRASH_LOOP_WINDOW", bad[i]);
        assert_int_equal(f->cfg.crash_loop_window_ms, 60000);
        assert_non_null(strstr(f->w.lines[0], "0 (off) to 86400"));
    }
    env_set(&f->env, "BACKTRACE_CRASH_LOOP_WINDOW", NULL);
    expect_one_rejection(f, "BACKTRACE_WAIT_FOR_UPLOAD", "later");
    assert_true(f->cfg.wait_for_upload);
}

static void
assert_defaults(const struct btc_config *c, const struct btc_config *d)
{
    assert_ptr_equal(c->endpoint, d->endpoint);
    assert_ptr_equal(c->token, d->token);
    assert_ptr_equal(c->attributes_json, d->attributes_json);
    assert_ptr_equal(c->attachments, d->attachments);
    assert_ptr_equal(c->database_path, d->database_path);
    assert_ptr_equal(c->helper_path, d->helper_path);
    assert_int_equal(c->timeout_ms, d->timeout_ms);
    assert_int_equal(c->context_line_count, d->context_line_count);
    assert_int_equal(c->tab_width, d->tab_width);
    assert_int_equal(c->ignore_ssl_certificate, d->ignore_ssl_certificate);
    assert_int_equal(c->debug, d->debug);
    assert_int_equal(c->disable_global_handler, d->disable_global_handler);
    assert_int_equal(c->collect_source_code, d->collect_source_code);
    assert_int_equal(c->format, d->format);
    assert_int_equal(c->minidump_environment, d->minidump_environment);
    assert_int_equal(c->crash_loop_window_ms, d->crash_loop_window_ms);
    assert_int_equal(c->wait_for_upload, d->wait_for_upload);
}

/* ---- defaults ------------------------------------------------------------ */

static void
test_cfg_defaults_match_design(void **state)
{
    struct fixture *f = *state;
    const struct btc_config *d = &f->defaults;

    assert_null(d->endpoint);
    assert_null(d->token);
    assert_null(d->attributes_json);
    assert_null(d->attachments);
    assert_null(d->database_path);
    assert_null(d->helper_path);
    assert_int_equal(d->timeout_ms, 4000);
    assert_int_equal(d->context_line_count, 200);
    assert_int_equal(d->tab_width, 8);
    assert_false(d->ignore_ssl_certificate);
    assert_false(d->debug);
    assert_false(d->disable_global_handler);
    assert_true(d->collect_source_code);
}

static void
test_cfg_empty_environment_gives_defaults(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f), 0);
    assert_int_equal(f->w.n, 0);
    assert_true(f->env.lookups > 0);
    assert_defaults(&f->cfg, &f->defaults);
}

static void
test_cfg_null_warn_still_counts_rejections(void **state)
{
    struct fixture *f = *state;
    struct btc_config c;

    env_set(&f->env, "BACKTRACE_TIMEOUT", "abc");
    env_set(&f->env, "BACKTRACE_TAB_WIDTH", "0");
    assert_int_equal(btc_cfg_load(fake_lookup, &f->env, NULL, NULL, &c), 2);
    assert_int_equal(c.timeout_ms, 4000);
    assert_int_equal(c.tab_width, 8);
}

/* ---- empty values mean unset -------------------------------------------- */

static void
test_cfg_empty_values_mean_unset(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {
        "BACKTRACE_ENDPOINT",
        "BACKTRACE_TOKEN",
        "BACKTRACE_ATTRIBUTES",
        "BACKTRACE_ATTACHMENTS",
        "BACKTRACE_IGNORE_SSL_CERTIFICATE",
        "BACKTRACE_TIMEOUT",
        "BACKTRACE_DEBUG_BACKTRACE",
        "BACKTRACE_DISABLE_GLOBAL_HANDLER",
        "BACKTRACE_CONTEXT_LINE_COUNT",
        "BACKTRACE_TAB_WIDTH",
        "BACKTRACE_COLLECT_SOURCE_CODE",
        "BACKTRACE_FORMAT",
        "BACKTRACE_MINIDUMP_ENVIRONMENT",
        "BACKTRACE_DATABASE_PATH",
        "BACKTRACE_HELPER_PATH",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        env_set(&f->env, names[i], "");
    assert_int_equal(load(f), 0);
    assert_defaults(&f->cfg, &f->defaults);
}

/* ---- strings passed through ---------------------------------------------- */

static void
test_cfg_strings_point_into_environment(void **state)
{
    struct fixture *f = *state;
    static const char endpoint[] = "https://submit.backtrace.io/uni/0123abcd/json";
    static const char token[] = "s3cr3t-token";
    static const char attrs[] = "{\"application\":\"svc\",\"serverId\":\"foo\"}";
    static const char attachments[] = "/var/log/a.log:/var/log/b.log";

    env_set(&f->env, "BACKTRACE_ENDPOINT", endpoint);
    env_set(&f->env, "BACKTRACE_TOKEN", token);
    env_set(&f->env, "BACKTRACE_ATTRIBUTES", attrs);
    env_set(&f->env, "BACKTRACE_ATTACHMENTS", attachments);
    assert_int_equal(load(f), 0);
    assert_ptr_equal(f->cfg.endpoint, endpoint);
    assert_ptr_equal(f->cfg.token, token);
    assert_ptr_equal(f->cfg.attributes_json, attrs);
    assert_ptr_equal(f->cfg.attachments, attachments);
}

/* ---- BACKTRACE_ENDPOINT -------------------------------------------------- */

static void
test_cfg_endpoint_accepts_http_and_https(void **state)
{
    struct fixture *f = *state;
    static const char *const good[] = {
        "https://submit.backtrace.io/uni/tok/json",
        "https://host:6098",
        "http://localhost:8080/",
        "http://127.0.0.1:6097",
        "HTTPS://host:6098", /* schemes are case-insensitive */
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        expect_accepted(f, "BACKTRACE_ENDPOINT", good[i]);
        assert_ptr_equal(f->cfg.endpoint, good[i]);
    }
}

static void
test_cfg_endpoint_rejects_other_schemes(void **state)
{
    struct fixture *f = *state;
    /* The warning shows the value up to its host: a path may hold the token. */
    static const char *const bad[][2] = {
        {"ftp://host/x", "ftp://host/..."}, {"host:6098", "host:6098"},
        {"file:///tmp/x", "file:///..."},   {"https:/host", "https:/..."},
        {"htp://host", "htp://host"},       {" https://host", " https://host"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_one_rejection(f, "BACKTRACE_ENDPOINT", bad[i][0]);
        assert_non_null(strstr(f->w.lines[0], bad[i][1]));
        assert_null(f->cfg.endpoint); /* local mode */
    }
}

/* ---- booleans ------------------------------------------------------------ */

static const char *const bool_names[] = {
    "BACKTRACE_IGNORE_SSL_CERTIFICATE",
    "BACKTRACE_DEBUG_BACKTRACE",
    "BACKTRACE_DISABLE_GLOBAL_HANDLER",
    "BACKTRACE_COLLECT_SOURCE_CODE",
};

static bool
bool_field(const struct btc_config *c, size_t i)
{
    switch (i) {
    case 0:
        return c->ignore_ssl_certificate;
    case 1:
        return c->debug;
    case 2:
        return c->disable_global_handler;
    default:
        return c->collect_source_code;
    }
}

static void
test_cfg_bools_accept_all_forms_any_case(void **state)
{
    struct fixture *f = *state;
    static const char *const yes[] = {"1",   "true", "TRUE", "True", "tRuE", "yes",
                                      "YES", "Yes",  "yEs",  "on",   "ON",   "On"};
    static const char *const no[] = {"0",  "false", "FALSE", "False", "fAlSe", "no",
                                     "NO", "No",    "off",   "OFF",   "Off",   "oFf"};

    for (size_t v = 0; v < sizeof(bool_names) / sizeof(bool_names[0]); v++) {
        struct fake_env clean = {0};

        f->env = clean;
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
            expect_accepted(f, bool_names[v], yes[i]);
            if (!bool_field(&f->cfg, v))
                fail_msg("%s='%s' did not give true", bool_names[v], yes[i]);
        }
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
            expect_accepted(f, bool_names[v], no[i]);
            if (bool_field(&f->cfg, v))
                fail_msg("%s='%s' did not give false", bool_names[v], no[i]);
        }
    }
}

static void
test_cfg_bools_reject_garbage_and_keep_default(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {"2",      "10", "-1",     "tru", "truee", "y",  "n",
                                      "yess",   " 1", "1 ",     "o",   "onn",   "of", "offf",
                                      "enable", "t",  "true\n", "0x1", "01",    "+1"};

    for (size_t v = 0; v < sizeof(bool_names) / sizeof(bool_names[0]); v++) {
        struct fake_env clean = {0};
        bool dflt = bool_field(&f->defaults, v);

        f->env = clean;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            env_set(&f->env, bool_names[v], bad[i]);
            assert_int_equal(load(f), 1);
            assert_non_null(strstr(f->w.lines[0], bool_names[v]));
            assert_int_equal(bool_field(&f->cfg, v), dflt);
        }
    }
}

static void
test_cfg_parse_bool_rejects_null_and_leaves_output(void **state)
{
    bool v = true;

    (void)state;
    assert_int_equal(btc_cfg_parse_bool(NULL, &v), -EINVAL);
    assert_int_equal(btc_cfg_parse_bool("", &v), -EINVAL);
    assert_int_equal(btc_cfg_parse_bool("maybe", &v), -EINVAL);
    assert_true(v);
    assert_int_equal(btc_cfg_parse_bool("oFF", &v), 0);
    assert_false(v);
}

/* ---- BACKTRACE_TIMEOUT --------------------------------------------------- */

static void
test_cfg_timeout_accepts_seconds_and_decimals(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *s;
        uint32_t ms;
    } good[] = {
        {"4", 4000},   {"2.5", 2500},    {"0.001", 1},   {"1", 1000},       {"0.5", 500},
        {".5", 500},   {"5.", 5000},     {"1.25", 1250}, {"3600", 3600000}, {"3600.000", 3600000},
        {"0.0001", 1}, {"1.0004", 1001}, {"007", 7000},  {"30", 30000},     {"0.010", 10},
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        expect_accepted(f, "BACKTRACE_TIMEOUT", good[i].s);
        if (f->cfg.timeout_ms != good[i].ms)
            fail_msg("BACKTRACE_TIMEOUT='%s': %u ms, expected %u", good[i].s, f->cfg.timeout_ms,
                     good[i].ms);
    }
}

static void
test_cfg_timeout_rejects_negative(void **state)
{
    struct fixture *f = *state;

    expect_one_rejection(f, "BACKTRACE_TIMEOUT", "-1");
    assert_int_equal(f->cfg.timeout_ms, 4000);
    expect_one_rejection(f, "BACKTRACE_TIMEOUT", "-0.5");
    assert_int_equal(f->cfg.timeout_ms, 4000);
}

static void
test_cfg_timeout_rejects_zero(void **state)
{
    struct fixture *f = *state;

    expect_one_rejection(f, "BACKTRACE_TIMEOUT", "0");
    assert_int_equal(f->cfg.timeout_ms, 4000);
    expect_one_rejection(f, "BACKTRACE_TIMEOUT", "0.000");
    assert_int_equal(f->cfg.timeout_ms, 4000);
    expect_one_rejection(f, "BACKTRACE_TIMEOUT", "0.0");
    assert_int_equal(f->cfg.timeout_ms, 4000);
}

static void
test_cfg_timeout_rejects_garbage(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {"abc",  "1e3", "4s",  "4 ",  " 4",  "+4",  "1.2.3", ".",
                                      "0x10", "inf", "nan", "1,5", "4\n", "--1", "1e-3",  "١"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        env_set(&f->env, "BACKTRACE_TIMEOUT", bad[i]);
        assert_int_equal(load(f), 1);
        assert_non_null(strstr(f->w.lines[0], "BACKTRACE_TIMEOUT"));
        assert_int_equal(f->cfg.timeout_ms, 4000);
    }
}

static void
test_cfg_timeout_rejects_huge(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "3600.001",
        "3601",
        "86400",
        "4294967296",
        "18446744073709551617",
        "99999999999999999999999999999999999999.5",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_one_rejection(f, "BACKTRACE_TIMEOUT", bad[i]);
        assert_int_equal(f->cfg.timeout_ms, 4000);
    }
}

static void
test_cfg_parse_seconds_error_codes(void **state)
{
    uint32_t ms = 77;

    (void)state;
    assert_int_equal(btc_cfg_parse_seconds(NULL, 1000, &ms), -EINVAL);
    assert_int_equal(btc_cfg_parse_seconds("", 1000, &ms), -EINVAL);
    assert_int_equal(btc_cfg_parse_seconds("abc", 1000, &ms), -EINVAL);
    assert_int_equal(btc_cfg_parse_seconds("1e3", 1000, &ms), -EINVAL);
    assert_int_equal(btc_cfg_parse_seconds("-1", 1000, &ms), -ERANGE);
    assert_int_equal(btc_cfg_parse_seconds("1.001", 1000, &ms), -ERANGE);
    assert_int_equal(ms, 77); /* written only on success */
    assert_int_equal(btc_cfg_parse_seconds("1", 1000, &ms), 0);
    assert_int_equal(ms, 1000);
    assert_int_equal(btc_cfg_parse_seconds("0", 1000, &ms), 0);
    assert_int_equal(ms, 0);
}

/* ---- counts: BACKTRACE_CONTEXT_LINE_COUNT, BACKTRACE_TAB_WIDTH ------------ */

static void
test_cfg_context_line_count_bounds(void **state)
{
    struct fixture *f = *state;

    expect_accepted(f, "BACKTRACE_CONTEXT_LINE_COUNT", "0");
    assert_int_equal(f->cfg.context_line_count, 0);
    expect_accepted(f, "BACKTRACE_CONTEXT_LINE_COUNT", "1");
    assert_int_equal(f->cfg.context_line_count, 1);
    expect_accepted(f, "BACKTRACE_CONTEXT_LINE_COUNT", "50");
    assert_int_equal(f->cfg.context_line_count, 50);
    expect_accepted(f, "BACKTRACE_CONTEXT_LINE_COUNT", "100000");
    assert_int_equal(f->cfg.context_line_count, 100000);
    expect_one_rejection(f, "BACKTRACE_CONTEXT_LINE_COUNT", "100001");
    assert_int_equal(f->cfg.context_line_count, 200);
}

static void
test_cfg_counts_reject_negative_and_garbage(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {"BACKTRACE_CONTEXT_LINE_COUNT", "BACKTRACE_TAB_WIDTH"};
    static const char *const bad[] = {"-1",   "-0",  "abc",        "1.5",
                                      "4x",   " 4",  "4 ",         "+4",
                                      "0x10", "1e2", "4294967296", "99999999999999999999",
                                      "4\n",  "--"};

    for (size_t n = 0; n < 2; n++) {
        struct fake_env clean = {0};

        f->env = clean;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            env_set(&f->env, names[n], bad[i]);
            assert_int_equal(load(f), 1);
            assert_non_null(strstr(f->w.lines[0], names[n]));
            assert_int_equal(f->cfg.context_line_count, 200);
            assert_int_equal(f->cfg.tab_width, 8);
        }
    }
}

static void
test_cfg_tab_width_bounds(void **state)
{
    struct fixture *f = *state;

    expect_one_rejection(f, "BACKTRACE_TAB_WIDTH", "0");
    assert_int_equal(f->cfg.tab_width, 8);
    expect_accepted(f, "BACKTRACE_TAB_WIDTH", "1");
    assert_int_equal(f->cfg.tab_width, 1);
    expect_accepted(f, "BACKTRACE_TAB_WIDTH", "4");
    assert_int_equal(f->cfg.tab_width, 4);
    expect_accepted(f, "BACKTRACE_TAB_WIDTH", "64");
    assert_int_equal(f->cfg.tab_width, 64);
    expect_one_rejection(f, "BACKTRACE_TAB_WIDTH", "65");
    assert_int_equal(f->cfg.tab_width, 8);
}

static void
test_cfg_parse_count_error_codes(void **state)
{
    uint32_t v = 5;

    (void)state;
    assert_int_equal(btc_cfg_parse_count(NULL, 0, 10, &v), -EINVAL);
    assert_int_equal(btc_cfg_parse_count("", 0, 10, &v), -EINVAL);
    assert_int_equal(btc_cfg_parse_count("-1", 0, 10, &v), -EINVAL);
    assert_int_equal(btc_cfg_parse_count("11", 0, 10, &v), -ERANGE);
    assert_int_equal(btc_cfg_parse_count("2", 3, 10, &v), -ERANGE);
    assert_int_equal(btc_cfg_parse_count("4294967295", 0, UINT32_MAX, &v), 0);
    assert_int_equal(v, UINT32_MAX);
    v = 5;
    assert_int_equal(btc_cfg_parse_count("4294967296", 0, UINT32_MAX, &v), -ERANGE);
    assert_int_equal(v, 5);
}

/* ---- paths --------------------------------------------------------------- */

static void
test_cfg_paths_must_be_absolute(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {"BACKTRACE_DATABASE_PATH", "BACKTRACE_HELPER_PATH"};
    static const char *const bad[] = {"rel/db", "./db", "../db", "~/db", "db", " /db"};

    for (size_t n = 0; n < 2; n++) {
        struct fake_env clean = {0};

        f->env = clean;
        expect_accepted(f, names[n], "/var/tmp/x");
        assert_string_equal(n == 0 ? f->cfg.database_path : f->cfg.helper_path, "/var/tmp/x");
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            expect_one_rejection(f, names[n], bad[i]);
            assert_null(f->cfg.database_path);
            assert_null(f->cfg.helper_path);
        }
    }
}

/* ---- warnings ------------------------------------------------------------ */

static void
test_cfg_each_rejection_is_one_line(void **state)
{
    struct fixture *f = *state;

    env_set(&f->env, "BACKTRACE_ENDPOINT", "gopher://x");
    env_set(&f->env, "BACKTRACE_IGNORE_SSL_CERTIFICATE", "maybe");
    env_set(&f->env, "BACKTRACE_TIMEOUT", "-3");
    env_set(&f->env, "BACKTRACE_DEBUG_BACKTRACE", "2");
    env_set(&f->env, "BACKTRACE_DISABLE_GLOBAL_HANDLER", "nope");
    env_set(&f->env, "BACKTRACE_CONTEXT_LINE_COUNT", "lots");
    env_set(&f->env, "BACKTRACE_TAB_WIDTH", "99");
    env_set(&f->env, "BACKTRACE_COLLECT_SOURCE_CODE", "si");
    env_set(&f->env, "BACKTRACE_DATABASE_PATH", "db");
    env_set(&f->env, "BACKTRACE_HELPER_PATH", "bin/btcrash");
    assert_int_equal(load(f), 10);
    assert_int_equal(f->w.n, 10);
    for (size_t i = 0; i < f->env.n; i++) {
        size_t found = 0;

        for (size_t k = 0; k < f->w.n; k++) {
            const char *p = strstr(f->w.lines[k], f->env.names[i]);
            /* BACKTRACE_DEBUG_BACKTRACE must not match inside another name. */
            if (p && (p[strlen(f->env.names[i])] == '=' || p[strlen(f->env.names[i])] == ' ' ||
                      p[strlen(f->env.names[i])] == ':' || p[strlen(f->env.names[i])] == '\'')) {
                found++;
                assert_non_null(strstr(f->w.lines[k], f->env.values[i]));
            }
        }
        if (found != 1)
            fail_msg("%s: %zu warning lines name it, expected 1", f->env.names[i], found);
    }
    assert_defaults(&f->cfg, &f->defaults);
}

static void
test_cfg_warning_escapes_control_bytes(void **state)
{
    struct fixture *f = *state;

    env_set(&f->env, "BACKTRACE_TIMEOUT", "4\n\x1b[31mevil\r");
    assert_int_equal(load(f), 1);
    /* One line only (checked by fake_warn), and no escape byte forged. */
    assert_null(strchr(f->w.lines[0], '\x1b'));
    assert_null(strchr(f->w.lines[0], '\r'));
    assert_non_null(strstr(f->w.lines[0], "BACKTRACE_TIMEOUT"));
}

static void
test_cfg_warning_bounds_long_values(void **state)
{
    struct fixture *f = *state;
    static char value[8192];

    memset(value, '9', sizeof(value) - 1);
    value[0] = 'x';
    env_set(&f->env, "BACKTRACE_TAB_WIDTH", value);
    assert_int_equal(load(f), 1);
    assert_non_null(strstr(f->w.lines[0], "BACKTRACE_TAB_WIDTH"));
    assert_true(strlen(f->w.lines[0]) < 600);
}

static void
test_cfg_token_never_in_warnings(void **state)
{
    struct fixture *f = *state;
    static const char token[] = "TOKENabcdef0123456789";

    /* The token itself is never validated nor echoed, even when everything
     * else is wrong. */
    env_set(&f->env, "BACKTRACE_TOKEN", token);
    env_set(&f->env, "BACKTRACE_ENDPOINT", "gopher://host");
    env_set(&f->env, "BACKTRACE_TIMEOUT", "x");
    env_set(&f->env, "BACKTRACE_TAB_WIDTH", "x");
    env_set(&f->env, "BACKTRACE_DEBUG_BACKTRACE", "x");
    env_set(&f->env, "BACKTRACE_DATABASE_PATH", "x");
    assert_int_equal(load(f), 5);
    assert_ptr_equal(f->cfg.token, token);
    for (size_t k = 0; k < f->w.n; k++)
        assert_null(strstr(f->w.lines[k], token));
}

static void
test_cfg_token_in_rejected_endpoint_not_echoed(void **state)
{
    struct fixture *f = *state;
    /* A submit.backtrace.io URL carries the token in its path (§2). Forgetting
     * the scheme must not print it to stderr (§4: "The token never appears in
     * stderr output"). */
    static const char token[] = "f00dfacecafe0123456789abcdef0123456789abcdef0123456789abcdef0123";
    static char endpoint[256];

    snprintf(endpoint, sizeof(endpoint), "submit.backtrace.io/myuniverse/%s/json", token);
    env_set(&f->env, "BACKTRACE_ENDPOINT", endpoint);
    assert_int_equal(load(f), 1);
    assert_null(f->cfg.endpoint);
    assert_non_null(strstr(f->w.lines[0], "BACKTRACE_ENDPOINT"));
    if (strstr(f->w.lines[0], token))
        fail_msg("warning echoes the token: %s", f->w.lines[0]);
}

/* ---- btc_cfg_default_database_path --------------------------------------- */

static void
test_cfg_default_db_prefers_xdg_state_home(void **state)
{
    struct fixture *f = *state;
    char buf[256];

    env_set(&f->env, "XDG_STATE_HOME", "/xdg/state");
    env_set(&f->env, "HOME", "/home/u");
    assert_int_equal(btc_cfg_default_database_path(fake_lookup, &f->env, 1000, buf, sizeof(buf)),
                     (int)strlen("/xdg/state/btcrash"));
    assert_string_equal(buf, "/xdg/state/btcrash");
}

static void
test_cfg_default_db_falls_back_to_home(void **state)
{
    struct fixture *f = *state;
    char buf[256];

    env_set(&f->env, "HOME", "/home/u");
    assert_int_equal(btc_cfg_default_database_path(fake_lookup, &f->env, 1000, buf, sizeof(buf)),
                     (int)strlen("/home/u/.local/state/btcrash"));
    assert_string_equal(buf, "/home/u/.local/state/btcrash");

    /* A relative or empty XDG_STATE_HOME is ignored. */
    env_set(&f->env, "XDG_STATE_HOME", "rel/state");
    assert_true(btc_cfg_default_database_path(fake_lookup, &f->env, 1000, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "/home/u/.local/state/btcrash");
    env_set(&f->env, "XDG_STATE_HOME", "");
    assert_true(btc_cfg_default_database_path(fake_lookup, &f->env, 1000, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "/home/u/.local/state/btcrash");
}

static void
test_cfg_default_db_falls_back_to_tmp_uid(void **state)
{
    struct fixture *f = *state;
    char buf[256];

    assert_int_equal(btc_cfg_default_database_path(fake_lookup, &f->env, 1234, buf, sizeof(buf)),
                     (int)strlen("/tmp/btcrash-1234"));
    assert_string_equal(buf, "/tmp/btcrash-1234");

    env_set(&f->env, "HOME", "relative-home");
    env_set(&f->env, "XDG_STATE_HOME", "relative-xdg");
    assert_true(btc_cfg_default_database_path(fake_lookup, &f->env, 0, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "/tmp/btcrash-0");
    env_set(&f->env, "HOME", "");
    assert_true(btc_cfg_default_database_path(fake_lookup, &f->env, 4294967295u, buf, sizeof(buf)) >
                0);
    assert_string_equal(buf, "/tmp/btcrash-4294967295");
}

static void
test_cfg_default_db_reports_too_long(void **state)
{
    struct fixture *f = *state;
    char buf[16];

    env_set(&f->env, "HOME", "/home/someone");
    assert_int_equal(btc_cfg_default_database_path(fake_lookup, &f->env, 1, buf, sizeof(buf)),
                     -ENAMETOOLONG);
    assert_int_equal(btc_cfg_default_database_path(fake_lookup, &f->env, 1, buf, 0), -ENAMETOOLONG);
    /* Exactly fitting is fine: "/tmp/btcrash-1" is 14 bytes plus NUL. */
    env_set(&f->env, "HOME", "");
    assert_int_equal(btc_cfg_default_database_path(fake_lookup, &f->env, 1, buf, 15), 14);
    assert_string_equal(buf, "/tmp/btcrash-1");
    assert_int_equal(btc_cfg_default_database_path(fake_lookup, &f->env, 1, buf, 14),
                     -ENAMETOOLONG);
}

/* ---- strbuf -------------------------------------------------------------- */

static void
test_strbuf_builds_text(void **state)
{
    char buf[64];
    struct btc_strbuf b;

    (void)state;
    btc_strbuf_init(&b, buf, sizeof(buf));
    assert_string_equal(buf, "");
    btc_strbuf_puts(&b, "pid ");
    btc_strbuf_put_u64(&b, 0);
    btc_strbuf_putc(&b, ' ');
    btc_strbuf_put_u64(&b, 18446744073709551615ull);
    btc_strbuf_putc(&b, ' ');
    btc_strbuf_putn(&b, "abcdef", 3);
    assert_string_equal(buf, "pid 0 18446744073709551615 abc");
    assert_int_equal(b.len, strlen(buf));
    assert_false(b.overflow);
}

static void
test_strbuf_signed_and_hex(void **state)
{
    char buf[128];
    struct btc_strbuf b;

    (void)state;
    btc_strbuf_init(&b, buf, sizeof(buf));
    btc_strbuf_put_i64(&b, -1);
    btc_strbuf_putc(&b, ' ');
    btc_strbuf_put_i64(&b, INT64_MIN);
    btc_strbuf_putc(&b, ' ');
    btc_strbuf_put_i64(&b, INT64_MAX);
    btc_strbuf_putc(&b, ' ');
    btc_strbuf_put_i64(&b, 0);
    btc_strbuf_putc(&b, ' ');
    btc_strbuf_put_hex(&b, 0);
    btc_strbuf_putc(&b, ' ');
    btc_strbuf_put_hex(&b, 0xdeadBEEFull);
    btc_strbuf_putc(&b, ' ');
    btc_strbuf_put_hex(&b, UINT64_MAX);
    assert_string_equal(buf, "-1 -9223372036854775808 9223372036854775807 0 0x0 0xdeadbeef "
                             "0xffffffffffffffff");
    assert_false(b.overflow);
}

static void
test_strbuf_truncates_and_flags_overflow(void **state)
{
    char buf[8];
    struct btc_strbuf b;

    (void)state;
    memset(buf, 'Z', sizeof(buf));
    btc_strbuf_init(&b, buf, 6);
    btc_strbuf_puts(&b, "hello world");
    assert_true(b.overflow);
    assert_int_equal(b.len, 5);
    assert_string_equal(buf, "hello");
    assert_int_equal(buf[6], 'Z'); /* nothing written past size */
    btc_strbuf_put_u64(&b, 42);
    assert_string_equal(buf, "hello");

    btc_strbuf_init(&b, buf, 1);
    btc_strbuf_putc(&b, 'x');
    assert_true(b.overflow);
    assert_string_equal(buf, "");

    /* A zero-size buffer is never touched. */
    buf[0] = 'Q';
    btc_strbuf_init(&b, buf, 0);
    assert_true(b.overflow);
    btc_strbuf_puts(&b, "abc");
    btc_strbuf_finish_line(&b);
    assert_int_equal(buf[0], 'Q');
    assert_int_equal(b.len, 0);
}

static void
test_strbuf_exact_fit_is_not_overflow(void **state)
{
    char buf[4];
    struct btc_strbuf b;

    (void)state;
    btc_strbuf_init(&b, buf, sizeof(buf));
    btc_strbuf_puts(&b, "abc");
    assert_false(b.overflow);
    assert_string_equal(buf, "abc");
    btc_strbuf_putn(&b, "", 0);
    assert_false(b.overflow);
}

static void
test_strbuf_printable_replaces_control_and_non_ascii(void **state)
{
    char buf[64];
    struct btc_strbuf b;

    (void)state;
    btc_strbuf_init(&b, buf, sizeof(buf));
    btc_strbuf_put_printable(&b, "a\nb\x1b[1m\x7f\xc3\xa9~ ", 100);
    assert_string_equal(buf, "a?b?[1m???~ ");

    btc_strbuf_init(&b, buf, sizeof(buf));
    btc_strbuf_put_printable(&b, "abcdef", 3);
    assert_string_equal(buf, "abc...");

    btc_strbuf_init(&b, buf, sizeof(buf));
    btc_strbuf_put_printable(&b, "abc", 3);
    assert_string_equal(buf, "abc");

    btc_strbuf_init(&b, buf, sizeof(buf));
    btc_strbuf_put_printable(&b, "", 0);
    assert_string_equal(buf, "");
}

static void
test_strbuf_finish_line_always_ends_in_newline(void **state)
{
    char buf[6];
    struct btc_strbuf b;

    (void)state;
    btc_strbuf_init(&b, buf, sizeof(buf));
    btc_strbuf_puts(&b, "ab");
    btc_strbuf_finish_line(&b);
    assert_string_equal(buf, "ab\n");
    assert_int_equal(b.len, 3);

    btc_strbuf_init(&b, buf, sizeof(buf));
    btc_strbuf_puts(&b, "abcdefgh");
    btc_strbuf_finish_line(&b);
    assert_string_equal(buf, "abcd\n");
    assert_int_equal(b.len, 5);

    btc_strbuf_init(&b, buf, sizeof(buf));
    btc_strbuf_puts(&b, "abcd"); /* exactly full */
    btc_strbuf_finish_line(&b);
    assert_string_equal(buf, "abcd\n");

    btc_strbuf_init(&b, buf, 2);
    btc_strbuf_finish_line(&b);
    assert_string_equal(buf, "\n");
}

int
main(void)
{
    const struct CMUnitTest cfg_tests[] = {
        cmocka_unit_test_setup_teardown(test_cfg_defaults_match_design, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_empty_environment_gives_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_null_warn_still_counts_rejections, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cfg_empty_values_mean_unset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_format_defaults_to_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_format_accepts_json_and_minidump_any_case, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cfg_format_rejects_others_and_keeps_json, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cfg_loop_window_and_wait_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_loop_window_takes_seconds_and_zero, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cfg_loop_window_rejects_garbage_and_keeps_60, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cfg_strings_point_into_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_endpoint_accepts_http_and_https, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_endpoint_rejects_other_schemes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_bools_accept_all_forms_any_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_bools_reject_garbage_and_keep_default, setup,
                                        teardown),
        cmocka_unit_test(test_cfg_parse_bool_rejects_null_and_leaves_output),
        cmocka_unit_test_setup_teardown(test_cfg_timeout_accepts_seconds_and_decimals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cfg_timeout_rejects_negative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_timeout_rejects_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_timeout_rejects_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_timeout_rejects_huge, setup, teardown),
        cmocka_unit_test(test_cfg_parse_seconds_error_codes),
        cmocka_unit_test_setup_teardown(test_cfg_context_line_count_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_counts_reject_negative_and_garbage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cfg_tab_width_bounds, setup, teardown),
        cmocka_unit_test(test_cfg_parse_count_error_codes),
        cmocka_unit_test_setup_teardown(test_cfg_paths_must_be_absolute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_each_rejection_is_one_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_warning_escapes_control_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_warning_bounds_long_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_token_never_in_warnings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_token_in_rejected_endpoint_not_echoed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cfg_default_db_prefers_xdg_state_home, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cfg_default_db_falls_back_to_home, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_default_db_falls_back_to_tmp_uid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_default_db_reports_too_long, setup, teardown),
    };
    const struct CMUnitTest strbuf_tests[] = {
        cmocka_unit_test(test_strbuf_builds_text),
        cmocka_unit_test(test_strbuf_signed_and_hex),
        cmocka_unit_test(test_strbuf_truncates_and_flags_overflow),
        cmocka_unit_test(test_strbuf_exact_fit_is_not_overflow),
        cmocka_unit_test(test_strbuf_printable_replaces_control_and_non_ascii),
        cmocka_unit_test(test_strbuf_finish_line_always_ends_in_newline),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("config", cfg_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("strbuf", strbuf_tests, NULL, NULL);
    return failed ? 1 : 0;
}
