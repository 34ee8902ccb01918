/* test_pipeline: the crash pipeline's stages on their own. A capture of
 * this very process (its memory map, raw frames at known functions, its
 * /proc facts) is written out as JSON and read back; the stored capture
 * is symbolicated from the files alone and rebuilt into the same report
 * as the live one. The report before symbolication keeps each frame's
 * module, offset and build-id; a symbol stage out of time says where it
 * stopped. */
#include <errno.h>
#include <fcntl.h>
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

#include "capture.h"
#include "clock.h"
#include "config.h"
#include "fileio.h"
#include "modules.h"
#include "names.h"
#include "report.h"
#include "symbols.h"
#include "sysinfo.h"
#include "uuid.h"
#include "view.h"

/* Functions whose addresses become the raw frames; noinline and called, so
 * that they exist with their own DWARF. */
__attribute__((noinline)) int pipeline_inner(int x);
__attribute__((noinline)) int pipeline_outer(int x);

__attribute__((noinline)) int
pipeline_inner(int x)
{
    return x * 3 + 1;
}

__attribute__((noinline)) int
pipeline_outer(int x)
{
    return pipeline_inner(x) + 2;
}

/* A capture of this process: two frames, pipeline_inner (the "faulting"
 * pc, its entry + 1) and pipeline_outer (a return address inside it). */
static struct btc_capture *
capture_self(void)
{
    struct btc_capture *c = calloc(1, sizeof(*c));
    struct btc_raw_thread *t;
    Dwfl *dwfl = NULL;
    char path[64];

    assert_non_null(c);
    assert_int_equal(pipeline_outer(1), 6);
    c->rec.magic = BTC_RECORD_MAGIC;
    c->rec.version = BTC_RECORD_VERSION;
    c->rec.header_size = sizeof(c->rec);
    c->rec.pid = getpid();
    c->rec.tid = gettid();
    c->rec.signo = SIGSEGV;
    c->rec.si_code = 1;
    c->rec.fault_time_ns = INT64_C(1700000000000000000);
    assert_int_equal(btc_uuid_v4(c->uuid), 0);
    snprintf(path, sizeof(path), "/proc/%d/maps", getpid());
    assert_int_equal(btc_file_read_at(AT_FDCWD, path, BTC_MAPS_MAX, 0, &c->maps, &c->maps_len), 0);
    assert_int_equal(btc_unwind_dwfl_open(getpid(), c->maps, c->maps_len, &dwfl), 0);
    assert_int_equal(btc_unwind_modules_list(dwfl, &c->modules, &c->nmodules), 0);
    dwfl_end(dwfl);
    c->exe_path = strdup("/proc/self/exe");
    c->ptrace_ok = true;
    assert_int_equal(btc_sysinfo_collect(getpid(), c->exe_path, &c->facts), 0);
    c->threads = calloc(1, sizeof(*c->threads));
    assert_non_null(c->threads);
    c->nthreads = 1;
    t = &c->threads[0];
    t->tid = c->rec.tid;
    t->name = strdup("test_pipeline");
    t->fault = true;
    t->frames = calloc(2, sizeof(*t->frames));
    assert_non_null(t->frames);
    t->frames[0] =
        (struct btc_raw_frame){.pc = (uint64_t)(uintptr_t)&pipeline_inner + 1, .activation = true};
    t->frames[1] = (struct btc_raw_frame){.pc = (uint64_t)(uintptr_t)&pipeline_outer + 8};
    t->nframes = 2;
    return c;
}

static json_t *
report_of(struct btc_capture *c, bool symbolicate)
{
    struct btc_config cfg;
    struct btc_symbols *syms = NULL;
    struct btc_view view;
    struct btc_report_parts parts = {0};
    char why[256];
    json_t *report;

    btc_cfg_defaults(&cfg);
    cfg.collect_source_code = false;
    if (symbolicate) {
        assert_int_equal(btc_symbols_new(c, NULL, &syms, why, sizeof(why)), 0);
        assert_int_equal(btc_symbols_modules(syms, 0), 0);
        assert_int_equal(btc_symbols_thread(syms, 0, 0), 0);
        assert_null(syms->stopped);
    }
    assert_int_equal(btc_view_build(c, syms, &view), 0);
    parts.view = &view;
    report = btc_report_build(&c->rec, &parts, &cfg, NULL, NULL);
    assert_non_null(report);
    btc_view_done(&view);
    btc_symbols_free(syms);
    return report;
}

