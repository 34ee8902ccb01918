/* crash_loop: see crash_loop.h. */
#include "crash_loop.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "loops.h"

int
btc_crash_loop_decide(const char *dir, json_t *report, const char *uuid, uint32_t window_ms,
                      int64_t deadline_mono_ns, struct btc_crash_loop *ret)
{
    struct btc_db_loop loop;
    int64_t now = (int64_t)time(NULL);
    int r;

    memset(ret, 0, sizeof(*ret));
    ret->count = 1;
    r = btc_loops_signature(report, ret->sig);
    if (r < 0)
        return r;
    r = btc_db_loop_open(dir, ret->sig, deadline_mono_ns, &loop);
    if (r < 0)
        return r;
    /* A clock set back makes sent_at future: a new window, not a
     * throttle that lasts until the clock catches up. */
    if (loop.sent_at > 0 && loop.sent_at <= now && (now - loop.sent_at) * 1000 < window_ms) {
        loop.throttled++;
        ret->throttled = true;
        ret->since_s = now - loop.sent_at;
        ret->repeats = loop.throttled;
    } else {
        ret->count = 1 + loop.throttled;
        /* Their count goes with this report. */
        if (loop.throttled > 0)
            btc_loops_mark_counted(dir, ret->sig, uuid, uuid);
        loop.sent_at = now;
        loop.throttled = 0;
    }
    r = btc_db_loop_close(&loop, true);
    if (r < 0 && ret->throttled) {
        /* Not counted: better sent than lost from the count. */
        ret->throttled = false;
        ret->count = 1;
        return r;
    }
    return 0;
}
