/* frameless_fns: functions with neither CFI nor a frame pointer: built
 * with -fomit-frame-pointer -fno-asynchronous-unwind-tables
 * -fno-unwind-tables, and the .debug_frame that -g still makes gcc write
 * is stripped after linking (tests/integration/CMakeLists.txt). With
 * -mno-red-zone their locals are below the stack pointer's return address,
 * not in the red zone beneath it: only a scan finds it. */
extern int *volatile g_null;

void fl_fault(int n);
void fl_call(void (*fn)(int), int n);
long fl_recurse(long n);

void
fl_fault(int n)
{
    volatile long local[3] = {n, n + 1, n + 2};

    *g_null = (int)local[1]; /* @fl_fault */
}

void
fl_call(void (*fn)(int), int n)
{
    volatile long local[3] = {n, 0, 0};

    fn((int)local[0]); /* @fl_call */
    local[1] = 1;
}

long
fl_recurse(long n)
{
    volatile long local[3] = {n, 0, 0};

    if (n == 0) {
        *g_null = 1; /* @fl_recurse_fault */
        return 0;
    }
    return fl_recurse(n - 1) + local[0]; /* @fl_recurse */
}
