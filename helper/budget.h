/* budget: the one owner of the crash's deadline. It splits the time from
 * the helper's start to the crashed process's deadline into the stages'
 * shares, most valuable first; a stage that ends early leaves its time to
 * the next, and the upload gets what is left. Helper process. */
#ifndef BTCRASH_HELPER_BUDGET_H
#define BTCRASH_HELPER_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

/* CLOCK_MONOTONIC nanoseconds, like the record's deadline. Each stage ends
 * at its own time at the latest; the times only grow, so a stage that
 * finishes early gives its rest to the ones after it. */
struct btc_budget {
    int64_t start;
    int64_t stop;          /* stopping the other threads */
    int64_t unwind;        /* unwinding them */
    int64_t symbols_fault; /* the crashing thread's symbols, debug files included */
    int64_t symbols_other; /* the other threads' */
    int64_t source;        /* source context */
    int64_t attachments;   /* attachment copies */
    int64_t end;           /* the upload, printing, the last state write */
    /* Debug files fetched from debuginfod while the stages run, abandoned
     * here: the crashing thread's symbols still get time after it. */
    int64_t fetch;
};

/* Used when the record carries no deadline (an API report without one). */
#define BTC_BUDGET_DEFAULT_NS (4 * 1000 * 1000 * 1000LL)

/**
 * Plan @b for a crash whose process is gone at @deadline (0: none) from
 * @now. With @upload, the stages end by 60 % of the time so that the upload
 * keeps at least 40 %; without (local mode) they may use it all. A margin
 * of a tenth (50 to 300 ms) before @deadline is kept for the end: the last
 * state write and the notification.
 */
void btc_budget_plan(struct btc_budget *b, int64_t now, int64_t deadline, bool upload);

/* What the kernel takes to end a process, per thread, once the handler
 * re-raises: measured 0.3 s for 9000 threads without btcrash (no core
 * dump) on a loaded 2-core machine. */
#define BTC_BUDGET_EXIT_NS_PER_THREAD (40 * 1000LL)

/**
 * Keep @ns more for the end: the crashed process must still die before
 * its deadline + 0.5 s, and a process of many threads takes long to die.
 * Moves @b->end and any stage end past it earlier, never before @b->start,
 * and never by more than half of what is left.
 */
void btc_budget_reserve(struct btc_budget *b, int64_t ns);

/** Whether stage deadline @t has passed. */
bool btc_budget_over(int64_t t);

#endif
