/* frameless_fp: a function without CFI that keeps a frame pointer: built
 * like frameless_fns.c (no unwind tables, its .debug_frame stripped) but
 * with -fno-omit-frame-pointer. libdwfl's frame-pointer fallback unwinds it
 * right: no scan, no guess. */
extern int *volatile g_null;

void fp_fault(int n);

void
fp_fault(int n)
{
    volatile long local[3] = {n, n + 1, n + 2};

    *g_null = (int)local[2]; /* @fp_fault */
}
