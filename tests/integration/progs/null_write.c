/* null_write: a NULL write three calls deep, built at -O0. */
#include <stdio.h>

int *volatile g_target; /* NULL, and volatile so the write is not folded away */

void level3(int *p);
void level2(int *p);
void level1(int *p);

void
level3(int *p)
{
    *p = 42; /* @fault */
}

void
level2(int *p)
{
    level3(p); /* @call2 */
}

void
level1(int *p)
{
    level2(p); /* @call1 */
}

int
main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("null_write: about to crash");
    level1(g_target); /* @main */
    return 0;
}
