/* builtin_trap: __builtin_trap(), a ud2 on x86_64 (SIGILL). */
#include <stdio.h>

void trap_now(int really);

void
trap_now(int really)
{
    if (really)
        __builtin_trap(); /* @fault */
}

int
main(int argc, char **argv)
{
    (void)argv;
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("builtin_trap: about to trap");
    trap_now(argc); /* @main */
    return 0;
}
