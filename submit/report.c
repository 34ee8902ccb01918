/* report: assembles the Backtrace JSON crash report from the capture, the
 * crash record, /proc and the configuration. Field names follow the
 * Backtrace JSON crash format and backtrace-python. */
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
#include "sysinfo.h"
#include "uuid.h"

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

static json_t *
build_frame(const struct btc_frame *fr, const char *source_id)
{
    json_t *f = json_object();

    if (!f)
        return NULL;
    if ((fr->func && btc_json_set_str(f, "funcName", fr->func) < 0) ||
        btc_json_set_hex(f, "address", fr->pc) < 0 ||
        (fr->module && btc_json_set_str(f, "library", fr->module) < 0) ||
        (fr->line > 0 && btc_json_set_int(f, "line", fr->line) < 0) ||
        (fr->column > 0 && btc_json_set_int(f, "column", fr->column) < 0) ||
        (source_id && btc_json_set_str(f, "sourceCode", source_id) < 0) ||
        (fr->inlined && btc_json_set_bool(f, "inlined", true) < 0)) {
        json_decref(f);
        return NULL;
    }
    return f;
}

static json_t *
build_thread(const struct btc_thread *th, size_t t, const struct btc_source *src,
             const struct btc_crash_record *rec)
{
    json_t *thread = json_object(), *stack = json_array();

    if (!thread || !stack)
        goto fail;
    for (size_t i = 0; i < th->nframes; i++) {
        json_t *f = build_frame(&th->frames[i], btc_source_frame_id(src, t, i));

        if (!f)
            goto fail;
        /* The crashing thread's first frame is the faulting instruction
         * (capture.h): it carries the registers of the fault. */
        if (th->fault && i == 0 &&
            (btc_json_set_bool(f, "faulted", true) < 0 ||
             btc_json_set(f, "registers", build_registers(rec)) < 0)) {
            json_decref(f);
            goto fail;
        }
        if (btc_json_append(stack, f) < 0)
            goto fail;
    }
    if (btc_json_set_str(thread, "name", th->name) < 0 ||
        btc_json_set_bool(thread, "fault", th->fault) < 0)
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

/* Without a capture, the faulting thread still appears: name and no frames. */
static json_t *
build_bare_thread(const struct btc_crash_record *rec)
{
    json_t *thread = json_object();
    char path[64], name[64] = "";
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", rec->pid, rec->tid);
    if ((f = fopen(path, "re"))) {
        if (fgets(name, sizeof(name), f))
            name[strcspn(name, "\n")] = '\0';
        fclose(f);
    }
    if (!thread || btc_json_set_str(thread, "name", name) < 0 ||
        btc_json_set_bool(thread, "fault", true) < 0 ||
        btc_json_set(thread, "stack", json_array()) < 0) {
        json_decref(thread);
        return NULL;
    }
    return thread;
}

static int
add_threads(json_t *report, const struct btc_crash_record *rec, const struct btc_capture *cap,
            const struct btc_source *src)
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
        if (btc_json_set(threads, key, build_thread(&cap->threads[t], t, src, rec)) < 0)
            goto fail;
    }
    snprintf(key, sizeof(key), "%d", main_tid);
    if (!json_object_get(threads, key) && btc_json_set(threads, key, build_bare_thread(rec)) < 0)
        goto fail;
    if (btc_json_set_str(report, "mainThread", key) < 0)
        goto fail;
    return btc_json_set(report, "threads", threads);
fail:
    json_decref(threads);
    return -ENOMEM;
}

