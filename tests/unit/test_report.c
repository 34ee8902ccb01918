/* test_report: the Backtrace JSON report (report/report.c) built from a
 * hand-made crash record and view of a capture of this very process, for a
 * crash and for a C API report with its user data, and its rendering
 * (report/print.c). */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "print.h"
#include "report.h"
#include "sysinfo.h"
#include "uuid.h"
#include "utf8.h"
#include "view.h"

#define FFFD         BTC_UTF8_REPLACEMENT
#define OTHER_TID    999999
#define SOURCE_LINES 50
#define CONTEXT      3

struct warnings {
    char text[4096];
    size_t n;
};

struct fixture {
    char source[64]; /* a temporary C file of SOURCE_LINES lines */
    struct btc_crash_record rec;
    struct btc_module modules[4]; /* [2], [3]: btcrash's own, API tests only */
    struct btc_frame main_frames[4];
    struct btc_frame api_frames[7]; /* two btcrash frames, then main_frames */
    struct btc_frame other_frames[2];
    struct btc_thread threads[2];
    struct btc_capture cap;
    struct btc_view view;
    struct btc_config cfg;
    struct warnings w;
    char tid[16];
};

static void
collect_warning(const char *line, size_t len, void *ctx)
{
    struct warnings *w = ctx;

    if (w->n + len < sizeof(w->text)) {
        memcpy(w->text + w->n, line, len);
        w->n += len;
        w->text[w->n] = '\0';
    }
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    FILE *fp;
    int fd;

    if (!f)
        return -1;
    strcpy(f->source, "/tmp/btc-test-src-XXXXXX.c");
    fd = mkstemps(f->source, 2);
    if (fd < 0 || !(fp = fdopen(fd, "w")))
        return -1;
    for (int i = 1; i <= SOURCE_LINES; i++)
        fprintf(fp, "line %d\n", i);
    fclose(fp);

    f->rec.magic = BTC_RECORD_MAGIC;
    f->rec.version = BTC_RECORD_VERSION;
    f->rec.pid = getpid();
    f->rec.tid = gettid();
    f->rec.signo = SIGSEGV;
    f->rec.si_code = 1; /* SEGV_MAPERR */
    f->rec.fault_address = 0;
    f->rec.fault_time_ns = INT64_C(1700000000123456789);
    for (int i = 0; i < BTC_REG_COUNT; i++)
        f->rec.regs[i] = 0x1000 + (uint64_t)i;
    f->rec.eflags = 0x246;

    f->modules[0] = (struct btc_module){.start = 0x400000,
                                        .size = 0x2000,
                                        .path = "/opt/demo\xfe/bin/demo",
                                        .build_id = "0123abcd",
                                        .debug_file = "/opt/demo\xfe/bin/demo",
                                        .debug_file_exists = true};
    f->modules[1] =
        (struct btc_module){.start = 0x7f0000000000, .size = 0x1000, .path = "/lib/libc.so.6"};

    /* Faulting thread: lines 10 and 14 merge (ranges 7-13 and 11-17), 40 is
     * apart (37-43); the last frame has no file. */
    f->main_frames[0] = (struct btc_frame){.pc = 0x401000,
                                           .func = "crash",
                                           .file = f->source,
                                           .line = 10,
                                           .column = 5,
                                           .module = f->modules[0].path};
    f->main_frames[1] = (struct btc_frame){.pc = 0x401000,
                                           .func = "helper",
                                           .file = f->source,
                                           .line = 14,
                                           .column = 3,
                                           .module = f->modules[0].path,
                                           .inlined = true};
    f->main_frames[2] = (struct btc_frame){.pc = 0x401100,
                                           .func = "main",
                                           .file = f->source,
                                           .line = 40,
                                           .module = f->modules[0].path};
    f->main_frames[3] = (struct btc_frame){
        .pc = 0x7f0000000100, .func = "__libc_start_call_main", .module = f->modules[1].path};
    f->other_frames[0] = (struct btc_frame){.pc = 0x401050,
                                            .func = "worker",
                                            .file = f->source,
                                            .line = 12,
                                            .module = f->modules[0].path};
    f->other_frames[1] = (struct btc_frame){.pc = 0x401060,
                                            .func = "elsewhere",
                                            .file = "/nonexistent/dir/x.c",
                                            .line = 5,
                                            .module = f->modules[0].path};

    f->threads[0] = (struct btc_thread){.tid = f->rec.tid,
                                        .name = "main\xff",
                                        .fault = true,
                                        .frames = f->main_frames,
                                        .nframes = 4};
    f->threads[1] = (struct btc_thread){
        .tid = OTHER_TID, .name = "worker", .frames = f->other_frames, .nframes = 2};
    f->cap = (struct btc_capture){.rec = f->rec,
                                  .ptrace_ok = true,
                                  .exe_path = "/opt/demo\xfe/bin/demo",
                                  .lang_version = "GCC: (Debian 12.2.0-14) 12.2.0",
                                  .fault_thread = 0,
                                  .modules = f->modules,
                                  .nmodules = 2};
    if (btc_uuid_v4(f->cap.uuid) < 0 ||
        btc_sysinfo_collect(f->rec.pid, f->cap.exe_path, &f->cap.facts) < 0)
        return -1;
    f->view =
        (struct btc_view){.cap = &f->cap, .threads = f->threads, .nthreads = 2, .fault_thread = 0};
    f->modules[2] = (struct btc_module){
        .start = 0x7f1000000000, .size = 0x1000, .path = "/usr/lib/libbtcrash-api.so"};
    f->modules[3] = (struct btc_module){
        .start = 0x7f2000000000, .size = 0x1000, .path = "/usr/lib/libbtcrash.so.0"};
    f->api_frames[0] = (struct btc_frame){.pc = 0x7f1000000010,
                                          .func = "btcrash_api_capture_stack",
                                          .file = "/nonexistent/btcrash/api.c",
                                          .line = 7,
                                          .module = f->modules[2].path};
    f->api_frames[1] = (struct btc_frame){
        .pc = 0x7f2000000010, .func = "btcrash_report_capture_stack", .module = f->modules[3].path};
    memcpy(&f->api_frames[2], f->main_frames, sizeof(f->main_frames));
    btc_cfg_defaults(&f->cfg);
    f->cfg.context_line_count = CONTEXT;
    snprintf(f->tid, sizeof(f->tid), "%d", f->rec.tid);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->source);
    json_decref(f->cap.facts);
    free(f);
    return 0;
}