static json_t *
frame(json_t *report, size_t i)
{
    json_t *threads = json_object_get(report, "threads");
    const char *main_tid = json_string_value(json_object_get(report, "mainThread"));

    return json_array_get(json_object_get(json_object_get(threads, main_tid), "stack"), i);
}

/* Written out and read back, then symbolicated from the files alone: the
 * same report as the capture symbolicated in place. */
static void
test_stored_capture_rebuilds_the_same_report(void **state)
{
    struct btc_capture *live = capture_self(), *stored = NULL;
    json_t *j = btc_capture_to_json(live), *back, *a, *b;
    char *text;

    (void)state;
    assert_non_null(j);
    text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    back = json_loads(text, 0, NULL);
    assert_non_null(back);
    assert_int_equal(btc_capture_from_json(back, &stored), 0);
    assert_int_equal(stored->nthreads, 1);
    assert_int_equal(stored->nmodules, live->nmodules);
    assert_int_equal(stored->maps_len, live->maps_len);

    a = report_of(live, true);
    b = report_of(stored, true);
    assert_true(json_equal(a, b));
    assert_string_equal(json_string_value(json_object_get(frame(a, 0), "funcName")),
                        "pipeline_inner");
    assert_true(json_integer_value(json_object_get(frame(a, 0), "line")) > 0);
    assert_string_equal(json_string_value(json_object_get(frame(a, 1), "funcName")),
                        "pipeline_outer");
    assert_string_equal(json_string_value(json_object_get(a, "uuid")), live->uuid);

    free(text);
    json_decref(a);
    json_decref(b);
    json_decref(j);
    json_decref(back);
    btc_capture_free(live);
    btc_capture_free(stored);
}

/* Before symbolication every frame keeps its place for a server that has
 * the symbols: address, library, module offset, build-id. */
static void
test_raw_report_keeps_module_offsets(void **state)
{
    struct btc_capture *c = capture_self();
    json_t *r = report_of(c, false), *f = frame(r, 0);
    uint64_t pc = c->threads[0].frames[0].pc, start = 0;
    const char *bid = NULL;
    char want[32];

    (void)state;
    for (size_t i = 0; i < c->nmodules; i++)
        if (pc >= c->modules[i].start && pc - c->modules[i].start < c->modules[i].size) {
            start = c->modules[i].start;
            bid = c->modules[i].build_id;
        }
    assert_non_null(f);
    assert_null(json_object_get(f, "funcName"));
    snprintf(want, sizeof(want), "0x%llx", (unsigned long long)(pc - start));
    assert_string_equal(json_string_value(json_object_get(f, "module_offset")), want);
    assert_non_null(bid);
    assert_string_equal(json_string_value(json_object_get(f, "debug_identifier")), bid);
    assert_non_null(json_string_value(json_object_get(f, "library")));
    json_decref(r);
    btc_capture_free(c);
}

/* Out of time before the first frame: nothing symbolicated, and the
 * symbols say where they stopped; given time, the same symbols finish. */
static void
test_symbols_stop_at_deadline_and_resume(void **state)
{
    struct btc_capture *c = capture_self();
    struct btc_symbols *s = NULL;
    char why[256], want[128];

    (void)state;
    assert_int_equal(btc_symbols_new(c, NULL, &s, why, sizeof(why)), 0);
    assert_int_equal(btc_symbols_thread(s, 0, btc_clock_now_ns() - 1), 1);
    snprintf(want, sizeof(want), "symbolication stopped at frame 0 of thread %d: time budget",
             c->threads[0].tid);
    assert_string_equal(s->stopped, want);
    assert_int_equal(s->threads[0].raw_done, 0);
    assert_int_equal(btc_symbols_thread(s, 0, 0), 0);
    assert_int_equal(s->threads[0].raw_done, 2);
    assert_string_equal(s->threads[0].frames[0].func, "pipeline_inner");
    btc_symbols_free(s);
    btc_capture_free(c);
}

