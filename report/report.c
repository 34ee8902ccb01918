/* report: assembles the Backtrace JSON report from a view of the capture
 * (view.h), the configuration, and for C API reports the user data. Pure:
 * it reads no process and no file but the source files it quotes. Field
 * names follow the Backtrace JSON crash format and backtrace-python. */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attrs.h"
#include "json_util.h"
#include "signals.h"
#include "source.h"
#include "uuid.h"
#include "view.h"
#include "path.h"

/*
 * The faulting frame's registers, in the order people read them, with their
 * index in the record's DWARF-numbered array (crash_record.h). The report's
 * "arch" declares each as u64; the values are hex strings because JSON
 * numbers cannot carry 64 bits exactly.
 */
static const struct {
    const char *name;
    int dwarf;
} g_regs[] = {
    {"rax", 0},  {"rbx", 3},  {"rcx", 2},  {"rdx", 1},  {"rsi", 4},  {"rdi", 5},
    {"rbp", 6},  {"rsp", 7},  {"r8", 8},   {"r9", 9},   {"r10", 10}, {"r11", 11},
    {"r12", 12}, {"r13", 13}, {"r14", 14}, {"r15", 15}, {"rip", 16},
};

static json_t *
build_registers(const struct btc_crash_record *rec)
{
    json_t *regs = json_object();

    if (!regs)
        return NULL;
    for (size_t i = 0; i < sizeof(g_regs) / sizeof(g_regs[0]); i++)
        if (btc_json_set_hex(regs, g_regs[i].name, rec->regs[g_regs[i].dwarf]) < 0)
            goto fail;
    if (btc_json_set_hex(regs, "eflags", rec->eflags) < 0)
        goto fail;
    return regs;
fail:
    json_decref(regs);
    return NULL;
}

static json_t *
build_arch(void)
{
    json_t *arch = json_object(), *regs = json_object();

    if (!arch || !regs)
        goto fail;
    for (size_t i = 0; i < sizeof(g_regs) / sizeof(g_regs[0]); i++)
        if (btc_json_set_str(regs, g_regs[i].name, "u64") < 0)
            goto fail;
    if (btc_json_set_str(regs, "eflags", "u64") < 0 || btc_json_set_str(arch, "name", "x64") < 0)
        goto fail;
    if (btc_json_set(arch, "registers", regs) < 0) {
        regs = NULL; /* stolen */
        goto fail;
    }
    return arch;
fail:
    json_decref(regs);
    json_decref(arch);
    return NULL;
}

/* A frame the debug information says nothing about still names its place
 * for a server that has the symbols: the module's offset and build-id. */
static int
add_module_place(json_t *f, const struct btc_view *v, const struct btc_frame *fr)
{
    const struct btc_module *m = v ? btc_view_module_at(v->cap, fr->pc) : NULL;

    if (!m || fr->line > 0)
        return 0;
    if (btc_json_set_hex(f, "module_offset", fr->pc - m->start) < 0 ||
        (m->build_id && btc_json_set_str(f, "debug_identifier", m->build_id) < 0))
        return -ENOMEM;
    return 0;
}

static json_t *
build_frame(const struct btc_view *v, const struct btc_frame *fr, const char *source_id)
{
    json_t *f = json_object();

    if (!f || add_module_place(f, v, fr) < 0) {
        json_decref(f);
        return NULL;
    }
    if ((fr->func && btc_json_set_str(f, "funcName", fr->func) < 0) ||
        btc_json_set_hex(f, "address", fr->pc) < 0 ||
        (fr->module && btc_json_set_str(f, "library", fr->module) < 0) ||
        (fr->line > 0 && btc_json_set_int(f, "line", fr->line) < 0) ||
        (fr->column > 0 && btc_json_set_int(f, "column", fr->column) < 0) ||
        (source_id && btc_json_set_str(f, "sourceCode", source_id) < 0) ||
        (fr->inlined && btc_json_set_bool(f, "inlined", true) < 0) ||
        (fr->guessed && btc_json_set_bool(f, "guessed_frame", true) < 0)) {
        json_decref(f);
        return NULL;
    }
    return f;
}

