/* capture: orchestrates btc_unwind_capture (see capture.h): stop the
 * threads, unwind them while they are stopped, let them go, then symbolicate
 * and collect modules and process facts. Helper process only. */
#include "capture.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <elfutils/libdwfl.h>

#include "abort_msg.h"
#include "clock.h"
#include "cxx_exception.h"
#include "memory.h"
#include "modules.h"
#include "procinfo.h"
#include "ptrace_threads.h"
#include "symbolize.h"
#include "tailcall.h"
#include "walk.h"

/* Used when the record carries no deadline. */
#define DEFAULT_BUDGET_NS (2 * 1000 * 1000 * 1000LL)

/* Everything a capture needs while it runs; freed by capture_state_done. */
struct capture_state {
    const struct btc_crash_record *rec;
    const void *stack; /* the record's stack copy */
    struct btc_capture *c;
    struct btc_unwind_tracees tracees;
    struct btc_unwind_mem mem;
    struct btc_unwind_walker walker;
    Dwfl *dwfl;
    int *tids; /* threads to unwind; the crashing one among them */
    size_t ntids;
    size_t fault_idx;
    struct btc_unwind_raw_stack *raw; /* ntids entries */
    int64_t start_ns;
    int64_t ptrace_deadline_ns;
    int64_t unwind_deadline_ns;
};

/* Split the time until the crashed process gives up on us: stopping threads
 * may use half of it, unwinding up to three quarters, and the rest is left
 * for building and storing the report. */
static void
plan_deadlines(struct capture_state *st)
{
    int64_t remaining;

    st->start_ns = btc_unwind_now_ns();
    if (st->rec->deadline_mono_ns <= 0)
        remaining = DEFAULT_BUDGET_NS;
    else if (st->rec->deadline_mono_ns > st->start_ns)
        remaining = st->rec->deadline_mono_ns - st->start_ns;
    else
        remaining = 0;
    st->ptrace_deadline_ns = st->start_ns + remaining / 2;
    st->unwind_deadline_ns = st->start_ns + remaining / 4 * 3;
}

static int
add_tid(struct capture_state *st, int tid)
{
    int *t = realloc(st->tids, (st->ntids + 1) * sizeof(*t));

    if (!t)
        return -ENOMEM;
    st->tids = t;
    if (tid == st->rec->tid)
        st->fault_idx = st->ntids;
    st->tids[st->ntids++] = tid;
    return 0;
}

/* Stop all threads with ptrace, or fall back to the crashing thread alone,
 * whose registers and stack the record carries. */
