/* test_api: the C API's runtime (api/, libbtcrash-api.so): the report
 * object (attribute types, flattening, refusals, annotations, log lines,
 * attachments, the error), btcrash_initialize's validation and environment
 * publishing, the stack capture, and send against fake helpers (shell
 * scripts named by the plan's helper_path) that answer, stay silent, hang or
 * are missing. Also libbtcrash.so's shims: btcrash_strerror for every code,
 * and the first call loading libbtcrash-api.so from the library's
 * directory. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "btcrash.h"
#include "capture.h"
#include "crash.h"
#include "helper_env.h"
#include "options.h"
#include "report.h"
#include "send.h"

static char g_base_attrs[] = "BACKTRACE_ATTRIBUTES={\"app\":\"svc\",\"n\":{\"a\":1},\"over\":1}";
static char g_base_timeout[] = "BACKTRACE_TIMEOUT=3";
static char g_base_home[] = "HOME=/nonexistent";
static char g_base_marker[] = BTC_HELPER_MARKER "=1";
static char *g_base_env[] = {g_base_attrs, g_base_timeout, g_base_home, g_base_marker, NULL};
static struct btc_crash_plan g_plan;

/* Per test: a fresh plan (the environment above, no overrides) and a report. */
struct fixture {
    btcrash_report *r;
    char dir[64]; /* fake helpers and their output */
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    memset(&g_plan, 0, sizeof(g_plan));
    g_plan.timeout_ms = 3000;
    g_plan.envp = g_base_env;
    g_plan.env_base = g_base_env;
    if (btc_api_options_attach(&g_plan) < 0)
        return -1;
    f->r = btc_api_report_new();
    strcpy(f->dir, "/tmp/btcrash-test-api-XXXXXX");
    if (!f->r || !mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    btc_api_report_free(f->r);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* The report's attributes as get_attributes gives them, parsed. */
static json_t *
attributes(const btcrash_report *r)
{
    char *text = btc_api_report_get_attributes(r);
    json_t *j;

    assert_non_null(text);
    j = json_loads(text, 0, NULL);
    free(text);
    assert_true(json_is_object(j));
    return j;
}

static json_t *
userdata(const btcrash_report *r)
{
    json_t *j = btc_api_report_userdata(r);

    assert_true(json_is_object(j));
    return j;
}

static void
test_api_new_report_is_an_exception_without_stack(void **state)
{
    struct fixture *f = *state;
    json_t *u = userdata(f->r);

    assert_string_equal(json_string_value(json_object_get(json_object_get(u, "error"), "type")),
                        "Exception");
    assert_null(json_object_get(json_object_get(u, "error"), "classifier"));
    assert_int_equal(json_object_size(json_object_get(u, "attributes")), 0);
    assert_int_equal(json_array_size(json_object_get(u, "log")), 0);
    assert_int_equal(json_array_size(json_object_get(u, "attachments")), 0);
    assert_null(f->r->stack.bytes);
    json_decref(u);
}

static void
test_api_attributes_keep_their_types(void **state)
{
    struct fixture *f = *state;
    json_t *a;

    assert_int_equal(btc_api_report_set_attribute(f->r, "s", "text"), 0);
    assert_int_equal(btc_api_report_set_attribute_int(f->r, "i", -5000000000LL), 0);
    assert_int_equal(btc_api_report_set_attribute_double(f->r, "d", 0.25), 0);
    assert_int_equal(btc_api_report_set_attribute_bool(f->r, "b", 7), 0);
    assert_int_equal(btc_api_report_set_attribute_bool(f->r, "f", 0), 0);
    a = attributes(f->r);
    assert_string_equal(json_string_value(json_object_get(a, "s")), "text");
    assert_true(json_integer_value(json_object_get(a, "i")) == -5000000000LL);
    assert_true(json_real_value(json_object_get(a, "d")) == 0.25);
    assert_true(json_is_true(json_object_get(a, "b")));
    assert_true(json_is_false(json_object_get(a, "f")));
    json_decref(a);
}

static void
test_api_get_attributes_lays_the_report_over_backtrace_attributes(void **state)
{
    struct fixture *f = *state;
    json_t *a, *u;

    assert_int_equal(btc_api_report_set_attribute(f->r, "over", "report"), 0);
    a = attributes(f->r);
    /* BACKTRACE_ATTRIBUTES, flattened, under the report's own. */
    assert_string_equal(json_string_value(json_object_get(a, "app")), "svc");
    assert_int_equal(json_integer_value(json_object_get(a, "n.a")), 1);
    assert_string_equal(json_string_value(json_object_get(a, "over")), "report");
    json_decref(a);
    /* The helper merges the environment's itself: only the report's go. */
    u = userdata(f->r);
    assert_int_equal(json_object_size(json_object_get(u, "attributes")), 1);
    json_decref(u);
}

static void
test_api_attribute_refusals(void **state)
{
    struct fixture *f = *state;
    json_t *a;

    assert_int_equal(btc_api_report_set_attribute(NULL, "k", "v"), -EINVAL);
    assert_int_equal(btc_api_report_set_attribute(f->r, NULL, "v"), -EINVAL);
    assert_int_equal(btc_api_report_set_attribute(f->r, "k", NULL), -EINVAL);
    assert_int_equal(btc_api_report_set_attribute(f->r, "", "v"), -EINVAL);
    assert_int_equal(btc_api_report_set_attribute_int(f->r, "", 1), -EINVAL);
    assert_int_equal(btc_api_report_set_attribute_double(f->r, "d", NAN), -EINVAL);
    assert_int_equal(btc_api_report_set_attribute_double(f->r, "d", INFINITY), -EINVAL);
    assert_int_equal(btc_api_report_set_attribute(f->r, "k", "bad\xff"), BTCRASH_EUTF8);
    assert_int_equal(btc_api_report_set_attribute_int(f->r, "bad\xc3", 1), BTCRASH_EUTF8);
    a = attributes(f->r);
    assert_int_equal(json_object_size(a), 3); /* the environment's only */
    json_decref(a);
}

static void
test_api_dict_attributes_are_flattened_with_dots(void **state)
{
    struct fixture *f = *state;
    json_t *a;

    assert_int_equal(btc_api_report_set_dict_attributes(
                         f->r, "{\"a\":{\"b\":1,\"c\":{\"d\":\"x\"}},\"t\":true,\"r\":1.5}"),
                     0);
    a = attributes(f->r);
    assert_int_equal(json_integer_value(json_object_get(a, "a.b")), 1);
    assert_string_equal(json_string_value(json_object_get(a, "a.c.d")), "x");
    assert_true(json_is_true(json_object_get(a, "t")));
    assert_true(json_real_value(json_object_get(a, "r")) == 1.5);
    assert_null(json_object_get(a, "a"));
    json_decref(a);
}

static void
test_api_dict_attributes_refuse_arrays_and_nulls_and_set_nothing(void **state)
{
    struct fixture *f = *state;
    json_t *u;

    assert_int_equal(btc_api_report_set_dict_attributes(f->r, "{\"ok\":1,\"x\":[1]}"),
                     BTCRASH_ENOTPRIMITIVE);
    assert_int_equal(btc_api_report_set_dict_attributes(f->r, "{\"ok\":1,\"y\":{\"z\":null}}"),
                     BTCRASH_ENOTPRIMITIVE);
    assert_int_equal(btc_api_report_set_dict_attributes(f->r, "[1]"), -EINVAL);
    assert_int_equal(btc_api_report_set_dict_attributes(f->r, "{\"a\":"), -EINVAL);
    assert_int_equal(btc_api_report_set_dict_attributes(f->r, "\"text\""), -EINVAL);
    assert_int_equal(btc_api_report_set_dict_attributes(f->r, NULL), -EINVAL);
    assert_int_equal(btc_api_report_set_dict_attributes(NULL, "{}"), -EINVAL);
    /* Invalid UTF-8 inside the JSON text: jansson refuses the text. */
    assert_int_equal(btc_api_report_set_dict_attributes(f->r, "{\"a\":\"\xff\"}"), -EINVAL);
    u = userdata(f->r);
    assert_int_equal(json_object_size(json_object_get(u, "attributes")), 0);
    json_decref(u);
}

static void
test_api_annotations_take_any_json(void **state)
{
    struct fixture *f = *state;
    json_t *u, *an;

    assert_int_equal(btc_api_report_set_annotation(f->r, "list", "[1,2]"), 0);
    assert_int_equal(btc_api_report_set_annotation(f->r, "text", "\"hello\""), 0);
    assert_int_equal(btc_api_report_set_annotation(f->r, "num", "3"), 0);
    assert_int_equal(btc_api_report_set_dict_annotations(f->r, "{\"Req\":{\"id\":17},\"n\":null}"),
                     0);
    assert_int_equal(btc_api_report_set_annotation(f->r, "bad", "[1,"), -EINVAL);
    assert_int_equal(btc_api_report_set_annotation(f->r, "k", NULL), -EINVAL);
    assert_int_equal(btc_api_report_set_annotation(f->r, "", "1"), -EINVAL);
    assert_int_equal(btc_api_report_set_annotation(f->r, "\xff", "1"), BTCRASH_EUTF8);
    assert_int_equal(btc_api_report_set_dict_annotations(f->r, "[1]"), -EINVAL);
    u = userdata(f->r);
    an = json_object_get(u, "annotations");
    assert_int_equal(json_object_size(an), 5);
    assert_int_equal(json_array_size(json_object_get(an, "list")), 2);
    assert_string_equal(json_string_value(json_object_get(an, "text")), "hello");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(an, "Req"), "id")), 17);
    assert_true(json_is_null(json_object_get(an, "n")));
    json_decref(u);
}