static json_t *
build(struct fixture *f)
{
    struct btc_report_parts parts = {.view = &f->view, .source_text = true};
    json_t *report = btc_report_build(&f->rec, &parts, &f->cfg, collect_warning, &f->w);
    char *text;

    assert_non_null(report);
    /* jansson's dump refuses invalid UTF-8: a dump that works proves every
     * string in the report is valid. */
    text = json_dumps(report, 0);
    assert_non_null(text);
    free(text);
    return report;
}

static json_t *
thread(json_t *report, const char *tid)
{
    return json_object_get(json_object_get(report, "threads"), tid);
}

static json_t *
frame(json_t *report, const char *tid, size_t i)
{
    return json_array_get(json_object_get(thread(report, tid), "stack"), i);
}

static const char *
sget(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    assert_true(json_is_string(v));
    return json_string_value(v);
}

static json_t *
source_of(json_t *report, json_t *fr)
{
    return json_object_get(json_object_get(report, "sourceCode"), sget(fr, "sourceCode"));
}

static void
test_report_has_required_fields_with_their_types(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    const char *uuid = sget(r, "uuid");

    assert_int_equal(strlen(uuid), 36);
    assert_int_equal(uuid[14], '4'); /* version 4 */
    assert_non_null(strchr("89ab", uuid[19]));
    assert_true(json_is_integer(json_object_get(r, "timestamp")));
    assert_int_equal(json_integer_value(json_object_get(r, "timestamp")), 1700000000);
    assert_string_equal(sget(r, "lang"), "c");
    assert_string_equal(sget(r, "langVersion"), "GCC: (Debian 12.2.0-14) 12.2.0");
    assert_string_equal(sget(r, "agent"), "btcrash");
    assert_string_equal(sget(r, "agentVersion"), BTCRASH_VERSION);
    assert_string_equal(sget(r, "mainThread"), f->tid);
    assert_int_equal(json_object_size(json_object_get(r, "threads")), 2);
    assert_true(json_is_array(json_object_get(r, "classifiers")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "classifiers"), 0)),
                        "SIGSEGV");
    assert_true(json_is_object(json_object_get(r, "attributes")));
    assert_true(json_is_object(json_object_get(r, "annotations")));
    assert_true(json_is_array(json_object_get(r, "modules")));
    assert_true(json_is_object(json_object_get(r, "sourceCode")));
    json_decref(r);
}

static void
test_report_threads_are_keyed_by_tid_with_fault_flag(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    char other[16];

    snprintf(other, sizeof(other), "%d", OTHER_TID);
    assert_true(json_is_true(json_object_get(thread(r, f->tid), "fault")));
    assert_true(json_is_false(json_object_get(thread(r, other), "fault")));
    assert_string_equal(sget(thread(r, other), "name"), "worker");
    assert_int_equal(json_array_size(json_object_get(thread(r, f->tid), "stack")), 4);
    json_decref(r);
}

static void
test_report_frames_carry_func_address_library_line_and_inlined(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    json_t *f0 = frame(r, f->tid, 0), *f1 = frame(r, f->tid, 1), *f3 = frame(r, f->tid, 3);

    assert_string_equal(sget(f0, "funcName"), "crash");
    assert_string_equal(sget(f0, "address"), "0x401000");
    assert_string_equal(sget(f0, "library"), "/opt/demo" FFFD "/bin/demo");
    assert_int_equal(json_integer_value(json_object_get(f0, "line")), 10);
    assert_int_equal(json_integer_value(json_object_get(f0, "column")), 5);
    assert_null(json_object_get(f0, "inlined"));
    assert_true(json_is_true(json_object_get(f1, "inlined")));
    assert_null(json_object_get(f3, "sourceCode")); /* no file: no id */
    assert_null(json_object_get(f3, "line"));
    json_decref(r);
}

