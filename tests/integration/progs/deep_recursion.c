/* deep_recursion: recursion N frames deep (argv[2], default 100000), then a
 * NULL write at the bottom. Not a stack overflow: "main" recurses on the
 * main thread (the test raises RLIMIT_STACK first), "thread" on a thread
 * named "deep-thr" with a 1 GiB stack. Prints FAULT_MONO_NS just before
 * the fault. Built at -O0 (no tail calls). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "death_common.h"

int *volatile g_target; /* NULL */
static long g_depth = 100000;

long recurse(long n);

long
recurse(long n)
{
    volatile long keep = n;

    if (n == 0) {
        death_stamp();
        *g_target = 1; /* @fault */
        return 0;
    }
    return recurse(n - 1) + keep; /* @recurse */
}

static void *
deep_thread(void *arg)
{
    (void)arg;
    recurse(g_depth);
    return NULL;
}

int
main(int argc, char **argv)
{
    if (argc > 2)
        g_depth = atol(argv[2]);
    if (argc > 1 && strcmp(argv[1], "thread") == 0) {
        pthread_attr_t attr;
        pthread_t t;

        pthread_attr_init(&attr);
        if (pthread_attr_setstacksize(&attr, (size_t)1 << 30) != 0)
            return 2;
        if (pthread_create(&t, &attr, deep_thread, NULL) != 0)
            return 3;
        pthread_setname_np(t, "deep-thr");
        pthread_join(t, NULL);
        return 0;
    }
    return (int)recurse(g_depth); /* @main */
}
