/* thread_overflow: unbounded recursion in a worker thread (a plain
 * pthread_create, nothing set up by the program) until its stack limit is
 * hit. Reported only if the worker has an alternate signal stack, which the
 * program never gave it. Same 64 KiB frames as stack_overflow.c, for a
 * faulting line that does not depend on where the stack starts. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

volatile long g_limit = LONG_MAX; /* never reached */
volatile long g_sink;

long t_recurse(long depth);

long
t_recurse(long depth)
{
    volatile char pad[65536];

    pad[0] = (char)depth; /* @store */
    if (depth >= g_limit)
        return pad[0];
    g_sink = t_recurse(depth + 1) + pad[0]; /* @recurse */
    return g_sink;
}

static void *
overflow_worker(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "ovf-worker");
    return (void *)t_recurse(0); /* @worker */
}

int
main(void)
{
    pthread_t t;
    pthread_attr_t attr;

    setvbuf(stdout, NULL, _IONBF, 0);
    puts("thread_overflow: about to recurse in a worker");
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 8u << 20);
    pthread_create(&t, &attr, overflow_worker, NULL);
    pthread_join(t, NULL); /* @join */
    return 0;
}