static int
log_line(btcrash_report *r, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = btc_api_report_logv(r, fmt, ap);
    va_end(ap);
    return ret;
}

static void
test_api_log_lines_are_timestamped_in_seconds(void **state)
{
    struct fixture *f = *state;
    double before = (double)time(NULL), ts;
    json_t *u, *log;

    assert_int_equal(log_line(f->r, "reading %s (%d)", "a.ini", 3), 0);
    assert_int_equal(log_line(f->r, "second"), 0);
    assert_int_equal(log_line(f->r, "%s", "bad\xff"), BTCRASH_EUTF8);
    assert_int_equal(log_line(NULL, "x"), -EINVAL);
    u = userdata(f->r);
    log = json_object_get(u, "log");
    assert_int_equal(json_array_size(log), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "msg")),
                        "reading a.ini (3)");
    assert_string_equal(json_string_value(json_object_get(json_array_get(log, 1), "msg")),
                        "second");
    /* A double, like Python's time.time(). */
    assert_true(json_is_real(json_object_get(json_array_get(log, 0), "ts")));
    ts = json_real_value(json_object_get(json_array_get(log, 0), "ts"));
    assert_true(ts >= before - 1 && ts <= before + 5);
    json_decref(u);
}

static void
test_api_attachments_are_listed_in_order(void **state)
{
    struct fixture *f = *state;
    const char *const *paths = (const char *const *)&f; /* must be overwritten */
    json_t *u;

    assert_int_equal(btc_api_report_get_attachments(f->r, &paths), 0);
    assert_null(paths);
    assert_int_equal(btc_api_report_add_attachment(f->r, "/var/log/a.log"), 0);
    assert_int_equal(btc_api_report_add_attachment(f->r, "rel/b.txt"), 0);
    assert_int_equal(btc_api_report_add_attachment(f->r, ""), -EINVAL);
    assert_int_equal(btc_api_report_add_attachment(f->r, NULL), -EINVAL);
    assert_int_equal(btc_api_report_add_attachment(f->r, "/bad\xff"), BTCRASH_EUTF8);
    assert_int_equal(btc_api_report_get_attachments(f->r, &paths), 2);
    assert_string_equal(paths[0], "/var/log/a.log");
    assert_string_equal(paths[1], "rel/b.txt");
    assert_int_equal(btc_api_report_get_attachments(f->r, NULL), 2);
    assert_int_equal(btc_api_report_get_attachments(NULL, &paths), 0);
    assert_null(paths);
    u = userdata(f->r);
    assert_string_equal(json_string_value(json_array_get(json_object_get(u, "attachments"), 1)),
                        "rel/b.txt");
    json_decref(u);
}

