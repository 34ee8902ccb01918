/* crash_handler: the fatal-signal handler. It first lets the program's own
 * handler for the signal run (crash_chain.c); only when the signal's
 * disposition is the default one, so the process is about to die, does it
 * record the crash, run the helper, and re-raise the signal with the default
 * disposition, so the program dies exactly as it would have without btcrash.
 * Crash path: async-signal-safe only; runs on the alternate signal stack. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "crash_chain.h"
#include "sys.h"
#include "handlers.h"

/* How long after the owner's deadline a thread that lost the race still
 * waits for the owner's re-raise to end the process. The owner needs up to
 * REAP_GRACE_NS (crash_spawn.c, 200 ms) past its deadline to reap a helper
 * it had to kill; past this much more it is stuck, and the waiting thread
 * re-raises its own signal, which ends the process as surely. Below the
 * 0.5 s that DESIGN.md §1 allows past the timeout. */
#define LOSER_GRACE_NS (300 * 1000000LL)
/* A waiting thread's poll interval. */
#define LOSER_POLL_NS (10 * 1000000LL)

/* The process whose memory this is: the one that ran the constructor, or,
 * in a forked child, the child (btc_crash_note_own_memory runs in both). A
 * vfork() child runs in its parent's memory, so it sees its parent's pid
 * here, not its own: every static of this library is shared with the
 * parent, which goes on (vfork returns) once the child has exec'd or died. */
static _Atomic pid_t g_mm_pid;

/* Who reports: (pid << 32) | the g_mm_pid it saw; 0 until the first fatal
 * signal. Not a tid alone: a vfork child that crashed and died leaves its
 * claim in the parent's memory, and a forked child inherits a claim made by
 * another thread of its parent; neither must keep the process's own crash
 * from being reported (claim()). */
static _Atomic uint64_t g_owner;
/* The owner's deadline (CLOCK_MONOTONIC ns), valid when g_deadline_of is
 * the owner: published after the claim, so a waiting thread can read a
 * stale one (an earlier, dead owner's) until then, and tells them apart. */
static _Atomic int64_t g_deadline;
static _Atomic uint64_t g_deadline_of;
/* Static, not on the (possibly overflowed) stack; only the owner writes it. */
static struct btc_crash_record g_record;
/* The signal this thread is reporting, or 0, with the pid that is
 * reporting it: (pid << 32) | sig. Thread-local (initial-exec: a plain
 * %fs-relative store, outside the library's own writable pages), so a
 * fault inside the reporting code is told apart from any other signal even
 * when the library's state is what faults. With the pid, because a vfork
 * child runs on its parent's thread, TLS included: a child that died inside
 * the reporting code must not make the parent's own crash on that thread
 * look like one. */
static __thread uint64_t t_reporting __attribute__((tls_model("initial-exec")));

void
btc_crash_note_own_memory(void)
{
    atomic_store(&g_mm_pid, btc_sys_getpid());
}

bool
btc_crash_in_borrowed_memory(void)
{
    pid_t mm = atomic_load(&g_mm_pid);

    return mm != 0 && mm != btc_sys_getpid();
}

static uint64_t
owner_id(pid_t pid, pid_t mm)
{
    return (uint64_t)(uint32_t)pid << 32 | (uint32_t)mm;
}

static pid_t
owner_pid(uint64_t owner)
{
    return (pid_t)(owner >> 32);
}

static pid_t
owner_mm(uint64_t owner)
{
    return (pid_t)(uint32_t)owner;
}

static void
sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};

    btc_sys_nanosleep(&ts); /* async-signal-safe */
}

/* The deadline @owner published, or 0 if it has not yet. */
static int64_t
deadline_of(uint64_t owner)
{
    int64_t d = atomic_load(&g_deadline);

    return atomic_load(&g_deadline_of) == owner ? d : 0;
}

/* Whether the process of @owner, a process other than this one that ran in
 * this memory, is gone. An owner never survives its report: it re-raises
 * its signal by its deadline plus the time to reap its helper, and dies.
 * Past that, or when the kernel says it has exited (a zombie child; no
 * such process), its claim is void. */
