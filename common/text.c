/* text: see text.h. */
#include "text.h"

#include <string.h>

#include "utf8.h"

/* The length of the well-formed UTF-8 sequence at @s (at most @left bytes),
 * or 0 when the byte there starts none. */
static size_t
utf8_seq_len(const unsigned char *s, size_t left)
{
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;

    if (n == 0 || n > left || !btc_utf8_is_valid((const char *)s, n))
        return 0;
    return n;
}

/* The escaped form of the character at @s into @out (at least 7 bytes);
 * returns its length, and the bytes of @s it stands for in *@used. */
static size_t
escape_one(const unsigned char *s, size_t left, unsigned flags, char *out, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    size_t n;

    *used = 1;
    if (s[0] < 0x80) {
        if ((s[0] >= 0x20 && s[0] != 0x7f) || (s[0] == '\t' && (flags & BTC_TEXT_KEEP_TAB))) {
            out[0] = (char)s[0];
            return 1;
        }
        memcpy(out, "\\x", 2);
        out[2] = hex[s[0] >> 4];
        out[3] = hex[s[0] & 15];
        return 4;
    }
    n = utf8_seq_len(s, left);
    if (n == 2 && s[0] == 0xc2 && s[1] <= 0x9f) {
        memcpy(out, "\\u00", 4);
        out[4] = hex[s[1] >> 4];
        out[5] = hex[s[1] & 15];
        *used = 2;
        return 6;
    }
    if (n == 0) {
        memcpy(out, "\\x", 2);
        out[2] = hex[s[0] >> 4];
        out[3] = hex[s[0] & 15];
        return 4;
    }
    memcpy(out, s, n);
    *used = n;
    return n;
}

size_t
btc_text_escape(char *buf, size_t size, const char *s, size_t len, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0, i = 0, whole = 0, reserve;

    if (size < 4) {
        if (size > 0)
            buf[0] = '\0';
        return 0;
    }
    for (size_t j = 0; j < len;) {
        char one[8];
        size_t used;

        whole += escape_one(p + j, len - j, flags, one, &used);
        j += used;
    }
    /* Only a text that does not fit keeps room for the "..." that ends
     * it; each step then leaves that room behind what it writes. */
    reserve = whole < size ? 0 : 3;
    while (i < len) {
        char one[8];
        size_t used, n = escape_one(p + i, len - i, flags, one, &used);

        if (w + n + reserve >= size) {
            memcpy(buf + w, "...", 3);
            w += 3;
            break;
        }
        memcpy(buf + w, one, n);
        w += n;
        i += used;
    }
    buf[w] = '\0';
    return w;
}

void
btc_text_put(FILE *out, const char *s, size_t len, size_t max, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, shown = max > 0 && len > max ? max : len;

    while (i < shown) {
        char one[8];
        size_t used, n = escape_one(p + i, len - i, flags, one, &used);

        /* Never half a character: it would print as invalid bytes. */
        if (i + used > shown)
            break;
        fwrite(one, 1, n, out);
        i += used;
    }
    if (i < len)
        fputs("...", out);
}
