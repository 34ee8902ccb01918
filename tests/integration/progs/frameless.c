/* frameless: calls into functions that have neither CFI nor a frame
 * pointer (frameless_fns.c, built without unwind tables and its
 * .debug_frame stripped from the program), two calls below main. "self":
 * such a function faults; "callee": such a function calls one with CFI
 * (target) that faults; "fp": a function without CFI but with a frame
 * pointer (frameless_fp.c) faults. Built at -O0: no tail calls. */
int *volatile g_null; /* NULL, and volatile so the write is not folded away */
volatile int g_calls;

void fl_fault(int n);
void fl_call(void (*fn)(int), int n);
void fp_fault(int n);
void target(int n);
void level1(int mode, int n);

void
target(int n)
{
    *g_null = n; /* @target */
}

void
level1(int mode, int n)
{
    if (mode == 's')
        fl_fault(n); /* @call_self */
    else if (mode == 'f')
        fp_fault(n); /* @call_fp */
    else
        fl_call(target, n); /* @call_callee */
    g_calls++;
}

int
main(int argc, char **argv)
{
    level1(argc > 1 ? argv[1][0] : 'c', 7); /* @main */
    return g_calls;
}
