/* threads: see threads.h. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "handlers.h"
#include "sys.h"
#include "threads.h"

/* Below each alternate stack, a page nothing may touch: a handler that
 * overflows its alternate stack faults (and the kernel kills) instead of
 * writing over whatever memory lies below. */
#define GUARD_SIZE 4096
#define MAP_SIZE   (GUARD_SIZE + BTC_ALTSTACK_SIZE)
/* Stacks of ended threads kept for new ones: thread churn then costs two
 * sigaltstack calls per thread, not an mmap, mprotect and munmap. */
#define CACHE_MAX 64

/* System calls rather than libc's mmap, munmap, mprotect and sigaltstack,
 * and an atomic flag rather than a mutex: each libc function imported is
 * one more symbol look-up at every exec of every program (the library is
 * bound with -z now; see sys.h). */

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef int (*key_create_fn)(pthread_key_t *, void (*)(void *));
typedef int (*setspecific_fn)(pthread_key_t, const void *);

static atomic_bool g_enabled;
/* Looked up on the first pthread_create, not imported: programs that never
 * create a thread pay nothing at start-up. The thread-specific key's
 * destructor releases a thread's stack however the thread ends (its start
 * routine returns, pthread_exit, cancellation). */
enum { INIT_NONE, INIT_DONE, INIT_FAILED };
static atomic_int g_init;
/* The thread resolving them: (pid << 32) | tid, or 0 before the first
 * pthread_create. With the pid, so that a child forked meanwhile, where
 * that thread is not, knows the look-up will never end there. */
static _Atomic uint64_t g_init_by;
static create_fn g_real_create;
static setspecific_fn g_setspecific;
static pthread_key_t g_key;
/* What a new thread needs (struct btc_threads_start) is written at the
 * bottom of its alternate stack, above the guard, by the creating thread: no
 * malloc per thread. The thread copies it out before it installs the
 * stack. */
static atomic_flag g_cache_lock = ATOMIC_FLAG_INIT;
static char *g_cache[CACHE_MAX];
static int g_cached;

void
btc_threads_enable(void)
{
    atomic_store(&g_enabled, true);
}

/* The usable part of a mapping: everything above the guard page. */
static char *
stack_of(char *map)
{
    return map + GUARD_SIZE;
}

