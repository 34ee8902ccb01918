/* api_modes: API reports next to a crash, linked or weak.
 *
 *   api_modes send TAG            send one report (attribute mode.tag)
 *   api_modes send-crash TAG      send one, then a NULL write three deep
 *   api_modes attach FILE MISSING TAG  attachments read at send time
 *   api_modes fork                one report before fork, one in the child,
 *                                 one in the parent after it
 *   api_modes runtime             the calls' results without libbtcrash-api.so
 *   api_modes init URL TAG        btcrash_initialize with endpoint URL: one
 *                                 report there; initialize(NULL): one to
 *                                 the environment's endpoint; endpoint URL
 *                                 again, then the crash
 *
 * Built linked and with -DBTCRASH_WEAK. Without btcrash (weak build, no
 * LD_PRELOAD) it prints "btcrash is not loaded" and still crashes when asked,
 * as a program that only optionally reports would. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_common.h"

int *volatile g_target; /* NULL: the crash */

void mode_level3(int *p);
void mode_level2(int *p);
void mode_level1(int *p);

void
mode_level3(int *p)
{
    *p = 42; /* @fault */
}

void
mode_level2(int *p)
{
    mode_level3(p);
}

void
mode_level1(int *p)
{
    mode_level2(p);
}

static void
send_tagged(const char *name, const char *tag)
{
    btcrash_report *r = btcrash_report_new();

    if (r == NULL) {
        printf("btcrash_report_new returned NULL\n");
        exit(3);
    }
    btcrash_report_set_attribute(r, "mode.tag", tag);
    btcrash_report_set_error(r, "ModeCheck", tag);
    btcrash_report_capture_stack(r);
    rc_line(name, btcrash_report_send(r));
    btcrash_report_free(r);
}

int
main(int argc, char **argv)
{
    int loaded = api_loaded();
    const char *tag = argc >= 3 ? argv[argc - 1] : "untagged";

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!loaded)
        printf("api_modes: btcrash is not loaded\n");
    if (argc < 2)
        return 2;
    if (strcmp(argv[1], "init") == 0 && argc >= 4) {
        btcrash_options o = {
            .size = sizeof(o), .endpoint = argv[2], .attributes = "{\"init.attr\": \"yes\"}"};

        if (loaded) {
            rc_line("init_endpoint", btcrash_initialize(&o));
            send_tagged("send_init", "init-endpoint");
            rc_line("init_null", btcrash_initialize(NULL));
            send_tagged("send_env", "env-endpoint");
            o.attributes = NULL;
            rc_line("init_endpoint_again", btcrash_initialize(&o));
        }
        mode_level1(g_target);
        return 0;
    }
    if (strcmp(argv[1], "runtime") == 0 && loaded) {
        /* libbtcrash-api.so missing: every call fails cleanly. */
        btcrash_report *r = btcrash_report_new();

        rc_line("report_new_is_null", r == NULL);
        rc_line("initialize", btcrash_initialize(NULL));
        rc_line("last", btcrash_send_last_exception("m", NULL, NULL));
        rc_line("send_null", btcrash_report_send(NULL));
        printf("STR %d %s\n", BTCRASH_ERUNTIME, btcrash_strerror(BTCRASH_ERUNTIME));
        printf("VERSION %s\n", btcrash_version());
        btcrash_report_free(r);
        printf("DONE\n");
        return 0;
    }
    if (strcmp(argv[1], "attach") == 0 && argc >= 5 && loaded) {
        /* Attachments are read when the report is sent, not when added;
         * a missing one does not stop the report. */
        btcrash_report *r = btcrash_report_new();
        FILE *f;

        if (r == NULL)
            return 3;
        rc_line("attach", btcrash_report_add_attachment(r, argv[2]));
        rc_line("attach_missing", btcrash_report_add_attachment(r, argv[3]));
        f = fopen(argv[2], "w");
        if (f == NULL)
            return 4;
        fputs("content at send\n", f);
        fclose(f);
        btcrash_report_set_attribute(r, "mode.tag", tag);
        btcrash_report_set_error(r, "ModeCheck", tag);
        btcrash_report_capture_stack(r);
        rc_line("send", btcrash_report_send(r));
        btcrash_report_free(r);
        return 0;
    }
    if (strcmp(argv[1], "fork") == 0 && loaded) {
        /* The API keeps working in a child after fork (its runtime was
         * loaded by the parent), and in the parent afterwards. */
        pid_t pid;
        int status = 0;

        send_tagged("send_parent_before", "parent-before");
        pid = fork();
        if (pid < 0)
            return 5;
        if (pid == 0) {
            printf("CHILD_PID %ld\n", (long)getpid());
            send_tagged("send_child", "child");
            _exit(0);
        }
        waitpid(pid, &status, 0);
        rc_line("child_status", status);
        send_tagged("send_parent_after", "parent-after");
        return 0;
    }
    if (loaded)
        send_tagged("send", tag);
    if (strcmp(argv[1], "send-crash") == 0) {
        printf("CRASHING\n");
        mode_level1(g_target); /* @crash_call */
    }
    printf("DONE\n");
    return 0;
}
