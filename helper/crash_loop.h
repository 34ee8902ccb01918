/* crash_loop: whether a crash is a repeat within its loop's window
 * (deliver/loops.h): decided under its signature's record lock, so that
 * crashes at once count one after the other. Helper process. */
#ifndef BTCRASH_CRASH_LOOP_H
#define BTCRASH_CRASH_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct btc_crash_loop {
    char sig[65];
    bool throttled;  /* kept and counted, not sent */
    int64_t count;   /* sent: the crashes it stands for (itself included) */
    int64_t since_s; /* throttled: seconds since its signature was sent */
    int64_t repeats; /* throttled: crashes of it kept in this window */
};

/**
 * Decide for the crash @report, stored as @uuid in DIR: sent (count = 1 +
 * the repeats kept since the last one sent, which become counted) or
 * throttled (within @window_ms of the last one sent: counted in the
 * record). Waits for the record's lock until @deadline_mono_ns.
 *
 * Returns: 0 and *@ret, or -errno (no signature, the record unusable):
 *          the crash is then sent as a lone one.
 */
int btc_crash_loop_decide(const char *dir, json_t *report, const char *uuid, uint32_t window_ms,
                          int64_t deadline_mono_ns, struct btc_crash_loop *ret);

#endif
