/* abort_msg: the message glibc printed before it aborted the crashed process
 * (a failed assert, a heap-corruption check, a fortify failure, the stack
 * protector), read from libc's __abort_msg. Helper process only. */
#ifndef BTCRASH_UNWIND_ABORT_MSG_H
#define BTCRASH_UNWIND_ABORT_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#include "memory.h"

/* The most bytes of a message kept; glibc's own messages are far shorter. */
#define BTC_UNWIND_ABORT_MSG_MAX 4096u

/**
 * The message text from the raw bytes glibc stored: up to the first NUL or
 * @len bytes, without the trailing newline glibc printed. A message cut at
 * @len loses an incomplete UTF-8 sequence at its end. The bytes are kept as
 * they are otherwise (the report repairs invalid UTF-8).
 *
 * Returns: 1 and *ret_msg (malloc'ed), 0 when the text is empty (or only
 *          newlines), or -ENOMEM.
 * Borrows: @buf.
 */
int btc_unwind_abort_text(const char *buf, size_t len, char **ret_msg);

/**
 * The address of the pointer variable __abort_msg (GLIBC_PRIVATE, exported
 * by libc.so.6) in @dwfl's process: looked up in the symbol table of the
 * module named libc.so.*.
 *
 * Returns: 0 and *ret_addr, or -ENOENT (no libc module, or no such symbol).
 */
int btc_unwind_abort_msg_var(Dwfl *dwfl, uint64_t *ret_addr);

/**
 * Read the message that `struct abort_msg_s { unsigned int size; char msg[]; }
 * *__abort_msg` at @var_addr points to. glibc's size is that of the whole
 * mapping (header, text and NUL, rounded up to pages); no more than
 * BTC_UNWIND_ABORT_MSG_MAX bytes of text are read, and reading stops at the
 * first unreadable page.
 *
 * Returns: 1 and *ret_msg (malloc'ed), 0 when there is no message (a NULL
 *          pointer, an implausible size, empty text), -EFAULT when the
 *          pointer or header cannot be read, or -ENOMEM.
 * Borrows: @mem.
 */
int btc_unwind_abort_msg_read(struct btc_unwind_mem *mem, uint64_t var_addr, char **ret_msg);

/**
 * btc_unwind_abort_msg_var, then btc_unwind_abort_msg_read: the message
 * glibc left for the process of @dwfl, whose memory @mem reads.
 *
 * Returns: as btc_unwind_abort_msg_read, or -ENOENT from the lookup.
 */
int btc_unwind_abort_message(Dwfl *dwfl, struct btc_unwind_mem *mem, char **ret_msg);

#endif
