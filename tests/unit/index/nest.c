/* Nested inlined calls for test_index: gcc and clang -O2 inline these into
 * one another, several levels deep, some more than once into one caller,
 * some split into several ranges (a loop, a cold path). */
#include <stdio.h>
#include <stdlib.h>

volatile int sink;

static inline int
leaf(int x)
{
    sink = x;
    return x * 3 + 1;
}

static inline int
middle(int x)
{
    int s = 0;

    for (int i = 0; i < x; i++)
        s += leaf(i + x);
    if (__builtin_expect(s == 12345, 0)) {
        fprintf(stderr, "rare %d\n", s);
        abort();
    }
    return s;
}

static inline int
outer(int x)
{
    return middle(x) + leaf(x) + middle(x + 1);
}

static inline __attribute__((always_inline)) int
deep4(int x)
{
    return leaf(x + 4);
}

static inline __attribute__((always_inline)) int
deep3(int x)
{
    return deep4(x) + sink;
}

static inline __attribute__((always_inline)) int
deep2(int x)
{
    return deep3(x) * deep3(x + 1);
}

static inline __attribute__((always_inline)) int
deep1(int x)
{
    return deep2(x) - outer(x);
}

__attribute__((noinline)) int
entry(int x)
{
    return deep1(x) + outer(x * 2);
}

int btc_index_nodebug(int i);

int
main(int argc, char **argv)
{
    (void)argv;
    printf("%d\n", entry(argc) + deep1(argc + 7) + btc_index_nodebug(argc));
    return 0;
}
