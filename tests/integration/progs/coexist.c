/* coexist: a program with its own signal handlers and threads, one mode per
 * situation test_coexist.py checks. Each mode prints what it saw on stdout
 * and exits 0 when the program's own expectations held; the modes that die
 * do so on purpose. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sigjmp_buf g_jmp;
static volatile sig_atomic_t g_recovered;
static volatile sig_atomic_t g_on_altstack;
static volatile int *volatile g_null;

static void
fault_null(void)
{
    *g_null = 42; /* @fault */
}

static void
on_segv_info(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    g_recovered++;
    siglongjmp(g_jmp, 1);
}

static void
on_segv_plain(int sig)
{
    (void)sig;
    g_recovered++;
    siglongjmp(g_jmp, 1);
}

/* 1,000 faults, each recovered by the program's handler. */
static int
recover_loop(int n)
{
    for (int i = 0; i < n; i++)
        if (sigsetjmp(g_jmp, 1) == 0)
            fault_null();
    printf("recovered %d\n", (int)g_recovered);
    return g_recovered == n ? 0 : 1;
}

static int
mode_recover(int n, int then_crash, int use_signal)
{
    struct sigaction sa, old;

    if (use_signal) {
        if (signal(SIGSEGV, on_segv_plain) == SIG_ERR)
            return 2;
    } else {
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_segv_info;
        sa.sa_flags = SA_SIGINFO;
        if (sigaction(SIGSEGV, &sa, &old) != 0)
            return 2;
        /* What the program sees: no handler before its own. */
        printf("previous %s\n", old.sa_handler == SIG_DFL ? "SIG_DFL" : "other");
    }
    if (recover_loop(n) != 0)
        return 1;
    if (then_crash) {
        /* Give up recovering, as a program done with its probe would. */
        if (use_signal)
            signal(SIGSEGV, SIG_DFL);
        else
            sigaction(SIGSEGV, &old, NULL);
        fault_null();
    }
    return 0;
}

/* Replace-then-die: handlers that do not recover. */
static void
on_segv_reset_return(int sig)
{
    static const char msg[] = "handler: resetting and returning\n";
    (void)!write(1, msg, sizeof(msg) - 1);
    signal(sig, SIG_DFL); /* the fault repeats and kills */
}

static void
on_segv_reset_raise(int sig)
{
    static const char msg[] = "handler: resetting and raising\n";
    (void)!write(1, msg, sizeof(msg) - 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
on_segv_exit(int sig)
{
    static const char msg[] = "handler: exiting 3\n";
    (void)sig;
    (void)!write(1, msg, sizeof(msg) - 1);
    _exit(3);
}

static void
on_segv_resethand(int sig, siginfo_t *si, void *uc)
{
    static const char msg[] = "handler: once\n";
    (void)sig, (void)si, (void)uc;
    (void)!write(1, msg, sizeof(msg) - 1);
}

static int
mode_die(const char *how)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    if (!strcmp(how, "return"))
        signal(SIGSEGV, on_segv_reset_return);
    else if (!strcmp(how, "raise"))
        signal(SIGSEGV, on_segv_reset_raise);
    else if (!strcmp(how, "exit"))
        signal(SIGSEGV, on_segv_exit);
    else if (!strcmp(how, "resethand")) {
        sa.sa_sigaction = on_segv_resethand;
        sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
        sigaction(SIGSEGV, &sa, NULL);
    } else
        return 2;
    fault_null();
    return 0;
}

/* A thread with its own alternate stack keeps it; one without gets one. */
static char g_own_stack[128 * 1024];

static void *
own_altstack_thread(void *arg)
{
    stack_t ss = {.ss_sp = g_own_stack, .ss_size = sizeof(g_own_stack)}, cur;
    int *ok = arg;

    sigaltstack(&ss, NULL);
    usleep(1000);
    sigaltstack(NULL, &cur);
    *ok = cur.ss_sp == g_own_stack && cur.ss_size == sizeof(g_own_stack) &&
          !(cur.ss_flags & SS_DISABLE);
    printf("own altstack %s\n", *ok ? "kept" : "lost");
    return NULL;
}

static void *
plain_thread(void *arg)
{
    stack_t cur;

    sigaltstack(NULL, &cur);
    *(int *)arg = !(cur.ss_flags & SS_DISABLE);
    printf("plain thread altstack %s size %zu\n", *(int *)arg ? "yes" : "no", cur.ss_size);
    return NULL;
}

static int
mode_altstack(void)
{
    pthread_t t;
    int own = 0, plain = 0;

    pthread_create(&t, NULL, own_altstack_thread, &own);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, plain_thread, &plain);
    pthread_join(t, NULL);
    return own ? 0 : 1; /* plain: checked by the test, with and without btcrash */
}

