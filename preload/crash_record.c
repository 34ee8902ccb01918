/* crash_record: fills the record from the signal and writes it, with a copy
 * of the crashing thread's stack, into a memfd for the helper.
 * Crash path: async-signal-safe only; no malloc, no stdio, no locks. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "crash.h"
#include "cxx_throw.h"
#include "sys.h"

#define PAGE_GUESS 4096u

/* Signals sent by a process (kill, tgkill, sigqueue) carry its pid; those the
 * kernel raised for a fault carry an address instead. */
static bool
sent_by_process(const siginfo_t *si)
{
    return si->si_code <= 0;
}

static bool
has_fault_address(int sig, const siginfo_t *si)
{
    return !sent_by_process(si) &&
           (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP);
}

void
btc_crash_record_fill(struct btc_crash_record *rec, int sig, const siginfo_t *si,
                      const void *ucontext, int64_t fault_mono_ns, int64_t deadline_mono_ns)
{
    const ucontext_t *uc = ucontext;
    const greg_t *g = uc->uc_mcontext.gregs;
    int saved_errno = errno;

    /* The record lives in .bss; clearing it avoids leaking an older crash's
     * data into this one (a forked child inherits the parent's copy). */
    memset(rec, 0, sizeof(*rec));
    rec->magic = BTC_RECORD_MAGIC;
    rec->version = BTC_RECORD_VERSION;
    rec->header_size = sizeof(*rec);
    rec->pid = (int32_t)btc_sys_getpid();
    rec->tid = (int32_t)btc_sys_gettid();
    rec->signo = sig;
    rec->si_code = si->si_code;
    rec->si_errno = si->si_errno;
    rec->saved_errno = saved_errno;
    if (sent_by_process(si)) {
        rec->sender_pid = si->si_pid;
        rec->sender_uid = (int32_t)si->si_uid;
    }
    if (has_fault_address(sig, si))
        rec->fault_address = (uint64_t)(uintptr_t)si->si_addr;
    rec->fault_time_ns = btc_sys_now_ns(CLOCK_REALTIME);
    rec->fault_mono_ns = fault_mono_ns;
    rec->deadline_mono_ns = deadline_mono_ns;
    rec->uid = (uint32_t)btc_sys_getuid();
    rec->euid = (uint32_t)btc_sys_geteuid();
    /* Not dumpable (setuid-like credentials, prctl(PR_SET_DUMPABLE, 0)):
     * the helper can then neither ptrace us nor read /proc/PID/maps, mem or
     * exe, and must make do with what the record carries. */
    if (btc_sys_prctl(PR_GET_DUMPABLE, 0) == 0)
        rec->flags |= BTC_RECORD_F_NOT_DUMPABLE;

    /* DWARF order: rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip. */
    static const int map[BTC_REG_COUNT] = {
        REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP, REG_R8,
        REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP,
    };
    for (int i = 0; i < BTC_REG_COUNT; i++)
        rec->regs[i] = (uint64_t)g[map[i]];
    rec->eflags = (uint64_t)g[REG_EFL];
    rec->trapno = (uint64_t)g[REG_TRAPNO];
    rec->err = (uint64_t)g[REG_ERR];
    rec->csgsfs = (uint64_t)g[REG_CSGSFS];
    /* The kernel's FXSAVE image of the fault, on the signal frame: a
     * plain copy, no call. */
    _Static_assert(sizeof(*uc->uc_mcontext.fpregs) == sizeof(rec->fpregs), "FXSAVE area");
    if (uc->uc_mcontext.fpregs) {
        memcpy(rec->fpregs, uc->uc_mcontext.fpregs, sizeof(rec->fpregs));
        rec->has_fpregs = 1;
    }
    memcpy(&rec->siginfo, si, sizeof(*si));
    /* An uncaught C++ exception ends in abort(); this thread's note of its
     * last throw is a thread-local read (initial-exec: no call). */
    if (sig == SIGABRT) {
        rec->cxx_object = btc_crash_cxx_thrown.object;
        rec->cxx_tinfo = btc_crash_cxx_thrown.tinfo;
    }
    errno = saved_errno;
}

static int
write_all_at(int fd, const void *buf, size_t len, off_t off)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = btc_sys_pwrite(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Copy the stack from just below the stack pointer upwards, one page-bounded
 * chunk at a time. write() reports an unreadable source page as EFAULT
 * instead of faulting, which makes it a safe memory probe here: we stop at
 * the first unmapped page (the top of the stack). A stack overflow leaves the
 * red zone in the guard page, so leading unreadable chunks are skipped. */
static void
write_stack(struct btc_crash_record *rec, int fd)
{
    uint64_t sp = rec->regs[BTC_REG_SP];
    uint64_t addr = sp > BTC_RED_ZONE ? sp - BTC_RED_ZONE : 0;
    uint64_t end = addr + BTC_STACK_SNAPSHOT_MAX;
    off_t off = (off_t)sizeof(*rec);

    rec->stack_start = addr;
    rec->stack_len = 0;
    while (addr < end) {
        uint64_t chunk_end = (addr / PAGE_GUESS + 1) * PAGE_GUESS;
        if (chunk_end > end)
            chunk_end = end;
        ssize_t n = btc_sys_pwrite(fd, (const void *)(uintptr_t)addr, chunk_end - addr, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (rec->stack_len == 0 && addr < sp) {
                addr = chunk_end;
                rec->stack_start = addr;
                continue;
            }
            break;
        }
        addr += (uint64_t)n;
        off += n;
        rec->stack_len += (uint64_t)n;
    }
}

/* The memory map after the stack copy, as this process sees it: the helper
 * may not be allowed to read /proc/PID/maps (a non-dumpable process), while
 * a process may always read its own. Left out (maps_len 0) when /proc is not
 * there or the descriptor limit is reached; the helper then reads it itself
 * if it can. */
static void
write_maps(struct btc_crash_record *rec, int fd)
{
    bool cut = false;
    int src = btc_sys_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);

    rec->maps_len = 0;
    if (src < 0)
        return;
    rec->maps_len = btc_crash_copy_lines(src, fd, (off_t)(sizeof(*rec) + rec->stack_len),
                                         BTC_MAPS_MAX, rec->deadline_mono_ns, &cut);
    if (cut)
        rec->flags |= BTC_RECORD_F_MAPS_CUT;
    btc_sys_close(src);
}

int
btc_crash_record_write(struct btc_crash_record *rec)
{
    int fd, r;

    /* memfd_create is a plain system call; a sandbox that forbids it still
     * lets us use an unnamed file in /tmp. */
    fd = btc_sys_memfd_create("btcrash-record", MFD_CLOEXEC);
    if (fd < 0)
        fd = btc_sys_open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    fd = btc_crash_fd_high(fd);
    if (fd < 0)
        return fd;
    write_stack(rec, fd);
    write_maps(rec, fd);
    r = write_all_at(fd, rec, sizeof(*rec), 0);
    if (r < 0) {
        btc_sys_close(fd);
        return r;
    }
    return fd;
}
