/* clock: monotonic time and sleeping for the capture's deadlines. Helper
 * process only. */
#ifndef BTCRASH_UNWIND_CLOCK_H
#define BTCRASH_UNWIND_CLOCK_H

#include <stdint.h>

/** CLOCK_MONOTONIC in nanoseconds, the clock of btc_crash_record's deadline. */
int64_t btc_unwind_now_ns(void);

/** Sleep about @ns nanoseconds (less if a signal interrupts). */
void btc_unwind_sleep_ns(int64_t ns);

#endif
