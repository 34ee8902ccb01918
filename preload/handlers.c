/* handlers: see handlers.h. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <stdatomic.h>

#include "handlers.h"

static const int k_fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};

#define NFATAL (sizeof(k_fatal_signals) / sizeof(k_fatal_signals[0]))

/* What each of k_fatal_signals had before us, for chaining and re-raising.
 * Written in the constructor only, read on the crash path. */
static struct sigaction g_previous[NFATAL];
static bool g_installed[NFATAL];

static int
fatal_index(int sig)
{
    for (size_t i = 0; i < NFATAL; i++)
        if (k_fatal_signals[i] == sig)
            return (int)i;
    return -1;
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

int
btc_handlers_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = btc_crash_on_signal;
    /* SA_ONSTACK: a stack overflow leaves no room on the faulting stack.
     * No SA_NODEFER, and every signal blocked while we run: a fault inside
     * the handler then kills the process instead of recursing, and our
     * re-raised signal stays pending until the handler returns. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&sa.sa_mask);

    for (size_t i = 0; i < NFATAL; i++) {
        int sig = k_fatal_signals[i];
        struct sigaction old;

        /* Look before installing rather than install-and-restore: a signal
         * arriving in between must not meet our handler. */
        if (sigaction(sig, NULL, &old) != 0)
            return -errno;
        /* A signal the program inherited as ignored stays ignored: kill -ABRT
         * must not start killing a process that expects to survive it. */
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN)
            continue;
        if (sigaction(sig, &sa, NULL) != 0)
            return -errno;
        g_previous[i] = old;
        g_installed[i] = true;
    }
    return 0;
}

void
btc_handlers_restore(int sig)
{
    struct sigaction dfl;
    int i = fatal_index(sig);

    if (i < 0 || !g_installed[i]) {
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        return;
    }
    sigaction(sig, &g_previous[i], NULL); /* async-signal-safe */
}