static bool
owner_gone(uint64_t owner, int64_t now)
{
    pid_t pid = owner_pid(owner);
    int64_t d = deadline_of(owner);
    siginfo_t si;

    if (d != 0 && now > d + LOSER_GRACE_NS)
        return true;
    /* WNOWAIT: the program still reaps its child itself. */
    memset(&si, 0, sizeof(si));
    if (btc_sys_waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 &&
        si.si_pid == pid)
        return true;
    return btc_sys_kill(pid, 0) < 0 && errno == ESRCH;
}

/* Decide who reports. Returns true when this thread is to report (it owns
 * the crash), false when it is to re-raise its signal without a report:
 * another thread of this process reports, or time ran out.
 *
 * A claim by another pid is taken over at once when it was made in other
 * memory (a forked child inherits its parent's claim; the parent's thread
 * is not here), or as soon as its process is gone (a vfork child that
 * crashed and died: the parent's own crash is reported normally). While a
 * process sharing this memory still reports (a vfork child, and another
 * thread of the parent crashes), this thread waits for it to be gone: two
 * reports at once would share g_record and the helper's stack.
 *
 * Every wait is bounded: by the owner's published deadline plus
 * LOSER_GRACE_NS, and never past this thread's own deadline (@own_end) plus
 * that grace. Either way the process is gone by then (DESIGN.md §1). */
static bool
claim(uint64_t me, pid_t pid, pid_t mm, int64_t own_end)
{
    uint64_t owner = 0;

    for (;;) {
        if (atomic_compare_exchange_strong(&g_owner, &owner, me))
            return true;
        /* Failed: @owner is the current claim. */
        int64_t now = btc_sys_now_ns(CLOCK_MONOTONIC);
        if (owner_pid(owner) != pid && (owner_mm(owner) != mm || owner_gone(owner, now))) {
            if (now >= own_end)
                return false;
            continue; /* take over: the CAS expects @owner */
        }
        /* A thread of this process, or a live process sharing this memory:
         * wait, until its deadline if it published one. */
        int64_t end = own_end, d = deadline_of(owner);
        if (d != 0 && d < end)
            end = d;
        end += LOSER_GRACE_NS;
        if (now >= end)
            return false;
        sleep_ns(end - now < LOSER_POLL_NS ? end - now : LOSER_POLL_NS);
        owner = 0; /* the next CAS expects a free claim again */
    }
}

/* A crashed process may be at a soft limit that the report needs (`ulimit
 * -n 13`, a small `ulimit -f`): raise the soft limits to the hard ones
 * before the memfd, the pipe and the helper, which inherits them over exec
 * and writes the database. Nothing of the program's is at stake: it is
 * about to die. A hard limit cannot be raised; the messages name it. */
static void
raise_limits(void)
{
    static const int resources[] = {RLIMIT_NOFILE, RLIMIT_FSIZE};

    for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++) {
        struct rlimit lim;

        if (btc_sys_prlimit(resources[i], NULL, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
            lim.rlim_cur = lim.rlim_max;
            (void)btc_sys_prlimit(resources[i], &lim, NULL);
        }
    }
}

/* Give the signal back: set the default disposition (the program's, or it
 * would not be reported) and queue the same signal, with the same siginfo,
 * to this thread. It stays pending (blocked while the handler runs: it is
 * the handler's own signal) until this handler returns, and is then
 * delivered in the original context: the exit status, the core dump and
 * systemd-coredump see the original fault. A bare return would not do for
 * SIGTRAP (int3 does not re-execute) or SIGSYS (the syscall just fails). */
static void
reraise(int sig, siginfo_t *si, pid_t pid, pid_t tid)
{
    siginfo_t copy;

    btc_handlers_restore(sig);
    memcpy(&copy, si, sizeof(copy));
    if (btc_sys_rt_tgsigqueueinfo(pid, tid, sig, &copy) != 0)
        btc_sys_tgkill(pid, tid, sig);
}