static void
test_report_top_faulting_frame_has_named_registers_and_arch(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    json_t *regs = json_object_get(frame(r, f->tid, 0), "registers");
    json_t *arch = json_object_get(r, "arch");

    assert_true(json_is_object(regs));
    assert_string_equal(sget(regs, "rax"), "0x1000"); /* DWARF 0 */
    assert_string_equal(sget(regs, "rdx"), "0x1001"); /* DWARF 1 */
    assert_string_equal(sget(regs, "rbx"), "0x1003"); /* DWARF 3 */
    assert_string_equal(sget(regs, "rsp"), "0x1007");
    assert_string_equal(sget(regs, "r15"), "0x100f");
    assert_string_equal(sget(regs, "rip"), "0x1010");
    assert_string_equal(sget(regs, "eflags"), "0x246");
    assert_true(json_is_true(json_object_get(frame(r, f->tid, 0), "faulted")));
    assert_null(json_object_get(frame(r, f->tid, 1), "registers"));

    assert_true(json_is_object(arch));
    assert_true(json_is_string(json_object_get(arch, "name")));
    /* Every register a frame carries is declared in arch. */
    {
        const char *name;
        json_t *v;

        json_object_foreach(regs, name, v)
            assert_non_null(json_object_get(json_object_get(arch, "registers"), name));
    }
    json_decref(r);
}

static void
test_report_source_ranges_in_one_file_merge(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    json_t *f0 = frame(r, f->tid, 0), *f1 = frame(r, f->tid, 1), *f2 = frame(r, f->tid, 2);
    json_t *s0 = source_of(r, f0), *s2 = source_of(r, f2);

    /* Lines 10 and 14 with 3 lines of context: one entry, lines 7..17. */
    assert_string_equal(sget(f0, "sourceCode"), sget(f1, "sourceCode"));
    assert_string_equal(sget(s0, "path"), f->source);
    assert_int_equal(json_integer_value(json_object_get(s0, "startLine")), 7);
    assert_int_equal(json_integer_value(json_object_get(s0, "startColumn")), 1);
    assert_int_equal(json_integer_value(json_object_get(s0, "tabWidth")), 8);
    assert_string_equal(sget(s0, "text"), "line 7\nline 8\nline 9\nline 10\nline 11\nline 12\n"
                                          "line 13\nline 14\nline 15\nline 16\nline 17\n");
    /* Line 40 is too far away: an entry of its own. */
    assert_string_not_equal(sget(f0, "sourceCode"), sget(f2, "sourceCode"));
    assert_int_equal(json_integer_value(json_object_get(s2, "startLine")), 37);
    assert_string_equal(sget(s2, "text"),
                        "line 37\nline 38\nline 39\nline 40\nline 41\nline 42\nline 43\n");
    json_decref(r);
}

static void
test_report_every_frame_with_a_file_has_a_source_entry_with_path(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    char other[16];
    json_t *w0, *w1;

    snprintf(other, sizeof(other), "%d", OTHER_TID);
    w0 = frame(r, other, 0);
    w1 = frame(r, other, 1);
    /* Another thread's frame inside a faulting-thread range shares it. */
    assert_string_equal(sget(w0, "sourceCode"), sget(frame(r, f->tid, 0), "sourceCode"));
    /* A file that cannot be read: path only. */
    assert_string_equal(sget(source_of(r, w1), "path"), "/nonexistent/dir/x.c");
    assert_null(json_object_get(source_of(r, w1), "text"));
    json_decref(r);
}

static void
test_report_without_source_collection_sends_paths_only(void **state)
{
    struct fixture *f = *state;
    json_t *r, *s0;

    f->cfg.collect_source_code = false;
    r = build(f);
    s0 = source_of(r, frame(r, f->tid, 0));
    assert_string_equal(sget(s0, "path"), f->source);
    assert_null(json_object_get(s0, "text"));
    /* One path-only entry per file. */
    assert_string_equal(sget(frame(r, f->tid, 0), "sourceCode"),
                        sget(frame(r, f->tid, 2), "sourceCode"));
    json_decref(r);
}

static void
test_report_source_text_respects_total_budget_from_innermost(void **state)
{
    struct fixture *f = *state;
    json_t *r, *s0;

    /* Context large enough to take the whole file: one entry from line 1. */
    f->cfg.context_line_count = 1000;
    r = build(f);
    s0 = source_of(r, frame(r, f->tid, 0));
    assert_int_equal(json_integer_value(json_object_get(s0, "startLine")), 1);
    assert_non_null(strstr(sget(s0, "text"), "line 50\n"));
    assert_string_equal(sget(frame(r, f->tid, 0), "sourceCode"),
                        sget(frame(r, f->tid, 2), "sourceCode"));
    json_decref(r);
}

static void
test_report_invalid_utf8_in_thread_name_and_paths_becomes_valid(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    json_t *mod = json_array_get(json_object_get(r, "modules"), 0);

    assert_string_equal(sget(thread(r, f->tid), "name"), "main" FFFD);
    assert_string_equal(sget(mod, "code_file"), "/opt/demo" FFFD "/bin/demo");
    assert_string_equal(sget(json_object_get(r, "attributes"), "application"), "demo");
    json_decref(r);
}

