/* test_backoff: the retry schedule of deliver/backoff.c: doubling from
 * 60 s to 6 h, each step jittered within its upper half. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void
test_backoff_doubles_from_a_minute_to_six_hours(void **state)
{
    static const int64_t top[] = {60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600};

    (void)state;
    for (int a = 1; a <= 11; a++) {
        /* The lowest and highest points the jitter can pick. */
        assert_int_equal(btc_backoff_delay_s(a, 0), top[a - 1] / 2);
        assert_int_equal(btc_backoff_delay_s(a, (uint32_t)(top[a - 1] - top[a - 1] / 2)),
                         top[a - 1]);
    }
    /* Far past the cap, and no overflow for a huge count. */
    assert_int_equal(btc_backoff_delay_s(1000000, 0), BTC_BACKOFF_MAX_S / 2);
    assert_true(btc_backoff_delay_s(1000000, UINT32_MAX) <= BTC_BACKOFF_MAX_S);
    /* No attempt yet counts as the first. */
    assert_int_equal(btc_backoff_delay_s(0, 0), 30);
    assert_int_equal(btc_backoff_delay_s(-5, 0), 30);
}

static void
test_backoff_jitter_stays_in_the_upper_half(void **state)
{
    int64_t lo = INT64_MAX, hi = 0;

    (void)state;
    for (int i = 0; i < 2000; i++) {
        int64_t d = btc_backoff_delay_s(3, btc_backoff_random());

        assert_true(d >= 120 && d <= 240);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    /* Spread, not one value for the whole fleet. */
    assert_true(hi - lo > 60);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_from_a_minute_to_six_hours),
        cmocka_unit_test(test_backoff_jitter_stays_in_the_upper_half),
    };

    return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
