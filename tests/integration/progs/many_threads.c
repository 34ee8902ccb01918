/* many_threads: creates N threads (argv[1], default 2000) in batches of
 * 250 (each batch all alive at once, then joined), each adding its index
 * to a sum; prints the count and the sum. Exits 1 on any failure. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define BATCH 250

static long g_sum;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void *
work(void *arg)
{
    long i = (long)arg;

    pthread_mutex_lock(&g_lock);
    g_sum += i;
    pthread_mutex_unlock(&g_lock);
    return (void *)(i * 2);
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000, done = 0;
    pthread_t t[BATCH];
    pthread_attr_t attr;

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    while (done < n) {
        long k = n - done < BATCH ? n - done : BATCH;
        for (long i = 0; i < k; i++)
            if (pthread_create(&t[i], &attr, work, (void *)(done + i)) != 0) {
                fprintf(stderr, "pthread_create %ld failed\n", done + i);
                return 1;
            }
        for (long i = 0; i < k; i++) {
            void *ret;
            if (pthread_join(t[i], &ret) != 0 || (long)ret != (done + i) * 2) {
                fprintf(stderr, "join %ld failed\n", done + i);
                return 1;
            }
        }
        done += k;
    }
    printf("threads %ld sum %ld\n", done, g_sum);
    return 0;
}
