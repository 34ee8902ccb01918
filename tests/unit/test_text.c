/* test_text: what untrusted text looks like once it is made safe for a
 * terminal (submit/text.c): control characters and bad UTF-8 escaped,
 * well-formed UTF-8 kept, and a cut that never splits a character or an
 * escape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"
#include "utf8.h"

/* A string literal with its length, embedded NULs included. */
#define LIT(s) (s), (sizeof(s) - 1)

static void
expect_escape(const char *s, size_t len, unsigned flags, const char *want)
{
    char buf[512];
    size_t n = btc_text_escape(buf, sizeof(buf), s, len, flags);

    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

/* btc_text_put's output for @s, as a malloc'ed string. */
static char *
put(const char *s, size_t len, size_t max, unsigned flags)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);

    assert_non_null(out);
    btc_text_put(out, s, len, max, flags);
    assert_int_equal(fclose(out), 0);
    assert_non_null(text);
    return text;
}

static void
expect_put(const char *s, size_t len, size_t max, unsigned flags, const char *want)
{
    char *text = put(s, len, max, flags);

    assert_string_equal(text, want);
    free(text);
}

/* ---- what is escaped --------------------------------------------------- */

static void
test_text_escape_keeps_printable_ascii(void **state)
{
    (void)state;
    expect_escape(LIT("hello, world ~{}[]()<>|!?"), 0, "hello, world ~{}[]()<>|!?");
    expect_escape(LIT(""), 0, "");
}

static void
test_text_escape_writes_c0_and_del_as_hex(void **state)
{
    (void)state;
    expect_escape(LIT("\x1b[31mred\x1b[0m"), 0, "\\x1b[31mred\\x1b[0m");
    expect_escape(LIT("a\nb\rc"), 0, "a\\x0ab\\x0dc");
    expect_escape(LIT("\x7f"), 0, "\\x7f");
    for (unsigned c = 0; c < 0x20; c++) {
        char in = (char)c, want[8];

        if (c == '\t')
            continue;
        snprintf(want, sizeof(want), "\\x%02x", c);
        expect_escape(&in, 1, 0, want);
        /* KEEP_TAB keeps the tab, and only the tab. */
        expect_escape(&in, 1, BTC_TEXT_KEEP_TAB, want);
    }
}

static void
test_text_escape_keeps_a_tab_only_when_asked(void **state)
{
    (void)state;
    expect_escape(LIT("a\tb"), 0, "a\\x09b");
    expect_escape(LIT("a\tb"), BTC_TEXT_KEEP_TAB, "a\tb");
}

static void
test_text_escape_writes_c1_controls_as_u00nn(void **state)
{
    (void)state;
    /* U+009B starts a CSI sequence on many terminals. */
    expect_escape(LIT("\xc2\x9b[31m"), 0, "\\u009b[31m");
    for (unsigned c = 0x80; c <= 0x9f; c++) {
        char in[2] = {(char)0xc2, (char)c}, want[8];

        snprintf(want, sizeof(want), "\\u00%02x", c);
        expect_escape(in, 2, 0, want);
    }
    /* The first characters past the range are printable. */
    expect_escape(LIT("\xc2\xa0\xc2\xbf"), 0, "\xc2\xa0\xc2\xbf");
}

