/* sha256: SHA-256 (FIPS 180-4), for the endpoint identity a stored report
 * records (a hash of the submission URL, so the token is never stored in
 * clear). Helper process and btcrash command. */
#ifndef BTCRASH_SHA256_H
#define BTCRASH_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define BTC_SHA256_LEN     32
#define BTC_SHA256_HEX_LEN 64

/* A digest in progress; on the stack, no allocation, so the helper can hash
 * whatever its memory state. */
struct btc_sha256 {
    uint32_t h[8];
    uint64_t bytes; /* message length so far, for the final padding */
    uint8_t block[64];
    size_t used; /* bytes of @block waiting for a whole block */
};

/**
 * Start a new digest in @s (any previous contents are discarded).
 */
void btc_sha256_init(struct btc_sha256 *s);

/**
 * Add @data[0..@len) to the digest in @s. Splitting a message over several
 * calls, at any boundaries, gives the same digest as one call.
 *
 * Borrows: @data.
 */
void btc_sha256_update(struct btc_sha256 *s, const void *data, size_t len);

/**
 * Pad the message and write its digest to @out. @s must be initialised
 * again before reuse.
 */
void btc_sha256_final(struct btc_sha256 *s, uint8_t out[BTC_SHA256_LEN]);

/**
 * One call: the digest of @data as 64 lowercase hex digits and a NUL in @hex,
 * the form a stored report records.
 *
 * Borrows: @data.
 */
void btc_sha256_hex(const void *data, size_t len, char hex[BTC_SHA256_HEX_LEN + 1]);

#endif
