/* crash_threads: starts N idle threads (argv[1], default 9000) with small
 * stacks, then writes through NULL three frames deep in the main thread,
 * printing FAULT_MONO_NS just before. Built at -O0. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fault_levels.h"

static void *
idle(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
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
