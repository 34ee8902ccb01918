/* Unit tests of capture/frame_keep.c: the innermost frames and the
 * outermost few of a stack of any depth, in bounded memory, with the count
 * and place of the frames left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "frame_keep.h"

/* Frame i of a stack has pc 0x1000 + i: its place tells which it was. */
static void
push_n(struct btc_frame_keep *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct btc_raw_frame f = {.pc = 0x1000 + i, .activation = i == 0, .guessed = i % 7 == 3};

        assert_int_equal(btc_frame_keep_push(k, &f), 0);
    }
}

struct kept {
    struct btc_raw_frame *v;
    size_t n, omitted, at;
};

static struct kept
finish(struct btc_frame_keep *k)
{
    struct kept r = {.omitted = 99, .at = 99};

    assert_int_equal(btc_frame_keep_finish(k, &r.v, &r.n, &r.omitted, &r.at), 0);
    return r;
}

static void
assert_frame(const struct kept *r, size_t i, size_t orig)
{
    assert_int_equal(r->v[i].pc, 0x1000 + orig);
    assert_int_equal(r->v[i].activation, orig == 0);
    assert_int_equal(r->v[i].guessed, orig % 7 == 3);
}

static void
test_frame_keep_short_stack_is_kept_whole(void **state)
{
    struct btc_frame_keep k;
    struct kept r;

    (void)state;
    btc_frame_keep_init(&k, 1024, 16);
    push_n(&k, 10);
    r = finish(&k);
    assert_int_equal(r.n, 10);
    for (size_t i = 0; i < 10; i++)
        assert_frame(&r, i, i);
    assert_int_equal(r.omitted, 0);
    assert_int_equal(r.at, 0);
    free(r.v);
}

/* Frames past the head but within the cap: the ring has not wrapped. */
static void
test_frame_keep_stack_at_the_cap_loses_nothing(void **state)
{
    for (size_t n = 1020; n <= 1024; n++) {
        struct btc_frame_keep k;
        struct kept r;

        (void)state;
        btc_frame_keep_init(&k, 1024, 16);
        push_n(&k, n);
        r = finish(&k);
        assert_int_equal(r.n, n);
        for (size_t i = 0; i < n; i++)
            assert_frame(&r, i, i);
        assert_int_equal(r.omitted, 0);
        assert_int_equal(r.at, 0);
        free(r.v);
    }
}

static void
test_frame_keep_one_past_the_cap_leaves_out_one(void **state)
{
    struct btc_frame_keep k;
    struct kept r;

    (void)state;
    btc_frame_keep_init(&k, 1024, 16);
    push_n(&k, 1025);
    r = finish(&k);
    assert_int_equal(r.n, 1024);
    for (size_t i = 0; i < 1008; i++)
        assert_frame(&r, i, i);
    /* Frame 1008 is the one left out. */
    for (size_t i = 1008; i < 1024; i++)
        assert_frame(&r, i, i + 1);
    assert_int_equal(r.omitted, 1);
    assert_int_equal(r.at, 1008);
    free(r.v);
}

/* A million frames: the head never grows past its share, and the tail is
 * the outermost 16, in order, whatever the ring's phase. */
static void
test_frame_keep_deep_stack_keeps_head_and_tail_in_bounded_memory(void **state)
{
    const size_t sizes[] = {1u << 20, (1u << 20) + 5, 100000, 1024 + 16, 1024 + 17};

    (void)state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        struct btc_frame_keep k;
        struct kept r;

        btc_frame_keep_init(&k, 1024, 16);
        push_n(&k, n);
        assert_true(k.head_cap <= 1008);
        assert_int_equal(k.total, n);
        r = finish(&k);
        assert_int_equal(r.n, 1024);
        for (size_t i = 0; i < 1008; i++)
            assert_frame(&r, i, i);
        for (size_t i = 0; i < 16; i++)
            assert_frame(&r, 1008 + i, n - 16 + i);
        assert_int_equal(r.omitted, n - 1024);
        assert_int_equal(r.at, 1008);
        free(r.v);
    }
}

static void
test_frame_keep_tail_is_at_most_half_the_cap(void **state)
{
    struct btc_frame_keep k;
    struct kept r;

    (void)state;
    btc_frame_keep_init(&k, 8, 100);
    assert_int_equal(k.head_max, 4);
    assert_int_equal(k.tail_max, 4);
    push_n(&k, 20);
    r = finish(&k);
    assert_int_equal(r.n, 8);
    for (size_t i = 0; i < 4; i++) {
        assert_frame(&r, i, i);
        assert_frame(&r, 4 + i, 16 + i);
    }
    assert_int_equal(r.omitted, 12);
    assert_int_equal(r.at, 4);
    free(r.v);
}

/* No tail: the innermost frames alone, the rest counted. */
static void
test_frame_keep_without_tail_counts_the_rest(void **state)
{
    struct btc_frame_keep k;
    struct kept r;

    (void)state;
    btc_frame_keep_init(&k, 5, 0);
    push_n(&k, 9);
    assert_null(k.ring);
    r = finish(&k);
    assert_int_equal(r.n, 5);
    for (size_t i = 0; i < 5; i++)
        assert_frame(&r, i, i);
    assert_int_equal(r.omitted, 4);
    assert_int_equal(r.at, 5);
    free(r.v);
}

static void
test_frame_keep_empty_and_done(void **state)
{
    struct btc_frame_keep k, z = {0};
    struct kept r;

    (void)state;
    btc_frame_keep_init(&k, 1024, 16);
    r = finish(&k);
    assert_null(r.v);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.omitted, 0);
    assert_int_equal(r.at, 0);
    /* Done on a zeroed, a finished and a filled keeper. */
    btc_frame_keep_done(&z);
    btc_frame_keep_done(&k);
    btc_frame_keep_init(&k, 1024, 16);
    push_n(&k, 3000);
    btc_frame_keep_done(&k);
    btc_frame_keep_done(&k);
    btc_frame_keep_done(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_keep_short_stack_is_kept_whole),
        cmocka_unit_test(test_frame_keep_stack_at_the_cap_loses_nothing),
        cmocka_unit_test(test_frame_keep_one_past_the_cap_leaves_out_one),
        cmocka_unit_test(test_frame_keep_deep_stack_keeps_head_and_tail_in_bounded_memory),
        cmocka_unit_test(test_frame_keep_tail_is_at_most_half_the_cap),
        cmocka_unit_test(test_frame_keep_without_tail_counts_the_rest),
        cmocka_unit_test(test_frame_keep_empty_and_done),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
