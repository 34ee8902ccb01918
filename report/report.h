/* report: builds the Backtrace JSON report (DESIGN.md §3) from a crash
 * record and its capture: for a crash, or for a C API call with its user
 * data. Helper process only. */
#ifndef BTCRASH_REPORT_H
#define BTCRASH_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "crash_record.h"
#include "config.h"

struct btc_source;
struct btc_source_opts;
struct btc_view;

/* What a report is built from. */
struct btc_report_parts {
    /* The capture as symbolicated so far (view.h); NULL when not even the
     * crashing thread could be captured: the report then says so. */
    const struct btc_view *view;
    /* The source index built for this very view by btc_report_source_new,
     * or NULL: then one is built here, with text when @source_text and the
     * configuration ask for it, read until @source_deadline_ns (0: none). */
    const struct btc_source *source;
    bool source_text;
    int64_t source_deadline_ns;
    /* An API report's checked user data (see btc_report_build_api's
     * contract below), or NULL for a crash. */
    json_t *userdata;
    /* What the report lacks and why, one string each ("symbolication
     * stopped at frame 212 of thread 1234: time budget"): the "incomplete"
     * member of annotations.Crash (annotations.btcrash for an API report).
     * NULL or empty: complete. */
    json_t *incomplete;
};

/**
 * Build the report of the crash in @rec from @parts: uuid (the capture's),
 * timestamp, lang, agent, threads, mainThread, sourceCode, classifiers,
 * attributes (the capture's automatic ones and the fault group, overridden
 * by cfg->attributes_json), annotations, modules, arch and the faulting
 * frame's registers. A frame the symbols did not reach keeps its address,
 * library, "module_offset" and the module's build-id ("debug_identifier").
 * When the capture has an abort_message, it is error.message and
 * annotations.Crash["abort.message"] (the signal's description stays in
 * annotations.Crash.description). When the view confirms a cxx_type (an
 * uncaught C++ exception), it is the classifier instead of the signal's
 * name, "type: what()" (or the type) is error.message, and
 * annotations.Crash gets "exception.type" and "exception.what". Every
 * string in it is valid UTF-8. Reads no process: only the source files it
 * quotes.
 *
 * With @parts->userdata the report is an API report instead (below).
 *
 * @warn receives one line per configuration problem found here (for example
 * an invalid BACKTRACE_ATTRIBUTES); may be NULL.
 *
 * Returns: a new reference (json_decref it), or NULL when out of memory.
 * Borrows: @rec, @parts, @cfg.
 */
json_t *btc_report_build(const struct btc_crash_record *rec, const struct btc_report_parts *parts,
                         const struct btc_config *cfg, btc_cfg_warn_fn warn, void *warn_ctx);

/**
 * The source index (source.h) of @view as the report shows it: for an API
 * report (@api) without the leading frames of btcrash's own libraries, so
 * that the frames' ids match. Pass it as btc_report_parts.source.
 *
 * Returns: 0 and *ret (btc_source_free it), or -ENOMEM.
 * Borrows: @view's frames, which must outlive *ret.
 */
int btc_report_source_new(const struct btc_view *view, bool api, const struct btc_source_opts *opts,
                          struct btc_source **ret);

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

/*
 * An API report (btcrash_report_send; @rec->flags has BTC_RECORD_F_API,
 * @parts->userdata checked by btc_report_userdata_check) is a crash report
 * with these differences, which are the API report's contract:
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
 *    "note.capture", "unwind", "incomplete" and (see
 *    btc_report_note_attachments) "attachments", and is absent when there
 *    is nothing to note; "Log" is the user data's log when it is not empty;
 *    then the user data's annotations, whose keys win over all of these.
 *
 * Without a view (capture failed) the calling thread appears without
 * frames, and "btcrash" says so. The report may share sub-objects of the
 * user data by reference.
 */

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
