/* drop_privileges: makes itself non-dumpable ("prctl": prctl(PR_SET_DUMPABLE,
 * 0)) or, run as root, becomes uid/gid 65534 ("setuid"), which makes it
 * non-dumpable too; starts one idle thread; then writes through NULL three
 * frames deep, printing FAULT_MONO_NS just before. The helper can then
 * neither ptrace it nor read its /proc/PID/maps or memory. Built at -O0. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
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
    level1(); /* @main */
    return 0;
}
