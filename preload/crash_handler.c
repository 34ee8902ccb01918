/* crash_handler: the fatal-signal handler. It first lets the program's own
 * handler for the signal run (crash_chain.c); only when the signal's
 * disposition is the default one, so the process is about to die, does it
 * record the crash, run the helper, and re-raise the signal with the default
 * disposition, so the program dies exactly as it would have without btcrash.
 * Crash path: async-signal-safe only; runs on the alternate signal stack. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "crash_chain.h"
#include "sys.h"
#include "handlers.h"

/* Extra time a thread that lost the race waits for the winner's re-raise to
 * end the process, after the winner finished or the deadline passed. */
#define LOSER_GRACE_NS (500 * 1000000LL)

/* tid of the thread that reports; 0 until the first fatal signal. */
static atomic_int g_owner;
static atomic_int g_done;
/* Static, not on the (possibly overflowed) stack; only the owner writes it. */
static struct btc_crash_record g_record;
/* The signal this thread is reporting, or 0. Thread-local (initial-exec: a
 * plain %fs-relative store, outside the library's own writable pages), so a
 * fault inside the reporting code is told apart from any other signal even
 * when the library's state is what faults. */
static __thread int t_reporting __attribute__((tls_model("initial-exec")));

static void
sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};

    btc_sys_nanosleep(&ts); /* async-signal-safe */
}

/* Another thread is already reporting. Stay out of its way until it is done
 * or its time is up; the process normally dies of its re-raise meanwhile. */
static void
wait_for_owner(void)
{
    int64_t give_up =
        btc_crash_now_ns(CLOCK_MONOTONIC) +
        (int64_t)__atomic_load_n(&btc_crash_plan.timeout_ms, __ATOMIC_RELAXED) * 1000000 +
        LOSER_GRACE_NS;

    while (!atomic_load(&g_done) && btc_crash_now_ns(CLOCK_MONOTONIC) < give_up)
        sleep_ms(10);
    give_up = btc_crash_now_ns(CLOCK_MONOTONIC) + LOSER_GRACE_NS;
    while (btc_crash_now_ns(CLOCK_MONOTONIC) < give_up)
        sleep_ms(10);
}

/* Give the signal back: set the default disposition (the program's, or it
 * would not be reported) and queue the same signal, with the same siginfo,
 * to this thread. It stays pending (blocked while the handler runs: it is
 * the handler's own signal) until this handler returns, and is then
 * delivered in the original context: the exit status, the core dump and
 * systemd-coredump see the original fault. A bare return would not do for
 * SIGTRAP (int3 does not re-execute) or SIGSYS (the syscall just fails). */
static void
reraise(int sig, siginfo_t *si, pid_t tid)
{
    siginfo_t copy;
    pid_t pid = btc_sys_getpid();

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

void
btc_crash_on_signal(int sig, siginfo_t *si, void *ucontext)
{
    int saved_errno = errno;
    pid_t tid;
    int expected = 0;
    siginfo_t *origin_si;
    void *origin_uc;
    int reporting = t_reporting;

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
    tid = (pid_t)btc_sys_gettid();
    /* Before the first write to the library's state, which may be what
     * faults. */
    t_reporting = sig;
    if (!atomic_compare_exchange_strong(&g_owner, &expected, (int)tid)) {
        /* Another thread reports. (Re-entry on this thread goes through
         * t_reporting above: sa_mask blocks every other signal.) */
        wait_for_owner();
        t_reporting = 0;
        reraise(sig, si, tid);
        errno = saved_errno;
        return;
    }

    btc_crash_record_fill(&g_record, sig, origin_si, origin_uc);
    int fd = btc_crash_record_write(&g_record);
    if (fd >= 0) {
        (void)btc_crash_run_helper(&g_record, fd);
        btc_sys_close(fd);
    } else {
        btc_crash_say_errno("could not record the crash", fd);
    }
    atomic_store(&g_done, 1);
    t_reporting = 0;
    reraise(sig, si, tid);
    errno = saved_errno;
}