static json_t *
build_thread(const struct btc_view *v, size_t t, const struct btc_source *src,
             const struct btc_crash_record *rec, bool api)
{
    const struct btc_thread *th = &v->threads[t];
    json_t *thread = json_object(), *stack = json_array();

    if (!thread || !stack)
        goto fail;
    for (size_t i = 0; i < th->nframes; i++) {
        json_t *f = build_frame(v, &th->frames[i], btc_source_frame_id(src, t, i));

        if (!f)
            goto fail;
        /* The crashing thread's first frame is the faulting instruction
         * (capture.h): it carries the registers of the fault. An API
         * report has no fault: its registers are btcrash's own. */
        if (th->fault && i == 0 && !api &&
            (btc_json_set_bool(f, "faulted", true) < 0 ||
             btc_json_set(f, "registers", build_registers(rec)) < 0)) {
            json_decref(f);
            goto fail;
        }
        if (btc_json_append(stack, f) < 0)
            goto fail;
    }
    if (btc_json_set_str(thread, "name", th->name ? th->name : "") < 0 ||
        btc_json_set_bool(thread, "fault", th->fault) < 0)
        goto fail;
    /* A stack deeper than the frame cap: how many frames are missing, and
     * where (before stack[frames_omitted_at]). */
    if (th->omitted > 0 &&
        (btc_json_set_int(thread, "frames_omitted", (long long)th->omitted) < 0 ||
         btc_json_set_int(thread, "frames_omitted_at", (long long)th->omitted_at) < 0))
        goto fail;
    if (btc_json_set(thread, "stack", stack) < 0) {
        stack = NULL;
        goto fail;
    }
    return thread;
fail:
    json_decref(stack);
    json_decref(thread);
    return NULL;
}

/* Without a capture, the faulting thread still appears: no name, no frames. */
static json_t *
build_bare_thread(void)
{
    json_t *thread = json_object();

    if (!thread || btc_json_set_str(thread, "name", "") < 0 ||
        btc_json_set_bool(thread, "fault", true) < 0 ||
        btc_json_set(thread, "stack", json_array()) < 0) {
        json_decref(thread);
        return NULL;
    }
    return thread;
}

static int
add_threads(json_t *report, const struct btc_crash_record *rec, const struct btc_view *cap,
            const struct btc_source *src, bool api)
{
    json_t *threads = json_object();
    char key[16];
    int main_tid = rec->tid;

    if (!threads)
        return -ENOMEM;
    if (cap && cap->fault_thread < cap->nthreads)
        main_tid = cap->threads[cap->fault_thread].tid;
    for (size_t t = 0; cap && t < cap->nthreads; t++) {
        snprintf(key, sizeof(key), "%d", cap->threads[t].tid);
        if (btc_json_set(threads, key, build_thread(cap, t, src, rec, api)) < 0)
            goto fail;
    }
    snprintf(key, sizeof(key), "%d", main_tid);
    if (!json_object_get(threads, key) && btc_json_set(threads, key, build_bare_thread()) < 0)
        goto fail;
    if (btc_json_set_str(report, "mainThread", key) < 0)
        goto fail;
    return btc_json_set(report, "threads", threads);
fail:
    json_decref(threads);
    return -ENOMEM;
}

/* Why threads or frames are missing: "note.capture" and "unwind" in @a, and
 * what the report lacks (@incomplete, strings) in "incomplete". */
static int
add_capture_notes(json_t *a, const struct btc_view *cap, bool api, json_t *incomplete)
{
    json_t *unwind = NULL;

    if (json_array_size(incomplete) > 0 &&
        btc_json_set(a, "incomplete", json_incref(incomplete)) < 0)
        return -ENOMEM;
    if (!cap) {
        if (btc_json_set_str(a, "note.capture", "the stack could not be captured") < 0)
            return -ENOMEM;
    } else if (!cap->cap->ptrace_ok) {
        const char *why = cap->cap->ptrace_error ? cap->cap->ptrace_error : "ptrace unavailable";
        char note[512];

        /* Some threads may have been stopped, and are in the report. */
        if (cap->nthreads > 1)
            snprintf(note, sizeof(note), "some threads could not be stopped and are missing (%s)",
                     why);
        else
            snprintf(note, sizeof(note),
                     "only the %s thread was captured; other threads could not be stopped (%s)",
                     api ? "calling" : "crashing", why);
        if (btc_json_set_str(a, "note.capture", note) < 0)
            return -ENOMEM;
    }
    /* Why a stack is shorter than it should be. */
    for (size_t t = 0; cap && t < cap->nthreads; t++) {
        const struct btc_thread *th = &cap->threads[t];
        const char *why = th->error       ? th->error
                          : th->truncated ? "stopped at the frame limit"
                                          : NULL;
        char key[16], note[512];

        if (!why && !th->omitted)
            continue;
        if (!unwind && (!(unwind = json_object()) || json_object_set(a, "unwind", unwind) < 0))
            goto fail;
        snprintf(key, sizeof(key), "%d", th->tid);
        if (th->omitted)
            snprintf(note, sizeof(note),
                     "%s%s%zu frames left out after the innermost %zu: a stack deeper than %d "
                     "frames keeps its innermost and its %d outermost",
                     why ? why : "", why ? "; " : "", th->omitted, th->omitted_at,
                     BTC_UNWIND_MAX_FRAMES, BTC_UNWIND_TAIL_FRAMES);
        if (btc_json_set_str(unwind, key, th->omitted ? note : why) < 0)
            goto fail;
    }
    json_decref(unwind);
    return 0;
fail:
    json_decref(unwind);
    return -ENOMEM;
}

