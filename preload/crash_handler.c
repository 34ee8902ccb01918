/* crash_handler: the fatal-signal handler. It records the crash, runs the
 * helper, then gives the signal back to whatever handled it before us, so
 * the program dies exactly as it would have without btcrash.
 * Crash path: async-signal-safe only; runs on the alternate signal stack. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
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

/* Give the signal back: restore the disposition we found at start-up and
 * queue the same signal, with the same siginfo, to this thread. It stays
 * pending (blocked by our sa_mask) until this handler returns, and is then
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

void
btc_crash_on_signal(int sig, siginfo_t *si, void *ucontext)
{
    int saved_errno = errno;
    pid_t tid = (pid_t)btc_sys_gettid();
    int expected = 0;

    if (!atomic_compare_exchange_strong(&g_owner, &expected, (int)tid)) {
        /* Same-thread re-entry cannot happen: sa_mask blocks every signal
         * while we run, so a fault inside this handler makes the kernel
         * kill the process with that signal's default action. */
        wait_for_owner();
        reraise(sig, si, tid);
        errno = saved_errno;
        return;
    }

    btc_crash_record_fill(&g_record, sig, si, ucontext);
    int fd = btc_crash_record_write(&g_record);
    if (fd >= 0) {
        (void)btc_crash_run_helper(&g_record, fd);
        btc_sys_close(fd);
    } else {
        btc_crash_say("could not record the crash, errno", NULL, -fd);
    }
    atomic_store(&g_done, 1);
    reraise(sig, si, tid);
    errno = saved_errno;
}