static void
test_api_set_error_type_is_the_classifier(void **state)
{
    struct fixture *f = *state;
    json_t *u, *e;

    assert_int_equal(btc_api_report_set_error(f->r, "ConfigError", "no port"), 0);
    u = userdata(f->r);
    e = json_object_get(u, "error");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "Exception");
    assert_string_equal(json_string_value(json_object_get(e, "classifier")), "ConfigError");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "no port");
    json_decref(u);

    /* No type: a message report; the earlier classifier goes. */
    assert_int_equal(btc_api_report_set_error(f->r, NULL, "just saying"), 0);
    u = userdata(f->r);
    e = json_object_get(u, "error");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "Message");
    assert_null(json_object_get(e, "classifier"));
    assert_string_equal(json_string_value(json_object_get(e, "message")), "just saying");
    json_decref(u);

    assert_int_equal(btc_api_report_set_error(f->r, NULL, NULL), -EINVAL);
    assert_int_equal(btc_api_report_set_error(NULL, "T", NULL), -EINVAL);
    assert_int_equal(btc_api_report_set_error(f->r, "T\xff", NULL), BTCRASH_EUTF8);
    assert_int_equal(btc_api_report_set_error(f->r, "T", "m\xff"), BTCRASH_EUTF8);
    /* The refused calls changed nothing. */
    u = userdata(f->r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(u, "error"), "type")),
                        "Message");
    json_decref(u);
}

