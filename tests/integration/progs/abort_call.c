/* abort_call: abort() with no message. */
#include <stdio.h>
#include <stdlib.h>

void give_up(int why);

void
give_up(int why)
{
    if (why)
        abort(); /* @fault */
}

int
main(int argc, char **argv)
{
    (void)argv;
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("abort_call: about to abort");
    give_up(argc); /* @main */
    return 0;
}
