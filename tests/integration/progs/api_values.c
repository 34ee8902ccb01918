/* api_values: the C API's values and errors, one scenario per argument.
 *
 *   api_values values            typed, nested and overriding attributes
 *   api_values bad               every bad argument: errors, not crashes
 *   api_values content FILE...   log lines, attachments, errors, annotations
 *   api_values local             one report in local mode
 *   api_values strerror CODE...  btcrash_strerror of each code
 *
 * Each checked call prints "RC <name> <value>" (api_common.h); test_api.py
 * knows what each must be and what the receiver must get. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "api_common.h"

/* The seconds of CLOCK_REALTIME, the clock the log's timestamps come from;
 * time() reads the coarse clock, which may lag it by a tick, and so name
 * the second before a timestamp taken after it. */
static long long
real_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec;
}

static btcrash_report *
new_report(void)
{
    btcrash_report *r = btcrash_report_new();

    if (r == NULL) {
        printf("btcrash_report_new returned NULL\n");
        exit(3);
    }
    return r;
}

/* The function the stacks of these reports start in. */
__attribute__((noinline)) static int
detect_error(btcrash_report *r)
{
    return btcrash_report_capture_stack(r); /* @values_capture */
}

static void
print_attributes(const char *name, const btcrash_report *r)
{
    char *s = btcrash_report_get_attributes(r);

    printf("ATTRS %s %s\n", name, s ? s : "(null)");
    free(s);
}

static int
scenario_values(void)
{
    btcrash_report *r = new_report();

    rc_line("str", btcrash_report_set_attribute(r, "v.str", "hello \"world\" \xc3\xa9"));
    rc_line("int", btcrash_report_set_attribute_int(r, "v.int", -42));
    rc_line("int_big", btcrash_report_set_attribute_int(r, "v.int_big", 1234567890123LL));
    rc_line("int_min",
            btcrash_report_set_attribute_int(r, "v.int_min", -9223372036854775807LL - 1));
    rc_line("double", btcrash_report_set_attribute_double(r, "v.double", 3.25));
    rc_line("double_int", btcrash_report_set_attribute_double(r, "v.double_whole", 2.0));
    /* Doubles must round-trip exactly, at the edges too. */
    rc_line("double_tenth", btcrash_report_set_attribute_double(r, "v.double_tenth", 0.1));
    rc_line("double_huge", btcrash_report_set_attribute_double(r, "v.double_huge", 1e300));
    rc_line("double_tiny", btcrash_report_set_attribute_double(r, "v.double_tiny", 5e-324));
    rc_line("double_neg", btcrash_report_set_attribute_double(r, "v.double_neg", -1.5e-7));
    rc_line("int_max", btcrash_report_set_attribute_int(r, "v.int_max", 9223372036854775807LL));
    rc_line("bool_true", btcrash_report_set_attribute_bool(r, "v.bool_true", 1));
    rc_line("bool_seven", btcrash_report_set_attribute_bool(r, "v.bool_seven", 7));
    rc_line("bool_false", btcrash_report_set_attribute_bool(r, "v.bool_false", 0));
    rc_line("str_numeric", btcrash_report_set_attribute(r, "v.str_numeric", "17"));
    /* The last set wins, type included. */
    rc_line("retype1", btcrash_report_set_attribute_int(r, "v.retyped", 1));
    rc_line("retype2", btcrash_report_set_attribute(r, "v.retyped", "now a string"));
    rc_line("dict", btcrash_report_set_dict_attributes(
                        r, "{\"outer\": {\"inner\": {\"deep\": 1, \"s\": \"x\"}, \"flag\": true},"
                           " \"top\": \"t\", \"pi\": 3.5, \"neg\": -7, \"f\": false}"));
    /* Overrides: an automatic attribute and a BACKTRACE_ATTRIBUTES one. */
    rc_line("hostname", btcrash_report_set_attribute(r, "hostname", "api-override-host"));
    rc_line("env_override", btcrash_report_set_attribute(r, "env.overridden", "from-report"));
    rc_line("env_override_dict",
            btcrash_report_set_dict_attributes(r, "{\"envnest\": {\"b\": \"from-report\"}}"));
    print_attributes("values", r);
    rc_line("capture", detect_error(r));
    rc_line("send", btcrash_report_send(r));
    btcrash_report_free(r);
    return 0;
}