/* Thread churn: create and join @n threads; print the process's memory
 * before and after. */
static void *
nothing(void *arg)
{
    return arg;
}

static void
exit_thread(void)
{
    pthread_exit(NULL);
}

static void *
exits(void *arg)
{
    (void)arg;
    exit_thread();
    return NULL;
}

static void
print_mem(const char *when)
{
    char line[256];
    long rss = 0, size = 0, maps = 0;
    FILE *f = fopen("/proc/self/status", "r");

    while (f && fgets(line, sizeof(line), f)) {
        sscanf(line, "VmRSS: %ld", &rss);
        sscanf(line, "VmSize: %ld", &size);
    }
    if (f)
        fclose(f);
    f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strchr(line, '\n'))
            maps++;
    if (f)
        fclose(f);
    printf("%s rss_kb %ld size_kb %ld maps %ld\n", when, rss, size, maps);
}

static int
mode_churn(int n)
{
    pthread_t t;

    /* Warm up: glibc caches thread stacks, btcrash alternate stacks. */
    for (int i = 0; i < 100; i++) {
        pthread_create(&t, NULL, i % 2 ? nothing : exits, NULL);
        pthread_join(t, NULL);
    }
    print_mem("before");
    for (int i = 0; i < n; i++) {
        if (pthread_create(&t, NULL, i % 2 ? nothing : exits, NULL) != 0)
            return 1;
        pthread_join(t, NULL);
    }
    print_mem("after");
    return 0;
}

/* SA_ONSTACK, Go style: a runtime's handler catches a stack overflow in a
 * thread and recovers; it must run on an alternate stack. */
static void
on_overflow(int sig, siginfo_t *si, void *uc)
{
    stack_t cur;

    (void)sig, (void)si, (void)uc;
    sigaltstack(NULL, &cur);
    g_on_altstack = (cur.ss_flags & SS_ONSTACK) != 0;
    siglongjmp(g_jmp, 1);
}

static volatile long g_depth_limit = 1L << 40; /* never reached */

static long
deep(long n)
{
    volatile char pad[4096];

    pad[0] = (char)n;
    if (n >= g_depth_limit)
        return 0;
    return deep(n + 1) + pad[0];
}

static void *
overflow_thread(void *arg)
{
    /* The runtime gives each of its threads its own alternate stack. */
    static char stack[64 * 1024];
    stack_t ss = {.ss_sp = stack, .ss_size = sizeof(stack)};

    (void)arg;
    sigaltstack(&ss, NULL);
    if (sigsetjmp(g_jmp, 1) == 0)
        deep(0);
    return NULL;
}

static int
mode_onstack(void)
{
    struct sigaction sa, now;
    pthread_t t;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_overflow;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    pthread_create(&t, NULL, overflow_thread, NULL);
    pthread_join(t, NULL);
    sigaction(SIGSEGV, NULL, &now);
    printf("recovered on altstack %d, flags keep SA_ONSTACK %d, handler kept %d\n",
           (int)g_on_altstack, (now.sa_flags & SA_ONSTACK) != 0, now.sa_sigaction == on_overflow);
    return g_on_altstack && (now.sa_flags & SA_ONSTACK) && now.sa_sigaction == on_overflow ? 0 : 1;
}

int
main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int n = argc > 2 ? atoi(argv[2]) : 1000;

    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "recover"))
        return mode_recover(n, 0, 0);
    if (!strcmp(mode, "recover-then-crash"))
        return mode_recover(n, 1, 0);
    if (!strcmp(mode, "signal-recover"))
        return mode_recover(n, 0, 1);
    if (!strcmp(mode, "signal-recover-then-crash"))
        return mode_recover(n, 1, 1);
    if (!strcmp(mode, "die"))
        return mode_die(argc > 2 ? argv[2] : "");
    if (!strcmp(mode, "altstack"))
        return mode_altstack();
    if (!strcmp(mode, "churn"))
        return mode_churn(n);
    if (!strcmp(mode, "onstack"))
        return mode_onstack();
    fprintf(stderr, "usage: coexist MODE [N]\n");
    return 2;
}
