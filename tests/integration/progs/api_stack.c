/* api_stack: btcrash_report_capture_stack and btcrash_send_last_exception
 * called three functions deep, at -O0, from the main thread ("main") or from
 * a worker thread named api-caller ("thread") while the main thread waits in
 * pthread_join. test_api.py compares the reports' first frames with gdb's
 * backtrace at a breakpoint on the btcrash function. */
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "api_common.h"

void load_settings(btcrash_report *r);
void parse_section(btcrash_report *r);
void handle_failure(void);

__attribute__((noinline)) void
load_settings(btcrash_report *r)
{
    btcrash_report_log(r, "loading settings");
    rc_line("capture", btcrash_report_capture_stack(r)); /* @capture */
}

__attribute__((noinline)) void
parse_section(btcrash_report *r)
{
    load_settings(r); /* @parse_section */
}

__attribute__((noinline)) void
handle_failure(void)
{
    rc_line("last", btcrash_send_last_exception("handled failure", NULL, NULL)); /* @last */
}

static void
run_reports(void)
{
    btcrash_report *r = btcrash_report_new();

    printf("CALLER_TID %ld\n", (long)syscall(SYS_gettid));
    if (r == NULL) {
        printf("btcrash_report_new returned NULL\n");
        exit(3);
    }
    btcrash_report_set_error(r, "StackError", "stack test");
    parse_section(r); /* @run_reports */
    rc_line("send", btcrash_report_send(r));
    btcrash_report_free(r);
    handle_failure(); /* @run_last */
}

static void *
worker(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "api-caller");
    run_reports(); /* @worker */
    return NULL;
}

int
main(int argc, char **argv)
{
    pthread_t t;

    api_require_loaded("api_stack");
    printf("MAIN_TID %ld\n", (long)syscall(SYS_gettid));
    if (argc >= 2 && strcmp(argv[1], "thread") == 0) {
        if (pthread_create(&t, NULL, worker, NULL) != 0)
            return 1;
        pthread_join(t, NULL); /* @main_join */
    } else {
        run_reports(); /* @main_call */
    }
    printf("DONE\n");
    return 0;
}
