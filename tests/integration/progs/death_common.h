/* death_common: shared by the "other kinds of death" programs
 * (test_deaths.py): the moment just before a fault, on stderr. */
#ifndef DEATH_COMMON_H
#define DEATH_COMMON_H

#include <stdio.h>
#include <time.h>

static inline long long
death_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "FAULT_MONO_NS <ns>" on stderr, flushed: test_deaths.py measures the time
 * from here to the process's death. */
static inline void
death_stamp(void)
{
    fprintf(stderr, "FAULT_MONO_NS %lld\n", death_mono_ns());
    fflush(stderr);
}

#endif
