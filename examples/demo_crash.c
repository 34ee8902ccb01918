/* demo_crash: a small program that crashes, for trying btcrash out.
 *
 *   LD_PRELOAD=build/lib/libbtcrash.so build/bin/demo-crash
 *
 * A worker thread is busy while the main thread parses a configuration and
 * dereferences a missing entry: a NULL read three calls deep. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct entry {
    const char *key;
    const char *value;
};

static volatile int g_stop;

static void *
worker(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "demo-worker");
    while (!g_stop)
        usleep(1000);
    return NULL;
}

static const struct entry *
find_entry(const struct entry *entries, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(entries[i].key, key) == 0)
            return &entries[i];
    return NULL;
}

static size_t
value_length(const struct entry *e)
{
    return strlen(e->value); /* e is NULL when the key is missing */
}

static size_t
load_config(void)
{
    static const struct entry entries[] = {{"name", "demo"}, {"mode", "fast"}};

    return value_length(find_entry(entries, 2, "port"));
}

int
main(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    printf("demo-crash: loading the configuration...\n");
    fflush(stdout);
    printf("length: %zu\n", load_config());
    g_stop = 1;
    pthread_join(t, NULL);
    return 0;
}
