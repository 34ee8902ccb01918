/* vfork_crash: a crash in a vfork() child, before it execs or exits, then
 * one in the parent. The child runs in the parent's memory, btcrash's
 * statics included; its crash must not keep the parent's from being
 * reported.
 *
 *   vfork_crash after    the child writes through NULL in child_crash();
 *                        vfork() returns in the parent once it is dead; the
 *                        parent reaps it, then writes through NULL in
 *                        parent_crash().
 *   vfork_crash handler  the parent installs a SIGSEGV handler that
 *                        prints "PARENT_HANDLER" and exits 3; the child
 *                        resets SIGSEGV to SIG_DFL with signal() and exits
 *                        0; then the parent writes through NULL: its own
 *                        handler runs (the child's reset was its own).
 *   vfork_crash during   the same child crash, but a second thread of the
 *                        parent ("parent-late") writes through NULL in
 *                        late_crash() 300 ms after the child's fault, while
 *                        the child is still being reported (the main
 *                        thread is suspended in vfork()).
 *
 * On stderr, with write(2) only in the child (it shares the parent's stdio):
 *   CHILD_PID <pid> CHILD_FAULT_MONO_NS <ns>       (the child)
 *   PARENT_PID <pid>                               (the parent)
 *   LATE_TID <tid>                                 ("during": the late thread)
 *   FAULT_MONO_NS <ns>                             (the parent's fault)
 * and on stdout, "after" only, once the parent has reaped the child:
 *   CHILD <pid> STATUS <raw wait status> REAPED_MONO_NS <ns>
 * Built at -O0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "death_common.h"

int *volatile g_target; /* NULL */
/* Set by the child just before its fault: it shares this memory. */
static atomic_llong g_child_fault_ns;

void child_crash(void);
void parent_crash(void);
void late_crash(void);

/* Decimal, without stdio: the child must not touch the parent's FILEs. */
static size_t
put_num(char *p, long long v)
{
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

static size_t
put_str(char *p, const char *s)
{
    size_t n = strlen(s);

    memcpy(p, s, n);
    return n;
}

void
child_crash(void)
{
    char line[128];
    size_t n = 0;
    long long now = death_mono_ns();

    n += put_str(line + n, "CHILD_PID ");
    n += put_num(line + n, getpid());
    n += put_str(line + n, " CHILD_FAULT_MONO_NS ");
    n += put_num(line + n, now);
    line[n++] = '\n';
    (void)!write(2, line, n);
    atomic_store(&g_child_fault_ns, now);
    *g_target = 7; /* @child_fault */
}

void
parent_crash(void)
{
    death_stamp();
    *g_target = 8; /* @parent_fault */
}

void
late_crash(void)
{
    fprintf(stderr, "LATE_TID %d\n", (int)gettid());
    death_stamp();
    *g_target = 9; /* @late_fault */
}

static void
parent_handler(int sig)
{
    static const char msg[] = "PARENT_HANDLER\n";

    (void)sig;
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(3);
}

static void *
late_thread(void *arg)
{
    struct timespec ts = {0, 1000000};

    (void)arg;
    while (!atomic_load(&g_child_fault_ns))
        nanosleep(&ts, NULL);
    ts.tv_nsec = 300 * 1000000;
    nanosleep(&ts, NULL);
    late_crash();
    return NULL;
}

int
main(int argc, char **argv)
{
    int during = argc > 1 && strcmp(argv[1], "during") == 0;
    int handler = argc > 1 && strcmp(argv[1], "handler") == 0;
    pthread_t t;
    int status;

    if (handler) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = parent_handler;
        if (sigaction(SIGSEGV, &sa, NULL) != 0)
            return 5;
    }

    fprintf(stderr, "PARENT_PID %d\n", (int)getpid());
    fflush(stderr);
    if (during) {
        if (pthread_create(&t, NULL, late_thread, NULL) != 0)
            return 2;
        pthread_setname_np(t, "parent-late");
    }
    pid_t pid = vfork();
    if (pid < 0)
        return 3;
    if (pid == 0) {
        if (handler) {
            signal(SIGSEGV, SIG_DFL);
            _exit(0);
        }
        child_crash();
        _exit(0); /* not reached */
    }
    if (during) {
        /* The late thread's crash ends the process. */
        for (;;)
            pause();
    }
    if (waitpid(pid, &status, 0) != pid)
        return 4;
    printf("CHILD %d STATUS %d REAPED_MONO_NS %lld\n", (int)pid, status, death_mono_ns());
    fflush(stdout);
    parent_crash();
    return 0;
}
