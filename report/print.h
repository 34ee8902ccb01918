/* print: human-readable renderings of a report: the local-mode summary and the
 * full debug report. Helper process and btcrash command. */
#ifndef BTCRASH_PRINT_H
#define BTCRASH_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/**
 * The short local-mode summary: signal and message, the faulting thread's top
 * frames with function and file:line, and @stored_path ("where the report
 * was stored"; NULL when storing failed).
 */
void btc_print_summary(FILE *out, json_t *report, const char *stored_path);

/**
 * The whole report: every thread with its frames and file:line, the source
 * lines around the fault with the faulting line marked, attributes and
 * annotations. @color adds ANSI colours (only for terminals).
 */
void btc_print_report(FILE *out, json_t *report, bool color);

#endif