/* A fault inside btcrash's own reporting code, which runs with SIGSEGV,
 * SIGBUS, SIGILL and SIGFPE unblocked for this (handlers.c): give up the
 * report and die of the signal being reported, as without btcrash, instead
 * of the fault's. Touches no state of the library. */
static void
died_inside(int reported, int sig)
{
    unsigned long mask = 1UL << (reported - 1);
    pid_t pid = btc_sys_getpid(), tid = (pid_t)btc_sys_gettid();

    btc_handlers_restore(reported);
    btc_sys_tgkill(pid, tid, reported);
    /* Pending and blocked (it is the handler's own signal): let it in. */
    syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &mask, NULL, sizeof(mask));
    /* Still here (the reported signal was not fatal after all): the fault's
     * default action, when it repeats on return. */
    btc_handlers_restore(sig);
}

/* The signal this thread is reporting in this process, or 0. */
static int
reporting_here(void)
{
    uint64_t r = t_reporting;

    if (r == 0 || (pid_t)(r >> 32) != btc_sys_getpid())
        return 0;
    return (int)(uint32_t)r;
}

void
btc_crash_on_signal(int sig, siginfo_t *si, void *ucontext)
{
    int saved_errno = errno;
    pid_t pid, tid, mm;
    siginfo_t *origin_si;
    void *origin_uc;
    int reporting = reporting_here();

    if (reporting) {
        /* This thread is reporting. A fault: our own code failed. Anything
         * else (a kill) is dropped: the process is about to die anyway. */
        if (si->si_code > 0)
            died_inside(reporting, sig);
        errno = saved_errno;
        return;
    }

    /* The program's handler first: a fault it recovers from (siglongjmp, a
     * JVM-style null check, a guard page it unprotects) is never reported.
     * If it gave up, it set SIG_DFL and raised again or returned to fault
     * again: that comes back here and is reported below. */
    if (btc_crash_chain_run(sig, si, ucontext)) {
        errno = saved_errno;
        return;
    }
    /* Raised again from inside the program's handler (faulthandler): report
     * the original fault, not the raise. */
    btc_crash_chain_origin(sig, si, ucontext, &origin_si, &origin_uc);
    pid = btc_sys_getpid();
    tid = (pid_t)btc_sys_gettid();
    mm = atomic_load(&g_mm_pid);
    /* Before the first write to the library's state, which may be what
     * faults. */
    t_reporting = (uint64_t)(uint32_t)pid << 32 | (uint32_t)sig;

    /* The fault's time, as far as btcrash is concerned: from here the
     * process has BACKTRACE_TIMEOUT, whoever reports. */
    int64_t fault_mono = btc_sys_now_ns(CLOCK_MONOTONIC);
    int64_t deadline =
        fault_mono +
        (int64_t)__atomic_load_n(&btc_crash_plan.timeout_ms, __ATOMIC_RELAXED) * 1000000;
    uint64_t me = owner_id(pid, mm);

    /* (Re-entry on this thread goes through t_reporting above: sa_mask
     * blocks every other signal.) */
    if (!claim(me, pid, mm, deadline)) {
        t_reporting = 0;
        reraise(sig, si, pid, tid);
        errno = saved_errno;
        return;
    }
    atomic_store(&g_deadline, deadline);
    atomic_store(&g_deadline_of, me);

    raise_limits();
    /* The program's errno at the fault, which the record keeps: the system
     * calls above may have changed it. */
    errno = saved_errno;
    btc_crash_record_fill(&g_record, sig, origin_si, origin_uc, fault_mono, deadline);
    int fd = btc_crash_record_write(&g_record);
    if (fd >= 0) {
        (void)btc_crash_run_helper(&g_record, fd);
        btc_sys_close(fd);
    } else {
        btc_crash_say_errno("could not record the crash", fd);
    }
    t_reporting = 0;
    reraise(sig, si, pid, tid);
    errno = saved_errno;
}