static void
test_api_capture_records_this_thread_and_its_stack(void **state)
{
    struct fixture *f = *state;
    int here = 42; /* a local of this frame: it must be in the copy */
    const struct btc_api_stack *s = &f->r->stack;
    uint64_t sp, addr = (uint64_t)(uintptr_t)&here;

    assert_int_equal(btc_api_report_capture_stack(f->r), 0);
    assert_int_equal(s->tid, gettid());
    sp = s->regs[BTC_REG_SP];
    assert_true(s->start == sp - BTC_RED_ZONE);
    assert_true(s->len > BTC_RED_ZONE && s->len <= BTC_STACK_SNAPSHOT_MAX);
    assert_true(addr > sp && addr + sizeof(here) <= s->start + s->len);
    assert_memory_equal(s->bytes + (addr - s->start), &here, sizeof(here));
    /* The pc is inside btc_api_capture, just after its entry. */
    assert_true(s->regs[BTC_REG_PC] > (uint64_t)(uintptr_t)btc_api_capture &&
                s->regs[BTC_REG_PC] < (uint64_t)(uintptr_t)btc_api_capture + 4096);
    /* Again: replaced, not leaked (valgrind/ASan would tell). */
    assert_int_equal(btc_api_report_capture_stack(f->r), 0);
    assert_int_equal(btc_api_report_capture_stack(NULL), -EINVAL);
}

static const char *
env_value(const char *name)
{
    struct btc_helper_env env = {.vars = (char **)btc_api_options_env()};

    return btc_helper_env_lookup(name, &env);
}

static void
test_api_initialize_overrides_the_environment(void **state)
{
    btcrash_options o = {
        .size = sizeof(o),
        .endpoint = "https://example.com:6098",
        .token = "secret",
        .attributes = "{\"app\":\"over\",\"x\":{\"y\":2}}",
        .timeout = "1.5",
        .debug_backtrace = "yes",
        .tab_width = "4",
        .database_path = "/tmp/db",
    };
    json_t *a;

    (void)state;
    assert_int_equal(btc_api_options_initialize(&o), 0);
    assert_string_equal(env_value("BACKTRACE_ENDPOINT"), "https://example.com:6098");
    assert_string_equal(env_value("BACKTRACE_TOKEN"), "secret");
    assert_string_equal(env_value("BACKTRACE_TIMEOUT"), "1.5");
    assert_string_equal(env_value("HOME"), "/nonexistent");
    assert_string_equal(env_value("BACKTRACE_DATABASE_PATH"), "/tmp/db");
    assert_int_equal(g_plan.timeout_ms, 1500);
    assert_true(g_plan.debug);
    assert_true(g_plan.env_base == g_base_env);
    /* get_attributes sees the new BACKTRACE_ATTRIBUTES. */
    a = btc_api_options_attributes();
    assert_string_equal(json_string_value(json_object_get(a, "app")), "over");
    assert_int_equal(json_integer_value(json_object_get(a, "x.y")), 2);
    assert_null(json_object_get(a, "n.a"));
    json_decref(a);

    /* Each call starts again from the environment. */
    btcrash_options o2 = {.size = sizeof(o2), .tab_width = "2"};
    assert_int_equal(btc_api_options_initialize(&o2), 0);
    assert_null(env_value("BACKTRACE_ENDPOINT"));
    assert_string_equal(env_value("BACKTRACE_TIMEOUT"), "3");
    assert_string_equal(env_value("BACKTRACE_TAB_WIDTH"), "2");
    assert_int_equal(g_plan.timeout_ms, 3000);
    assert_false(g_plan.debug);

    /* NULL: the environment alone, the constructor's very block. */
    assert_int_equal(btc_api_options_initialize(NULL), 0);
    assert_true(btc_api_options_env() == g_base_env);

    /* Empty means unset, as in the environment. */
    btcrash_options o3 = {.size = sizeof(o3), .endpoint = "", .timeout = ""};
    assert_int_equal(btc_api_options_initialize(&o3), 0);
    assert_string_equal(env_value("BACKTRACE_TIMEOUT"), "");
    assert_int_equal(g_plan.timeout_ms, 4000);
}

