/* drop_privileges: makes itself non-dumpable ("prctl": prctl(PR_SET_DUMPABLE,
 * 0)) or, run as root, becomes uid/gid 65534 ("setuid"), which makes it
 * non-dumpable too; starts one idle thread; then writes through NULL three
 * frames deep, printing FAULT_MONO_NS just before, or with a second
 * argument "call", calls through a NULL pointer from call_null_here. The
 * helper can then neither ptrace it nor read its /proc/PID/maps or memory.
 * Built at -O0. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "fault_levels.h"

void (*volatile g_null_fn)(void); /* NULL */
void call_null_here(void);

void
call_null_here(void)
{
    stamp();
    g_null_fn(); /* @call_null */
}

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
    pthread_t t;

    if (argc > 1 && strcmp(argv[1], "prctl") == 0) {
        if (prctl(PR_SET_DUMPABLE, 0) != 0) {
            perror("prctl");
            return 2;
        }
    } else if (argc > 1 && strcmp(argv[1], "setuid") == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) {
            perror("setuid");
            return 2;
        }
    }
    pthread_create(&t, NULL, idle, NULL);
    if (argc > 2 && strcmp(argv[2], "call") == 0)
        call_null_here(); /* @main_call */
    level1();             /* @main */
    return 0;
}
