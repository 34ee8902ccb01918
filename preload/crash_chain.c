/* crash_chain: see crash_chain.h. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "crash.h"
#include "crash_chain.h"
#include "sys.h"

#define NSLOTS       65 /* signal numbers 1..64 */
#define KSIGSET_SIZE 8  /* the kernel's sigset_t on x86_64 */

/* A slot's state word: which of its two buffers holds the program's
 * disposition (bit 1), whether SA_RESETHAND has reset it to SIG_DFL since
 * (bit 0), and a generation count above, bumped by every new disposition. */
#define ST_RESET     1u
#define ST_INDEX(st) ((unsigned)((st) >> 1) & 1u)
#define ST_GEN_ONE   4u
/* Readers retry only when a new disposition was published while they
 * copied (they never wait for a writer; see get()): this many in a row
 * would take a sigaction() storm, each call being a system call longer
 * than one copy. */
#define READ_TRIES 64

/* The program's disposition of one signal. The writers (the interposed
 * sigaction(), under g_lock; the constructor) copy a new disposition into
 * the buffer readers are not directed to, then publish it with one store of
 * @state. The crash path only reads, and resets for SA_RESETHAND with one
 * compare-and-swap of @state: it takes no lock and waits for nobody. */
struct slot {
    _Atomic uint64_t state;
    atomic_bool managed;
    /* SA_RESETHAND in a vfork child: SIG_DFL for that pid only. The child
     * runs in its parent's memory, and the kernel resets the child's own
     * disposition, not the parent's. Cleared by the next new disposition. */
    _Atomic pid_t reset_in;
    struct sigaction sa[2];
};

static struct slot g_slots[NSLOTS];
/* The writers' lock: (pid << 32) | tid of its holder, or 0. */
static _Atomic uint64_t g_lock;

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
btc_crash_chain_lock(unsigned long *ret_mask)
{
    unsigned long all = ~0UL;
    pid_t pid = btc_sys_getpid();
    uint64_t me = (uint64_t)(uint32_t)pid << 32 | (uint32_t)btc_sys_gettid();

    sigmask_set(&all, ret_mask);
    for (;;) {
        uint64_t holder = 0;

        if (atomic_compare_exchange_strong(&g_lock, &holder, me))
            return 0;
        /* Held by another process: this is a forked child, which inherited
         * the lock from a thread of its parent that is not here, so it is
         * never released. Take it over. (Only the process whose memory this
         * is takes the lock: a vfork child's sigaction() does not, see
         * handlers.c.) A thread of this process is never overtaken: it
         * holds the lock with every signal blocked (nothing can interrupt
         * it on its thread) for a few system calls, and releases it. */
        if ((pid_t)(holder >> 32) != pid && atomic_compare_exchange_strong(&g_lock, &holder, me))
            return 0;
        pause_briefly();
    }
}

void
btc_crash_chain_unlock(unsigned long mask)
{
    atomic_store(&g_lock, 0);
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
    struct slot *s;

    if (sig <= 0 || sig >= NSLOTS)
        return;
    s = &g_slots[sig];
    uint64_t st = atomic_load(&s->state);
    unsigned next = ST_INDEX(st) ^ 1u;

    /* Into the buffer readers are not directed to. A reader still copying
     * it from two publications ago sees the generation change and retries.
     * (x86_64's stores are seen in order; the fences keep the compiler from
     * moving the copy across the state's accesses.) */
    atomic_thread_fence(memory_order_release);
    memcpy(&s->sa[next], sa, sizeof(s->sa[next]));
    atomic_store_explicit(&s->reset_in, 0, memory_order_relaxed);
    atomic_store_explicit(&s->state, ((st & ~(uint64_t)3) + ST_GEN_ONE) | (uint64_t)next << 1,
                          memory_order_release);
}

/* The program's disposition of @sig (SIG_DFL when unmanaged), and the
 * state word of its slot it was read at. Returns 0, or -EAGAIN when new
 * dispositions kept coming (then SIG_DFL). Never waits: a writer copying
 * into the other buffer does not stop it, and a retry means that a new
 * disposition was published meanwhile. */
static int
get(int sig, struct sigaction *ret_sa, uint64_t *ret_state)
{
    struct slot *s = &g_slots[sig];
    pid_t reset_in;

    *ret_state = 0;
    if (sig <= 0 || sig >= NSLOTS || !atomic_load(&s->managed))
        goto dfl;
    reset_in = atomic_load(&s->reset_in);
    for (unsigned tries = 0; tries < READ_TRIES; tries++) {
        uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);

        *ret_state = st;
        if ((st & ST_RESET) || (reset_in != 0 && reset_in == btc_sys_getpid()))
            goto dfl; /* reset by SA_RESETHAND */
        memcpy(ret_sa, (const void *)&s->sa[ST_INDEX(st)], sizeof(*ret_sa));
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->state, memory_order_relaxed) == st)
            return 0;
    }
    memset(ret_sa, 0, sizeof(*ret_sa));
    ret_sa->sa_handler = SIG_DFL;
    return -EAGAIN;
dfl:
    memset(ret_sa, 0, sizeof(*ret_sa));
    ret_sa->sa_handler = SIG_DFL;
    return 0;
}

int
btc_crash_chain_get(int sig, struct sigaction *ret_sa)
{
    uint64_t st;

    return get(sig, ret_sa, &st);
}

/* SA_RESETHAND: the disposition read at @st becomes SIG_DFL. One attempt:
 * if the program set a new disposition meanwhile, that one stands, as it
 * would had its sigaction() come just after the kernel's reset. In a vfork
 * child, only the child's view is reset (slot.reset_in). */
static void
reset_slot(int sig, uint64_t st)
{
    struct slot *s = &g_slots[sig];

    if (btc_crash_in_borrowed_memory()) {
        atomic_store(&s->reset_in, btc_sys_getpid());
        return;
    }
    (void)atomic_compare_exchange_strong(&s->state, &st, st | ST_RESET);
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

    /* A vfork child runs on its parent's thread and sees the parent's
     * t_chain: it neither uses nor changes it (see btc_crash_chain_run). */
    if (frame && btc_crash_in_borrowed_memory())
        return NULL;
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
    uint64_t st = 0;
    bool borrowed;

    (void)get(sig, &app, &st);
    if (!is_handler(&app)) {
        /* SIG_IGN: a signal sent by someone (kill, raise) is ignored, as
         * without btcrash. A fault cannot be ignored: the kernel kills. */
        if (app.sa_handler == SIG_IGN && si->si_code <= 0)
            return true;
        return false;
    }
    if (app.sa_flags & SA_RESETHAND)
        reset_slot(sig, st);
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
    /* A vfork child leaves its parent's t_chain alone: a child that died
     * inside the program's handler would otherwise leave its frame there
     * for the parent to follow. (It loses the origin of a raise from inside
     * a handler, for its own report only.) */
    borrowed = btc_crash_in_borrowed_memory();
    if (!borrowed)
        t_chain = &frame;
    sigmask_set(&mask, &ours);
    if (app.sa_flags & SA_SIGINFO)
        app.sa_sigaction(sig, si, ucontext);
    else
        app.sa_handler(sig);
    /* It returned: back to our own mask until we return to the kernel,
     * which restores the interrupted code's (possibly edited) uc_sigmask. */
    sigmask_set(&ours, NULL);
    if (!borrowed)
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
