/* md_buf: the minidump being written, in memory: bytes appended at
 * aligned offsets (RVAs), patched in place once later parts are placed,
 * and the format's UTF-16 strings. Helper process only. */
#ifndef BTCRASH_MD_BUF_H
#define BTCRASH_MD_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A minidump addresses its parts with 32-bit RVAs: it stays below this. */
#define BTC_MD_MAX_BYTES (1024u * 1024u * 1024u)

struct btc_md_buf {
    unsigned char *data;
    size_t len, cap;
    bool failed;  /* out of memory, or past BTC_MD_MAX_BYTES: every later call fails */
    bool too_big; /* failed past BTC_MD_MAX_BYTES */
};

/**
 * Append @len bytes of @src (zeros when NULL) at the next offset aligned
 * to @align (a power of two), the gap zeroed.
 * Returns: the RVA of the bytes, or 0 once @b has failed (0 is the
 *          header's, never a part's).
 */
uint32_t btc_md_buf_append(struct btc_md_buf *b, const void *src, size_t len, size_t align);

/** Overwrite @len bytes at @rva, which must have been appended. */
void btc_md_buf_patch(struct btc_md_buf *b, uint32_t rva, const void *src, size_t len);

/**
 * Append @s (@len bytes of UTF-8, not necessarily valid) as an MDString:
 * its byte length, then UTF-16LE, then a 0 unit. Invalid UTF-8 becomes
 * U+FFFD. Returns: its RVA, or 0 once @b has failed.
 */
uint32_t btc_md_buf_string(struct btc_md_buf *b, const char *s, size_t len);

/** Release @b's memory; accepts a zeroed @b. */
void btc_md_buf_free(struct btc_md_buf *b);

#endif
