/* div_zero: integer division by zero (SIGFPE, FPE_INTDIV). */
#include <stdio.h>

volatile int g_zero; /* 0, read at run time so the division is not folded */

int divide(int a, int b);

int
divide(int a, int b)
{
    return a / b; /* @fault */
}

int
main(int argc, char **argv)
{
    (void)argv;
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("div_zero: about to divide by zero");
    return divide(argc + 41, g_zero); /* @main */
}
