/* utf8: turns arbitrary bytes (paths, thread names, argv, source text,
 * attribute values) into valid UTF-8 for the report. Helper process and
 * btcrash command. */
#ifndef BTCRASH_UTF8_H
#define BTCRASH_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* U+FFFD REPLACEMENT CHARACTER, encoded. */
#define BTC_UTF8_REPLACEMENT "\xef\xbf\xbd"

/**
 * Whether @s[0..@len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). NUL bytes are well-formed.
 */
bool btc_utf8_is_valid(const char *s, size_t len);

/**
 * Copy @s[0..@len) with every maximal ill-formed subpart replaced by one
 * U+FFFD, the substitution Unicode recommends (Unicode 15, §3.9, "U+FFFD
 * Substitution of Maximal Subparts"): nothing is dropped silently, and a
 * truncated sequence costs one replacement, not one per byte. Well-formed
 * input comes back byte for byte.
 *
 * Returns: 0, *ret_out (malloc'ed, NUL-terminated; caller frees) and, when
 *          @ret_len is not NULL, its length; or -ENOMEM.
 * Borrows: @s.
 */
int btc_utf8_repair(const char *s, size_t len, char **ret_out, size_t *ret_len);

#endif
