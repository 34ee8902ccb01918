/* walk: see walk.h. */
#include "walk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptrace_threads.h"

static pid_t
next_thread(Dwfl *dwfl, void *dwfl_arg, void **thread_argp)
{
    struct btc_unwind_walker *w = dwfl_arg;

    (void)dwfl;
    if (w->next >= w->ntids)
        return 0;
    *thread_argp = w;
    return w->tids[w->next++];
}

static bool
get_thread(Dwfl *dwfl, pid_t tid, void *dwfl_arg, void **thread_argp)
{
    struct btc_unwind_walker *w = dwfl_arg;

    (void)dwfl;
    for (size_t i = 0; i < w->ntids; i++) {
        if (w->tids[i] == tid) {
            *thread_argp = w;
            return true;
        }
    }
    return false;
}

static bool
memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *dwfl_arg)
{
    struct btc_unwind_walker *w = dwfl_arg;
    uint64_t word;

    (void)dwfl;
    if (btc_unwind_mem_read_word(w->mem, addr, &word) < 0)
        return false;
    *result = word;
    return true;
}

static bool
set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
    struct btc_unwind_walker *w = thread_arg;
    pid_t tid = dwfl_thread_tid(thread);
    uint64_t regs[BTC_REG_COUNT];
    Dwarf_Word dregs[BTC_REG_COUNT];

    /* The crashing thread starts from the signal's ucontext, i.e. at the
     * faulting instruction: its live registers would show our own handler
     * waiting for the helper instead. */
    if (tid == w->rec->tid)
        memcpy(regs, w->fault_regs ? w->fault_regs : w->rec->regs, sizeof(regs));
    else if (btc_unwind_tracee_getregs(tid, regs) < 0)
        return false;
    for (size_t i = 0; i < BTC_REG_COUNT; i++)
        dregs[i] = regs[i];
    /* Registers 0..15 plus the return address column 16 (rip), the layout
     * libdw's x86_64 backend uses for a thread's initial frame. */
    return dwfl_thread_state_registers(thread, 0, BTC_REG_COUNT, dregs);
}

static const Dwfl_Thread_Callbacks g_callbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
    /* Attaching and detaching are ptrace_threads.c's business. */
    .detach = NULL,
    .thread_detach = NULL,
};

int
btc_unwind_walk_attach(Dwfl *dwfl, struct btc_unwind_walker *w)
{
    w->next = 0;
    if (!dwfl_attach_state(dwfl, NULL, w->rec->pid, &g_callbacks, w))
        return -EINVAL;
    return 0;
}

struct walk_ctx {
    struct btc_unwind_raw_stack *s;
    size_t max;
    size_t cap;
    int r;
};

static int
on_frame(Dwfl_Frame *frame, void *arg)
{
    struct walk_ctx *ctx = arg;
    struct btc_unwind_raw_stack *s = ctx->s;
    Dwarf_Addr pc;
    bool activation = false;

    if (!dwfl_frame_pc(frame, &pc, &activation)) {
        ctx->r = -EINVAL;
        return DWARF_CB_ABORT;
    }
    if (s->n == ctx->max) {
        s->truncated = true;
        return DWARF_CB_ABORT;
    }
    if (s->n == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 64;
        struct btc_raw_frame *f;

        if (cap > ctx->max)
            cap = ctx->max;
        f = realloc(s->frames, cap * sizeof(*f));
        if (!f) {
            ctx->r = -ENOMEM;
            return DWARF_CB_ABORT;
        }
        s->frames = f;
        ctx->cap = cap;
    }
    s->frames[s->n++] = (struct btc_raw_frame){.pc = pc, .activation = activation};
    return DWARF_CB_OK;
}

int
btc_unwind_walk_thread(Dwfl *dwfl, int tid, size_t max, struct btc_unwind_raw_stack *ret)
{
    struct btc_unwind_raw_stack s = {0};
    struct walk_ctx ctx = {.s = &s, .max = max};
    int r = dwfl_getthread_frames(dwfl, tid, on_frame, &ctx);

    if (ctx.r == -ENOMEM) {
        btc_unwind_raw_stack_free(&s);
        return -ENOMEM;
    }
    if (r != 0 && !s.truncated) {
        /* libdwfl stops with an error when CFI or memory runs out before
         * the outermost frame (whose return address is undefined). */
        const char *msg = ctx.r < 0 ? "dwfl_frame_pc failed" : dwfl_errmsg(-1);

        s.truncated = true;
        if (asprintf(&s.error, "dwfl_getthread_frames: %s", msg ? msg : "unknown error") < 0) {
            btc_unwind_raw_stack_free(&s);
            return -ENOMEM;
        }
    }
    *ret = s;
    return 0;
}

void
btc_unwind_raw_stack_free(struct btc_unwind_raw_stack *s)
{
    if (!s)
        return;
    free(s->frames);
    free(s->error);
    s->frames = NULL;
    s->error = NULL;
    s->n = 0;
}
