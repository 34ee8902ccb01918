/* wait_kill: prints "READY <pid>" on stdout and waits in wait_here() to be
 * killed from outside (kill -SEGV). Exits 3 after 60 s if nobody does. */
#include <stdio.h>
#include <unistd.h>

void wait_here(void);

void
wait_here(void)
{
    for (int i = 0; i < 600; i++)
        usleep(100000); /* @wait */
}

int
main(void)
{
    printf("READY %d\n", (int)getpid());
    fflush(stdout);
    wait_here(); /* @main */
    return 3;
}