static void
test_report_automatic_attributes_describe_the_fault(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    json_t *a = json_object_get(r, "attributes");

    assert_string_equal(sget(a, "error.type"), "Crash");
    assert_string_equal(sget(a, "error.message"), "SIGSEGV (SEGV_MAPERR) at 0x0");
    assert_string_equal(sget(a, "signal"), "SIGSEGV");
    assert_string_equal(sget(a, "signal.code"), "SEGV_MAPERR");
    assert_string_equal(sget(a, "fault.address"), "0x0");
    assert_int_equal(json_integer_value(json_object_get(a, "process.id")), getpid());
    assert_true(json_is_integer(json_object_get(a, "process.age")));
    assert_true(json_integer_value(json_object_get(a, "process.thread.count")) >= 1);
    assert_true(json_is_string(json_object_get(a, "process.cwd")));
    assert_true(json_is_string(json_object_get(a, "hostname")));
    assert_true(json_is_string(json_object_get(a, "uname.sysname")));
    assert_true(json_is_string(json_object_get(a, "cpu.arch")));
    assert_true(json_integer_value(json_object_get(a, "cpu.count")) >= 1);
    assert_true(json_integer_value(json_object_get(a, "system.memory.total")) > 0);
    assert_true(json_integer_value(json_object_get(a, "vm.rss.size")) > 0);
    assert_true(json_integer_value(json_object_get(a, "descriptor.count")) >= 1);
    assert_int_equal(strlen(sget(a, "application.session")), 36);
    assert_string_equal(sget(a, "backtrace.agent"), "btcrash");
    assert_string_equal(sget(a, "backtrace.version"), BTCRASH_VERSION);
    /* Only primitives. */
    {
        const char *k;
        json_t *v;

        json_object_foreach(a, k, v)
            assert_true(json_is_string(v) || json_is_number(v) || json_is_boolean(v));
    }
    json_decref(r);
}

static void
test_report_user_attributes_override_automatic_ones(void **state)
{
    struct fixture *f = *state;
    json_t *r, *a;

    f->cfg.attributes_json = "{\"application\":\"svc\",\"deploy\":{\"region\":\"eu\"}}";
    r = build(f);
    a = json_object_get(r, "attributes");
    assert_string_equal(sget(a, "application"), "svc");
    assert_string_equal(sget(a, "deploy.region"), "eu");
    assert_string_equal(sget(a, "error.type"), "Crash");
    assert_int_equal(f->w.n, 0);
    json_decref(r);
}

static void
test_report_invalid_attributes_warn_and_report_goes_on(void **state)
{
    struct fixture *f = *state;
    json_t *r;

    f->cfg.attributes_json = "{not json";
    r = build(f);
    assert_non_null(strstr(f->w.text, "BACKTRACE_ATTRIBUTES"));
    assert_string_equal(sget(json_object_get(r, "attributes"), "application"), "demo");
    json_decref(r);
}

static void
test_report_annotations_hold_crash_process_and_maps_but_no_environment(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    json_t *ann = json_object_get(r, "annotations"), *crash = json_object_get(ann, "Crash");
    json_t *proc = json_object_get(ann, "Process");

    assert_string_equal(sget(crash, "signal"), "SIGSEGV");
    assert_string_equal(sget(crash, "code"), "SEGV_MAPERR");
    assert_string_equal(sget(crash, "fault.address"), "0x0");
    assert_true(json_is_integer(json_object_get(crash, "errno")));
    assert_null(json_object_get(crash, "note.capture"));
    assert_true(json_array_size(json_object_get(proc, "argv")) >= 1);
    assert_true(json_is_string(json_object_get(proc, "cwd")));
    assert_int_equal(json_array_size(json_object_get(ann, "Memory Maps")), 2);
    assert_null(json_object_get(ann, "Environment Variables"));
    assert_int_equal(json_object_size(ann), 3);
    json_decref(r);
}

static void
test_report_modules_have_build_id_and_debug_file(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    json_t *m0 = json_array_get(json_object_get(r, "modules"), 0);
    json_t *m1 = json_array_get(json_object_get(r, "modules"), 1);

    assert_int_equal(json_integer_value(json_object_get(m0, "start")), 0x400000);
    assert_int_equal(json_integer_value(json_object_get(m0, "size")), 0x2000);
    assert_string_equal(sget(m0, "debug_identifier"), "0123abcd");
    assert_true(json_is_true(json_object_get(m0, "debug_file_exists")));
    assert_null(json_object_get(m1, "debug_identifier"));
    assert_true(json_is_false(json_object_get(m1, "debug_file_exists")));
    json_decref(r);
}

static void
test_report_without_ptrace_notes_why_other_threads_are_missing(void **state)
{
    struct fixture *f = *state;
    json_t *r, *crash;

    f->cap.ptrace_ok = false;
    f->cap.ptrace_error = "ptrace: Operation not permitted";
    f->view.nthreads = 1;
    r = build(f);
    crash = json_object_get(json_object_get(r, "annotations"), "Crash");
    assert_non_null(strstr(sget(crash, "note.capture"), "ptrace: Operation not permitted"));
    json_decref(r);
}

