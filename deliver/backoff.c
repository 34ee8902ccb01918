/* backoff: see backoff.h. */
#include "backoff.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int64_t
btc_backoff_delay_s(int attempts, uint32_t random)
{
    int64_t d = BTC_BACKOFF_BASE_S;

    for (int i = 1; i < attempts && d < BTC_BACKOFF_MAX_S; i++)
        d *= 2;
    if (d > BTC_BACKOFF_MAX_S)
        d = BTC_BACKOFF_MAX_S;
    return d / 2 + (int64_t)(random % (uint32_t)(d - d / 2 + 1));
}

uint32_t
btc_backoff_random(void)
{
    uint32_t v;
    struct timespec ts;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
        return v;
    /* No entropy yet (early boot): the clock and pid still spread a fleet. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16);
}
