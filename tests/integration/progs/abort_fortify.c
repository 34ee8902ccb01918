/* abort_fortify: built with -O2 -D_FORTIFY_SOURCE=2, copies more bytes
 * than a fixed buffer holds with a length known only at run time, so the
 * call goes to __memcpy_chk, which aborts with
 * "*** buffer overflow detected ***: terminated". */
#include <stdio.h>
#include <string.h>

const char g_source[64] = "a name far longer than eight bytes";
volatile char g_sink;

void __attribute__((noinline)) copy_name(size_t len);

void __attribute__((noinline)) copy_name(size_t len)
{
    char name[8];

    memcpy(name, g_source, len); /* @fault */
    g_sink = name[0];
}

int
main(int argc, char **argv)
{
    (void)argv;
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("abort_fortify: about to overflow a buffer");
    copy_name((size_t)argc * 16); /* @main */
    return 0;
}