static json_t *
build_crash_annotation(const struct btc_crash_record *rec, const struct btc_view *cap,
                       json_t *incomplete)
{
    const char *abort_message = cap ? cap->cap->abort_message : NULL;
    json_t *a = json_object();
    const char *sig = btc_sig_name(rec->signo), *code = btc_sig_code_name(rec->signo, rec->si_code);
    char msg[256];

    if (!a)
        return NULL;
    btc_sig_describe(rec, msg, sizeof(msg));
    if (btc_json_set_str(a, "description", msg) < 0 ||
        (abort_message && btc_json_set_str(a, "abort.message", abort_message) < 0) ||
        (cap && cap->cxx_type && btc_json_set_str(a, "exception.type", cap->cxx_type) < 0) ||
        (cap && cap->cxx_what && btc_json_set_str(a, "exception.what", cap->cxx_what) < 0) ||
        btc_json_set(a, "signal", sig ? btc_json_str(sig) : json_null()) < 0 ||
        btc_json_set_int(a, "signal.number", rec->signo) < 0 ||
        btc_json_set(a, "code", code ? btc_json_str(code) : json_null()) < 0 ||
        btc_json_set_int(a, "code.number", rec->si_code) < 0 ||
        (btc_sig_has_address(rec->signo, rec->si_code) &&
         btc_json_set_hex(a, "fault.address", rec->fault_address) < 0) ||
        btc_json_set_int(a, "errno", rec->saved_errno) < 0 ||
        (rec->saved_errno && btc_json_set_str(a, "errno.text", strerror(rec->saved_errno)) < 0) ||
        (rec->si_errno && btc_json_set_int(a, "si_errno", rec->si_errno) < 0))
        goto fail;
    if (btc_sig_is_sent(rec->si_code) && (btc_json_set_int(a, "sender.pid", rec->sender_pid) < 0 ||
                                          btc_json_set_int(a, "sender.uid", rec->sender_uid) < 0))
        goto fail;
    if ((rec->flags & BTC_RECORD_F_TIMED_OUT_OTHERS) &&
        btc_json_set_str(a, "note.concurrent",
                         "other threads crashed at the same time; only this one was reported") < 0)
        goto fail;
    if (add_capture_notes(a, cap, false, incomplete) < 0)
        goto fail;
    return a;
fail:
    json_decref(a);
    return NULL;
}

/* argv, exe and cwd as the capture read them (sysinfo.h). */
static json_t *
build_process_annotation(const struct btc_crash_record *rec, const struct btc_view *v)
{
    json_t *a = json_object(), *facts = v ? v->cap->facts : NULL;
    static const char *const keys[] = {"argv", "exe", "cwd"};

    if (!a)
        return NULL;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *val = json_object_get(facts, keys[i]);

        if (val && btc_json_set(a, keys[i], json_deep_copy(val)) < 0)
            goto fail;
    }
    if (btc_json_set_int(a, "pid", rec->pid) < 0)
        goto fail;
    return a;
fail:
    json_decref(a);
    return NULL;
}