static int
scenario_bad(void)
{
    /* Through volatile pointers, so the compiler neither warns about the
     * NULLs nor assumes anything about them. */
    const char *volatile null_str = NULL;
    btcrash_report *volatile null_r = NULL;
    const char *const *paths = NULL;
    btcrash_options bad_opts = BTCRASH_OPTIONS_INIT;
    btcrash_report *r;
    char *s;
    size_t n;

    /* A field that does not parse: -EINVAL and none of the call's fields
     * applied (the endpoint here would lose the report). */
    bad_opts.endpoint = "http://127.0.0.1:1";
    bad_opts.timeout = "not-a-number";
    rc_line("init_bad_timeout", btcrash_initialize(&bad_opts));
    bad_opts.timeout = NULL;
    bad_opts.attributes = "{\"a\": [1, 2]}";
    rc_line("init_bad_attributes", btcrash_initialize(&bad_opts));
    bad_opts.attributes = "{not json";
    rc_line("init_bad_attributes_json", btcrash_initialize(&bad_opts));
    bad_opts.attributes = NULL;
    bad_opts.endpoint = "ftp://example.invalid/";
    rc_line("init_bad_endpoint", btcrash_initialize(&bad_opts));

    r = new_report();
    rc_line("attr_null_r", btcrash_report_set_attribute(null_r, "k", "v"));
    rc_line("attr_null_key", btcrash_report_set_attribute(r, null_str, "v"));
    rc_line("attr_null_value", btcrash_report_set_attribute(r, "k", null_str));
    rc_line("attr_empty_key", btcrash_report_set_attribute(r, "", "v"));
    rc_line("attr_bad_utf8_value", btcrash_report_set_attribute(r, "k", "bad \xff\xfe"));
    rc_line("attr_bad_utf8_key", btcrash_report_set_attribute(r, "k\xc3", "v"));
    rc_line("int_null_r", btcrash_report_set_attribute_int(null_r, "k", 1));
    rc_line("int_null_key", btcrash_report_set_attribute_int(r, null_str, 1));
    rc_line("int_empty_key", btcrash_report_set_attribute_int(r, "", 1));
    rc_line("double_null_r", btcrash_report_set_attribute_double(null_r, "k", 1.0));
    rc_line("double_null_key", btcrash_report_set_attribute_double(r, null_str, 1.0));
    rc_line("double_nan", btcrash_report_set_attribute_double(r, "k", NAN));
    rc_line("double_inf", btcrash_report_set_attribute_double(r, "k", INFINITY));
    rc_line("double_neg_inf", btcrash_report_set_attribute_double(r, "k", -INFINITY));
    rc_line("bool_null_r", btcrash_report_set_attribute_bool(null_r, "k", 1));
    rc_line("bool_null_key", btcrash_report_set_attribute_bool(r, null_str, 1));

    rc_line("dict_null_r", btcrash_report_set_dict_attributes(null_r, "{}"));
    rc_line("dict_null_json", btcrash_report_set_dict_attributes(r, null_str));
    rc_line("dict_invalid_json", btcrash_report_set_dict_attributes(r, "{\"a\": 1,"));
    rc_line("dict_trailing_garbage", btcrash_report_set_dict_attributes(r, "{\"a\": 1} x"));
    rc_line("dict_empty_text", btcrash_report_set_dict_attributes(r, ""));
    rc_line("dict_not_object", btcrash_report_set_dict_attributes(r, "[1, 2]"));
    rc_line("dict_string", btcrash_report_set_dict_attributes(r, "\"text\""));
    rc_line("dict_array", btcrash_report_set_dict_attributes(r, "{\"a\": [1, 2]}"));
    rc_line("dict_null", btcrash_report_set_dict_attributes(r, "{\"a\": null}"));
    rc_line("dict_nested_array", btcrash_report_set_dict_attributes(r, "{\"a\": {\"b\": [[1]]}}"));
    rc_line("dict_nested_null", btcrash_report_set_dict_attributes(r, "{\"a\": {\"b\": null}}"));
    /* On error nothing is set, not even the good members before the bad. */
    rc_line("dict_partial",
            btcrash_report_set_dict_attributes(r, "{\"partial.good\": 1, \"partial.bad\": [1]}"));
    rc_line("dict_bad_utf8", btcrash_report_set_dict_attributes(r, "{\"a\": \"\xff\"}"));

    s = btcrash_report_get_attributes(null_r);
    rc_line("get_attributes_null_r_is_null", s == NULL);
    free(s);

    rc_line("ann_null_r", btcrash_report_set_annotation(null_r, "k", "1"));
    rc_line("ann_null_key", btcrash_report_set_annotation(r, null_str, "1"));
    rc_line("ann_null_value", btcrash_report_set_annotation(r, "k", null_str));
    rc_line("ann_invalid_json", btcrash_report_set_annotation(r, "k", "{\"a\":"));
    rc_line("ann_bare_word", btcrash_report_set_annotation(r, "k", "hello"));
    rc_line("anndict_null_r", btcrash_report_set_dict_annotations(null_r, "{}"));
    rc_line("anndict_null_json", btcrash_report_set_dict_annotations(r, null_str));
    rc_line("anndict_invalid_json", btcrash_report_set_dict_annotations(r, "{bad"));
    rc_line("anndict_not_object", btcrash_report_set_dict_annotations(r, "[1]"));

    rc_line("attach_null_r", btcrash_report_add_attachment(null_r, "/etc/hostname"));
    rc_line("attach_null_path", btcrash_report_add_attachment(r, null_str));
    rc_line("attach_empty_path", btcrash_report_add_attachment(r, ""));
    paths = (const char *const *)&paths; /* must be overwritten or left alone */
    n = btcrash_report_get_attachments(null_r, &paths);
    rc_line("get_attachments_null_r", (long long)n);
    n = btcrash_report_get_attachments(r, NULL); /* undocumented: must not crash */
    rc_line("get_attachments_null_out", (long long)n);
    paths = NULL;
    n = btcrash_report_get_attachments(r, &paths);
    rc_line("get_attachments_none", (long long)n);

    rc_line("error_null_r", btcrash_report_set_error(null_r, "T", "m"));
    rc_line("error_both_null", btcrash_report_set_error(r, null_str, null_str));
    rc_line("error_bad_utf8_type", btcrash_report_set_error(r, "T\xff", "m"));
    rc_line("error_bad_utf8_message", btcrash_report_set_error(r, "T", "m\xc3\x28"));
    rc_line("capture_null_r", btcrash_report_capture_stack(null_r));
    rc_line("log_null_r", btcrash_report_log(null_r, "x %d", 1));
    rc_line("log_null_fmt", btcrash_report_log(r, null_str, 1));
    rc_line("log_bad_utf8", btcrash_report_log(r, "bad %s", "\xed\xa0\x80"));
    rc_line("send_null_r", btcrash_report_send(null_r));
    btcrash_report_free(null_r); /* ignored */
    rc_line("free_null_ok", 1);

    rc_line("last_bad_attr_json", btcrash_send_last_exception("m", "{bad", NULL));
    rc_line("last_attr_not_object", btcrash_send_last_exception("m", "[1]", NULL));
    rc_line("last_attr_array_value", btcrash_send_last_exception("m", "{\"a\": [1]}", NULL));
    rc_line("last_attr_null_value", btcrash_send_last_exception("m", "{\"a\": null}", NULL));
    rc_line("last_bad_ann_json", btcrash_send_last_exception("m", NULL, "{bad"));
    rc_line("last_ann_not_object", btcrash_send_last_exception("m", NULL, "[1]"));

    /* Still alive, and the report (which took none of the bad values) is
     * sent normally, twice only once. */
    rc_line("good_attr", btcrash_report_set_attribute(r, "bad.case", "survived"));
    print_attributes("bad", r);
    rc_line("capture", detect_error(r));
    rc_line("send", btcrash_report_send(r));
    rc_line("send_again", btcrash_report_send(r));
    btcrash_report_free(r);
    printf("ALIVE\n");
    return 0;
}

