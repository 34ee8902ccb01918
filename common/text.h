/* text: makes untrusted text safe to print on a terminal. Report fields are
 * the crashed program's data; rxids, error bodies and headers are a
 * server's: none of them may drive the terminal (colours, a window title,
 * a forged "btcrash:" line) or flood it. Helper process and btcrash
 * command. */
#ifndef BTCRASH_TEXT_H
#define BTCRASH_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Flags of btc_text_escape and btc_text_put. */
#define BTC_TEXT_KEEP_TAB 1u /* a tab stays a tab (source lines) */

/* A cap for text from a server: enough for any rxid or one-line error. */
#define BTC_TEXT_SERVER_MAX 200

/**
 * Copy @s[0..@len) into @buf (@size bytes; below 4, nothing but the NUL) with every control
 * character escaped: C0 and DEL as \xNN, the C1 range U+0080..U+009F (whose
 * U+009B starts a CSI sequence) as \u00NN, and each byte that is not part
 * of well-formed UTF-8 as \xNN. When the escaped text does not fit, it is
 * cut at a character boundary and ends in "...".
 *
 * Returns: the length written (without the NUL).
 * Borrows: @s, which may hold NUL bytes (escaped too).
 */
size_t btc_text_escape(char *buf, size_t size, const char *s, size_t len, unsigned flags);

/**
 * Print @s[0..@len) escaped as btc_text_escape does; when @max > 0, at most
 * @max bytes of @s are shown, followed by "..." if there were more.
 */
void btc_text_put(FILE *out, const char *s, size_t len, size_t max, unsigned flags);

#endif