static void
test_report_sent_signal_names_the_sender(void **state)
{
    struct fixture *f = *state;
    json_t *r, *a, *crash;

    f->rec.signo = SIGTERM;
    f->rec.si_code = 0; /* SI_USER */
    f->rec.sender_pid = 1;
    f->rec.sender_uid = 0;
    r = build(f);
    a = json_object_get(r, "attributes");
    assert_string_equal(sget(a, "error.message"), "SIGTERM (SI_USER) sent by pid 1, uid 0");
    assert_null(json_object_get(a, "fault.address"));
    crash = json_object_get(json_object_get(r, "annotations"), "Crash");
    assert_int_equal(json_integer_value(json_object_get(crash, "sender.pid")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "classifiers"), 0)),
                        "SIGTERM");
    json_decref(r);
}

static void
test_report_abort_is_raised_by_the_process_itself(void **state)
{
    struct fixture *f = *state;
    json_t *r;

    f->rec.signo = SIGABRT;
    f->rec.si_code = -6; /* SI_TKILL */
    f->rec.sender_pid = f->rec.pid;
    r = build(f);
    assert_string_equal(sget(json_object_get(r, "attributes"), "error.message"),
                        "SIGABRT (SI_TKILL) raised by the process itself");
    json_decref(r);
}

static char *render(json_t *report, bool summary);

/* glibc's abort text (capture.abort_message) replaces the signal's
 * description in error.message; the Crash annotation has both, and the
 * summary and readable report show the text after the signal. */
static void
test_report_abort_message_is_error_message_and_crash_annotation(void **state)
{
    static const char msg[] = "free(): double free detected in tcache 2";
    struct fixture *f = *state;
    json_t *r, *crash;
    char *text;

    f->rec.signo = SIGABRT;
    f->rec.si_code = -6; /* SI_TKILL */
    f->rec.sender_pid = f->rec.pid;
    f->cap.abort_message = (char *)msg;
    r = build(f);
    assert_string_equal(sget(json_object_get(r, "attributes"), "error.message"), msg);
    crash = json_object_get(json_object_get(r, "annotations"), "Crash");
    assert_string_equal(sget(crash, "abort.message"), msg);
    assert_string_equal(sget(crash, "description"),
                        "SIGABRT (SI_TKILL) raised by the process itself");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "classifiers"), 0)),
                        "SIGABRT");
    text = render(r, true);
    assert_non_null(strstr(text, " crashed with SIGABRT: free(): double free detected in "
                                 "tcache 2\n"));
    free(text);
    text = render(r, false);
    assert_non_null(strstr(text, " crashed with SIGABRT: free(): double free detected in "
                                 "tcache 2\n"));
    assert_non_null(strstr(text, "  abort.message: free(): double free detected in tcache 2\n"));
    free(text);
    json_decref(r);
}

/* Invalid UTF-8 in the text the program's memory held is repaired. */
static void
test_report_abort_message_invalid_utf8_becomes_valid(void **state)
{
    struct fixture *f = *state;
    json_t *r;

    f->rec.signo = SIGABRT;
    f->rec.si_code = -6;
    f->rec.sender_pid = f->rec.pid;
    f->cap.abort_message = "prog: f\xff.c:1: main: Assertion `0' failed.";
    r = build(f); /* dumps: every string valid */
    assert_string_equal(sget(json_object_get(r, "attributes"), "error.message"),
                        "prog: f\xef\xbf\xbd.c:1: main: Assertion `0' failed.");
    json_decref(r);
}

static void
test_report_without_capture_still_names_the_faulting_thread(void **state)
{
    struct fixture *f = *state;
    struct btc_report_parts none = {0};
    json_t *r = btc_report_build(&f->rec, &none, &f->cfg, NULL, NULL);

    assert_non_null(r);
    assert_string_equal(sget(r, "mainThread"), f->tid);
    assert_true(json_is_true(json_object_get(thread(r, f->tid), "fault")));
    assert_string_equal(sget(r, "langVersion"), "");
    json_decref(r);
}

/* Make the fixture an API report: a record as btcrash_report_send writes
 * it, and the calling thread's stack starting in btcrash's libraries. */
static void
make_api(struct fixture *f)
{
    f->rec.flags = BTC_RECORD_F_API;
    f->rec.signo = 0;
    f->rec.si_code = 0;
    f->threads[0].frames = f->api_frames;
    f->threads[0].nframes = 6;
    f->cap.nmodules = 4;
}

static json_t *
build_api(struct fixture *f, const char *userdata_text)
{
    json_error_t err;
    json_t *ud = json_loads(userdata_text, 0, &err), *report;
    struct btc_report_parts parts;
    char why[256], *text;

    assert_non_null(ud);
    assert_int_equal(btc_report_userdata_check(ud, why, sizeof(why)), 0);
    parts = (struct btc_report_parts){.view = &f->view, .source_text = true, .userdata = ud};
    report = btc_report_build(&f->rec, &parts, &f->cfg, collect_warning, &f->w);
    json_decref(ud);
    assert_non_null(report);
    text = json_dumps(report, 0);
    assert_non_null(text);
    free(text);
    return report;
}

