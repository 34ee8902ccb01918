/* test_sha256: SHA-256 (submit/sha256.c) against the FIPS 180-4 example
 * messages, and at the lengths where the padding changes shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

/* The digest of @data[0..@len) through btc_sha256_hex, compared with @hex. */
static void
check_hex(const void *data, size_t len, const char *hex)
{
    char got[BTC_SHA256_HEX_LEN + 1];

    memset(got, 'x', sizeof(got));
    btc_sha256_hex(data, len, got);
    assert_string_equal(got, hex);
}

/* As check_hex, for @len copies of 'a'. */
static void
check_run_of_a(size_t len, const char *hex)
{
    char buf[128];

    assert_true(len <= sizeof(buf));
    memset(buf, 'a', len);
    check_hex(buf, len, hex);
}

static void
test_sha256_empty_string_matches_fips(void **state)
{
    (void)state;
    check_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_sha256_abc_matches_fips(void **state)
{
    (void)state;
    check_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_sha256_448_bit_message_matches_fips(void **state)
{
    static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    (void)state;
    /* 56 bytes: the length no longer fits after the 0x80, so the padding
     * takes a second block. */
    assert_int_equal(sizeof(msg) - 1, 56);
    check_hex(msg, sizeof(msg) - 1,
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void
test_sha256_million_a_in_uneven_chunks_matches_fips(void **state)
{
    /* Pieces that start and end on either side of a block boundary, and
     * that fill a partial block exactly. */
    static const size_t pieces[] = {1, 63, 64, 65, 1000, 7, 129};
    static const char expected[] =
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    char buf[1000];
    struct btc_sha256 s;
    uint8_t d[BTC_SHA256_LEN];
    char hex[BTC_SHA256_HEX_LEN + 1];
    size_t left = 1000000;

    (void)state;
    memset(buf, 'a', sizeof(buf));
    btc_sha256_init(&s);
    for (size_t i = 0; left > 0; i = (i + 1) % (sizeof(pieces) / sizeof(pieces[0]))) {
        size_t n = pieces[i] < left ? pieces[i] : left;

        btc_sha256_update(&s, buf, n);
        left -= n;
    }
    btc_sha256_final(&s, d);
    for (int i = 0; i < BTC_SHA256_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(hex, expected);
}

static void
test_sha256_lengths_around_padding_boundary_match_sha256sum(void **state)
{
    (void)state;
    /* Expected values from coreutils sha256sum, e.g.
     *   head -c 55 /dev/zero | tr '\0' a | sha256sum
     * 55 bytes is the longest message whose length fits in its last block,
     * 56 the shortest that needs another; 63 leaves room for only the 0x80,
     * 64 is a whole block with all the padding in the next. */
    check_run_of_a(55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    check_run_of_a(56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    check_run_of_a(63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
    check_run_of_a(64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_empty_string_matches_fips),
        cmocka_unit_test(test_sha256_abc_matches_fips),
        cmocka_unit_test(test_sha256_448_bit_message_matches_fips),
        cmocka_unit_test(test_sha256_million_a_in_uneven_chunks_matches_fips),
        cmocka_unit_test(test_sha256_lengths_around_padding_boundary_match_sha256sum),
    };

    return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
