/* upper_bound: binary search in an array sorted by a uint64_t key that is
 * each element's first member (an address: sorted symbols, blocks, unit
 * ranges). Helper and command. */
#ifndef BTCRASH_COMMON_UPPER_BOUND_H
#define BTCRASH_COMMON_UPPER_BOUND_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The number of the @n elements of @stride bytes at @base whose key is at
 * most @key: the index one past the last element starting at or below it. */
static inline size_t
btc_upper_bound_u64(const void *base, size_t n, size_t stride, uint64_t key)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t k;

        memcpy(&k, (const char *)base + mid * stride, sizeof(k));
        if (k <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#endif
