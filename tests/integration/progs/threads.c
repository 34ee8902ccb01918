/* threads: named threads; the fault happens in main ("main") or in a worker
 * ("worker") while the other threads are parked in known functions. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int *volatile g_target; /* NULL */

static atomic_int g_parked_tid[2];
static int g_main_tid;

void park_a(void);
void park_b(void);
void main_crash(void);
void worker_crash(void);

void
park_a(void)
{
    atomic_store(&g_parked_tid[0], (int)syscall(SYS_gettid));
    for (;;)
        pause(); /* @park_a */
}

void
park_b(void)
{
    atomic_store(&g_parked_tid[1], (int)syscall(SYS_gettid));
    for (;;)
        pause(); /* @park_b */
}

static void *
worker_a(void *arg)
{
    (void)arg;
    park_a();
    return NULL;
}

static void *
worker_b(void *arg)
{
    (void)arg;
    park_b();
    return NULL;
}

static void wait_sleeping(int tid);

void
main_crash(void)
{
    *g_target = 1; /* @fault_main */
}

void
worker_crash(void)
{
    *g_target = 2; /* @fault_worker */
}

static void *
faulter(void *arg)
{
    (void)arg;
    /* main has named this thread and sleeps in pthread_join from now on. */
    wait_sleeping(g_main_tid);
    worker_crash(); /* @faulter */
    return NULL;
}

/* Waits until thread @tid sleeps: parked threads only ever sleep in pause(),
 * and main, once it has started the faulter, only in pthread_join(). */
static void
wait_sleeping(int tid)
{
    char path[64], buf[256];

    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
    for (int i = 0; i < 5000; i++) {
        FILE *f = fopen(path, "r");
        char *p = NULL;

        if (f) {
            if (fgets(buf, sizeof(buf), f))
                p = strrchr(buf, ')');
            fclose(f);
        }
        if (p && p[1] == ' ' && p[2] == 'S')
            return;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    fprintf(stderr, "threads: thread %d never parked\n", tid);
    exit(3);
}

int
main(int argc, char **argv)
{
    pthread_t a, b, f;
    int in_worker;

    if (argc != 2 || (strcmp(argv[1], "main") && strcmp(argv[1], "worker"))) {
        fprintf(stderr, "usage: threads main|worker\n");
        return 2;
    }
    in_worker = strcmp(argv[1], "worker") == 0;
    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_setname_np(pthread_self(), "thr-main");
    g_main_tid = (int)syscall(SYS_gettid);
    pthread_create(&a, NULL, worker_a, NULL);
    pthread_setname_np(a, "thr-park-a");
    pthread_create(&b, NULL, worker_b, NULL);
    pthread_setname_np(b, "thr-park-b");
    for (int i = 0; i < 2; i++) {
        while (!atomic_load(&g_parked_tid[i]))
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        wait_sleeping(atomic_load(&g_parked_tid[i]));
    }
    printf("threads: about to crash in %s\n", argv[1]);
    if (!in_worker)
        main_crash(); /* @main_call */
    pthread_create(&f, NULL, faulter, NULL);
    pthread_setname_np(f, "thr-faulter");
    pthread_join(f, NULL); /* @main_join */
    return 0;
}
