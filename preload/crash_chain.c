/* crash_chain: see crash_chain.h. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "crash_chain.h"
#include "sys.h"

#define NSLOTS       65 /* signal numbers 1..64 */
#define KSIGSET_SIZE 8  /* the kernel's sigset_t on x86_64 */

struct slot {
    /* Seqlock: odd while a writer copies @sa; readers retry. */
    atomic_uint seq;
    atomic_bool managed;
    struct sigaction sa;
};

static struct slot g_slots[NSLOTS];
static atomic_flag g_lock = ATOMIC_FLAG_INIT;

/* The chain call in progress on this thread, innermost, or NULL. Initial-
 * exec TLS: a plain %fs-relative access, no __tls_get_addr (the library is
 * loaded at start-up, so its TLS is in the static block). */
struct chain_frame {
    int sig;
    siginfo_t *si;
    void *ucontext;
    struct chain_frame *outer;
};
static __thread struct chain_frame *t_chain __attribute__((tls_model("initial-exec")));

static int
sigmask_set(const unsigned long *mask, unsigned long *ret_old)
{
    return (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, mask, ret_old, KSIGSET_SIZE);
}

static void
pause_briefly(void)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000};

    btc_sys_nanosleep(&ts);
}

int
btc_crash_chain_lock(bool bounded, unsigned long *ret_mask)
{
    unsigned long all = ~0UL;

    sigmask_set(&all, ret_mask);
    /* Holders never block and hold the lock for a few system calls. */
    for (unsigned tries = 0; atomic_flag_test_and_set_explicit(&g_lock, memory_order_acquire);
         tries++) {
        if (tries > 20000) { /* about a second */
            if (bounded) {
                sigmask_set(ret_mask, NULL);
                return -EBUSY;
            }
            /* A holder gone for good: a child forked while another thread
             * held the lock. Take it over. */
            return 0;
        }
        pause_briefly();
    }
    return 0;
}

void
btc_crash_chain_unlock(unsigned long mask)
{
    atomic_flag_clear_explicit(&g_lock, memory_order_release);
    sigmask_set(&mask, NULL);
}

void
btc_crash_chain_manage(int sig, const struct sigaction *initial)
{
    if (sig <= 0 || sig >= NSLOTS)
        return;
    btc_crash_chain_set(sig, initial);
    atomic_store(&g_slots[sig].managed, true);
}

bool
btc_crash_chain_managed(int sig)
{
    return sig > 0 && sig < NSLOTS && atomic_load(&g_slots[sig].managed);
}

void
btc_crash_chain_set(int sig, const struct sigaction *sa)
{
    struct slot *s = &g_slots[sig];

    if (sig <= 0 || sig >= NSLOTS)
        return;
    atomic_fetch_add_explicit(&s->seq, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    memcpy(&s->sa, sa, sizeof(s->sa));
    atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
}

int
btc_crash_chain_get(int sig, struct sigaction *ret_sa)
{
    const struct slot *s = &g_slots[sig];

    if (sig > 0 && sig < NSLOTS && atomic_load(&g_slots[sig].managed)) {
        /* Bounded: a writer on another thread holds the slot for one copy. */
        for (unsigned tries = 0; tries < 20000; tries++) {
            unsigned before = atomic_load_explicit(&s->seq, memory_order_acquire);

            if (before & 1) {
                pause_briefly();
                continue;
            }
            memcpy(ret_sa, (const void *)&s->sa, sizeof(*ret_sa));
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&s->seq, memory_order_relaxed) == before)
                return 0;
        }
    }
    memset(ret_sa, 0, sizeof(*ret_sa));
    ret_sa->sa_handler = SIG_DFL;
    return sig > 0 && sig < NSLOTS && atomic_load(&g_slots[sig].managed) ? -EAGAIN : 0;
}

static bool
is_handler(const struct sigaction *sa)
{
    return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

static uintptr_t
interrupted_sp(const void *ucontext)
{
#if defined(__x86_64__)
    return (uintptr_t)((const ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RSP];
#else
    (void)ucontext;
    return 0;
#endif
}

/* Whether @frame is an ancestor of the handler invoked with @ucontext on this
 * thread, rather than a frame left behind by a program handler that jumped
 * away (siglongjmp) out of an earlier chain call. Nested signals are
 * delivered below the interrupted stack pointer on the same alternate stack,
 * so the interrupted code must be running on the alternate stack, below the
 * frame. */
static bool
is_ancestor(const struct chain_frame *frame, const void *ucontext)
{
    stack_t ss;
    uintptr_t sp = interrupted_sp(ucontext), lo, hi, f = (uintptr_t)frame;

    if (syscall(SYS_sigaltstack, NULL, &ss) != 0 || (ss.ss_flags & SS_DISABLE))
        return false;
    lo = (uintptr_t)ss.ss_sp;
    hi = lo + ss.ss_size;
    return sp >= lo && sp < hi && f > sp && f < hi;
}

static struct chain_frame *
current_chain(const void *ucontext)
{
    struct chain_frame *frame = t_chain;

    if (frame && !is_ancestor(frame, ucontext)) {
        t_chain = NULL; /* abandoned by a siglongjmp: forget it */
        return NULL;
    }
    return frame;
}

bool
btc_crash_chain_run(int sig, siginfo_t *si, void *ucontext)
{
    struct sigaction app;
    struct chain_frame frame;
    unsigned long mask, ours, app_mask;

    (void)btc_crash_chain_get(sig, &app);
    if (!is_handler(&app)) {
        /* SIG_IGN: a signal sent by someone (kill, raise) is ignored, as
         * without btcrash. A fault cannot be ignored: the kernel kills. */
        if (app.sa_handler == SIG_IGN && si->si_code <= 0)
            return true;
        return false;
    }
    if (app.sa_flags & SA_RESETHAND) {
        struct sigaction dfl;
        unsigned long saved;

        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        if (btc_crash_chain_lock(true, &saved) == 0) {
            btc_crash_chain_set(sig, &dfl);
            btc_crash_chain_unlock(saved);
        }
    }
    /* The mask the kernel would have set for the program's handler: the
     * interrupted code's, plus its sa_mask, plus the signal unless
     * SA_NODEFER. */
    memcpy(&mask, &((ucontext_t *)ucontext)->uc_sigmask, sizeof(mask));
    memcpy(&app_mask, &app.sa_mask, sizeof(app_mask));
    mask |= app_mask;
    if (!(app.sa_flags & SA_NODEFER))
        mask |= 1UL << (sig - 1);

    frame.sig = sig;
    frame.si = si;
    frame.ucontext = ucontext;
    frame.outer = current_chain(ucontext);
    t_chain = &frame;
    sigmask_set(&mask, &ours);
    if (app.sa_flags & SA_SIGINFO)
        app.sa_sigaction(sig, si, ucontext);
    else
        app.sa_handler(sig);
    /* It returned: back to our own mask until we return to the kernel,
     * which restores the interrupted code's (possibly edited) uc_sigmask. */
    sigmask_set(&ours, NULL);
    t_chain = frame.outer;
    return true;
}

void
btc_crash_chain_origin(int sig, siginfo_t *si, void *ucontext, siginfo_t **ret_si,
                       void **ret_ucontext)
{
    struct chain_frame *frame = current_chain(ucontext);

    /* The outermost chain call for this signal: the original fault. */
    for (struct chain_frame *f = frame; f; f = f->outer) {
        if (f->sig == sig) {
            si = f->si;
            ucontext = f->ucontext;
        }
    }
    *ret_si = si;
    *ret_ucontext = ucontext;
}
