/* handlers: installs btcrash's fatal-signal handlers and the main thread's
 * alternate signal stack, and interposes sigaction() and signal() so that
 * the program's own handlers for those signals run from btcrash's
 * (crash_chain.c). Installation runs in the constructor, the interposed
 * functions in the program's threads (and its signal handlers);
 * btc_handlers_restore also on the crash path. */
#ifndef BTCRASH_PRELOAD_HANDLERS_H
#define BTCRASH_PRELOAD_HANDLERS_H

#include <signal.h>

/* Size of the alternate signal stack given to threads that have none. */
#define BTC_ALTSTACK_SIZE (64 * 1024)

/** Constructor, first of all (even when the library stays inert, since
 * signal() is interposed all the same): look up libc's signal(). */
void btc_handlers_resolve(void);

/** Constructor: install the handlers. Returns 0 or -errno. */
int btc_handlers_install(void);

/** Constructor: give the calling thread an alternate stack if it has none. */
int btc_handlers_ensure_altstack(void);

/** Crash path, async-signal-safe: set @sig's default disposition in the
 * kernel (btcrash reports only when that is the program's disposition). */
void btc_handlers_restore(int sig);

/** Crash path: the handler itself (crash_handler.c). */
void btc_crash_on_signal(int sig, siginfo_t *si, void *ucontext);

#endif