/* Logs, attachments given on the command line, an error with a type and
 * annotations with every kind of JSON value; then a message report and a
 * send_last_exception. */
__attribute__((noinline)) static int
report_last_exception(void)
{
    return btcrash_send_last_exception(
        "last exception message", "{\"last.attr\": \"yes\", \"last\": {\"n\": 5}}",
        "{\"Last annotation\": {\"list\": [1, \"two\", null, {\"k\": false}]}}"); /* @last_call */
}

static int
scenario_content(int argc, char **argv)
{
    btcrash_report *r = new_report();
    const char *const *paths = NULL;
    char big[3001];
    size_t n;

    for (int i = 0; i < argc; i++)
        rc_line("attach", btcrash_report_add_attachment(r, argv[i]));
    n = btcrash_report_get_attachments(r, &paths);
    rc_line("attachments", (long long)n);
    for (size_t i = 0; i < n && paths; i++)
        printf("ATTACHMENT %zu %s\n", i, paths[i]);

    printf("LOG_START %lld\n", real_seconds());
    rc_line("log1", btcrash_report_log(r, "first line"));
    rc_line("log2", btcrash_report_log(r, "step %d of %s: %.2f", 2, "three", 0.5));
    rc_line("log3", btcrash_report_log(r, "quotes \"q\" backslash \\ tab\t newline\n end"));
    rc_line("log4", btcrash_report_log(r, "unicode %s", "na\xc3\xafve \xe2\x9c\x93"));
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    rc_line("log5", btcrash_report_log(r, "%s", big));
    rc_line("log6", btcrash_report_log(r, "%s", ""));
    printf("LOG_END %lld\n", real_seconds());

    rc_line("error", btcrash_report_set_error(r, "ConfigError", "key 'port' is missing"));
    rc_line("ann_array", btcrash_report_set_annotation(r, "ann.array", "[1, 2, {\"x\": null}]"));
    rc_line("ann_string", btcrash_report_set_annotation(r, "ann.string", "\"just text\""));
    rc_line("ann_number", btcrash_report_set_annotation(r, "ann.number", "3.5"));
    rc_line("ann_int", btcrash_report_set_annotation(r, "ann.int", "-12"));
    rc_line("ann_null", btcrash_report_set_annotation(r, "ann.null", "null"));
    rc_line("ann_bool", btcrash_report_set_annotation(r, "ann.bool", "true"));
    rc_line(
        "ann_object",
        btcrash_report_set_annotation(
            r, "Settings", "{\"nested\": {\"deep\": [true, false, null]}, \"s\": \"\xc3\xa9\"}"));
    rc_line("ann_dict", btcrash_report_set_dict_annotations(
                            r, "{\"Dict one\": {\"a\": 1}, \"Dict two\": [1, \"two\", []],"
                               " \"Dict three\": {}}"));
    rc_line("capture", detect_error(r));
    rc_line("send", btcrash_report_send(r));
    btcrash_report_free(r);

    /* A message report: no type. */
    r = new_report();
    rc_line("msg_error", btcrash_report_set_error(r, NULL, "only a message"));
    rc_line("msg_capture", detect_error(r));
    rc_line("msg_send", btcrash_report_send(r));
    btcrash_report_free(r);

    rc_line("last", report_last_exception());
    return 0;
}

