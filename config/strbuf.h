/* strbuf: bounded string building into caller memory, without stdio or
 * allocation, so the crash path and the constructor can format messages.
 * Async-signal-safe: usable everywhere, including signal handlers. */
#ifndef BTCRASH_STRBUF_H
#define BTCRASH_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btc_strbuf {
    char *buf;
    size_t size; /* capacity including the terminating NUL */
    size_t len;
    bool overflow; /* something did not fit; the text is cut, still NUL-terminated */
};

void btc_strbuf_init(struct btc_strbuf *b, char *buf, size_t size);
void btc_strbuf_putn(struct btc_strbuf *b, const char *s, size_t n);
void btc_strbuf_puts(struct btc_strbuf *b, const char *s);
void btc_strbuf_putc(struct btc_strbuf *b, char c);
void btc_strbuf_put_u64(struct btc_strbuf *b, uint64_t v);
void btc_strbuf_put_i64(struct btc_strbuf *b, int64_t v);
/* "0x" followed by lowercase hex digits, no padding. */
void btc_strbuf_put_hex(struct btc_strbuf *b, uint64_t v);
/* At most @max bytes of @s; control bytes and non-ASCII become '?', so a
 * hostile value cannot forge terminal escapes or further lines. */
void btc_strbuf_put_printable(struct btc_strbuf *b, const char *s, size_t max);
/* Ends the text with '\n', replacing the last byte if the buffer is full. */
void btc_strbuf_finish_line(struct btc_strbuf *b);

#endif