static void
test_api_initialize_reads_only_the_fields_within_size(void **state)
{
    btcrash_options o = {.size = 0, .endpoint = "https://example.com"};

    (void)state;
    /* size unset: refused, nothing applied. */
    assert_int_equal(btc_api_options_initialize(&o), -EINVAL);
    assert_true(btc_api_options_env() == g_base_env);

    /* A program built when the struct ended after .endpoint: later fields,
     * whatever the memory beyond holds, are not read. */
    o.size = offsetof(btcrash_options, endpoint) + sizeof(o.endpoint);
    o.timeout = "not-a-number";
    assert_int_equal(btc_api_options_initialize(&o), 0);
    assert_string_equal(env_value("BACKTRACE_ENDPOINT"), "https://example.com");
    assert_int_equal(g_plan.timeout_ms, 3000);
    assert_int_equal(btc_api_options_initialize(NULL), 0);
}

static void
test_api_initialize_rejects_a_bad_field_and_applies_nothing(void **state)
{
    static const btcrash_options bad[] = {
        {.endpoint = "ftp://x"},
        {.attributes = "[1]"},
        {.attributes = "{\"a\":[1]}"},
        {.attributes = "{\"a\":"},
        {.ignore_ssl_certificate = "maybe"},
        {.timeout = "0"},
        {.timeout = "-1"},
        {.timeout = "abc"},
        {.timeout = "3601"},
        {.debug_backtrace = "2"},
        {.context_line_count = "100001"},
        {.tab_width = "0"},
        {.collect_source_code = "nope"},
        {.database_path = "relative/db"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        btcrash_options o = bad[i];
        o.size = sizeof(o);
        o.tab_width = o.tab_width ? o.tab_width : "2"; /* a good field beside the bad one */
        assert_int_equal(btc_api_options_initialize(&o), -EINVAL);
        assert_true(btc_api_options_env() == g_base_env);
        assert_int_equal(g_plan.timeout_ms, 3000);
    }
}

/* A fake helper: a shell script in the fixture's directory, named by the
 * plan's helper_path. */
static void
fake_helper(struct fixture *f, const char *body)
{
    static char path[128];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/helper", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\n%s\n", body);
    fclose(fp);
    assert_int_equal(chmod(path, 0755), 0);
    g_plan.helper_path = path;
}

static char *
slurp(const char *dir, const char *name)
{
    char path[128], *buf = calloc(1, 1 << 20);
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(buf);
    (void)!fread(buf, 1, (1 << 20) - 1, fp);
    fclose(fp);
    return buf;
}