static int
scenario_local(void)
{
    btcrash_report *r = new_report();

    rc_line("error", btcrash_report_set_error(r, "LocalError", "stored, not sent"));
    rc_line("log1", btcrash_report_log(r, "local line one"));
    rc_line("log2", btcrash_report_log(r, "local line %d", 2));
    rc_line("capture", detect_error(r));
    rc_line("send", btcrash_report_send(r));
    btcrash_report_free(r);
    return 0;
}

/* Every code's explanation, for the test to compare. */
static int
scenario_strerror(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        int code = atoi(argv[i]);

        printf("STR %d %s\n", code, btcrash_strerror(code));
    }
    return 0;
}

int
main(int argc, char **argv)
{
    api_require_loaded("api_values");
    if (argc >= 2 && strcmp(argv[1], "values") == 0)
        return scenario_values();
    if (argc >= 2 && strcmp(argv[1], "bad") == 0)
        return scenario_bad();
    if (argc >= 2 && strcmp(argv[1], "content") == 0)
        return scenario_content(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "local") == 0)
        return scenario_local();
    if (argc >= 2 && strcmp(argv[1], "strerror") == 0)
        return scenario_strerror(argc - 2, argv + 2);
    fprintf(stderr, "usage: api_values values|bad|content FILE...|local\n");
    return 2;
}
