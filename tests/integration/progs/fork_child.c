/* fork_child: a crash in a forked child that does not exec.
 *
 * The parent starts a named thread ("parent-park"), then forks. The child
 * names its main thread "child-main", starts a thread "child-park" that
 * parks, prints its pid and both tids, and writes through NULL in
 * child_crash(). The parent waits for the child and prints
 *   CHILD <pid> STATUS <raw wait status> REAPED_MONO_NS <ns>
 * on stdout, then exits 0. The child prints on stderr
 *   CHILD_PID <pid> CHILD_MAIN_TID <tid> CHILD_PARK_TID <tid>
 *   FAULT_MONO_NS <ns>
 * and the parent "PARENT_PID <pid> PARENT_PARK_TID <tid>". Built at -O0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "death_common.h"

int *volatile g_target; /* NULL */
static atomic_int g_park_tid;

void child_crash(void);
void child_park(void);

void
child_park(void)
{
    atomic_store(&g_park_tid, (int)syscall(SYS_gettid));
    for (;;)
        pause(); /* @child_park */
}

static void *
park_thread(void *arg)
{
    if (arg)
        child_park();
    atomic_store(&g_park_tid, (int)syscall(SYS_gettid));
    for (;;)
        pause();
    return NULL;
}

void
child_crash(void)
{
    death_stamp();
    *g_target = 7; /* @fault */
}

static void
wait_tid(void)
{
    while (!atomic_load(&g_park_tid))
        usleep(1000);
}

int
main(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, park_thread, NULL) != 0)
        return 2;
    pthread_setname_np(t, "parent-park");
    wait_tid();
    fprintf(stderr, "PARENT_PID %d PARENT_PARK_TID %d\n", (int)getpid(), atomic_load(&g_park_tid));
    fflush(stderr);
    fflush(stdout);

    pid_t pid = fork();
    if (pid < 0)
        return 3;
    if (pid == 0) {
        atomic_store(&g_park_tid, 0);
        pthread_setname_np(pthread_self(), "child-main");
        if (pthread_create(&t, NULL, park_thread, (void *)1) != 0)
            _exit(4);
        pthread_setname_np(t, "child-park");
        wait_tid();
        usleep(20000); /* let it reach pause() */
        fprintf(stderr, "CHILD_PID %d CHILD_MAIN_TID %d CHILD_PARK_TID %d\n", (int)getpid(),
                (int)syscall(SYS_gettid), atomic_load(&g_park_tid));
        fflush(stderr);
        child_crash(); /* @child_call */
        _exit(5);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    printf("CHILD %d STATUS %d REAPED_MONO_NS %lld\n", (int)pid, status, death_mono_ns());
    fflush(stdout);
    return 0;
}
