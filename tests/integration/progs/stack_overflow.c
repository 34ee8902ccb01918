/* stack_overflow: unbounded recursion in the main thread until the stack
 * limit is hit. The handler must run on an alternate stack.
 *
 * Each frame is 64 KiB, and at -O0 its first access below the caller is the
 * prologue's spill of @depth to the frame's bottom (gdb puts it on the line of
 * the opening brace). So the faulting line does not depend on where the
 * randomised stack starts, unless the limit falls within the few bytes of the
 * call's push (about 1 in 2000), and runs with and without gdb (which turns
 * ASLR off) fault at the same line. With a small frame they did not: about 1
 * run in 25 faulted at the call instead. */
#include <limits.h>
#include <stdio.h>

volatile long g_limit = LONG_MAX; /* never reached; hides the recursion from -Winfinite-recursion */
volatile long g_sink;

long recurse(long depth);

long
recurse(long depth)
{
    volatile char pad[65536];

    pad[0] = (char)depth; /* @store */
    if (depth >= g_limit)
        return pad[0];
    g_sink = recurse(depth + 1) + pad[0]; /* @recurse */
    return g_sink;
}

int
main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("stack_overflow: about to recurse");
    return (int)recurse(0); /* @main */
}
