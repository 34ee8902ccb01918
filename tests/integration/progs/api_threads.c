/* api_threads: THREADS threads (default 8) each send PER reports (default
 * 50) at once, every report with its own attributes, log line and stack.
 * Meanwhile all threads set attributes on and log into one shared report,
 * which the main thread sends after joining them (the API allows calls on
 * the same report from several threads).
 *
 *   api_threads [THREADS [PER]]
 *
 * Prints "BADRC <thread> <seq> <rc>" for every send that did not return
 * BTCRASH_SENT, then "RESULT sent=<n> other=<n>" and the shared report's
 * "RC shared_send <rc>". */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "api_common.h"

#define MAX_THREADS 64

static int g_per = 50;
static btcrash_report *g_shared;
static atomic_int g_sent;
static atomic_int g_other;

__attribute__((noinline)) static int
send_one(int index, int seq)
{
    btcrash_report *r = btcrash_report_new();
    int rc;

    if (r == NULL)
        return -12345; /* reported as a bad rc: report_new failed */
    btcrash_report_set_attribute_int(r, "thread.index", index);
    btcrash_report_set_attribute_int(r, "thread.seq", seq);
    btcrash_report_log(r, "thread %d report %d", index, seq);
    btcrash_report_capture_stack(r);
    rc = btcrash_report_send(r);
    btcrash_report_free(r);
    return rc;
}

static void *
racer(void *arg)
{
    int index = (int)(long)arg;
    char key[32];

    snprintf(key, sizeof(key), "shared.t%d", index);
    for (int seq = 0; seq < g_per; seq++) {
        int rc;

        btcrash_report_set_attribute_int(g_shared, key, seq);
        btcrash_report_log(g_shared, "t%d %d", index, seq);
        rc = send_one(index, seq);
        if (rc == BTCRASH_SENT) {
            atomic_fetch_add(&g_sent, 1);
        } else {
            atomic_fetch_add(&g_other, 1);
            printf("BADRC %d %d %d %s\n", index, seq, rc, btcrash_strerror(rc));
        }
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    pthread_t t[MAX_THREADS];
    int n = argc >= 2 ? atoi(argv[1]) : 8;

    api_require_loaded("api_threads");
    if (argc >= 3)
        g_per = atoi(argv[2]);
    if (n < 1 || n > MAX_THREADS || g_per < 1)
        return 2;
    g_shared = btcrash_report_new();
    if (g_shared == NULL)
        return 3;
    btcrash_report_set_error(g_shared, "SharedReport", "written by every thread");
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, racer, (void *)(long)i) != 0)
            return 1;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    printf("RESULT sent=%d other=%d\n", atomic_load(&g_sent), atomic_load(&g_other));
    btcrash_report_capture_stack(g_shared);
    rc_line("shared_send", btcrash_report_send(g_shared));
    btcrash_report_free(g_shared);
    return 0;
}
