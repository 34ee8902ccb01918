/* handler_fault: makes btcrash's own signal handler fault, from outside the
 * library, then dies of a fatal signal ("segv": a NULL write; "abort":
 * abort()).
 *
 * It gives its main thread an alternate signal stack of its own (btcrash
 * keeps a thread's own), then makes every writable mapping of the preloaded
 * libbtcrash.so read-only (its .data and .bss, and the anonymous rest of
 * .bss right after them): the handler's first write to its own state then
 * faults inside the handler. Without btcrash preloaded nothing is found and
 * the program just dies. Prints "PROTECTED <n>" (mappings made read-only)
 * and FAULT_MONO_NS on stderr. Built at -O0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "death_common.h"

int *volatile g_target; /* NULL */

static int
protect_btcrash(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    unsigned long starts[64], ends[64];
    int n = 0;
    unsigned long last_end = 0;

    if (!f)
        return -1;
    while (n < 64 && fgets(line, sizeof(line), f)) {
        unsigned long s, e;
        char perms[8];
        int pathpos = 0;

        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &s, &e, perms, &pathpos) < 3)
            continue;
        const char *path = pathpos ? line + pathpos : "";
        int ours = strstr(path, "libbtcrash.so") != NULL;
        int anon_after = (path[0] == '\n' || path[0] == '\0') && s == last_end && last_end;
        if (perms[1] == 'w' && (ours || anon_after)) {
            starts[n] = s;
            ends[n] = e;
            n++;
        }
        last_end = ours && perms[1] == 'w' ? e : 0;
    }
    fclose(f);
    for (int i = 0; i < n; i++)
        if (mprotect((void *)starts[i], ends[i] - starts[i], PROT_READ) != 0)
            return -1;
    return n;
}

int
main(int argc, char **argv)
{
    static char altstack[256 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0};
    int abort_mode = argc > 1 && strcmp(argv[1], "abort") == 0;

    if (sigaltstack(&ss, NULL) != 0)
        return 2;
    int n = protect_btcrash();
    fprintf(stderr, "PROTECTED %d\n", n);
    death_stamp();
    if (abort_mode)
        abort();   /* @fault_abort */
    *g_target = 1; /* @fault */
    return 0;
}
