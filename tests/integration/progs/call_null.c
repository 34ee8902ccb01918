/* call_null: calls through a NULL function pointer two frames below main:
 * the fault's pc is 0, in no module and without CFI, and the caller's
 * return address is the word at the stack pointer. Built at -O0
 * (call_null) and -O2 (call_null_o2); the call is not in tail position, so
 * dispatch keeps its frame at -O2 too. */
#include <stdio.h>

void (*volatile g_fn)(int); /* NULL, and volatile so the call is not folded away */
volatile int g_calls;

__attribute__((noinline)) void dispatch(int x);

__attribute__((noinline)) void
dispatch(int x)
{
    g_fn(x); /* @fault */
    g_calls++;
}

int
main(void)
{
    dispatch(7); /* @main */
    return g_calls;
}
