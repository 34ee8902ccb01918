/* handlers: see handlers.h. */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <stdatomic.h>

#include "crash.h"
#include "crash_chain.h"
#include "handlers.h"

static const int k_fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};

#define NFATAL (sizeof(k_fatal_signals) / sizeof(k_fatal_signals[0]))

typedef __sighandler_t (*signal_fn)(int, __sighandler_t);

/* libc's signal() (the next one, should another preloaded library
 * interpose it too), for the signals btcrash does not manage. Looked up by
 * the constructor, not on first use: signal() is called from signal
 * handlers (a crash handler resetting its signal), where dlsym, which takes
 * the dynamic loader's lock, may deadlock. */
static _Atomic(signal_fn) g_real_signal;

void
btc_handlers_resolve(void)
{
    atomic_store(&g_real_signal, (signal_fn)dlsym(RTLD_NEXT, "signal"));
}

int
btc_handlers_ensure_altstack(void)
{
    /* The main thread's alternate stack: .bss costs no system call and no
     * memory until a signal actually runs on it. */
    static char main_altstack[BTC_ALTSTACK_SIZE] __attribute__((aligned(64)));
    static atomic_flag taken = ATOMIC_FLAG_INIT;
    stack_t cur, ss;

    if (sigaltstack(NULL, &cur) != 0)
        return -errno;
    /* A thread (or runtime) with its own alternate stack keeps it. */
    if (!(cur.ss_flags & SS_DISABLE))
        return 0;
    if (atomic_flag_test_and_set(&taken))
        return -EBUSY; /* one static stack: only the first thread gets it */
    ss.ss_sp = main_altstack;
    ss.ss_size = sizeof(main_altstack);
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0)
        return -errno;
    return 0;
}

/* btcrash's handler as the kernel sees it. SA_RESTART follows the program's
 * handler, so that a signal sent to the process restarts (or interrupts)
 * system calls as it would without btcrash. */
static bool
is_fault_signal(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
}

static void
our_action(const struct sigaction *app, struct sigaction *ret_sa)
{
    memset(ret_sa, 0, sizeof(*ret_sa));
    ret_sa->sa_sigaction = btc_crash_on_signal;
    unsigned long faults =
        1UL << (SIGSEGV - 1) | 1UL << (SIGBUS - 1) | 1UL << (SIGILL - 1) | 1UL << (SIGFPE - 1);
    unsigned long mask;

    /* SA_ONSTACK: a stack overflow leaves no room on the faulting stack.
     * The program's handler is called from ours, so it runs on the alternate
     * stack too (Go-style runtimes require it).
     * No SA_NODEFER, and every signal blocked while we run but the fault
     * signals: our re-raised signal stays pending until the handler
     * returns, and a fault inside the handler comes back to it (the kernel
     * would otherwise kill with the fault's signal rather than the one being
     * reported; crash_handler.c). The signal being handled stays blocked,
     * so a SIGSEGV handler that faults still dies of SIGSEGV at once. The
     * program's handler gets its own mask (crash_chain.c). */
    ret_sa->sa_flags = SA_SIGINFO | SA_ONSTACK | (app ? app->sa_flags & SA_RESTART : 0);
    if (app && !(app->sa_flags & SA_SIGINFO) && app->sa_handler == SIG_IGN)
        ret_sa->sa_flags |= SA_RESTART;
    memset(&ret_sa->sa_mask, 0xff, sizeof(ret_sa->sa_mask)); /* sigfillset */
    memcpy(&mask, &ret_sa->sa_mask, sizeof(mask));
    mask &= ~faults;
    memcpy(&ret_sa->sa_mask, &mask, sizeof(mask));
}

int
btc_handlers_install(void)
{
    struct sigaction sa;

    our_action(NULL, &sa);
    for (size_t i = 0; i < NFATAL; i++) {
        int sig = k_fatal_signals[i];
        struct sigaction old;

        /* Look before installing rather than install-and-restore: a signal
         * arriving in between must not meet our handler. */
        if (btc_real_sigaction(sig, NULL, &old) != 0)
            return -errno;
        /* A signal the program inherited as ignored stays ignored: kill -ABRT
         * must not start killing a process that expects to survive it. */
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN)
            continue;
        /* What was there (normally SIG_DFL; a handler installed by an
         * earlier preloaded library) is the program's disposition: called
         * first, reported after. */
        btc_crash_chain_manage(sig, &old);
        our_action(&old, &sa);
        if (btc_real_sigaction(sig, &sa, NULL) != 0)
            return -errno;
    }
    return 0;
}

