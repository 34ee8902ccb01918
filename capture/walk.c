/* walk: see walk.h. */
#include "walk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <elfutils/libdw.h>

#include "clock.h"
#include "frame_keep.h"
#include "ptrace_threads.h"

/* %rbp's DWARF register number, like BTC_REG_SP's. */
#define DWARF_REG_RBP 6

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
    if (tid == w->resume_tid && w->resume_regs)
        memcpy(regs, w->resume_regs, sizeof(regs));
    else if (tid == w->rec->tid)
        memcpy(regs, w->rec->regs, sizeof(regs));
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
    Dwfl *dwfl;
    struct btc_unwind_walker *w;
    const struct btc_unwind_walk_opts *o;
    struct btc_frame_keep keep;
    size_t walked;
    /* The next frame is the first of a walk started again at a return
     * address that a scan found. */
    bool resumed;
    uint64_t regs[BTC_REG_COUNT]; /* the last frame's, 0 where libdwfl does not know */
    bool last_activation;
    /* The last frame's caller, found by scanning: where to start again. */
    bool scanned;
    uint64_t resume[BTC_REG_COUNT];
    const char *stop; /* why the walk ended before the stack did */
    int r;
};

/* Whether the CFI of @addr's module (.eh_frame, else .debug_frame) covers
 * it: libdwfl falls back to the frame pointer where none does. */
static bool
has_cfi(struct walk_ctx *ctx, uint64_t addr)
{
    struct btc_unwind_walker *w = ctx->w;
    size_t slot = (addr ^ (addr >> 12)) % BTC_UNWIND_CFI_CACHE;
    Dwfl_Module *mod;
    bool has = false;

    if (w->cfi_cache[slot].valid && w->cfi_cache[slot].pc == addr)
        return w->cfi_cache[slot].has;
    mod = dwfl_addrmodule(ctx->dwfl, addr);
    for (int i = 0; mod && i < 2 && !has; i++) {
        Dwarf_Addr bias;
        Dwarf_CFI *cfi =
            i == 0 ? dwfl_module_eh_cfi(mod, &bias) : dwfl_module_dwarf_cfi(mod, &bias);
        Dwarf_Frame *frame;

        if (cfi && dwarf_cfi_addrframe(cfi, addr - bias, &frame) == 0) {
            free(frame);
            has = true;
        }
    }
    w->cfi_cache[slot].pc = addr;
    w->cfi_cache[slot].has = has;
    w->cfi_cache[slot].valid = true;
    return has;
}

/*
 * Whether the function at @addr keeps a frame pointer that this frame has
 * set up: it starts with push %rbp; mov %rsp,%rbp (after an endbr64), @addr
 * is past them, and %rbp is above the stack pointer. Then libdwfl's
 * frame-pointer fallback unwinds it right, and no guess is needed.
 */
static bool
keeps_frame_pointer(struct walk_ctx *ctx, uint64_t addr, uint64_t start)
{
    static const unsigned char endbr64[4] = {0xf3, 0x0f, 0x1e, 0xfa};
    unsigned char b[8];
    size_t i = 0;

    if (start == 0 || addr < start || btc_unwind_mem_read(ctx->w->mem, start, b, sizeof(b)) < 0)
        return false;
    if (memcmp(b, endbr64, sizeof(endbr64)) == 0)
        i = 4;
    if (b[i] != 0x55 || b[i + 1] != 0x48 ||
        !((b[i + 2] == 0x89 && b[i + 3] == 0xe5) || (b[i + 2] == 0x8b && b[i + 3] == 0xec)))
        return false;
    return addr >= start + i + 4 && ctx->regs[DWARF_REG_RBP] >= ctx->regs[BTC_REG_SP];
}

/* Scan from the last frame's stack pointer for its return address (the
 * frame is in the function entered at @callee, 0: unknown); on success the
 * walk is to start again there (ctx->resume). */
static bool
scan_caller(struct walk_ctx *ctx, uint64_t callee)
{
    uint64_t slot, ra;

    if (btc_scan_stack(ctx->w->mem, ctx->regs[BTC_REG_SP], BTC_SCAN_MAX_WORDS, callee,
                       ctx->o->in_function, ctx->o->in_function_arg, ctx->o->deadline_ns, &slot,
                       &ra) <= 0)
        return false;
    /* The callee-saved registers are the best guess there is: a function
     * without CFI that saved and changed them cannot be unwound anyway. */
    memcpy(ctx->resume, ctx->regs, sizeof(ctx->resume));
    ctx->resume[BTC_REG_PC] = ra;
    ctx->resume[BTC_REG_SP] = slot + 8;
    ctx->scanned = true;
    return true;
}

/* The entry of the last frame's function, or 0. */
static uint64_t
last_function(struct walk_ctx *ctx)
{
    uint64_t pc = ctx->regs[BTC_REG_PC], start = 0;

    if (!ctx->o->in_function(ctx->o->in_function_arg, ctx->last_activation ? pc : pc - 1, &start))
        return 0;
    return start;
}