static char *
stack_get(void)
{
    char *map = NULL;

    /* A try-lock: under contention, or in a child forked while another thread
     * held the lock, go without the cache rather than wait. */
    if (!atomic_flag_test_and_set_explicit(&g_cache_lock, memory_order_acquire)) {
        if (g_cached > 0)
            map = g_cache[--g_cached];
        atomic_flag_clear_explicit(&g_cache_lock, memory_order_release);
    }
    if (map)
        return map;
    map = (char *)syscall(SYS_mmap, NULL, MAP_SIZE, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    if (syscall(SYS_mprotect, map, GUARD_SIZE, PROT_NONE) != 0) {
        syscall(SYS_munmap, map, MAP_SIZE);
        return NULL;
    }
    return map;
}

static void
stack_put(char *map)
{
    if (!atomic_flag_test_and_set_explicit(&g_cache_lock, memory_order_acquire)) {
        if (g_cached < CACHE_MAX) {
            g_cache[g_cached++] = map;
            map = NULL;
        }
        atomic_flag_clear_explicit(&g_cache_lock, memory_order_release);
    }
    if (map)
        syscall(SYS_munmap, map, MAP_SIZE);
}

/* The thread is ending (returned, pthread_exit, cancelled; the key's
 * destructor, called with the thread's value): stop using our
 * alternate stack and give it back. A thread that installed its own since
 * keeps it registered; only ours is released. */
static void
thread_end(void *arg)
{
    char *map = arg;
    stack_t off = {.ss_flags = SS_DISABLE}, old;

    if (syscall(SYS_sigaltstack, &off, &old) == 0 && !(old.ss_flags & SS_DISABLE) &&
        old.ss_sp != stack_of(map))
        syscall(SYS_sigaltstack, &old, NULL); /* the thread's own: put it back */
    stack_put(map);
}

/* The new thread's first step, on its own stack: install the alternate
 * stack and note it for release. Returns the program's start routine and
 * its argument. */
struct btc_threads_start
btc_threads_setup(char *map)
{
    struct btc_threads_start st = *(struct btc_threads_start *)stack_of(map);
    stack_t ss = {.ss_sp = stack_of(map), .ss_size = BTC_ALTSTACK_SIZE, .ss_flags = 0}, old;

    if (g_setspecific(g_key, map) != 0) {
        stack_put(map);
        return st;
    }
    /* A new thread has no alternate stack (the kernel clears it on clone),
     * so this normally installs ours in one call. Should one be there,
     * it stays. */
    if (syscall(SYS_sigaltstack, &ss, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        syscall(SYS_sigaltstack, &old, NULL);
    return st;
}

#if defined(__x86_64__)
/* The start routine glibc runs: set up, then jump to the program's start
 * routine with its argument, our frame gone. The program's routine returns
 * straight to glibc's start_thread, so no btcrash frame sits at the bottom
 * of any thread's stack (in reports, gdb or anything else that unwinds).
 * struct btc_threads_start comes back in rax:rdx (SysV: two pointers). The push keeps
 * the call aligned; after the pop, the stack is as it was on entry. */
void *btc_threads_trampoline(void *arg);
__asm__(".text\n"
        ".globl btc_threads_trampoline\n"
        ".hidden btc_threads_trampoline\n"
        ".type btc_threads_trampoline, @function\n"
        "btc_threads_trampoline:\n"
        ".cfi_startproc\n"
        "    pushq %rdi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "    call btc_threads_setup\n"
        "    popq %rdi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "    movq %rdx, %rdi\n"
        "    jmp *%rax\n"
        ".cfi_endproc\n"
        ".size btc_threads_trampoline, .-btc_threads_trampoline\n");
#define thread_start btc_threads_trampoline
#else
static void *
thread_start(void *arg)
{
    struct btc_threads_start st = btc_threads_setup(arg);

    return st.fn(st.arg);
}
#endif

/* How long a pthread_create waits for another thread's look-up (a few
 * microseconds of dlsym, unless that thread is descheduled or waits for
 * the dynamic loader's lock, which this thread may hold: a library's
 * constructor creating a thread) before looking up pthread_create itself. */
#define INIT_WAIT_NS (100 * 1000000LL)

static int
resolve(void)
{
    key_create_fn key_create;
    int state;

    g_real_create = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
    key_create = (key_create_fn)dlsym(RTLD_NEXT, "pthread_key_create");
    g_setspecific = (setspecific_fn)dlsym(RTLD_NEXT, "pthread_setspecific");
    state = g_real_create && key_create && g_setspecific && key_create(&g_key, thread_end) == 0
                ? INIT_DONE
                : INIT_FAILED;
    atomic_store(&g_init, state);
    return state;
}

/* Resolve once. Returns INIT_DONE or INIT_FAILED; INIT_NONE when another
 * thread is still at it after INIT_WAIT_NS, or this very thread is (a
 * signal handler calling pthread_create): the caller then does without. */
static int
init_once(void)
{
    pid_t pid = btc_sys_getpid();
    uint64_t me = (uint64_t)(uint32_t)pid << 32 | (uint32_t)btc_sys_gettid();
    int64_t give_up = 0;

    for (;;) {
        int state = atomic_load(&g_init);
        uint64_t by = 0;

        if (state != INIT_NONE)
            return state;
        if (atomic_compare_exchange_strong(&g_init_by, &by, me))
            return resolve();
        /* Claimed in the parent of this forked child by a thread that is
         * not here: it never finishes. Take over. */
        if ((pid_t)(by >> 32) != pid) {
            if (atomic_compare_exchange_strong(&g_init_by, &by, me))
                return resolve();
            continue;
        }
        if (by == me)
            return INIT_NONE;
        if (give_up == 0)
            give_up = btc_sys_now_ns(CLOCK_MONOTONIC) + INIT_WAIT_NS;
        else if (btc_sys_now_ns(CLOCK_MONOTONIC) > give_up)
            return INIT_NONE;
        syscall(SYS_sched_yield);
    }
}

/* Exported: it must interpose libc's pthread_create, for threads that
 * libraries create as well as the program's own. */
__attribute__((visibility("default"))) int
pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    int state = atomic_load(&g_init);
    create_fn real;
    char *map;
    int r;

    if (state == INIT_NONE)
        state = init_once(); /* never in a signal handler */
    /* Not resolved in time (see init_once): this thread's own look-up, and
     * the thread goes without btcrash's alternate stack. */
    real = state == INIT_NONE ? (create_fn)dlsym(RTLD_NEXT, "pthread_create") : g_real_create;
    if (!real)
        return EAGAIN;
    if (state != INIT_DONE || !atomic_load_explicit(&g_enabled, memory_order_relaxed) ||
        !(map = stack_get()))
        return real(thread, attr, fn, arg);
    ((struct btc_threads_start *)stack_of(map))->fn = fn;
    ((struct btc_threads_start *)stack_of(map))->arg = arg;
    r = real(thread, attr, thread_start, map);
    if (r != 0)
        stack_put(map);
    return r;
}
