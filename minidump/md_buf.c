/* md_buf: see md_buf.h. */
#include "md_buf.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static bool
grow(struct btc_md_buf *b, size_t need)
{
    size_t cap;
    unsigned char *v;

    if (need > BTC_MD_MAX_BYTES) {
        b->failed = b->too_big = true;
        return false;
    }
    if (need <= b->cap)
        return true;
    cap = b->cap ? b->cap : 64 * 1024;
    while (cap < need)
        cap *= 2;
    v = realloc(b->data, cap);
    if (!v) {
        b->failed = true;
        return false;
    }
    b->data = v;
    b->cap = cap;
    return true;
}

uint32_t
btc_md_buf_append(struct btc_md_buf *b, const void *src, size_t len, size_t align)
{
    size_t at = (b->len + align - 1) & ~(align - 1);

    if (b->failed || !grow(b, at + len))
        return 0;
    memset(b->data + b->len, 0, at - b->len);
    if (src)
        memcpy(b->data + at, src, len);
    else
        memset(b->data + at, 0, len);
    b->len = at + len;
    return (uint32_t)at;
}

void
btc_md_buf_patch(struct btc_md_buf *b, uint32_t rva, const void *src, size_t len)
{
    if (!b->failed && (size_t)rva + len <= b->len)
        memcpy(b->data + rva, src, len);
}

/* The code point of the valid UTF-8 sequence at @s, and its length. */
static uint32_t
decode(const unsigned char *s, size_t *ret_n)
{
    if (s[0] < 0x80) {
        *ret_n = 1;
        return s[0];
    }
    if (s[0] < 0xe0) {
        *ret_n = 2;
        return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    }
    if (s[0] < 0xf0) {
        *ret_n = 3;
        return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    }
    *ret_n = 4;
    return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
           (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

static void
put_unit(unsigned char *p, size_t *at, uint16_t u)
{
    p[(*at)++] = (unsigned char)(u & 0xff);
    p[(*at)++] = (unsigned char)(u >> 8);
}

uint32_t
btc_md_buf_string(struct btc_md_buf *b, const char *s, size_t len)
{
    char *valid = NULL;
    size_t vlen = 0, units = 0, at = 0;
    unsigned char *out;
    uint32_t rva, bytes;

    if (b->failed)
        return 0;
    if (btc_utf8_repair(s, len, &valid, &vlen) < 0) {
        b->failed = true;
        return 0;
    }
    /* Two bytes per unit at most per byte of UTF-8: a bound, not a count. */
    out = malloc(4 + 2 * vlen + 2);
    if (!out) {
        free(valid);
        b->failed = true;
        return 0;
    }
    at = 4;
    for (size_t i = 0; i < vlen;) {
        size_t n;
        uint32_t cp = decode((const unsigned char *)valid + i, &n);

        i += n;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put_unit(out, &at, (uint16_t)(0xd800 | (cp >> 10)));
            put_unit(out, &at, (uint16_t)(0xdc00 | (cp & 0x3ff)));
            units += 2;
        } else {
            put_unit(out, &at, (uint16_t)cp);
            units++;
        }
    }
    bytes = (uint32_t)(units * 2);
    memcpy(out, &bytes, 4); /* the length excludes the 0 unit */
    put_unit(out, &at, 0);
    rva = btc_md_buf_append(b, out, at, 4);
    free(out);
    free(valid);
    return rva;
}

void
btc_md_buf_free(struct btc_md_buf *b)
{
    free(b->data);
    *b = (struct btc_md_buf){0};
}