static void
test_report_api_error_type_defaults_to_exception_with_nothing_of_a_signal(void **state)
{
    struct fixture *f = *state;
    json_t *r, *a, *ann;

    make_api(f);
    r = build_api(f, "{}");
    a = json_object_get(r, "attributes");
    ann = json_object_get(r, "annotations");
    assert_string_equal(sget(a, "error.type"), "Exception");
    assert_null(json_object_get(a, "error.message"));
    assert_null(json_object_get(a, "signal"));
    assert_null(json_object_get(a, "signal.code"));
    assert_null(json_object_get(a, "fault.address"));
    assert_null(json_object_get(r, "classifiers"));
    assert_null(json_object_get(ann, "Crash"));
    assert_null(json_object_get(ann, "Log"));
    assert_null(json_object_get(ann, "btcrash")); /* nothing to note */
    assert_non_null(json_object_get(ann, "Process"));
    assert_non_null(json_object_get(ann, "Memory Maps"));
    /* The automatic attributes are still there. */
    assert_string_equal(sget(a, "application"), "demo");
    assert_true(json_is_string(json_object_get(a, "hostname")));
    json_decref(r);
}

static void
test_report_api_message_report_and_classifier_come_from_error(void **state)
{
    struct fixture *f = *state;
    json_t *r, *a;

    make_api(f);
    r = build_api(f, "{\"error\": {\"type\": \"Message\", \"message\": \"disk almost full\"}}");
    a = json_object_get(r, "attributes");
    assert_string_equal(sget(a, "error.type"), "Message");
    assert_string_equal(sget(a, "error.message"), "disk almost full");
    assert_null(json_object_get(r, "classifiers"));
    json_decref(r);

    r = build_api(f, "{\"error\": {\"type\": \"Exception\", \"classifier\": \"ConfigError\","
                     " \"message\": \"bad key\"}}");
    a = json_object_get(r, "attributes");
    assert_string_equal(sget(a, "error.type"), "Exception");
    assert_string_equal(sget(a, "error.message"), "bad key");
    assert_int_equal(json_array_size(json_object_get(r, "classifiers")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "classifiers"), 0)),
                        "ConfigError");
    json_decref(r);
}

static void
test_report_api_attributes_override_environment_which_overrides_automatic(void **state)
{
    struct fixture *f = *state;
    json_t *r, *a;

    make_api(f);
    f->cfg.attributes_json =
        "{\"application\": \"from-env\", \"shared\": \"from-env\", \"env.only\": 1}";
    r = build_api(f, "{\"attributes\": {\"shared\": \"from-report\", \"hostname\": \"h\","
                     " \"n\": 2.5, \"b\": false, \"error.type\": \"Custom\"},"
                     " \"error\": {\"type\": \"Message\", \"message\": \"m\"}}");
    a = json_object_get(r, "attributes");
    assert_string_equal(sget(a, "application"), "from-env"); /* env over automatic */
    assert_string_equal(sget(a, "shared"), "from-report");   /* report over env */
    assert_string_equal(sget(a, "hostname"), "h");           /* report over automatic */
    assert_int_equal(json_integer_value(json_object_get(a, "env.only")), 1);
    assert_true(json_real_value(json_object_get(a, "n")) == 2.5);
    assert_true(json_is_false(json_object_get(a, "b")));
    /* The report's attributes are the last word, even on error.type. */
    assert_string_equal(sget(a, "error.type"), "Custom");
    assert_string_equal(sget(a, "error.message"), "m");
    assert_int_equal(f->w.n, 0);
    json_decref(r);
}

static void
test_report_api_log_annotation_and_user_annotations_win(void **state)
{
    struct fixture *f = *state;
    json_t *r, *ann, *log;

    make_api(f);
    r = build_api(f, "{\"log\": [{\"ts\": 1700000000.25, \"msg\": \"first\"},"
                     " {\"ts\": 1700000001, \"msg\": \"second\"}],"
                     " \"annotations\": {\"Process\": \"mine\", \"Extra\": {\"k\": [1, 2]}}}");
    ann = json_object_get(r, "annotations");
    log = json_object_get(ann, "Log");
    assert_int_equal(json_array_size(log), 2);
    assert_string_equal(sget(json_array_get(log, 1), "msg"), "second");
    assert_true(json_real_value(json_object_get(json_array_get(log, 0), "ts")) == 1700000000.25);
    assert_string_equal(json_string_value(json_object_get(ann, "Process")), "mine");
    assert_int_equal(json_array_size(json_object_get(json_object_get(ann, "Extra"), "k")), 2);
    assert_non_null(json_object_get(ann, "Memory Maps"));
    json_decref(r);

    /* An empty log adds nothing. */
    r = build_api(f, "{\"log\": []}");
    assert_null(json_object_get(json_object_get(r, "annotations"), "Log"));
    json_decref(r);
}

