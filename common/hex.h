/* hex: bytes as lowercase hex digits, the one encoder (build-ids, digests,
 * a stored capture's record). */
#ifndef BTCRASH_COMMON_HEX_H
#define BTCRASH_COMMON_HEX_H

#include <stddef.h>

/* Write the @n bytes at @data as 2 * @n lowercase hex digits and a NUL to
 * @out, which holds 2 * @n + 1 bytes. */
static inline void
btc_hex_encode(const void *data, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = data;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 0xf];
    }
    out[2 * n] = '\0';
}

#endif
