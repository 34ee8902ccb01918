/* clock: monotonic time and sleeping, for every deadline of the helper and
 * the commands. */
#ifndef BTCRASH_COMMON_CLOCK_H
#define BTCRASH_COMMON_CLOCK_H

#include <stdint.h>

/** CLOCK_MONOTONIC in nanoseconds, the clock of btc_crash_record's deadline. */
int64_t btc_clock_now_ns(void);

/** Sleep about @ns nanoseconds (less if a signal interrupts). */
void btc_clock_sleep_ns(int64_t ns);

#endif