static json_t *
build_crash_annotation(const struct btc_crash_record *rec, const struct btc_capture *cap)
{
    json_t *a = json_object(), *unwind = NULL;
    const char *sig = btc_sig_name(rec->signo), *code = btc_sig_code_name(rec->signo, rec->si_code);
    char msg[256];

    if (!a)
        return NULL;
    btc_sig_describe(rec, msg, sizeof(msg));
    if (btc_json_set_str(a, "description", msg) < 0 ||
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
    if (!cap) {
        if (btc_json_set_str(a, "note.capture", "the stack could not be captured") < 0)
            goto fail;
    } else if (!cap->ptrace_ok) {
        char note[512];

        snprintf(note, sizeof(note),
                 "only the crashing thread was captured; other threads could not be stopped "
                 "(%s)",
                 cap->ptrace_error ? cap->ptrace_error : "ptrace unavailable");
        if (btc_json_set_str(a, "note.capture", note) < 0)
            goto fail;
    }
    /* Why a stack is shorter than it should be. */
    for (size_t t = 0; cap && t < cap->nthreads; t++) {
        const struct btc_thread *th = &cap->threads[t];
        char key[16];

        if (!th->error && !th->truncated)
            continue;
        if (!unwind && (!(unwind = json_object()) || json_object_set(a, "unwind", unwind) < 0))
            goto fail;
        snprintf(key, sizeof(key), "%d", th->tid);
        if (btc_json_set_str(unwind, key, th->error ? th->error : "stopped at the frame limit") < 0)
            goto fail;
    }
    json_decref(unwind);
    return a;
fail:
    json_decref(unwind);
    json_decref(a);
    return NULL;
}

static json_t *
build_process_annotation(const struct btc_crash_record *rec, const struct btc_capture *cap)
{
    json_t *a = json_object(), *argv = NULL;
    char *cwd = NULL, *exe = NULL;
    const char *exe_path = cap ? cap->exe_path : NULL;

    if (!a)
        return NULL;
    if (!exe_path && btc_sysinfo_readlink(rec->pid, "exe", &exe) == 0)
        exe_path = exe;
    if (btc_sysinfo_argv(rec->pid, &argv) == 0 && btc_json_set(a, "argv", argv) < 0)
        goto fail;
    if ((exe_path && btc_json_set_str(a, "exe", exe_path) < 0) ||
        (btc_sysinfo_readlink(rec->pid, "cwd", &cwd) == 0 && btc_json_set_str(a, "cwd", cwd) < 0) ||
        btc_json_set_int(a, "pid", rec->pid) < 0)
        goto fail;
    free(cwd);
    free(exe);
    return a;
fail:
    free(cwd);
    free(exe);
    json_decref(a);
    return NULL;
}

static json_t *
build_maps_annotation(const struct btc_capture *cap)
{
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
add_annotations(json_t *report, const struct btc_crash_record *rec, const struct btc_capture *cap)
{
    json_t *a = json_object();

    /* Environment variables are deliberately absent (DESIGN.md §3). */
    if (!a || btc_json_set(a, "Crash", build_crash_annotation(rec, cap)) < 0 ||
        btc_json_set(a, "Process", build_process_annotation(rec, cap)) < 0 ||
        btc_json_set(a, "Memory Maps", build_maps_annotation(cap)) < 0) {
        json_decref(a);
        return -ENOMEM;
    }
    return btc_json_set(report, "annotations", a);
}

static int
add_modules(json_t *report, const struct btc_capture *cap)
{
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

static int
add_attributes(json_t *report, const struct btc_crash_record *rec, const struct btc_capture *cap,
               const struct btc_config *cfg, btc_cfg_warn_fn warn, void *warn_ctx)
{
    json_t *attrs = json_object();
    int r;

    if (!attrs)
        return -ENOMEM;
    r = btc_sysinfo_attributes(attrs, rec, cap);
    /* After the automatic ones, so that the user's win (DESIGN.md §3). A
     * malformed variable costs only the user attributes, never the report. */
    if (r >= 0)
        r = btc_attrs_from_text(attrs, cfg->attributes_json, warn, warn_ctx);
    if (r == -ENOMEM) {
        json_decref(attrs);
        return r;
    }
    return btc_json_set(report, "attributes", attrs);
}

json_t *
btc_report_build(const struct btc_crash_record *rec, const struct btc_capture *cap,
                 const struct btc_config *cfg, btc_cfg_warn_fn warn, void *warn_ctx)
{
    struct btc_source_opts sopts = {
        .collect = cfg->collect_source_code,
        .context_lines = cfg->context_line_count,
        .tab_width = cfg->tab_width,
    };
    struct btc_source *src = NULL;
    static const struct btc_capture no_capture;
    json_t *report = json_object(), *classifiers = NULL;
    const char *sig = btc_sig_name(rec->signo);
    char uuid[BTC_UUID_STR_LEN + 1], signum[32];
    long long timestamp = rec->fault_time_ns > 0 ? rec->fault_time_ns / 1000000000 : time(NULL);

    if (!report)
        return NULL;
    /* A missing random source is no reason to lose the crash; a uuid is
     * still needed to store it. */
    if (btc_uuid_v4(uuid) < 0)
        snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%04x%08x",
                 (unsigned)rec->pid & 0xffff, (unsigned)timestamp);
    if (!sig) {
        snprintf(signum, sizeof(signum), "signal %d", rec->signo);
        sig = signum;
    }
    if (btc_source_new(cap ? cap : &no_capture, &sopts, &src) < 0)
        goto fail;
    classifiers = json_array();
    if (!classifiers || btc_json_append(classifiers, btc_json_str(sig)) < 0)
        goto fail;
    if (btc_json_set_str(report, "uuid", uuid) < 0 ||
        btc_json_set_int(report, "timestamp", timestamp) < 0 ||
        btc_json_set_str(report, "lang", "c") < 0 ||
        btc_json_set_str(report, "langVersion", cap ? cap->lang_version : NULL) < 0 ||
        btc_json_set_str(report, "agent", "btcrash") < 0 ||
        btc_json_set_str(report, "agentVersion", BTCRASH_VERSION) < 0 ||
        add_threads(report, rec, cap, src) < 0 || btc_json_set(report, "arch", build_arch()) < 0 ||
        btc_json_set(report, "classifiers", json_incref(classifiers)) < 0 ||
        add_attributes(report, rec, cap, cfg, warn, warn_ctx) < 0 ||
        add_annotations(report, rec, cap) < 0 || add_modules(report, cap) < 0 ||
        btc_json_set(report, "sourceCode", json_incref(btc_source_entries(src))) < 0)
        goto fail;
    json_decref(classifiers);
    btc_source_free(src);
    return report;
fail:
    json_decref(classifiers);
    btc_source_free(src);
    json_decref(report);
    return NULL;
}
