/* abort_stack_smash: built with -fstack-protector-all, writes past the end of
 * a local array, over the stack canary; the function's epilogue calls
 * __stack_chk_fail, which aborts with "*** stack smashing detected ***:
 * terminated". 16 bytes past the array reach the canary across the padding
 * GCC 12 leaves at -O0, and stop short of the saved frame pointer and the
 * return address, so the stack still unwinds. */
#include <stdio.h>

void smash(int extra);

void
smash(int extra)
{
    char buf[16];
    volatile char *p = buf;

    for (int i = 0; i < (int)sizeof(buf) + 16 * extra; i++)
        p[i] = 'A';
} /* @fault */

int
main(int argc, char **argv)
{
    (void)argv;
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("abort_stack_smash: about to overwrite the canary");
    smash(argc); /* @main */
    return 0;
}
