/* sha256: SHA-256 as FIPS 180-4 §6.2 defines it. Written out because
 * nothing btcrash links offers one (libcurl's API has no digest, and its TLS
 * backend varies by build), and hashing one URL is no reason to add a crypto
 * library to the helper. */
#include "sha256.h"
#include "hex.h"

#include <string.h>

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t
rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

/* The message is big-endian whatever the host (§3.1), so bytes are
 * assembled by hand rather than loaded as words. */
static uint32_t
load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* §6.2.2 for one 64-byte block. */
static void
compress(uint32_t h[8], const uint8_t *block)
{
    uint32_t w[64];
    uint32_t a, b, c, d, e, f, g, hh;

    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);

        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }

    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];
    f = h[5];
    g = h[6];
    hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t sum1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + sum1 + ch + K[t] + w[t];
        uint32_t sum0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = sum0 + maj;

        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void
btc_sha256_init(struct btc_sha256 *s)
{
    /* §5.3.3: the first 32 bits of the fractional parts of the square roots
     * of the first 8 primes. */
    static const uint32_t h0[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };

    memcpy(s->h, h0, sizeof(s->h));
    s->bytes = 0;
    s->used = 0;
}

void
btc_sha256_update(struct btc_sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;

    s->bytes += len;
    /* Finish a partial block first, so whole blocks of @data can be
     * compressed in place without copying. */
    if (s->used > 0) {
        size_t take = sizeof(s->block) - s->used;

        if (take > len)
            take = len;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        len -= take;
        if (s->used < sizeof(s->block))
            return;
        compress(s->h, s->block);
        s->used = 0;
    }
    while (len >= sizeof(s->block)) {
        compress(s->h, p);
        p += sizeof(s->block);
        len -= sizeof(s->block);
    }
    if (len > 0) {
        memcpy(s->block, p, len);
        s->used = len;
    }
}

void
btc_sha256_final(struct btc_sha256 *s, uint8_t out[BTC_SHA256_LEN])
{
    /* §5.1.1 counts the length in bits; taken before padding changes it. */
    uint64_t bits = s->bytes * 8;

    s->block[s->used++] = 0x80;
    /* No room for the 8-byte length: it goes in a block of its own. */
    if (s->used > sizeof(s->block) - 8) {
        memset(s->block + s->used, 0, sizeof(s->block) - s->used);
        compress(s->h, s->block);
        s->used = 0;
    }
    memset(s->block + s->used, 0, sizeof(s->block) - 8 - s->used);
    store_be32(s->block + 56, (uint32_t)(bits >> 32));
    store_be32(s->block + 60, (uint32_t)bits);
    compress(s->h, s->block);

    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, s->h[i]);
    /* The state holds the digest and the tail of the message: the URL's
     * token, for our one caller. */
    memset(s, 0, sizeof(*s));
}

void
btc_sha256_hex(const void *data, size_t len, char hex[BTC_SHA256_HEX_LEN + 1])
{
    struct btc_sha256 s;
    uint8_t d[BTC_SHA256_LEN];

    btc_sha256_init(&s);
    btc_sha256_update(&s, data, len);
    btc_sha256_final(&s, d);
    btc_hex_encode(d, sizeof(d), hex);
}
