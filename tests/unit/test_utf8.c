/* test_utf8: UTF-8 validation and repair (submit/utf8.c), and the jansson
 * helpers that route every report string through it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_util.h"
#include "utf8.h"

#define FFFD BTC_UTF8_REPLACEMENT

/* Repair @in (with explicit length) and compare with @expected. */
static void
check_repair(const char *in, size_t len, const char *expected)
{
    char *out = NULL;
    size_t out_len = 0;

    assert_int_equal(btc_utf8_repair(in, len, &out, &out_len), 0);
    assert_string_equal(out, expected);
    assert_int_equal(out_len, strlen(expected));
    assert_true(btc_utf8_is_valid(out, out_len));
    free(out);
}

#define REPAIR(lit, expected) check_repair(lit, sizeof(lit) - 1, expected)

static void
test_utf8_keeps_valid_text_byte_for_byte(void **state)
{
    (void)state;
    REPAIR("plain ascii", "plain ascii");
    REPAIR("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xa5",
           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xa5");
    /* The extremes of each length class. */
    REPAIR("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
           "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
    REPAIR("", "");
}

static void
test_utf8_replaces_lone_continuation_byte(void **state)
{
    (void)state;
    REPAIR("a\x80z", "a" FFFD "z");
    REPAIR("\xbf\xbf", FFFD FFFD);
}

static void
test_utf8_replaces_truncated_sequence_with_one_replacement(void **state)
{
    (void)state;
    /* A 4-byte sequence cut after 3 bytes is one maximal subpart. */
    REPAIR("x\xf0\x9f\x92", "x" FFFD);
    REPAIR("x\xf0\x9f\x92y", "x" FFFD "y");
    REPAIR("\xe2\x82", FFFD);
    REPAIR("\xc3", FFFD);
}

static void
test_utf8_rejects_overlong_forms(void **state)
{
    (void)state;
    /* C0/C1 can never start a sequence: each byte is its own subpart. */
    REPAIR("\xc0\xaf", FFFD FFFD);
    REPAIR("\xc1\xbf", FFFD FFFD);
    /* E0 80..9F and F0 80..8F are overlong: the lead alone is replaced. */
    REPAIR("\xe0\x80\xaf", FFFD FFFD FFFD);
    REPAIR("\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD);
}

static void
test_utf8_rejects_surrogates(void **state)
{
    (void)state;
    /* U+D800 and U+DFFF encoded directly (CESU-8 style). */
    REPAIR("\xed\xa0\x80", FFFD FFFD FFFD);
    REPAIR("\xed\xbf\xbf", FFFD FFFD FFFD);
    REPAIR("\xed\x9f\xbf", "\xed\x9f\xbf"); /* U+D7FF is fine */
}

static void
test_utf8_rejects_code_points_above_10ffff(void **state)
{
    (void)state;
    REPAIR("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
    REPAIR("\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD);
    REPAIR("\xff\xfe", FFFD FFFD);
}

static void
test_utf8_follows_unicode_maximal_subpart_example(void **state)
{
    (void)state;
    /* Unicode 15 §3.9, Table 3-8: F1 80 80 and E1 80 are truncated
     * sequences (one U+FFFD each), C2 is cut short by "b", and each of the
     * stray continuation bytes 80, 80, BF is replaced on its own. */
    REPAIR("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64",
           "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d");
}

static void
test_utf8_keeps_embedded_nul(void **state)
{
    char *out;
    size_t len;

    (void)state;
    assert_int_equal(btc_utf8_repair("a\0\x80", 3, &out, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "a\0" FFFD, 5);
    free(out);
}

static void
test_utf8_is_valid_agrees_with_repair(void **state)
{
    (void)state;
    assert_true(btc_utf8_is_valid("ok \xc3\xa9", 5));
    assert_false(btc_utf8_is_valid("\xc3", 1));
    assert_false(btc_utf8_is_valid("\xed\xa0\x80", 3));
    assert_false(btc_utf8_is_valid("\xc0\x80", 2));
}

static void
test_json_str_repairs_invalid_bytes(void **state)
{
    json_t *obj = json_object();
    char *text;

    (void)state;
    assert_int_equal(btc_json_set_str(obj, "name\xff",
                                      "thr\xe9"
                                      "ad"),
                     0);
    assert_string_equal(json_string_value(json_object_get(obj, "name" FFFD)), "thr" FFFD "ad");
    /* jansson refuses to dump invalid UTF-8; this must succeed. */
    text = json_dumps(obj, 0);
    assert_non_null(text);
    free(text);
    json_decref(obj);
}

static void
test_json_set_reports_enomem_for_null_value(void **state)
{
    json_t *obj = json_object(), *arr = json_array();

    (void)state;
    assert_int_equal(btc_json_set(obj, "k", NULL), -ENOMEM);
    assert_int_equal(btc_json_append(arr, NULL), -ENOMEM);
    assert_int_equal(json_object_size(obj), 0);
    json_decref(obj);
    json_decref(arr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_keeps_valid_text_byte_for_byte),
        cmocka_unit_test(test_utf8_replaces_lone_continuation_byte),
        cmocka_unit_test(test_utf8_replaces_truncated_sequence_with_one_replacement),
        cmocka_unit_test(test_utf8_rejects_overlong_forms),
        cmocka_unit_test(test_utf8_rejects_surrogates),
        cmocka_unit_test(test_utf8_rejects_code_points_above_10ffff),
        cmocka_unit_test(test_utf8_follows_unicode_maximal_subpart_example),
        cmocka_unit_test(test_utf8_keeps_embedded_nul),
        cmocka_unit_test(test_utf8_is_valid_agrees_with_repair),
        cmocka_unit_test(test_json_str_repairs_invalid_bytes),
        cmocka_unit_test(test_json_set_reports_enomem_for_null_value),
    };

    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
