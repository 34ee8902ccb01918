/* maps_null: a NULL write in maps_fault(), after setting up what the crash
 * record is to show (test_handler.py):
 *
 *   maps_null plain        nothing more
 *   maps_null undumpable   prctl(PR_SET_DUMPABLE, 0) first
 *   maps_null many N       N separate one-page mappings first (alternating
 *                          protections, so the kernel cannot merge them):
 *                          a /proc/self/maps longer than the record keeps
 *
 * It prints "MAPPINGS <n>" (the lines of its /proc/self/maps just before
 * the fault) and FAULT_MONO_NS on stderr. Built at -O0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "death_common.h"

int *volatile g_target; /* NULL */

void maps_fault(void);

void
maps_fault(void)
{
    death_stamp();
    *g_target = 5; /* @fault */
}

static long
count_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;

    if (!f)
        return -1;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

int
main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "plain";

    if (strcmp(mode, "undumpable") == 0) {
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
            return 2;
    } else if (strcmp(mode, "many") == 0) {
        long n = argc > 2 ? atol(argv[2]) : 30000;
        char *base = mmap(NULL, (size_t)n * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (base == MAP_FAILED)
            return 3;
        for (long i = 0; i < n; i += 2) {
            if (mprotect(base + i * 4096, 4096, PROT_READ | PROT_WRITE) != 0)
                return 4;
        }
    } else if (strcmp(mode, "plain") != 0) {
        return 1;
    }
    fprintf(stderr, "MAPPINGS %ld\n", count_mappings());
    maps_fault();
    return 0;
}
