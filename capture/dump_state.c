/* dump_state: see dump_state.h. */
#include "dump_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "fileio.h"

/* Stack copies are read in pieces this big: a piece the process will not
 * give is where the copy ends (or, below the stack pointer, starts). */
#define PIECE 512u

/* The end of the mapping of @maps (/proc/PID/maps text) that holds @addr,
 * or 0 when none does. */
static uint64_t
mapping_end(const char *maps, size_t len, uint64_t addr)
{
    const char *line = maps, *end = maps + len;

    while (line && line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        unsigned long long lo, hi;

        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && addr >= lo && addr < hi)
            return hi;
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* Read @buf from @start on, piece by piece, until @end or a piece the
 * process will not give. Returns the bytes read. */
static size_t
read_run(struct btc_unwind_mem *mem, uint64_t start, uint64_t end, unsigned char *buf)
{
    size_t len = 0;

    for (uint64_t a = start; a < end; a += PIECE) {
        size_t n = end - a < PIECE ? (size_t)(end - a) : PIECE;

        if (btc_unwind_mem_read(mem, a, buf + len, n) < 0)
            break;
        len += n;
    }
    return len;
}

/* Copy the stack of a thread whose stack pointer is @sp: from the page
 * below its red zone up to the end of its mapping, at most @max bytes and
 * what BTC_DUMP_STACKS_MAX leaves. */
static int
copy_stack(struct btc_dump_state *d, struct btc_dump_thread *t, uint64_t sp, size_t max,
           struct btc_unwind_mem *mem, const char *maps, size_t maps_len)
{
    uint64_t start = (sp - BTC_RED_ZONE) & ~(uint64_t)(BTC_UNWIND_MEM_PAGE - 1), end;
    size_t len, left = BTC_DUMP_STACKS_MAX - d->stack_bytes;

    end = maps ? mapping_end(maps, maps_len, sp) : 0;
    if (end == 0 || sp < BTC_RED_ZONE || sp >= end)
        return 0; /* a stack pointer in no mapping: nothing to copy */
    if (max > left)
        max = left;
    if (end - start > max)
        end = start + max;
    if (end <= sp)
        return 0;
    t->stack = malloc((size_t)(end - start));
    if (!t->stack)
        return -ENOMEM;
    len = read_run(mem, start, end, t->stack);
    if (start + len <= sp) {
        /* Of a process we may not read, only the record's snapshot is
         * there, and it starts at the red zone, not at a page. */
        start = (sp - BTC_RED_ZONE) & ~(uint64_t)15;
        len = read_run(mem, start, end, t->stack);
    }
    if (start + len <= sp)
        len = 0;
    t->stack_start = start;
    t->stack_len = len;
    d->stack_bytes += len;
    if (len == 0) {
        free(t->stack);
        t->stack = NULL;
    }
    return 0;
}

static struct btc_dump_thread *
add_thread(struct btc_dump_state *d, int tid)
{
    struct btc_dump_thread *v = realloc(d->threads, (d->nthreads + 1) * sizeof(*v));

    if (!v)
        return NULL;
    d->threads = v;
    v[d->nthreads] = (struct btc_dump_thread){.tid = tid};
    return &v[d->nthreads++];
}

/* The code around @pc: half before it, half after; or from @pc on when
 * what precedes it is unreadable (the start of a mapping). */
static void
copy_code(struct btc_dump_state *d, uint64_t pc, struct btc_unwind_mem *mem)
{
    const uint64_t half = BTC_DUMP_CODE_BYTES / 2;

    d->code_len = 0;
    if (pc >= half && btc_unwind_mem_read(mem, pc - half, d->code, BTC_DUMP_CODE_BYTES) == 0) {
        d->code_start = pc - half;
        d->code_len = BTC_DUMP_CODE_BYTES;
    } else if (btc_unwind_mem_read(mem, pc, d->code, half) == 0) {
        d->code_start = pc;
        d->code_len = half;
    }
}

int
btc_dump_add_fault(struct btc_dump_state *d, const struct btc_crash_record *rec,
                   struct btc_unwind_mem *mem, const char *maps, size_t maps_len)
{
    struct btc_dump_thread *t = add_thread(d, rec->tid);
    struct user_regs_struct *u;
    const uint64_t *r = rec->regs;

    if (!t)
        return -ENOMEM;
    u = &t->regs;
    /* The record's registers are in DWARF order (crash_record.h). */
    u->rax = r[0], u->rdx = r[1], u->rcx = r[2], u->rbx = r[3];
    u->rsi = r[4], u->rdi = r[5], u->rbp = r[6], u->rsp = r[7];
    u->r8 = r[8], u->r9 = r[9], u->r10 = r[10], u->r11 = r[11];
    u->r12 = r[12], u->r13 = r[13], u->r14 = r[14], u->r15 = r[15];
    u->rip = r[16];
    u->eflags = rec->eflags;
    if (rec->csgsfs) {
        /* ucontext's REG_CSGSFS: cs, gs, fs, then ss (since Linux 4.8) in
         * 16-bit fields. */
        u->cs = rec->csgsfs & 0xffff;
        u->gs = (rec->csgsfs >> 16) & 0xffff;
        u->fs = (rec->csgsfs >> 32) & 0xffff;
        u->ss = (rec->csgsfs >> 48) & 0xffff;
    }
    /* A kernel that leaves ss out, or an API report, which has none: the
     * x86_64 Linux user segments (__USER_CS, __USER_DS), the only ones a
     * 64-bit process runs with. */
    if (u->cs == 0)
        u->cs = 0x33;
    if (u->ss == 0)
        u->ss = 0x2b;
    if (rec->has_fpregs) {
        _Static_assert(sizeof(t->fpregs) == sizeof(rec->fpregs), "FXSAVE area");
        memcpy(&t->fpregs, rec->fpregs, sizeof(t->fpregs));
        t->have_fpregs = true;
    }
    copy_code(d, u->rip, mem);
    return copy_stack(d, t, u->rsp, BTC_DUMP_FAULT_STACK_MAX, mem, maps, maps_len);
}

int
btc_dump_add_stopped(struct btc_dump_state *d, int tid, struct btc_unwind_mem *mem,
                     const char *maps, size_t maps_len)
{
    struct user_regs_struct regs;
    struct btc_dump_thread *t;

    if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
        return 1;
    t = add_thread(d, tid);
    if (!t)
        return -ENOMEM;
    t->regs = regs;
    t->have_fpregs = ptrace(PTRACE_GETFPREGS, tid, NULL, &t->fpregs) == 0;
    return copy_stack(d, t, regs.rsp, BTC_DUMP_OTHER_STACK_MAX, mem, maps, maps_len);
}

static int
read_proc(int pid, const char *name, struct btc_dump_blob *b)
{
    char path[64];
    int r;

    snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
    r = btc_file_read_at(AT_FDCWD, path, BTC_DUMP_PROC_FILE_MAX, 0, &b->data, &b->len);
    if (r < 0) {
        b->data = NULL;
        b->len = 0;
    }
    return r == -ENOMEM ? r : 0;
}

/* env_start and env_end of /proc/@pid/stat (fields 50 and 51), after the
 * command name, which may hold spaces and parentheses: counted from the
 * last ')'. */
static void
environ_range(struct btc_dump_state *d, int pid)
{
    struct btc_dump_blob stat = {0};
    const char *p;
    unsigned long long start = 0, end = 0;

    if (read_proc(pid, "stat", &stat) < 0 || !stat.data)
        return;
    p = memrchr(stat.data, ')', stat.len);
    /* The first space after the ')' precedes field 3, each next space the
     * next field: the 48th precedes field 50. */
    for (int field = 2; p && field < 50; field++)
        p = memchr(p + 1, ' ', stat.len - (size_t)(p + 1 - stat.data));
    if (p && sscanf(p + 1, "%llu %llu", &start, &end) == 2 && start < end) {
        d->environ_start = start;
        d->environ_end = end;
    }
    free(stat.data);
}

int
btc_dump_read_proc(struct btc_dump_state *d, int pid, bool environ)
{
    int r = read_proc(pid, "status", &d->status);

    if (r == 0)
        r = read_proc(pid, "cmdline", &d->cmdline);
    if (r == 0)
        r = read_proc(pid, "auxv", &d->auxv);
    if (r == 0 && environ)
        r = read_proc(pid, "environ", &d->environ);
    if (r == 0 && !environ)
        environ_range(d, pid);
    return r;
}

void
btc_dump_state_done(struct btc_dump_state *d)
{
    for (size_t i = 0; d->threads && i < d->nthreads; i++)
        free(d->threads[i].stack);
    free(d->threads);
    free(d->status.data);
    free(d->cmdline.data);
    free(d->auxv.data);
    free(d->environ.data);
    *d = (struct btc_dump_state){0};
}