static int
on_frame(Dwfl_Frame *frame, void *arg)
{
    struct walk_ctx *ctx = arg;
    const struct btc_unwind_walk_opts *o = ctx->o;
    struct btc_raw_frame f;
    Dwarf_Addr pc;
    bool activation = false;

    if (!dwfl_frame_pc(frame, &pc, &activation)) {
        ctx->r = -EINVAL;
        return DWARF_CB_ABORT;
    }
    if (ctx->walked >= o->limit) {
        ctx->stop = "stopped at the frame limit";
        return DWARF_CB_ABORT;
    }
    /* Checked now and then: the clock costs more than a cached frame. */
    if (o->deadline_ns > 0 && ctx->walked % 256 == 255 && btc_clock_now_ns() >= o->deadline_ns) {
        ctx->stop = "stopped at the capture deadline";
        return DWARF_CB_ABORT;
    }
    /* A resumed walk's first pc is a return address, though libdwfl takes
     * it for the next instruction of an initial frame. */
    f = (struct btc_raw_frame){
        .pc = pc, .activation = activation && !ctx->resumed, .guessed = ctx->resumed};
    ctx->resumed = false;
    if (btc_frame_keep_push(&ctx->keep, &f) < 0) {
        ctx->r = -ENOMEM;
        return DWARF_CB_ABORT;
    }
    ctx->walked++;
    for (unsigned i = 0; i < BTC_REG_COUNT; i++) {
        Dwarf_Word v;

        ctx->regs[i] = dwfl_frame_reg(frame, i, &v) == 0 ? v : 0;
    }
    ctx->regs[BTC_REG_PC] = pc;
    ctx->last_activation = f.activation;
    /* Neither CFI nor a frame pointer: libdwfl would take %rbp for this
     * frame's, which belongs to a caller further out, if to any. */
    if (o->in_function) {
        uint64_t addr = f.activation ? pc : pc - 1, start = 0;

        if (!has_cfi(ctx, addr)) {
            if (!o->in_function(o->in_function_arg, addr, &start))
                start = 0;
            if (!keeps_frame_pointer(ctx, addr, start) && scan_caller(ctx, start))
                return DWARF_CB_ABORT;
        }
    }
    return DWARF_CB_OK;
}

static int
set_error(char **ret, const char *fmt, const char *what)
{
    free(*ret);
    if (asprintf(ret, fmt, what) < 0) {
        *ret = NULL;
        return -ENOMEM;
    }
    return 0;
}

int
btc_unwind_walk_thread(Dwfl *dwfl, struct btc_unwind_walker *w, int tid,
                       const struct btc_unwind_walk_opts *o, struct btc_unwind_raw_stack *ret)
{
    struct btc_unwind_raw_stack s = {0};
    struct walk_ctx ctx = {.dwfl = dwfl, .w = w, .o = o};
    int r = 0;

    btc_frame_keep_init(&ctx.keep, o->keep, o->tail);
    /* Each walk started again past a guess adds a frame at least: the
     * limit and the deadline bound them too. */
    for (;;) {
        size_t before = ctx.walked;
        int dr;

        ctx.scanned = false;
        dr = dwfl_getthread_frames(dwfl, tid, on_frame, &ctx);
        w->resume_tid = 0;
        w->resume_regs = NULL;
        if (ctx.r == -ENOMEM) {
            r = -ENOMEM;
            goto out;
        }
        if (ctx.r < 0) {
            s.truncated = true;
            r = set_error(&s.error, "dwfl_getthread_frames: %s", "dwfl_frame_pc failed");
            break;
        }
        if (ctx.stop) {
            s.truncated = true;
            r = set_error(&s.error, "%s", ctx.stop);
            break;
        }
        if (dr != 0 && !ctx.scanned) {
            /* libdwfl stops with an error when CFI or memory runs out
             * before the outermost frame (whose return address is
             * undefined): its words first, before a scan's lookups
             * replace them; then perhaps the scan finds the caller. */
            const char *msg = dwfl_errmsg(-1);

            s.truncated = true;
            r = set_error(&s.error, "dwfl_getthread_frames: %s", msg ? msg : "unknown error");
            if (r < 0 || ctx.walked == before || !o->in_function ||
                !scan_caller(&ctx, last_function(&ctx)))
                break;
        }
        if (!ctx.scanned)
            break;
        free(s.error);
        s.error = NULL;
        s.truncated = false;
        w->resume_tid = tid;
        w->resume_regs = ctx.resume;
        ctx.resumed = true;
    }
    if (r == 0)
        r = btc_frame_keep_finish(&ctx.keep, &s.frames, &s.n, &s.omitted, &s.omitted_at);
out:
    btc_frame_keep_done(&ctx.keep);
    if (r < 0) {
        btc_unwind_raw_stack_free(&s);
        return r;
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
