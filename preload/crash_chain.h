/* crash_chain: the program's own dispositions of the fatal signals. btcrash
 * keeps its handler installed in the kernel and records what the program
 * asked for (through the interposed sigaction() and signal(), handlers.c);
 * the handler calls the program's handler first, as the kernel would have.
 * Crash path: async-signal-safe; the setters also run in normal context. */
#ifndef BTCRASH_PRELOAD_CRASH_CHAIN_H
#define BTCRASH_PRELOAD_CRASH_CHAIN_H

#include <signal.h>
#include <stdbool.h>

/* libc's own sigaction, bypassing the interposed one (which is exported
 * from this library and would otherwise bind our own calls to itself). */
extern int btc_real_sigaction(int sig, const struct sigaction *act,
                              struct sigaction *oldact) __asm__("__sigaction");

/** Constructor: manage @sig from now on, starting with disposition @initial. */
void btc_crash_chain_manage(int sig, const struct sigaction *initial);

/** Crash path: whether @sig is managed (btcrash's handler installed for it). */
bool btc_crash_chain_managed(int sig);

/** Crash path: the program's current disposition of @sig (SIG_DFL when
 * unmanaged). Lock-free, never waits. Returns 0, or -EAGAIN when new
 * dispositions kept being published while it read (then @ret_sa is
 * SIG_DFL). */
int btc_crash_chain_get(int sig, struct sigaction *ret_sa);

/** Normal context: record @sa as the program's disposition of @sig.
 * Callers hold btc_crash_chain_lock (the constructor needs not: it runs
 * before anything else can). */
void btc_crash_chain_set(int sig, const struct sigaction *sa);

/** Normal context only (the crash path takes no lock): serialise changes of
 * dispositions. Blocks every signal in the calling thread (saved in
 * @ret_mask) so that a handler cannot interrupt the holder on its own
 * thread. Waits for a holder in this process, as for a mutex; a lock held
 * by another process (inherited by a forked child) is taken over. Returns
 * 0. */
int btc_crash_chain_lock(unsigned long *ret_mask);
void btc_crash_chain_unlock(unsigned long mask);

/** Crash path: the handler's first step. When the program has a handler for
 * @sig, call it as the kernel would have (SA_SIGINFO or not, its sa_mask,
 * SA_NODEFER, SA_RESETHAND) and return true: the program's handler either
 * recovered (returned, or jumped away and this never returns) or arranged
 * its own death, which comes back to btcrash's handler with SIG_DFL.
 * Returns false when the disposition is the default one: report. */
bool btc_crash_chain_run(int sig, siginfo_t *si, void *ucontext);

/** Crash path: when this handler runs nested inside a program handler that
 * btc_crash_chain_run called on this thread for the same @sig (Python's
 * faulthandler restores SIG_DFL and raises again from inside its handler),
 * the original fault's siginfo and context; else @si and @ucontext. */
void btc_crash_chain_origin(int sig, siginfo_t *si, void *ucontext, siginfo_t **ret_si,
                            void **ret_ucontext);

#endif
