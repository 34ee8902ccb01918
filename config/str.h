/* str: the few string helpers the preloaded library needs, inline. Calling
 * libc's instead would add imports, and each import is a symbol look-up at
 * load time in every process that inherits LD_PRELOAD (the library is bound
 * with -z now). Async-signal-safe. */
#ifndef BTCRASH_STR_H
#define BTCRASH_STR_H

#include <stdbool.h>
#include <stddef.h>

static inline size_t
btc_str_len(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

/* True when @s starts with @prefix. */
static inline bool
btc_str_has_prefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (*s != *prefix)
            return false;
    return true;
}

/* The last @c in @s, or NULL. */
static inline const char *
btc_str_rchr(const char *s, char c)
{
    const char *last = NULL;

    for (; *s; s++)
        if (*s == c)
            last = s;
    return last;
}

/* The first occurrence of @needle in @s, or NULL. Quadratic: for short
 * strings only. */
static inline const char *
btc_str_find(const char *s, const char *needle)
{
    for (; *s; s++)
        if (btc_str_has_prefix(s, needle))
            return s;
    return NULL;
}

/* Copy @n bytes; a loop the compiler is told not to turn into a memcpy call
 * (-fno-tree-loop-distribute-patterns on the library). */
static inline void
btc_str_copy(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

#endif
