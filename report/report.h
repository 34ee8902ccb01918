/* report: builds the Backtrace JSON report (DESIGN.md §3) from a crash
 * record and its capture: for a crash, or for a C API call with its user
 * data. Helper process only. */
#ifndef BTCRASH_REPORT_H
#define BTCRASH_REPORT_H

#include <stdbool.h>

#include <jansson.h>

#include "capture.h"
#include "config.h"

/**
 * Build the report for one captured crash: uuid, timestamp, lang, agent,
 * threads, mainThread, sourceCode, classifiers, attributes (automatic ones
 * from /proc/PID, overridden by cfg->attributes_json), annotations, modules,
 * arch and the faulting frame's registers. When @cap has an abort_message,
 * it is error.message and annotations.Crash["abort.message"] (the signal's
 * description stays in annotations.Crash.description). When @cap has a
 * cxx_type (an uncaught C++ exception), it is the classifier instead of the
 * signal's name, "type: what()" (or the type) is error.message, and
 * annotations.Crash gets "exception.type" and "exception.what". Every
 * string in it is valid UTF-8. Reads /proc/PID, so call it while the
 * crashed process still exists.
 *
 * @warn receives one line per configuration problem found here (for example
 * an invalid BACKTRACE_ATTRIBUTES); may be NULL.
 *
 * Returns: a new reference (json_decref it), or NULL when out of memory.
 * Borrows: @rec, @cap, @cfg.
 */
json_t *btc_report_build(const struct btc_crash_record *rec, const struct btc_capture *cap,
                         const struct btc_config *cfg, btc_cfg_warn_fn warn, void *warn_ctx);

/* Upper bound on the user data of an API report (BTC_USERDATA_FD). */
#define BTC_REPORT_USERDATA_MAX (16u * 1024u * 1024u)

/**
 * Check the user data of an API report against the format crash_record.h
 * gives for BTC_USERDATA_FD: an object whose members are all optional;
 * "attributes" and "annotations" objects, "log" an array of objects,
 * "attachments" an array of non-empty strings, "error" an object whose
 * "type", "classifier" and "message" are strings. Unknown members are
 * ignored (a newer library may send more).
 *
 * Returns: 0, or -EINVAL with one line (no newline) saying what is wrong in
 *          @why (@size bytes, may be 0).
 * Borrows: @userdata.
 */
int btc_report_userdata_check(json_t *userdata, char *why, size_t size);

/**
 * Build the report of an API call (btcrash_report_send; @rec->flags has
 * BTC_RECORD_F_API) from the capture and the checked @userdata. It is a
 * crash report with these differences, which are the API report's contract:
 *
 *  - threads: the calling thread (@rec->tid) is mainThread and the only one
 *    with "fault": true, the thread the error is about. Its stack starts at
 *    the caller of btcrash_report_capture_stack: the leading frames whose
 *    module's basename starts with "libbtcrash" (libbtcrash.so,
 *    libbtcrash-api.so) are dropped before source context is collected.
 *    No frame carries "registers" or "faulted", and the report has no
 *    "arch": the recorded registers are btcrash's own, not a fault context.
 *  - classifiers: [error.classifier] when the user data has one, else the
 *    member is absent.
 *  - attributes: the automatic ones without the fault group (signal,
 *    signal.code, fault.address), then BACKTRACE_ATTRIBUTES, then error.type
 *    (user data's error.type, default "Exception") and error.message (when
 *    given), then the user data's attributes: each later one wins.
 *  - annotations: "Process" and "Memory Maps" as for a crash, no "Crash";
 *    "btcrash" holds what a crash report keeps in "Crash" beside the signal:
 *    "note.capture", "unwind" and (see btc_report_note_attachments)
 *    "attachments", and is absent when there is nothing to note; "Log" is
 *    the user data's log when it is not empty; then the user data's
 *    annotations, whose keys win over all of these.
 *
 * @cap may be NULL (capture failed): the calling thread then appears without
 * frames, and "btcrash" says so.
 *
 * Returns: a new reference, or NULL when out of memory.
 * Borrows: @rec, @cap, @cfg, @userdata (the report may share sub-objects
 *          of @userdata by reference).
 */
json_t *btc_report_build_api(const struct btc_crash_record *rec, const struct btc_capture *cap,
                             const struct btc_config *cfg, json_t *userdata, btc_cfg_warn_fn warn,
                             void *warn_ctx);

/**
 * Note in @report which attachments were left out or cut (@problems, an
 * array of one-line strings from btc_db_copy_attachment_paths): for a crash
 * in annotations.Crash.attachments, for an API report (@api) in
 * annotations.btcrash.attachments, created when needed. An empty
 * @problems removes the note. Nothing is noted when the user data replaced
 * that annotation with something other than an object.
 *
 * Returns: 0 or -ENOMEM.
 * Borrows: @problems (the report takes its own reference).
 */
int btc_report_note_attachments(json_t *report, bool api, json_t *problems);

#endif