static void
test_api_send_hands_record_and_userdata_to_the_helper(void **state)
{
    struct fixture *f = *state;
    char body[512], *argv_env, *ud;
    struct stat st;
    json_t *u;

    snprintf(body, sizeof(body),
             "/bin/cat <&3 >%1$s/record; /bin/cat <&5 >%1$s/userdata\n"
             "echo \"$0 $1 $BTCRASH_HELPER_PROCESS\" >%1$s/args\n"
             "/bin/ls /proc/self/fd >%1$s/fds\n"
             "printf '{\"outcome\":\"stored\",\"uuid\":\"u\"}' >&4",
             f->dir);
    fake_helper(f, body);
    assert_int_equal(btc_api_report_set_attribute(f->r, "k", "v"), 0);
    assert_int_equal(btc_api_report_send(f->r), BTCRASH_STORED);
    assert_int_equal(btc_api_report_send(f->r), -EALREADY);

    argv_env = slurp(f->dir, "args");
    assert_non_null(strstr(argv_env, "/helper __crash-helper 1"));
    free(argv_env);
    /* 0-2, the three descriptors, and the one ls has open on /proc/self/fd:
     * nothing of the program's leaks into the helper. */
    argv_env = slurp(f->dir, "fds");
    assert_string_equal(argv_env, "0\n1\n2\n3\n4\n5\n6\n");
    free(argv_env);

    ud = slurp(f->dir, "userdata");
    u = json_loads(ud, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(u, "attributes"), "k")),
                        "v");
    json_decref(u);
    free(ud);

    /* The record: the header, then the stack captured at send. */
    char path[128];
    snprintf(path, sizeof(path), "%s/record", f->dir);
    assert_int_equal(stat(path, &st), 0);
    FILE *fp = fopen(path, "r");
    struct btc_crash_record rec;
    assert_int_equal(fread(&rec, sizeof(rec), 1, fp), 1);
    fclose(fp);
    assert_int_equal(rec.magic, BTC_RECORD_MAGIC);
    assert_int_equal(rec.header_size, sizeof(rec));
    assert_int_equal(rec.flags, BTC_RECORD_F_API);
    assert_int_equal(rec.signo, 0);
    assert_int_equal(rec.pid, getpid());
    assert_int_equal(rec.tid, gettid());
    assert_true(rec.stack_len > 0);
    assert_int_equal((uint64_t)st.st_size, sizeof(rec) + rec.stack_len);
    assert_true(rec.stack_start == rec.regs[BTC_REG_SP] - BTC_RED_ZONE);
    assert_true(rec.deadline_mono_ns - rec.fault_mono_ns == 3000LL * 1000000);
}

static void
test_api_send_maps_each_outcome(void **state)
{
    static const struct {
        const char *answer;
        int code;
    } cases[] = {
        {"{\"outcome\":\"sent\",\"rxid\":\"r\"}", BTCRASH_SENT},
        {"{\"outcome\":\"pending\"}", BTCRASH_PENDING},
        {"{\"outcome\":\"rejected\",\"http_status\":400}", BTCRASH_EREJECTED},
        {"{\"outcome\":\"failed\",\"error\":\"disk\"}", BTCRASH_EHELPER},
        {"{\"outcome\":\"what\"}", BTCRASH_EHELPER},
        {"garbage", BTCRASH_EHELPER},
        {"", BTCRASH_EHELPER},
    };
    struct fixture *f = *state;
    char body[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        btcrash_report *r = btc_api_report_new();
        snprintf(body, sizeof(body), "printf '%%s' '%s' >&4", cases[i].answer);
        fake_helper(f, body);
        assert_int_equal(btc_api_report_send(r), cases[i].code);
        btc_api_report_free(r);
    }
}