static void
test_text_escape_writes_each_invalid_utf8_byte_as_hex(void **state)
{
    (void)state;
    expect_escape(LIT("\xff"), 0, "\\xff");
    expect_escape(LIT("\x80"), 0, "\\x80");          /* stray continuation */
    expect_escape(LIT("a\xc3"), 0, "a\\xc3");        /* cut at the end */
    expect_escape(LIT("\xc3("), 0, "\\xc3(");        /* cut by ASCII */
    expect_escape(LIT("\xe6\xbc"), 0, "\\xe6\\xbc"); /* 2 of 3 bytes */
    expect_escape(LIT("\xc0\xaf"), 0, "\\xc0\\xaf"); /* overlong '/' */
    expect_escape(LIT("\xe0\x80\xaf"), 0, "\\xe0\\x80\\xaf");
    expect_escape(LIT("\xed\xa0\x80"), 0, "\\xed\\xa0\\x80");          /* a surrogate */
    expect_escape(LIT("\xf4\x90\x80\x80"), 0, "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
    expect_escape(LIT("\xf8\x88\x80\x80\x80"), 0, "\\xf8\\x88\\x80\\x80\\x80");
    /* A bad byte does not swallow the good character after it. */
    expect_escape(LIT("\xff\xc3\xa9"), 0, "\\xff\xc3\xa9");
}

static void
test_text_escape_keeps_well_formed_multibyte_utf8(void **state)
{
    (void)state;
    expect_escape(LIT("caf\xc3\xa9"), 0, "caf\xc3\xa9");                           /* é */
    expect_escape(LIT("\xe6\xbc\xa2\xe5\xad\x97"), 0, "\xe6\xbc\xa2\xe5\xad\x97"); /* 漢字 */
    expect_escape(LIT("\xf0\x9f\x98\x80"), 0, "\xf0\x9f\x98\x80");                 /* U+1F600 */
    expect_escape(LIT("\xf4\x8f\xbf\xbf"), 0, "\xf4\x8f\xbf\xbf");                 /* U+10FFFF */
    expect_escape(LIT("\xe2\x80\xae"), 0, "\xe2\x80\xae"); /* U+202E is not a control */
}

static void
test_text_escape_escapes_nul_bytes_inside_len(void **state)
{
    (void)state;
    expect_escape(LIT("a\0b"), 0, "a\\x00b");
    expect_escape(LIT("\0\0"), 0, "\\x00\\x00");
    /* Only @len counts, not the NUL after it. */
    expect_escape("abc", 2, 0, "ab");
}

/* ---- where it is cut --------------------------------------------------- */

static void
test_text_escape_sizes_0_to_8(void **state)
{
    static const char *const want[] = {"", "", "", "", "...", "a...", "ab...", "abc...", "abcd..."};
    char buf[16];

    (void)state;
    /* Size 0: nothing may be written, not even the NUL. */
    memset(buf, 'X', sizeof(buf));
    assert_int_equal(btc_text_escape(buf, 0, LIT("abcdefghij"), 0), 0);
    assert_int_equal(buf[0], 'X');
    for (size_t size = 1; size <= 8; size++) {
        memset(buf, 'X', sizeof(buf));
        assert_int_equal(btc_text_escape(buf, size, LIT("abcdefghij"), 0), strlen(want[size]));
        assert_string_equal(buf, want[size]);
        /* Nothing written past @size. */
        assert_int_equal(buf[size], 'X');
    }
}

static void
test_text_escape_never_cuts_inside_an_escape_or_a_character(void **state)
{
    char buf[16];

    (void)state;
    /* "\x1b" is 4 bytes: one and "..." need 8. */
    btc_text_escape(buf, 8, LIT("\x1b\x1b\x1b"), 0);
    assert_string_equal(buf, "\\x1b...");
    btc_text_escape(buf, 7, LIT("\x1b\x1b\x1b"), 0);
    assert_string_equal(buf, "...");
    /* "\u009b" is 6. */
    btc_text_escape(buf, 10, LIT("\xc2\x9b\xc2\x9b"), 0);
    assert_string_equal(buf, "\\u009b...");
    btc_text_escape(buf, 9, LIT("\xc2\x9b\xc2\x9b"), 0);
    assert_string_equal(buf, "...");
    /* Two-, three- and four-byte characters stay whole. */
    btc_text_escape(buf, 8, LIT("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), 0);
    assert_string_equal(buf, "\xc3\xa9\xc3\xa9...");
    btc_text_escape(buf, 8, LIT("\xe6\xbc\xa2\xe6\xbc\xa2\xe6\xbc\xa2"), 0);
    assert_string_equal(buf, "\xe6\xbc\xa2...");
    btc_text_escape(buf, 8, LIT("\xf0\x9f\x98\x80\xf0\x9f\x98\x80"), 0);
    assert_string_equal(buf, "\xf0\x9f\x98\x80...");
}

/* Whether @prefix (the part of a cut result before its "...") ends where a
 * character or an escape of @full ends. The inputs hold no backslash, so
 * every backslash of @full starts an escape. */
static bool
ends_at_a_boundary(const char *full, size_t prefix)
{
    const char *slash = NULL;

    if (prefix < strlen(full) && ((unsigned char)full[prefix] & 0xc0) == 0x80)
        return false; /* inside a multibyte character */
    for (size_t i = 0; i < prefix; i++)
        if (full[i] == '\\')
            slash = full + i;
    return !slash || (size_t)(slash - full) + (slash[1] == 'x' ? 4 : 6) <= prefix;
}

static void
test_text_escape_cut_is_always_terminated_bounded_and_marked(void **state)
{
    static const char *const inputs[] = {
        "plain ascii text that is long enough",
        "\x1b[2J\x1b]0;title\x07\xc2\x9b"
        "31m\x7f\n",
        "\xc3\xa9t\xc3\xa9 \xe6\xbc\xa2\xe5\xad\x97 \xf0\x9f\x98\x80 \xff\xfe x",
        "mixed \xc2\x85\xe2\x80\xa8\xf0\x9f\x92\xa9\xc0\xaf\x01\x02 end",
    };
    char full[512], buf[64];

    (void)state;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        size_t len = strlen(inputs[i]), flen;

        flen = btc_text_escape(full, sizeof(full), inputs[i], len, 0);
        assert_true(flen < sizeof(full) - 1); /* whole */
        assert_true(btc_utf8_is_valid(full, flen));
        for (size_t size = 1; size <= sizeof(buf); size++) {
            size_t n;

            memset(buf, 'X', sizeof(buf));
            n = btc_text_escape(buf, size, inputs[i], len, 0);
            assert_int_equal(n, strlen(buf));
            assert_true(n <= size - 1);
            assert_true(btc_utf8_is_valid(buf, n));
            if (size < 4) {
                assert_int_equal(n, 0);
                continue;
            }
            if (n == flen && memcmp(buf, full, n) == 0)
                continue; /* not cut */
            /* Cut: a whole prefix, then "...". */
            assert_true(n >= 3);
            assert_memory_equal(buf + n - 3, "...", 3);
            assert_memory_equal(buf, full, n - 3);
            assert_true(ends_at_a_boundary(full, n - 3));
            /* Cut at most one piece (6 bytes at most, "\u00NN") early. */
            assert_true(n + 6 >= size);
        }
    }
}

static void
test_text_escape_does_not_cut_a_text_that_fits(void **state)
{
    char buf[8];

    (void)state;
    /* Room for "..." is kept only when the text does not fit. */
    btc_text_escape(buf, 4, LIT("abc"), 0);
    assert_string_equal(buf, "abc");
    btc_text_escape(buf, 5, LIT("abcd"), 0);
    assert_string_equal(buf, "abcd");
    btc_text_escape(buf, 8, LIT("abcdefg"), 0);
    assert_string_equal(buf, "abcdefg");
    btc_text_escape(buf, 8, LIT("ab\x1b"), 0);
    assert_string_equal(buf, "ab\\x1b");
    btc_text_escape(buf, 8, LIT("abcdefgh"), 0);
    assert_string_equal(buf, "abcd...");
}

/* ---- btc_text_put ------------------------------------------------------ */

static void
test_text_put_escapes_as_btc_text_escape_does(void **state)
{
    (void)state;
    expect_put(LIT("a\x1b[0mb\xc2\x9b\xff\xc3\xa9"), 0, 0, "a\\x1b[0mb\\u009b\\xff\xc3\xa9");
    expect_put(LIT("a\0b"), 0, 0, "a\\x00b");
    expect_put(LIT("a\tb\n"), 0, BTC_TEXT_KEEP_TAB, "a\tb\\x0a");
    expect_put(LIT("a\tb"), 0, 0, "a\\x09b");
    expect_put(LIT(""), 0, 0, "");
}

static void
test_text_put_cuts_at_max_bytes_and_appends_dots(void **state)
{
    (void)state;
    expect_put(LIT("abcdef"), 3, 0, "abc...");
    expect_put(LIT("abcdef"), 6, 0, "abcdef"); /* exactly max: not cut */
    expect_put(LIT("abcdef"), 100, 0, "abcdef");
    expect_put(LIT("abcdef"), 0, 0, "abcdef"); /* 0: no limit */
    /* max counts the bytes of @s, not of their escapes. */
    expect_put(LIT("\x1b\x1b\x1b\x1b"), 2, 0, "\\x1b\\x1b...");
    /* A character that max would split is left out whole. */
    expect_put(LIT("a\xc3\xa9"), 2, 0, "a...");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_escape_keeps_printable_ascii),
        cmocka_unit_test(test_text_escape_writes_c0_and_del_as_hex),
        cmocka_unit_test(test_text_escape_keeps_a_tab_only_when_asked),
        cmocka_unit_test(test_text_escape_writes_c1_controls_as_u00nn),
        cmocka_unit_test(test_text_escape_writes_each_invalid_utf8_byte_as_hex),
        cmocka_unit_test(test_text_escape_keeps_well_formed_multibyte_utf8),
        cmocka_unit_test(test_text_escape_escapes_nul_bytes_inside_len),
        cmocka_unit_test(test_text_escape_sizes_0_to_8),
        cmocka_unit_test(test_text_escape_never_cuts_inside_an_escape_or_a_character),
        cmocka_unit_test(test_text_escape_cut_is_always_terminated_bounded_and_marked),
        cmocka_unit_test(test_text_escape_does_not_cut_a_text_that_fits),
        cmocka_unit_test(test_text_put_escapes_as_btc_text_escape_does),
        cmocka_unit_test(test_text_put_cuts_at_max_bytes_and_appends_dots),
    };

    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
