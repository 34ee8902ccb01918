/* crash_threads: starts N idle threads (argv[1], default 9000) with small
 * stacks, then writes through NULL three frames deep in the main thread,
 * printing FAULT_MONO_NS just before. Built at -O0. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int *volatile g_target;

static void *
idle(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void
stamp(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    fprintf(stderr, "FAULT_MONO_NS %lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
    fflush(stderr);
}

void level3(void);
void level2(void);
void level1(void);

void
level3(void)
{
    stamp();
    *g_target = 42; /* @fault */
}

void
level2(void)
{
    level3(); /* @call2 */
}

void
level1(void)
{
    level2(); /* @call1 */
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 9000;
    pthread_attr_t attr;
    pthread_t t;

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&t, &attr, idle, NULL) != 0) {
            fprintf(stderr, "crash_threads: only %d threads\n", i);
            return 2;
        }
    }
    fprintf(stderr, "THREADS %d\n", n);
    level1(); /* @main */
    return 0;
}
