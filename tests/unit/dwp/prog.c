/* Built with -gsplit-dwarf into a .dwp by tests/unit/CMakeLists.txt for
 * test_dwp.c, which knows these line numbers: keep them. */
#include <stdio.h>

int dwp_other(int y);

static inline __attribute__((always_inline)) int
dwp_inner(int x)
{
    return x * 3 + printf("inner %d\n", x); /* line 10 */
}

__attribute__((noinline)) int
dwp_outer(int x)
{
    int r = dwp_inner(x); /* line 16: call line of the first inlined call */
    return r + dwp_other(x);
}

int
main(int argc, char **argv)
{
    (void)argv;
    return dwp_outer(argc);
}
