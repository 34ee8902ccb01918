/* libc_strlen: strlen(NULL), so the faulting frame is inside glibc. */
#include <stdio.h>
#include <string.h>

const char *volatile g_string; /* NULL */

size_t measure(const char *s);

size_t
measure(const char *s)
{
    return strlen(s); /* @call */
}

int
main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("libc_strlen: about to call strlen(NULL)");
    return (int)measure(g_string); /* @main */
}