static json_t *
build_maps_annotation(const struct btc_view *v)
{
    const struct btc_capture *cap = v ? v->cap : NULL;
    json_t *maps = json_array();

    for (size_t i = 0; maps && cap && i < cap->nmodules; i++) {
        const struct btc_module *m = &cap->modules[i];
        char *line;

        if (asprintf(&line, "0x%" PRIx64 "-0x%" PRIx64 " %s%s%s", m->start, m->start + m->size,
                     m->path ? m->path : "?", m->build_id ? " build-id " : "",
                     m->build_id ? m->build_id : "") < 0)
            goto fail;
        if (btc_json_append(maps, btc_json_str(line)) < 0) {
            free(line);
            goto fail;
        }
        free(line);
    }
    return maps;
fail:
    json_decref(maps);
    return NULL;
}

static int
add_modules(json_t *report, const struct btc_view *v)
{
    const struct btc_capture *cap = v ? v->cap : NULL;
    json_t *modules = json_array();

    if (!modules)
        return -ENOMEM;
    for (size_t i = 0; cap && i < cap->nmodules; i++) {
        const struct btc_module *m = &cap->modules[i];
        json_t *o = json_object();

        if (!o)
            goto fail;
        if (btc_json_set_int(o, "start", (long long)m->start) < 0 ||
            btc_json_set_int(o, "size", (long long)m->size) < 0 ||
            btc_json_set_str(o, "code_file", m->path) < 0 ||
            (m->build_id && btc_json_set_str(o, "debug_identifier", m->build_id) < 0) ||
            btc_json_set_str(o, "debug_file", m->debug_file ? m->debug_file : m->path) < 0 ||
            btc_json_set_bool(o, "debug_file_exists", m->debug_file_exists) < 0) {
            json_decref(o);
            goto fail;
        }
        if (btc_json_append(modules, o) < 0)
            goto fail;
    }
    return btc_json_set(report, "modules", modules);
fail:
    json_decref(modules);
    return -ENOMEM;
}

/* libbtcrash.so, libbtcrash-api.so, and whatever suffix a version adds. */
static bool
is_btcrash_module(const char *path)
{
    const char *base = path ? btc_basename(path) : NULL;

    return base && strncmp(base, "libbtcrash", strlen("libbtcrash")) == 0;
}

/* The capture as an API report shows it: the calling thread's stack without
 * the leading frames of btcrash's own libraries, so that it starts at the
 * caller of btcrash_report_capture_stack and no source text is spent on
 * btcrash. Shallow: frames and strings remain @cap's; *@ret_threads is the
 * copied thread array to free. */
static int
api_view(const struct btc_view *cap, struct btc_view *ret_view, struct btc_thread **ret_threads)
{
    struct btc_thread *threads = NULL, *th;
    size_t skip = 0;

    *ret_threads = NULL;
    *ret_view = *cap;
    if (cap->fault_thread >= cap->nthreads)
        return 0;
    threads = malloc(cap->nthreads * sizeof(*threads));
    if (!threads)
        return -ENOMEM;
    memcpy(threads, cap->threads, cap->nthreads * sizeof(*threads));
    th = &threads[cap->fault_thread];
    while (skip < th->nframes && is_btcrash_module(th->frames[skip].module))
        skip++;
    th->frames += skip;
    th->nframes -= skip;
    ret_view->threads = threads;
    *ret_threads = threads;
    return 0;
}

