/* inline_fault: the fault happens inside two always_inline helpers, built at
 * -O2, so the faulting instruction belongs to three source functions. */
#include <stdio.h>

int *volatile g_target; /* NULL */
volatile int g_after;

static inline __attribute__((always_inline)) void
inner_store(int *p, int v)
{
    *p = v * 3; /* @fault */
}

static inline __attribute__((always_inline)) void
outer_store(int *p, int v)
{
    inner_store(p, v + 1); /* @outer */
}

__attribute__((noinline, noclone)) void crash_here(int *p, int v);

__attribute__((noinline, noclone)) void
crash_here(int *p, int v)
{
    outer_store(p, v); /* @crash_here */
    g_after = v;
}

int
main(int argc, char **argv)
{
    (void)argv;
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("inline_fault: about to crash");
    crash_here(g_target, argc); /* @main */
    return g_after;
}
