/* strbuf: see strbuf.h. Async-signal-safe: no libc calls but memcpy-free
 * byte loops, so it is safe in the crash path. */
#include "strbuf.h"

void
btc_strbuf_init(struct btc_strbuf *b, char *buf, size_t size)
{
    b->buf = buf;
    b->size = size;
    b->len = 0;
    b->overflow = size == 0;
    if (size)
        buf[0] = '\0';
}

void
btc_strbuf_putn(struct btc_strbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b->len + 1 >= b->size) {
            b->overflow = true;
            break;
        }
        b->buf[b->len++] = s[i];
    }
    if (b->size)
        b->buf[b->len] = '\0';
}

void
btc_strbuf_puts(struct btc_strbuf *b, const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    btc_strbuf_putn(b, s, n);
}

void
btc_strbuf_putc(struct btc_strbuf *b, char c)
{
    btc_strbuf_putn(b, &c, 1);
}

void
btc_strbuf_put_u64(struct btc_strbuf *b, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    btc_strbuf_putn(b, tmp + sizeof(tmp) - n, n);
}

void
btc_strbuf_put_i64(struct btc_strbuf *b, int64_t v)
{
    if (v < 0) {
        btc_strbuf_putc(b, '-');
        btc_strbuf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        btc_strbuf_put_u64(b, (uint64_t)v);
    }
}

void
btc_strbuf_put_hex(struct btc_strbuf *b, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - 1 - n++] = digits[v & 0xf];
        v >>= 4;
    } while (v);
    btc_strbuf_puts(b, "0x");
    btc_strbuf_putn(b, tmp + sizeof(tmp) - n, n);
}

void
btc_strbuf_put_printable(struct btc_strbuf *b, const char *s, size_t max)
{
    size_t i;

    for (i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        btc_strbuf_putc(b, (c >= 0x20 && c < 0x7f) ? (char)c : '?');
    }
    if (s[i])
        btc_strbuf_puts(b, "...");
}

void
btc_strbuf_finish_line(struct btc_strbuf *b)
{
    if (b->size < 2)
        return;
    if (b->len + 1 >= b->size)
        b->len = b->size - 2;
    b->buf[b->len++] = '\n';
    b->buf[b->len] = '\0';
}