/* A stack deeper than the frame cap: the frames left out between the kept
 * ones travel with a stored capture, and the report says how many and
 * where, symbolicated or not. */
static void
test_frames_left_out_round_trip(void **state)
{
    struct btc_capture *live = capture_self(), *stored = NULL;
    struct btc_raw_thread *t = &live->threads[0];
    json_t *j, *a, *raw, *th, *bad;

    (void)state;
    t->frames = realloc(t->frames, 3 * sizeof(*t->frames));
    assert_non_null(t->frames);
    t->frames[2] = t->frames[1];
    t->nframes = 3;
    t->omitted = 12345;
    t->omitted_at = 2;
    j = btc_capture_to_json(live);
    assert_non_null(j);
    assert_int_equal(btc_capture_from_json(j, &stored), 0);
    assert_int_equal(stored->threads[0].omitted, 12345);
    assert_int_equal(stored->threads[0].omitted_at, 2);
    for (int symbolicate = 0; symbolicate < 2; symbolicate++) {
        a = report_of(stored, symbolicate);
        th = json_object_get(json_object_get(a, "threads"),
                             json_string_value(json_object_get(a, "mainThread")));
        assert_int_equal(json_integer_value(json_object_get(th, "frames_omitted")), 12345);
        assert_int_equal(json_integer_value(json_object_get(th, "frames_omitted_at")), 2);
        assert_int_equal(json_array_size(json_object_get(th, "stack")), 3);
        raw =
            json_object_get(json_object_get(json_object_get(a, "annotations"), "Crash"), "unwind");
        assert_non_null(strstr(json_string_value(json_object_get(
                                   raw, json_string_value(json_object_get(a, "mainThread")))),
                               "12345 frames left out after the innermost 2"));
        json_decref(a);
    }
    /* A gap that is not between two kept frames is no capture. */
    bad = json_deep_copy(j);
    json_object_set_new(json_array_get(json_object_get(bad, "threads"), 0), "omitted_at",
                        json_integer(3));
    btc_capture_free(stored);
    stored = NULL;
    assert_int_equal(btc_capture_from_json(bad, &stored), -EINVAL);
    assert_null(stored);
    json_decref(bad);
    json_decref(j);
    btc_capture_free(live);
}

/* A capture that is not one is refused, not half read. */
static void
test_capture_from_bad_json(void **state)
{
    struct btc_capture *c = NULL;
    json_t *j = json_pack("{s:i, s:[], s:[], s:s}", "format", 1, "threads", "modules", "uuid", "x");

    (void)state;
    assert_int_equal(btc_capture_from_json(j, &c), -EINVAL);
    assert_null(c);
    json_decref(j);
}

/* Legacy Rust symbols lose their hash, as gdb and rustc's demangler show
 * them; C++ names and near misses are left as __cxa_demangle gives them. */
static void
test_demangle_rust_without_hash(void **state)
{
    static const struct {
        const char *mangled, *want;
    } cases[] = {
        {"_ZN9rust_null6level117h69e87fc09705b5cdE", "rust_null::level1"},
        {"_ZN4core3ptr14write_volatile17h6e74e4d045c8225aE", "core::ptr::write_volatile"},
        {"_ZN3foo3barEv", "foo::bar()"},
        /* Not 16 hex digits: no hash. */
        {"_ZN3foo17hxyzdefabcdefabcdE", "foo::hxyzdefabcdefabcd"},
        {"main", "main"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = btc_unwind_demangle(cases[i].mangled);

        assert_non_null(got);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stored_capture_rebuilds_the_same_report),
        cmocka_unit_test(test_raw_report_keeps_module_offsets),
        cmocka_unit_test(test_symbols_stop_at_deadline_and_resume),
        cmocka_unit_test(test_frames_left_out_round_trip),
        cmocka_unit_test(test_capture_from_bad_json),
        cmocka_unit_test(test_demangle_rust_without_hash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
