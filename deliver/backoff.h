/* backoff: when a report whose attempt failed may be tried again
 * (DESIGN.md §6): exponential with jitter, so that a fleet whose server
 * went away does not come back all at once. Helper process and btcrash
 * command. */
#ifndef BTCRASH_BACKOFF_H
#define BTCRASH_BACKOFF_H

#include <stdint.h>

/* The first retry waits 30 to 60 s, each next one twice as long, up to
 * 3 to 6 hours. */
#define BTC_BACKOFF_BASE_S 60
#define BTC_BACKOFF_MAX_S  (6 * 3600)

/**
 * The wait, in seconds, after @attempts failed attempts (>= 1; less counts
 * as 1): d = min(BTC_BACKOFF_BASE_S * 2^(attempts - 1), BTC_BACKOFF_MAX_S),
 * then a point in [d/2, d] that @random picks ("equal jitter": never
 * shorter than half the step, never in lockstep).
 */
int64_t btc_backoff_delay_s(int attempts, uint32_t random);

/** A random number for btc_backoff_delay_s (getrandom, else the clock). */
uint32_t btc_backoff_random(void);

#endif