static int
add_user_annotations(json_t *a, json_t *userdata)
{
    json_t *log = json_object_get(userdata, "log"),
           *user = json_object_get(userdata, "annotations");
    const char *key;
    json_t *v;

    if (json_is_array(log) && json_array_size(log) > 0 &&
        btc_json_set(a, "Log", json_incref(log)) < 0)
        return -ENOMEM;
    /* Last: the user's keys win over ours (DESIGN.md §3). */
    json_object_foreach(user, key, v)
    {
        if (btc_json_set(a, key, json_incref(v)) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int
add_annotations(json_t *report, const struct btc_crash_record *rec, const struct btc_view *cap,
                json_t *userdata, json_t *incomplete)
{
    json_t *a = json_object(), *notes = NULL;

    if (!a)
        return -ENOMEM;
    /* Environment variables are deliberately absent (DESIGN.md §3). */
    if (!userdata) {
        if (btc_json_set(a, "Crash", build_crash_annotation(rec, cap, incomplete)) < 0 ||
            btc_json_set(a, "Process", build_process_annotation(rec, cap)) < 0 ||
            btc_json_set(a, "Memory Maps", build_maps_annotation(cap)) < 0)
            goto fail;
        return btc_json_set(report, "annotations", a);
    }
    notes = json_object();
    if (!notes || btc_json_set(a, "Process", build_process_annotation(rec, cap)) < 0 ||
        btc_json_set(a, "Memory Maps", build_maps_annotation(cap)) < 0 ||
        add_capture_notes(notes, cap, true, incomplete) < 0)
        goto fail;
    if (json_object_size(notes) > 0 && btc_json_set(a, "btcrash", json_incref(notes)) < 0)
        goto fail;
    if (add_user_annotations(a, userdata) < 0)
        goto fail;
    json_decref(notes);
    return btc_json_set(report, "annotations", a);
fail:
    json_decref(notes);
    json_decref(a);
    return -ENOMEM;
}

/* error.type and error.message of an API report (DESIGN.md §3, §8). */
static int
add_api_error(json_t *attrs, json_t *userdata)
{
    json_t *error = json_object_get(userdata, "error");
    const char *type = json_string_value(json_object_get(error, "type"));
    json_t *msg = json_object_get(error, "message");

    if (btc_json_set_str(attrs, "error.type", type && *type ? type : "Exception") < 0)
        return -ENOMEM;
    if (json_is_string(msg) && btc_json_set(attrs, "error.message", json_incref(msg)) < 0)
        return -ENOMEM;
    return 0;
}

/* error.*, signal, signal.code and fault.address of a crash. An uncaught
 * exception, or the text glibc printed, says more than the signal that
 * followed it. */
static int
add_fault_attributes(json_t *attrs, const struct btc_crash_record *rec, const struct btc_view *v)
{
    const char *sig = btc_sig_name(rec->signo), *code = btc_sig_code_name(rec->signo, rec->si_code);
    const char *abort_message = v ? v->cap->abort_message : NULL;
    char msg[256], num[32];

    btc_sig_describe(rec, msg, sizeof(msg));
    if (btc_json_set_str(attrs, "error.type", "Crash") < 0)
        return -ENOMEM;
    if (v && v->cxx_type) {
        char *text = NULL;
        int r;

        if (v->cxx_what && asprintf(&text, "%s: %s", v->cxx_type, v->cxx_what) < 0)
            return -ENOMEM;
        r = btc_json_set_str(attrs, "error.message", text ? text : v->cxx_type);
        free(text);
        if (r < 0)
            return -ENOMEM;
    } else if (btc_json_set_str(attrs, "error.message", abort_message ? abort_message : msg) < 0) {
        return -ENOMEM;
    }
    if (!sig) {
        snprintf(num, sizeof(num), "%d", rec->signo);
        sig = num;
    }
    if (btc_json_set_str(attrs, "signal", sig) < 0)
        return -ENOMEM;
    if (!code) {
        snprintf(num, sizeof(num), "%d", rec->si_code);
        code = num;
    }
    if (btc_json_set_str(attrs, "signal.code", code) < 0)
        return -ENOMEM;
    if (btc_sig_has_address(rec->signo, rec->si_code) &&
        btc_json_set_hex(attrs, "fault.address", rec->fault_address) < 0)
        return -ENOMEM;
    return 0;
}

/* The capture's facts (sysinfo.h), then for a crash the fault group; an
 * API report's error.* are its own. */
static int
add_automatic_attributes(json_t *attrs, const struct btc_crash_record *rec,
                         const struct btc_view *v)
{
    json_t *facts = v ? json_object_get(v->cap->facts, "attributes") : NULL;
    const char *key;
    json_t *val;

    if (!(rec->flags & BTC_RECORD_F_API) && add_fault_attributes(attrs, rec, v) < 0)
        return -ENOMEM;
    json_object_foreach(facts, key, val)
    {
        if (btc_json_set(attrs, key, json_copy(val)) < 0)
            return -ENOMEM;
    }
    if (!facts && btc_json_set_int(attrs, "process.id", rec->pid) < 0)
        return -ENOMEM;
    return 0;
}

static int
add_attributes(json_t *report, const struct btc_crash_record *rec, const struct btc_view *cap,
               const struct btc_config *cfg, json_t *userdata, btc_cfg_warn_fn warn, void *warn_ctx)
{
    json_t *attrs = json_object(), *user = json_object_get(userdata, "attributes");
    int r;

    if (!attrs)
        return -ENOMEM;
    r = add_automatic_attributes(attrs, rec, cap);
    /* After the automatic ones, so that the user's win (DESIGN.md §3). A
     * malformed variable costs only the user attributes, never the report. */
    if (r >= 0)
        r = btc_attrs_from_text(attrs, cfg->attributes_json, warn, warn_ctx);
    /* An API report's own values win over the environment's. */
    if (r != -ENOMEM && userdata)
        r = add_api_error(attrs, userdata);
    if (r != -ENOMEM && json_is_object(user))
        r = btc_attrs_flatten(attrs, user, "the report's attributes", warn, warn_ctx);
    if (r == -ENOMEM) {
        json_decref(attrs);
        return r;
    }
    return btc_json_set(report, "attributes", attrs);
}

static int
add_classifiers(json_t *report, const struct btc_crash_record *rec, const struct btc_view *cap,
                json_t *userdata)
{
    const char *sig = btc_sig_name(rec->signo);
    json_t *classifier, *classifiers;
    char signum[32];

    if (userdata) {
        classifier = json_object_get(json_object_get(userdata, "error"), "classifier");
        if (!json_is_string(classifier) || json_string_length(classifier) == 0)
            return 0;
        classifiers = json_array();
        if (!classifiers || btc_json_append(classifiers, json_incref(classifier)) < 0) {
            json_decref(classifiers);
            return -ENOMEM;
        }
        return btc_json_set(report, "classifiers", classifiers);
    }
    if (!sig) {
        snprintf(signum, sizeof(signum), "signal %d", rec->signo);
        sig = signum;
    }
    /* An uncaught C++ exception is classified by its type, not by the
     * SIGABRT every one of them ends in. */
    if (cap && cap->cxx_type)
        sig = cap->cxx_type;
    classifiers = json_array();
    if (!classifiers || btc_json_append(classifiers, btc_json_str(sig)) < 0) {
        json_decref(classifiers);
        return -ENOMEM;
    }
    return btc_json_set(report, "classifiers", classifiers);
}

/* Both kinds of report; @userdata is NULL for a crash. */
static json_t *
build(const struct btc_crash_record *rec, const struct btc_report_parts *parts,
      const struct btc_config *cfg, btc_cfg_warn_fn warn, void *warn_ctx)
{
    struct btc_source_opts sopts = {
        .collect = cfg->collect_source_code && parts->source_text,
        .context_lines = cfg->context_line_count,
        .tab_width = cfg->tab_width,
        .deadline_ns = parts->source_deadline_ns,
    };
    const struct btc_view *cap = parts->view;
    const struct btc_source *src = parts->source;
    struct btc_source *own_src = NULL;
    static const struct btc_view no_view;
    struct btc_view view;
    struct btc_thread *view_threads = NULL;
    json_t *userdata = parts->userdata;
    bool api = userdata != NULL;
    json_t *report = json_object();
    char uuid[BTC_UUID_STR_LEN + 1];
    long long timestamp = rec->fault_time_ns > 0 ? rec->fault_time_ns / 1000000000 : time(NULL);

    if (!report)
        return NULL;
    if (api && cap) {
        if (api_view(cap, &view, &view_threads) < 0)
            goto fail;
        cap = &view;
    }
    /* The capture fixed the uuid, so every version of a stored report
     * keeps it. A missing random source is no reason to lose the crash. */
    if (cap)
        snprintf(uuid, sizeof(uuid), "%s", cap->cap->uuid);
    else if (btc_uuid_v4(uuid) < 0)
        snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%04x%08x",
                 (unsigned)rec->pid & 0xffff, (unsigned)timestamp);
    if (!src) {
        if (btc_source_new(cap ? cap : &no_view, &sopts, &own_src) < 0)
            goto fail;
        src = own_src;
    }
    if (btc_json_set_str(report, "uuid", uuid) < 0 ||
        btc_json_set_int(report, "timestamp", timestamp) < 0 ||
        btc_json_set_str(report, "lang", "c") < 0 ||
        btc_json_set_str(report, "langVersion", cap ? cap->cap->lang_version : NULL) < 0 ||
        btc_json_set_str(report, "agent", "btcrash") < 0 ||
        btc_json_set_str(report, "agentVersion", BTCRASH_VERSION) < 0 ||
        add_threads(report, rec, cap, src, api) < 0 ||
        (!api && btc_json_set(report, "arch", build_arch()) < 0) ||
        add_classifiers(report, rec, cap, userdata) < 0 ||
        add_attributes(report, rec, cap, cfg, userdata, warn, warn_ctx) < 0 ||
        add_annotations(report, rec, cap, userdata, parts->incomplete) < 0 ||
        add_modules(report, cap) < 0 ||
        btc_json_set(report, "sourceCode", json_incref(btc_source_entries(src))) < 0)
        goto fail;
    btc_source_free(own_src);
    free(view_threads);
    return report;
fail:
    btc_source_free(own_src);
    free(view_threads);
    json_decref(report);
    return NULL;
}

int
btc_report_source_new(const struct btc_view *view, bool api, const struct btc_source_opts *opts,
                      struct btc_source **ret)
{
    struct btc_thread *threads = NULL;
    struct btc_view shown;
    int r;

    if (api) {
        if (api_view(view, &shown, &threads) < 0)
            return -ENOMEM;
        view = &shown;
    }
    /* The index borrows the frames' strings, not the thread array. */
    r = btc_source_new(view, opts, ret);
    free(threads);
    return r;
}

json_t *
btc_report_build(const struct btc_crash_record *rec, const struct btc_report_parts *parts,
                 const struct btc_config *cfg, btc_cfg_warn_fn warn, void *warn_ctx)
{
    if (!rec || !parts || (parts->userdata && !json_is_object(parts->userdata)))
        return NULL;
    return build(rec, parts, cfg, warn, warn_ctx);
}

static int
fail_check(char *why, size_t size, const char *what)
{
    if (size > 0)
        snprintf(why, size, "invalid user data: %s", what);
    return -EINVAL;
}

/* @v absent, or of the type @is_type says. */
static bool
absent_or(json_t *v, int (*is_type)(const json_t *))
{
    return !v || is_type(v);
}

static int
is_object(const json_t *v)
{
    return json_is_object(v);
}

static int
is_array(const json_t *v)
{
    return json_is_array(v);
}

static int
is_string(const json_t *v)
{
    return json_is_string(v);
}

int
btc_report_userdata_check(json_t *userdata, char *why, size_t size)
{
    json_t *error = json_object_get(userdata, "error"), *log = json_object_get(userdata, "log");
    json_t *atts = json_object_get(userdata, "attachments"), *v;
    size_t i;

    if (!json_is_object(userdata))
        return fail_check(why, size, "not a JSON object");
    if (!absent_or(json_object_get(userdata, "attributes"), is_object))
        return fail_check(why, size, "\"attributes\" is not an object");
    if (!absent_or(json_object_get(userdata, "annotations"), is_object))
        return fail_check(why, size, "\"annotations\" is not an object");
    if (!absent_or(log, is_array))
        return fail_check(why, size, "\"log\" is not an array");
    json_array_foreach(log, i, v)
    {
        if (!json_is_object(v))
            return fail_check(why, size, "an entry of \"log\" is not an object");
    }
    if (!absent_or(atts, is_array))
        return fail_check(why, size, "\"attachments\" is not an array");
    json_array_foreach(atts, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            strlen(json_string_value(v)) != json_string_length(v))
            return fail_check(why, size, "an entry of \"attachments\" is not a file path");
    }
    if (!absent_or(error, is_object))
        return fail_check(why, size, "\"error\" is not an object");
    if (!absent_or(json_object_get(error, "type"), is_string) ||
        !absent_or(json_object_get(error, "classifier"), is_string) ||
        !absent_or(json_object_get(error, "message"), is_string))
        return fail_check(why, size, "\"error\" has a member that is not a string");
    return 0;
}

int
btc_report_note_attachments(json_t *report, bool api, json_t *problems)
{
    json_t *annotations = json_object_get(report, "annotations");
    json_t *notes = json_object_get(annotations, api ? "btcrash" : "Crash");

    if (json_array_size(problems) == 0) {
        if (json_is_object(notes))
            json_object_del(notes, "attachments");
        return 0;
    }
    if (!notes && api) {
        notes = json_object();
        if (!notes || json_object_set_new(annotations, "btcrash", notes) < 0)
            return -ENOMEM;
    }
    if (!json_is_object(notes))
        return 0;
    return json_object_set(notes, "attachments", problems) < 0 ? -ENOMEM : 0;
}
