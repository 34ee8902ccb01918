/* threads8: eight threads released by one barrier all write to NULL at the
 * same moment. Exactly one report must come out, and nothing may hang. */
#include <pthread.h>
#include <stdio.h>

#define NTHREADS 8

int *volatile g_target; /* NULL */
static pthread_barrier_t g_go;

void crash_now(long i);

void
crash_now(long i)
{
    *g_target = (int)i; /* @fault */
}

static void *
racer(void *arg)
{
    pthread_barrier_wait(&g_go);
    crash_now((long)arg); /* @racer */
    return NULL;
}

int
main(void)
{
    pthread_t t[NTHREADS];

    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_barrier_init(&g_go, NULL, NTHREADS);
    for (long i = 0; i < NTHREADS; i++) {
        char name[16];

        pthread_create(&t[i], NULL, racer, (void *)i);
        snprintf(name, sizeof(name), "racer-%ld", i);
        pthread_setname_np(t[i], name);
    }
    puts("threads8: released");
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL); /* @main_join */
    return 0;
}