void
btc_handlers_restore(int sig)
{
    struct sigaction dfl;

    /* We report only when the program's disposition is the default one. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    btc_real_sigaction(sig, &dfl, NULL); /* async-signal-safe */
}

/* The interposed sigaction(): for the fatal signals btcrash manages, the
 * program's disposition is recorded, btcrash's handler stays in front, and
 * the program sees what it would see without btcrash (its own previous
 * disposition). SIG_IGN for SIGABRT, SIGTRAP and SIGSYS is passed to the
 * kernel for real: those are sent on purpose and must not interrupt system
 * calls. For SIGSEGV, SIGBUS, SIGFPE and SIGILL our handler stays (with
 * SA_RESTART) and ignores a sent signal itself: the kernel cannot ignore a
 * fault, it kills, and that death is reported. Everything else goes straight
 * to libc. Exported: it must interpose libc's. */
__attribute__((visibility("default"))) int
sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
    struct sigaction cur, ours;
    unsigned long mask;
    int r = 0;

    if (!btc_crash_chain_managed(sig))
        return btc_real_sigaction(sig, act, oldact);
    if (btc_crash_in_borrowed_memory()) {
        /* A vfork child, before its exec: its dispositions are its own (the
         * kernel copied them), but this memory is its parent's. Changing
         * the record would change the parent's handler. Straight to the
         * kernel: the child gets what it asked for, without btcrash in
         * front, and the parent keeps its own. */
        struct sigaction kernel;

        btc_crash_chain_get(sig, &cur);
        r = btc_real_sigaction(sig, act, &kernel);
        if (r == 0 && oldact)
            *oldact = kernel.sa_sigaction == btc_crash_on_signal ? cur : kernel;
        return r;
    }
    btc_crash_chain_lock(&mask);
    btc_crash_chain_get(sig, &cur);
    if (act) {
        if (!(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_IGN && !is_fault_signal(sig)) {
            r = btc_real_sigaction(sig, act, NULL);
        } else {
            our_action(act, &ours);
            r = btc_real_sigaction(sig, &ours, NULL);
        }
        if (r == 0)
            btc_crash_chain_set(sig, act);
    }
    btc_crash_chain_unlock(mask);
    if (r != 0)
        return r; /* errno from libc */
    if (oldact)
        *oldact = cur;
    return 0;
}

/* The interposed signal(): glibc's BSD semantics (the signal blocked while
 * its handler runs, system calls restarted), through the sigaction above. */
__attribute__((visibility("default"))) __sighandler_t
signal(int sig, __sighandler_t handler)
{
    struct sigaction sa, old;
    unsigned long mask;

    if (!btc_crash_chain_managed(sig)) {
        signal_fn real = atomic_load(&g_real_signal);

        if (real)
            return real(sig, handler);
        /* Called before the constructor (from an earlier library's): what
         * glibc's signal() does, through libc's sigaction (this loses only
         * siginterrupt()'s effect on this call). */
        if (sig <= 0 || sig >= 65) {
            errno = EINVAL;
            return SIG_ERR;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = handler;
        mask = 1UL << (sig - 1); /* sigaddset, without importing it */
        memcpy(&sa.sa_mask, &mask, sizeof(mask));
        sa.sa_flags = SA_RESTART;
        if (btc_real_sigaction(sig, &sa, &old) != 0)
            return SIG_ERR;
        return old.sa_handler;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    mask = 1UL << (sig - 1); /* sigemptyset, sigaddset: btcrash manages only 1..31 */
    memcpy(&sa.sa_mask, &mask, sizeof(mask));
    sa.sa_flags = SA_RESTART;
    if (sigaction(sig, &sa, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}
