/* timed_null: the three-deep NULL write of null_write, but it first prints
 * the time just before the fault, for the delivery tests and the benchmark:
 *   FAULT_MONO_NS <CLOCK_MONOTONIC ns>
 *   FAULT_REAL_NS <CLOCK_REALTIME ns>
 * on stderr. "timed_null exit N" exits with status N instead (for
 * `btcrash run` pass-through). Built at -O0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int *volatile g_target; /* NULL, and volatile so the write is not folded away */

void level3(int *p);
void level2(int *p);
void level1(int *p);

static void
stamp(void)
{
    struct timespec mono, real;

    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    fprintf(stderr, "FAULT_MONO_NS %lld\nFAULT_REAL_NS %lld\n",
            (long long)mono.tv_sec * 1000000000LL + mono.tv_nsec,
            (long long)real.tv_sec * 1000000000LL + real.tv_nsec);
    fflush(stderr);
}

void
level3(int *p)
{
    stamp();
    *p = 42; /* @fault */
}

void
level2(int *p)
{
    level3(p); /* @call2 */
}

void
level1(int *p)
{
    level2(p); /* @call1 */
}

int
main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "exit") == 0)
        return atoi(argv[2]);
    level1(g_target); /* @main */
    return 0;
}
