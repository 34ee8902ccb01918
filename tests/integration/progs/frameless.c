/* frameless: calls into functions that have neither CFI nor a frame
 * pointer (frameless_fns.c, built without unwind tables and its
 * .debug_frame stripped from the program), two calls below main. "self":
 * such a function faults; "callee": such a function calls one with CFI
 * (target) that faults; "fp": a function without CFI but with a frame
 * pointer (frameless_fp.c) faults; "deep N": such a function recurses N
 * levels (argv[2]) and faults at the bottom, FAULT_MONO_NS printed just
 * before (test_deaths.py). Built at -O0: no tail calls. */
#include <stdlib.h>

#include "death_common.h"

int *volatile g_null; /* NULL, and volatile so the write is not folded away */
volatile int g_calls;

void fl_fault(int n);
void fl_call(void (*fn)(int), int n);
void fp_fault(int n);
long fl_recurse(long n);
void target(int n);
void level1(int mode, long n);

void
target(int n)
{
    *g_null = n; /* @target */
}

void
level1(int mode, long n)
{
    if (mode == 's')
        fl_fault((int)n); /* @call_self */
    else if (mode == 'f')
        fp_fault((int)n); /* @call_fp */
    else if (mode == 'd') {
        death_stamp();
        g_calls += (int)fl_recurse(n); /* @call_deep */
    } else
        fl_call(target, (int)n); /* @call_callee */
    g_calls++;
}

int
main(int argc, char **argv)
{
    level1(argc > 1 ? argv[1][0] : 'c', argc > 2 ? atol(argv[2]) : 7); /* @main */
    return g_calls;
}