static void
test_report_api_calling_thread_starts_at_caller_without_registers(void **state)
{
    struct fixture *f = *state;
    json_t *r, *stack, *sources, *v;
    const char *key;
    char other[16];

    make_api(f);
    r = build_api(f, "{}");
    assert_string_equal(sget(r, "mainThread"), f->tid);
    assert_true(json_is_true(json_object_get(thread(r, f->tid), "fault")));
    snprintf(other, sizeof(other), "%d", OTHER_TID);
    assert_true(json_is_false(json_object_get(thread(r, other), "fault")));
    /* Both btcrash frames are gone: the stack starts at the caller. */
    stack = json_object_get(thread(r, f->tid), "stack");
    assert_int_equal(json_array_size(stack), 4);
    assert_string_equal(sget(frame(r, f->tid, 0), "funcName"), "crash");
    assert_string_equal(sget(frame(r, f->tid, 1), "funcName"), "helper");
    /* No fault context: btcrash's registers are not the program's. */
    assert_null(json_object_get(frame(r, f->tid, 0), "registers"));
    assert_null(json_object_get(frame(r, f->tid, 0), "faulted"));
    assert_null(json_object_get(r, "arch"));
    /* Source context as for a crash's faulting thread, and none spent on
     * btcrash's own files. */
    assert_string_equal(sget(source_of(r, frame(r, f->tid, 0)), "text"),
                        "line 7\nline 8\nline 9\nline 10\nline 11\nline 12\n"
                        "line 13\nline 14\nline 15\nline 16\nline 17\n");
    sources = json_object_get(r, "sourceCode");
    json_object_foreach(sources, key, v)
        assert_string_not_equal(sget(v, "path"), "/nonexistent/btcrash/api.c");
    json_decref(r);
}

static void
test_report_api_keeps_frames_when_the_caller_is_not_btcrash(void **state)
{
    struct fixture *f = *state;
    json_t *r;

    /* A btcrash frame below another module's is not at the top: kept. */
    make_api(f);
    f->api_frames[0].module = f->modules[0].path;
    r = build_api(f, "{}");
    assert_int_equal(json_array_size(json_object_get(thread(r, f->tid), "stack")), 6);
    assert_string_equal(sget(frame(r, f->tid, 1), "funcName"), "btcrash_report_capture_stack");
    json_decref(r);
}

static void
test_report_api_notes_capture_and_attachments_in_btcrash_annotation(void **state)
{
    struct fixture *f = *state;
    json_t *r, *notes, *problems = json_array();

    make_api(f);
    f->cap.ptrace_ok = false;
    f->cap.ptrace_error = "ptrace(PTRACE_SEIZE): every thread is traced by another process";
    f->view.nthreads = 1;
    r = build_api(f, "{}");
    notes = json_object_get(json_object_get(r, "annotations"), "btcrash");
    assert_non_null(strstr(sget(notes, "note.capture"), "only the calling thread was captured"));
    assert_non_null(strstr(sget(notes, "note.capture"), "traced by another process"));

    assert_int_equal(json_array_append_new(problems, json_string("attachment /x skipped")), 0);
    assert_int_equal(btc_report_note_attachments(r, true, problems), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(notes, "attachments"), 0)),
                        "attachment /x skipped");
    json_array_clear(problems);
    assert_int_equal(btc_report_note_attachments(r, true, problems), 0);
    assert_null(json_object_get(notes, "attachments"));
    json_decref(r);

    /* Nothing else to note: the annotation is made for the attachments. */
    f->cap.ptrace_ok = true;
    f->view.nthreads = 2;
    r = build_api(f, "{}");
    assert_null(json_object_get(json_object_get(r, "annotations"), "btcrash"));
    assert_int_equal(json_array_append_new(problems, json_string("attachment /y skipped")), 0);
    assert_int_equal(btc_report_note_attachments(r, true, problems), 0);
    notes = json_object_get(json_object_get(r, "annotations"), "btcrash");
    assert_int_equal(json_array_size(json_object_get(notes, "attachments")), 1);
    json_decref(r);
    json_decref(problems);
}

static void
test_report_api_without_capture_names_the_calling_thread(void **state)
{
    struct fixture *f = *state;
    json_t *ud = json_object(), *r;
    struct btc_report_parts parts = {.userdata = ud};

    make_api(f);
    r = btc_report_build(&f->rec, &parts, &f->cfg, NULL, NULL);
    assert_non_null(r);
    assert_string_equal(sget(r, "mainThread"), f->tid);
    assert_true(json_is_true(json_object_get(thread(r, f->tid), "fault")));
    assert_string_equal(
        sget(json_object_get(json_object_get(r, "annotations"), "btcrash"), "note.capture"),
        "the stack could not be captured");
    json_decref(r);
    json_decref(ud);
}

static void
test_report_userdata_check_names_what_is_wrong(void **state)
{
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"attributes\": []}", "\"attributes\""},
        {"{\"annotations\": 1}", "\"annotations\""},
        {"{\"log\": {}}", "\"log\""},
        {"{\"log\": [\"text\"]}", "\"log\""},
        {"{\"attachments\": \"/a:/b\"}", "\"attachments\""},
        {"{\"attachments\": [\"\"]}", "\"attachments\""},
        {"{\"attachments\": [\"/a\\u0000b\"]}", "\"attachments\""},
        {"{\"error\": \"x\"}", "\"error\""},
        {"{\"error\": {\"type\": 1}}", "\"error\""},
        {"{\"error\": {\"message\": null}}", "\"error\""},
    };
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *ud = json_loads(bad[i].text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

        assert_non_null(ud);
        assert_int_equal(btc_report_userdata_check(ud, why, sizeof(why)), -EINVAL);
        assert_non_null(strstr(why, bad[i].why));
        json_decref(ud);
    }
    {
        json_t *ud = json_loads("{\"attributes\": {}, \"annotations\": {}, \"log\": [],"
                                " \"attachments\": [\"/a:b\"], \"error\": {\"type\": \"Message\"},"
                                " \"future\": 1}",
                                0, NULL);

        assert_int_equal(btc_report_userdata_check(ud, why, sizeof(why)), 0);
        json_decref(ud);
    }
}

