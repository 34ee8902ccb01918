/* scan: stack scanning, for a frame that neither CFI nor a frame pointer
 * can unwind: the first word above the stack pointer that points just
 * after a call instruction, into a function of a loaded module, is taken
 * for its return address. A guess: the frames it finds are marked so.
 * Helper process only. */
#ifndef BTCRASH_UNWIND_SCAN_H
#define BTCRASH_UNWIND_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"

/* Words scanned above the stack pointer at most: 4 KiB, more than the
 * frames of most functions without a frame pointer. */
#define BTC_SCAN_MAX_WORDS 512

/* Bytes before a return address that the decoder looks at: the longest
 * call it knows (FF /2 with SIB and disp32) is 7, one more for a REX
 * prefix, which does not change where the call ends. */
#define BTC_SCAN_CALL_BYTES 8

/**
 * Whether @addr lies inside a function of a loaded module (the predicate a
 * symbol index can answer in O(log n)); *@ret_start, when not NULL, gets the
 * function's entry, or 0 when the predicate cannot tell it.
 */
typedef bool (*btc_scan_in_function_fn)(void *arg, uint64_t addr, uint64_t *ret_start);

/**
 * The default predicate, with libdwfl: an FDE of .eh_frame covering @addr
 * (when @ret_start is NULL), else an ELF function symbol whose extent
 * covers it (dwfl_module_addrinfo), else a DWARF subprogram of the unit at
 * @addr (dwfl_module_addrdie). @arg is the Dwfl *. Cost: O(log n) with an
 * FDE, else linear in the module's symbols; a symbol index replaces it.
 */
bool btc_scan_in_function_dwfl(void *arg, uint64_t addr, uint64_t *ret_start);

/**
 * Whether the @b[BTC_SCAN_CALL_BYTES] bytes that end at a return address
 * end with an x86-64 call: E8 rel32, or FF /2 in any ModRM form (register,
 * memory with or without SIB, disp8, disp32, RIP-relative). Pure.
 */
bool btc_scan_after_call(const unsigned char b[BTC_SCAN_CALL_BYTES]);

/**
 * Whether @ra can be a return address: the bytes before it, read through
 * @m, end with a call, and @fn says that call lies in a function.
 */
bool btc_scan_is_return_address(struct btc_unwind_mem *m, uint64_t ra, btc_scan_in_function_fn fn,
                                void *arg);

/**
 * Scan at most @max_words words from @sp upward, stopping at unreadable
 * memory or @deadline_ns (CLOCK_MONOTONIC, 0: none), for the return
 * address of a frame in the function entered at @callee (0: unknown): the
 * first one after a direct call of @callee, else the first one at all.
 * Returns: 1 and *@ret_slot (its address) and *@ret_ra, or 0 when none.
 */
int btc_scan_stack(struct btc_unwind_mem *m, uint64_t sp, size_t max_words, uint64_t callee,
                   btc_scan_in_function_fn fn, void *arg, int64_t deadline_ns, uint64_t *ret_slot,
                   uint64_t *ret_ra);

#endif
