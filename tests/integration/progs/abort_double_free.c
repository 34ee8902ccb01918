/* abort_double_free: frees one tcache-sized block twice; glibc's malloc
 * detects it and aborts with "free(): double free detected in tcache 2". */
#include <stdio.h>
#include <stdlib.h>

/* volatile: the compiler may neither pair the frees up nor warn about them. */
char *volatile g_block;

void release(void);

void
release(void)
{
    free(g_block); /* @fault */
}

int
main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    g_block = malloc(32);
    puts("abort_double_free: freeing a block twice");
    release();
    release(); /* @main */
    return 0;
}
