/* report: builds the Backtrace JSON crash report (DESIGN.md §3) from a crash
 * record and its capture. Helper process only. */
#ifndef BTCRASH_REPORT_H
#define BTCRASH_REPORT_H

#include <jansson.h>

#include "capture.h"
#include "config.h"

/**
 * Build the report for one captured crash: uuid, timestamp, lang, agent,
 * threads, mainThread, sourceCode, classifiers, attributes (automatic ones
 * from /proc/PID, overridden by cfg->attributes_json), annotations, modules,
 * arch and the faulting frame's registers. Every string in it is valid UTF-8.
 * Reads /proc/PID, so call it while the crashed process still exists.
 *
 * @warn receives one line per configuration problem found here (for example
 * an invalid BACKTRACE_ATTRIBUTES); may be NULL.
 *
 * Returns: a new reference (json_decref it), or NULL when out of memory.
 * Borrows: @rec, @cap, @cfg.
 */
json_t *btc_report_build(const struct btc_crash_record *rec, const struct btc_capture *cap,
                         const struct btc_config *cfg, btc_cfg_warn_fn warn, void *warn_ctx);

#endif