static void
test_api_send_kills_a_late_helper_and_times_out(void **state)
{
    struct fixture *f = *state;
    struct timespec t0, t1;
    double took;

    g_plan.timeout_ms = 200;
    fake_helper(f, "exec /bin/sleep 30");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(btc_api_report_send(f->r), -ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* The timeout and the half-second grace for the answer, not 30 s. */
    assert_true(took >= 0.6 && took < 1.5);
    /* Reaped: no child is left. */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    assert_int_equal(btc_api_report_send(f->r), -EALREADY);
}

static void
test_api_send_without_helper_fails_and_may_be_retried(void **state)
{
    struct fixture *f = *state;
    char path[128];

    snprintf(path, sizeof(path), "%s/no-such-helper", f->dir);
    g_plan.helper_path = path;
    assert_int_equal(btc_api_report_send(f->r), BTCRASH_EHELPER);
    fake_helper(f, "printf '{\"outcome\":\"sent\"}' >&4");
    assert_int_equal(btc_api_report_send(f->r), BTCRASH_SENT);
    assert_int_equal(btc_api_report_send(NULL), -EINVAL);
}

static void
test_api_send_last_exception_checks_arguments_first(void **state)
{
    struct fixture *f = *state;
    char body[256];

    snprintf(body, sizeof(body), "/bin/cat <&5 >%s/userdata; printf '{\"outcome\":\"sent\"}' >&4",
             f->dir);
    fake_helper(f, body);
    assert_int_equal(btc_api_send_last_exception("m", "{\"a\":[1]}", NULL), BTCRASH_ENOTPRIMITIVE);
    assert_int_equal(btc_api_send_last_exception("m", NULL, "[1]"), -EINVAL);
    assert_int_equal(btc_api_send_last_exception("m\xff", NULL, NULL), BTCRASH_EUTF8);
    /* None of those reached the helper. */
    char path[128];
    snprintf(path, sizeof(path), "%s/userdata", f->dir);
    assert_int_equal(access(path, F_OK), -1);

    assert_int_equal(btc_api_send_last_exception("boom", "{\"a\":{\"b\":1}}", "{\"N\":[1]}"),
                     BTCRASH_SENT);
    char *ud = slurp(f->dir, "userdata");
    json_t *u = json_loads(ud, 0, NULL), *e = json_object_get(u, "error");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "Exception");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "boom");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(u, "attributes"), "a.b")),
                     1);
    assert_non_null(json_object_get(json_object_get(u, "annotations"), "N"));
    json_decref(u);
    free(ud);
}

/* libbtcrash.so's own functions: strerror needs no runtime. */
static void
test_api_strerror_explains_every_code(void **state)
{
    static const int codes[] = {
        BTCRASH_SENT,
        BTCRASH_PENDING,
        BTCRASH_STORED,
        BTCRASH_EREJECTED,
        BTCRASH_EHELPER,
        BTCRASH_ERUNTIME,
        BTCRASH_ENOTPRIMITIVE,
        BTCRASH_EUTF8,
        -EINVAL,
        -ENOMEM,
        -EALREADY,
        -ETIMEDOUT,
    };

    (void)state;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *s = btcrash_strerror(codes[i]);
        assert_non_null(s);
        assert_null(strstr(s, "unknown"));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, btcrash_strerror(codes[j]));
    }
    assert_string_equal(btcrash_strerror(-ENOENT), "No such file or directory");
    assert_non_null(strstr(btcrash_strerror(12345), "unknown"));
    assert_non_null(strstr(btcrash_strerror(-99999), "unknown"));
    assert_non_null(strstr(btcrash_strerror(3), "unknown"));
}

/* The first API call loads libbtcrash-api.so from libbtcrash.so's
 * directory (the build tree's lib/). */
static void
test_api_shim_loads_the_runtime(void **state)
{
    btcrash_report *r = btcrash_report_new();
    char *a;

    (void)state;
    assert_non_null(r);
    assert_int_equal(btcrash_report_set_attribute_int(r, "n", 5), 0);
    assert_int_equal(btcrash_report_log(r, "%d", 1), 0);
    assert_int_equal(btcrash_report_set_attribute(r, "", "v"), -EINVAL);
    a = btcrash_report_get_attributes(r);
    assert_non_null(a);
    assert_non_null(strstr(a, "\"n\":5"));
    free(a);
    btcrash_report_free(r);
    btcrash_report_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_new_report_is_an_exception_without_stack, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_attributes_keep_their_types, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_api_get_attributes_lays_the_report_over_backtrace_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_attribute_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_dict_attributes_are_flattened_with_dots, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_api_dict_attributes_refuse_arrays_and_nulls_and_set_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_annotations_take_any_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_log_lines_are_timestamped_in_seconds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_attachments_are_listed_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_set_error_type_is_the_classifier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_capture_records_this_thread_and_its_stack, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_initialize_overrides_the_environment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_initialize_reads_only_the_fields_within_size,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_initialize_rejects_a_bad_field_and_applies_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_send_hands_record_and_userdata_to_the_helper,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_send_maps_each_outcome, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_send_kills_a_late_helper_and_times_out, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_send_without_helper_fails_and_may_be_retried,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_send_last_exception_checks_arguments_first, setup,
                                        teardown),
        cmocka_unit_test(test_api_strerror_explains_every_code),
        cmocka_unit_test(test_api_shim_loads_the_runtime),
    };

    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
