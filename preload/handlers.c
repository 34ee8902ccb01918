/* handlers: see handlers.h. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "handlers.h"

static const int k_fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};

/* What each signal had before us, for chaining and re-raising. Written in the
 * constructor only, read on the crash path. */
static struct sigaction g_previous[NSIG];
static bool g_installed[NSIG];

int
btc_handlers_ensure_altstack(void)
{
    stack_t cur, ss;
    void *mem;

    if (sigaltstack(NULL, &cur) != 0)
        return -errno;
    /* A thread (or runtime) with its own alternate stack keeps it. */
    if (!(cur.ss_flags & SS_DISABLE))
        return 0;
    mem = mmap(NULL, BTC_ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    ss.ss_sp = mem;
    ss.ss_size = BTC_ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        int r = -errno;
        munmap(mem, BTC_ALTSTACK_SIZE);
        return r;
    }
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

    for (size_t i = 0; i < sizeof(k_fatal_signals) / sizeof(k_fatal_signals[0]); i++) {
        int sig = k_fatal_signals[i];
        struct sigaction old;

        if (sigaction(sig, NULL, &old) != 0)
            return -errno;
        /* A signal the program inherited as ignored stays ignored: kill -ABRT
         * must not start killing a process that expects to survive it. */
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN)
            continue;
        g_previous[sig] = old;
        if (sigaction(sig, &sa, NULL) != 0)
            return -errno;
        g_installed[sig] = true;
    }
    return 0;
}

void
btc_handlers_restore(int sig)
{
    struct sigaction dfl;

    if (sig <= 0 || sig >= NSIG || !g_installed[sig]) {
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        return;
    }
    sigaction(sig, &g_previous[sig], NULL); /* async-signal-safe */
}
