/* fault_levels: the three-deep NULL write that several test programs end
 * in, after printing FAULT_MONO_NS <CLOCK_MONOTONIC ns> on stderr (the
 * moment the tests measure the time bound from). Included once per
 * program; built at -O0 so each level is a frame. */
#ifndef BTC_TEST_FAULT_LEVELS_H
#define BTC_TEST_FAULT_LEVELS_H

#include <stdio.h>
#include <time.h>

int *volatile g_target; /* NULL, and volatile so the write is not folded away */

void level3(void);
void level2(void);
void level1(void);

static void
stamp(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    fprintf(stderr, "FAULT_MONO_NS %lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
    fflush(stderr);
}

void
level3(void)
{
    stamp();
    *g_target = 42; /* @fault */
}

void
level2(void)
{
    level3(); /* @call2 */
}

void
level1(void)
{
    level2(); /* @call1 */
}

#endif