static int
stop_threads(struct capture_state *st)
{
    const struct btc_crash_record *rec = st->rec;
    struct btc_capture *c = st->c;
    const char *call = NULL;
    size_t unstopped = 0;
    bool have_fault = false;
    int r;

    r = btc_unwind_tracees_stop(rec->pid, st->ptrace_deadline_ns, &st->tracees, &call);
    if (r == -ENOMEM)
        return r;
    if (r < 0) {
        c->ptrace_ok = false;
        if (asprintf(&c->ptrace_error, "%s: %s", call ? call : "ptrace",
                     r == -EBUSY ? "every thread is traced by another process" : strerror(-r)) <
            0) {
            c->ptrace_error = NULL;
            return -ENOMEM;
        }
        return add_tid(st, rec->tid);
    }
    for (size_t i = 0; i < st->tracees.n; i++) {
        const struct btc_unwind_tracee *t = &st->tracees.t[i];

        if (t->tid == rec->tid)
            have_fault = true;
        else if (t->gone)
            continue; /* exited during capture */
        else if (!t->stopped) {
            unstopped++;
            continue;
        }
        r = add_tid(st, t->tid);
        if (r < 0)
            return r;
    }
    if (!have_fault) {
        r = add_tid(st, rec->tid);
        if (r < 0)
            return r;
    }
    c->ptrace_ok = unstopped == 0 && st->tracees.nunseized == 0;
    if (unstopped > 0)
        r = asprintf(&c->ptrace_error,
                     "ptrace(PTRACE_INTERRUPT): %zu thread(s) did not stop in time", unstopped);
    else if (st->tracees.nunseized > 0)
        r = asprintf(&c->ptrace_error,
                     "ptrace(PTRACE_SEIZE): %zu thread(s) could not be seized, %zu of them traced "
                     "by another process",
                     st->tracees.nunseized, st->tracees.nbusy);
    if (r < 0) {
        c->ptrace_error = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* Unwind every thread while they are stopped, the crashing one first. */
static int
unwind_threads(struct capture_state *st)
{
    const struct btc_crash_record *rec = st->rec;
    const struct btc_unwind_tracee *peek = btc_unwind_tracees_find(&st->tracees, rec->tid);
    int r;

    for (size_t i = 0; i < st->tracees.n && !peek; i++)
        peek = btc_unwind_tracees_find(&st->tracees, st->tracees.t[i].tid);
    btc_unwind_mem_init(&st->mem, rec->pid, peek ? peek->tid : 0, st->stack, rec->stack_start,
                        rec->stack_len);
    st->walker = (struct btc_unwind_walker){
        .rec = rec,
        .mem = &st->mem,
        .tids = st->tids,
        .ntids = st->ntids,
    };
    if (btc_unwind_walk_attach(st->dwfl, &st->walker) < 0)
        return -EINVAL;
    st->raw = calloc(st->ntids, sizeof(*st->raw));
    if (!st->raw)
        return -ENOMEM;
    r = btc_unwind_walk_thread(st->dwfl, rec->tid, BTC_UNWIND_MAX_FRAMES, &st->raw[st->fault_idx]);
    if (r < 0)
        return r;
    for (size_t i = 0; i < st->ntids; i++) {
        struct btc_unwind_raw_stack *raw = &st->raw[i];

        if (i == st->fault_idx)
            continue;
        /* A deep or corrupt stack in one thread must not cost the report. */
        if (btc_unwind_now_ns() >= st->unwind_deadline_ns) {
            raw->truncated = true;
            raw->error = strdup("not unwound: capture deadline reached");
            if (!raw->error)
                return -ENOMEM;
            continue;
        }
        r = btc_unwind_walk_thread(st->dwfl, st->tids[i], BTC_UNWIND_MAX_FRAMES, raw);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The frames of functions that tail-called their way from the function that
 * called @callee's up to @callee's: the stack has no return address for them. */
static int
symbolize_tailcalls(struct capture_state *st, const struct btc_unwind_raw_frame *callee,
                    uint64_t caller_ra, struct btc_unwind_frames *out)
{
    uint64_t callee_addr = callee->activation ? callee->pc : callee->pc - 1;
    uint64_t *pcs = NULL;
    size_t n = 0;
    int r;

    r = btc_unwind_tailcalls(st->dwfl, callee_addr, caller_ra, &pcs, &n);
    for (size_t i = 0; i < n && r == 0; i++) {
        struct btc_unwind_sym_request req = {.pc = pcs[i]};

        r = btc_unwind_symbolize(st->dwfl, st->c->modules, st->c->nmodules, &req, out);
    }
    free(pcs);
    return r;
}

static int
symbolize_thread(struct capture_state *st, size_t i, struct btc_thread *t)
{
    struct btc_unwind_raw_stack *raw = &st->raw[i];
    struct btc_unwind_frames out = {.max = BTC_UNWIND_MAX_FRAMES};
    struct btc_capture *c = st->c;
    int r;

    t->tid = st->tids[i];
    t->fault = i == st->fault_idx;
    t->truncated = raw->truncated;
    t->error = raw->error;
    raw->error = NULL;
    r = btc_unwind_thread_name(c->pid, t->tid, &t->name);
    if (r == -ENOMEM)
        return r;
    /* A thread that has exited since it was unwound keeps its frames; it
     * only has no name. */
    r = 0;
    for (size_t k = 0; k < raw->n && r == 0; k++) {
        const struct btc_unwind_raw_frame *f = &raw->frames[k];

        if (k > 0 && !f->activation)
            r = symbolize_tailcalls(st, &raw->frames[k - 1], f->pc, &out);
        if (r == 0) {
            struct btc_unwind_sym_request req = {
                .pc = f->pc,
                .activation = f->activation,
                .expand_inlines = true,
                .skip_entry_inlines = t->fault && k == 0,
            };

            r = btc_unwind_symbolize(st->dwfl, c->modules, c->nmodules, &req, &out);
        }
    }
    if (r > 0) {
        t->truncated = true;
        r = 0;
    }
    t->frames = out.v;
    t->nframes = out.n;
    return r;
}

static bool
raised_by_self(const struct btc_crash_record *rec)
{
    /* abort() sends the signal to its own thread with tgkill. */
    return (rec->si_code == SI_TKILL || rec->si_code == SI_USER || rec->si_code == SI_QUEUE) &&
           rec->sender_pid == rec->pid;
}

/* The message glibc left for an abort the process raised itself. A SIGABRT
 * sent from outside gets none: __abort_msg may still hold the text of an
 * earlier abort that a handler caught. The process's memory is read while
 * its threads are stopped (PTRACE_PEEKDATA as the fallback), or with
 * process_vm_readv alone when ptrace was denied; when neither works there
 * is no message, and that is no error. */
static int
collect_abort_message(struct capture_state *st)
{
    const struct btc_crash_record *rec = st->rec;
    int r;

    if (rec->signo != SIGABRT || !raised_by_self(rec))
        return 0;
    r = btc_unwind_abort_message(st->dwfl, &st->mem, &st->c->abort_message);
    return r == -ENOMEM ? r : 0;
}

/* The uncaught C++ exception's type and what(), read while the threads are
 * stopped, like the abort message. The record's note is only the last
 * exception the thread threw; keep_cxx_exception drops it afterwards unless
 * the stack shows that an exception ended the program. */
static int
collect_cxx_exception(struct capture_state *st)
{
    const struct btc_crash_record *rec = st->rec;
    int r;

    if (rec->signo != SIGABRT || rec->cxx_tinfo == 0)
        return 0;
    r = btc_unwind_cxx_exception(st->dwfl, &st->mem, rec->cxx_object, rec->cxx_tinfo,
                                 &st->c->cxx_type, &st->c->cxx_what);
    return r == -ENOMEM ? r : 0;
}

static void
keep_cxx_exception(struct btc_capture *c)
{
    const struct btc_thread *t;

    if (!c->cxx_type)
        return;
    t = &c->threads[c->fault_thread];
    for (size_t i = 0; i < t->nframes; i++)
        if (btc_unwind_cxx_is_throw_frame(t->frames[i].func))
            return;
    free(c->cxx_type);
    free(c->cxx_what);
    c->cxx_type = NULL;
    c->cxx_what = NULL;
}

static int
collect_process_facts(struct btc_capture *c)
{
    int r;

    r = btc_unwind_exe_path(c->pid, &c->exe_path);
    if (r == -ENOMEM)
        return r;
    r = btc_unwind_exe_comment(c->pid, &c->lang_version);
    if (r == -ENOMEM)
        return r;
    return 0;
}

static void
capture_state_done(struct capture_state *st)
{
    btc_unwind_tracees_detach(&st->tracees);
    if (st->dwfl)
        dwfl_end(st->dwfl);
    btc_unwind_mem_done(&st->mem);
    if (st->raw)
        for (size_t i = 0; i < st->ntids; i++)
            btc_unwind_raw_stack_free(&st->raw[i]);
    free(st->raw);
    free(st->tids);
}

int
btc_unwind_capture(const struct btc_crash_record *rec, const void *stack,
                   struct btc_capture **ret_capture)
{
    struct capture_state st = {.rec = rec, .stack = stack};
    struct btc_capture *c;
    int r;

    if (!rec || !ret_capture || rec->magic != BTC_RECORD_MAGIC || rec->pid <= 0 || rec->tid <= 0)
        return -EINVAL;
    if (!stack || rec->stack_len > BTC_STACK_SNAPSHOT_MAX)
        st.stack = NULL; /* unwind from process memory alone */
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    st.c = c;
    c->pid = rec->pid;
    plan_deadlines(&st);

    /* Stop first: every moment the other threads run, their stacks move on
     * from where they were at the crash. */
    r = stop_threads(&st);
    if (r < 0)
        goto fail;
    r = btc_unwind_dwfl_open(rec->pid, &st.dwfl);
    if (r < 0)
        goto fail;
    r = unwind_threads(&st);
    if (r < 0)
        goto fail;
    r = collect_abort_message(&st);
    if (r < 0)
        goto fail;
    r = collect_cxx_exception(&st);
    if (r < 0)
        goto fail;
    /* Symbolication needs files only; let the process go on to its end. */
    btc_unwind_tracees_detach(&st.tracees);

    r = btc_unwind_modules_list(st.dwfl, &c->modules, &c->nmodules);
    if (r < 0)
        goto fail;
    c->threads = calloc(st.ntids, sizeof(*c->threads));
    if (!c->threads) {
        r = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < st.ntids; i++) {
        c->nthreads = i + 1;
        r = symbolize_thread(&st, i, &c->threads[i]);
        if (r < 0)
            goto fail;
    }
    c->fault_thread = st.fault_idx;
    keep_cxx_exception(c);
    r = collect_process_facts(c);
    if (r < 0)
        goto fail;
    capture_state_done(&st);
    *ret_capture = c;
    return 0;
fail:
    capture_state_done(&st);
    btc_capture_free(c);
    return r;
}

void
btc_capture_free(struct btc_capture *c)
{
    if (!c)
        return;
    if (c->threads) {
        for (size_t i = 0; i < c->nthreads; i++) {
            btc_unwind_frames_free(c->threads[i].frames, c->threads[i].nframes);
            free(c->threads[i].name);
            free(c->threads[i].error);
        }
        free(c->threads);
    }
    btc_unwind_modules_free(c->modules, c->nmodules);
    free(c->ptrace_error);
    free(c->exe_path);
    free(c->lang_version);
    free(c->abort_message);
    free(c->cxx_type);
    free(c->cxx_what);
    free(c);
}