static char *
render(json_t *report, bool summary)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    assert_non_null(out);
    if (summary)
        btc_print_summary(out, report, "/db/x.json");
    else
        btc_print_report(out, report, false);
    fclose(out);
    return buf;
}

static void
test_print_summary_shows_message_top_frames_and_path(void **state)
{
    struct fixture *f = *state;
    json_t *r = build(f);
    char *text = render(r, true), expected[256];

    assert_non_null(strstr(text, "crashed: SIGSEGV (SEGV_MAPERR) at 0x0\n"));
    snprintf(expected, sizeof(expected), "#0  crash at %s:10\n", f->source);
    assert_non_null(strstr(text, expected));
    assert_non_null(strstr(text, "helper at"));
    assert_non_null(strstr(text, "(inlined)"));
    assert_non_null(strstr(text, "__libc_start_call_main in libc.so.6\n"));
    assert_non_null(strstr(text, "report stored in /db/x.json\n"));
    assert_null(strstr(text, "worker")); /* other threads are not in the summary */
    free(text);
    json_decref(r);
}

static void
test_print_report_marks_faulting_line_and_escapes_control_bytes(void **state)
{
    struct fixture *f = *state;
    json_t *r;
    char *text;

    f->threads[1].name = "evil\033[2J";
    r = build(f);
    text = render(r, false);
    assert_non_null(strstr(text, ">     10  line 10\n"));
    assert_non_null(strstr(text, "       9  line 9\n"));
    assert_non_null(strstr(text, "worker"));
    assert_non_null(strstr(text, "Attributes"));
    assert_non_null(strstr(text, "error.type = Crash"));
    assert_non_null(strstr(text, "Annotation: Crash"));
    assert_null(strchr(text, '\033'));
    assert_non_null(strstr(text, "evil\\x1b[2J"));
    free(text);
    json_decref(r);
}

static void
test_print_api_report_says_reported_not_crashed(void **state)
{
    struct fixture *f = *state;
    json_t *r;
    char *text;

    make_api(f);
    r = build_api(f, "{\"error\": {\"type\": \"Exception\", \"message\": \"bad key\"}}");
    text = render(r, true);
    assert_non_null(strstr(text, " reported Exception: bad key\n"));
    assert_null(strstr(text, "crashed"));
    free(text);
    text = render(r, false);
    assert_non_null(strstr(text, " reported Exception: bad key\n"));
    assert_non_null(strstr(text, " (reported)"));
    assert_null(strstr(text, "crashed"));
    free(text);
    json_decref(r);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_report_has_required_fields_with_their_types),
        T(test_report_threads_are_keyed_by_tid_with_fault_flag),
        T(test_report_frames_carry_func_address_library_line_and_inlined),
        T(test_report_top_faulting_frame_has_named_registers_and_arch),
        T(test_report_source_ranges_in_one_file_merge),
        T(test_report_every_frame_with_a_file_has_a_source_entry_with_path),
        T(test_report_without_source_collection_sends_paths_only),
        T(test_report_source_text_respects_total_budget_from_innermost),
        T(test_report_invalid_utf8_in_thread_name_and_paths_becomes_valid),
        T(test_report_automatic_attributes_describe_the_fault),
        T(test_report_user_attributes_override_automatic_ones),
        T(test_report_invalid_attributes_warn_and_report_goes_on),
        T(test_report_annotations_hold_crash_process_and_maps_but_no_environment),
        T(test_report_modules_have_build_id_and_debug_file),
        T(test_report_without_ptrace_notes_why_other_threads_are_missing),
        T(test_report_sent_signal_names_the_sender),
        T(test_report_abort_is_raised_by_the_process_itself),
        T(test_report_abort_message_is_error_message_and_crash_annotation),
        T(test_report_abort_message_invalid_utf8_becomes_valid),
        T(test_report_without_capture_still_names_the_faulting_thread),
        T(test_report_api_error_type_defaults_to_exception_with_nothing_of_a_signal),
        T(test_report_api_message_report_and_classifier_come_from_error),
        T(test_report_api_attributes_override_environment_which_overrides_automatic),
        T(test_report_api_log_annotation_and_user_annotations_win),
        T(test_report_api_calling_thread_starts_at_caller_without_registers),
        T(test_report_api_keeps_frames_when_the_caller_is_not_btcrash),
        T(test_report_api_notes_capture_and_attachments_in_btcrash_annotation),
        T(test_report_api_without_capture_names_the_calling_thread),
        T(test_report_userdata_check_names_what_is_wrong),
        T(test_print_summary_shows_message_top_frames_and_path),
        T(test_print_report_marks_faulting_line_and_escapes_control_bytes),
        T(test_print_api_report_says_reported_not_crashed),
    };

    return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
