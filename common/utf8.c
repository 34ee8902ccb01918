/* utf8: well-formedness check and repair, following the table of
 * well-formed byte sequences in Unicode §3.9 (Table 3-7). */
#include "utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Length of the well-formed sequence starting at @p (at most @n bytes
 * available), or 0 when none starts there. In that case *ret_bad is the
 * length of the maximal subpart to replace: the lead byte plus the
 * continuation bytes that were still acceptable when the sequence broke.
 */
static size_t
sequence_length(const unsigned char *p, size_t n, size_t *ret_bad)
{
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    size_t need, i;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        need = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        need = 3;
        if (p[0] == 0xe0)
            lo = 0xa0; /* below: overlong */
        else if (p[0] == 0xed)
            hi = 0x9f; /* above: UTF-16 surrogates */
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        need = 4;
        if (p[0] == 0xf0)
            lo = 0x90; /* below: overlong */
        else if (p[0] == 0xf4)
            hi = 0x8f; /* above: beyond U+10FFFF */
    } else {
        /* 0x80..0xc1 (stray continuation, overlong 2-byte lead) and
         * 0xf5..0xff can never start a sequence. */
        *ret_bad = 1;
        return 0;
    }
    for (i = 1; i < need; i++) {
        unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xbf;

        if (i >= n || p[i] < min || p[i] > max) {
            *ret_bad = i;
            return 0;
        }
    }
    return need;
}

bool
btc_utf8_is_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, bad;

    while (i < len) {
        size_t n = sequence_length(p + i, len - i, &bad);

        if (!n)
            return false;
        i += n;
    }
    return true;
}

int
btc_utf8_repair(const char *s, size_t len, char **ret_out, size_t *ret_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0, bad;
    char *out;

    /* Each replaced subpart is at least 1 byte and becomes 3. */
    if (len > (SIZE_MAX - 1) / 3)
        return -ENOMEM;
    out = malloc(btc_utf8_is_valid(s, len) ? len + 1 : len * 3 + 1);
    if (!out)
        return -ENOMEM;
    while (i < len) {
        size_t n = sequence_length(p + i, len - i, &bad);

        if (n) {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, BTC_UTF8_REPLACEMENT, 3);
            o += 3;
            i += bad;
        }
    }
    out[o] = '\0';
    *ret_out = out;
    if (ret_len)
        *ret_len = o;
    return 0;
}
