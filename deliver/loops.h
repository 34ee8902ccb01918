/* loops: crash loops in the database (DESIGN.md §6). A crash whose
 * signature (signal and faulting thread's top frames) was sent less than
 * BACKTRACE_CRASH_LOOP_WINDOW ago is kept as "throttled" and counted in its
 * signature's record (db.h, btc_db_loop); the next report of it to be sent
 * carries the attribute crash.count, the number of crashes it stands for,
 * and the throttled reports it counted become "counted". So the crash.count
 * values a server receives add up to the crashes. Helper process and
 * btcrash command. */
#ifndef BTCRASH_LOOPS_H
#define BTCRASH_LOOPS_H

#include <stdint.h>

#include <jansson.h>

#include "config.h"

/* The attribute that says how many crashes a report stands for. */
#define BTC_LOOPS_COUNT_ATTRIBUTE "crash.count"

/**
 * The signature of the crash @report (a report JSON): SHA-256, in hex, of
 * its application, classifiers and the faulting thread's first three
 * frames, each as its module's basename and offset (addresses move with
 * ASLR, function names depend on how far symbolication got; offsets do
 * not), or its function name when it is in no module.
 *
 * Returns: 0 and @ret, or -EINVAL for a report without a faulting thread.
 */
int btc_loops_signature(json_t *report, char ret[65]);

/**
 * Mark every "throttled" report of @sig in DIR but @except_uuid (may be
 * NULL) "counted" by @counted_in: their count has gone with that report.
 * Call with @sig's record locked (btc_db_loop_open).
 *
 * Returns: the number marked, or -errno when DIR cannot be listed.
 */
int btc_loops_mark_counted(const char *dir, const char *sig, const char *except_uuid,
                           const char *counted_in);

/**
 * Release the crash loops whose window has passed: for each signature with
 * throttled crashes, its newest throttled report made for @cfg's endpoint
 * becomes pending with crash.count = their number, the others counted, and
 * the record starts a new window (sent_at now). Then btc_deliver_pending
 * sends it like any other. Waits for a record's lock a second at most,
 * and never past @deadline_mono_ns (INT64_MAX: none); a record it cannot
 * lock is left for the next call.
 *
 * Returns: the number of reports released, or -errno.
 */
int btc_loops_release(const char *dir, const struct btc_config *cfg, int64_t deadline_mono_ns);

#endif
