/* tailcall: finds the frames that tail calls removed from the stack, from
 * DWARF call-site information (DW_TAG_call_site, DW_AT_call_tail_call), the
 * way gdb shows them: abort() -> raise() -> __pthread_kill_internal, whose
 * jump to __pthread_kill_implementation left no return address. Helper
 * process only. */
#ifndef BTCRASH_UNWIND_TAILCALL_H
#define BTCRASH_UNWIND_TAILCALL_H

#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#include "call_sites.h"
#include "index.h"

/**
 * The tail-call sites between a callee frame and its caller frame: @callee_addr
 * is an address inside the callee frame's function (its pc, less one when a
 * return address), @caller_ra the caller frame's return address. Each site
 * is reported as the address after its jump, the pc gdb shows for the frame,
 * innermost (nearest the callee) first. When several tail-call paths are
 * possible, only the sites common to all of them are reported. Functions'
 * call sites are read once, into @cache.
 *
 * Returns: 0 and *ret_pcs (free it; NULL when none) and *ret_n, or -ENOMEM.
 */
int btc_unwind_tailcalls(struct btc_index *ix, struct btc_call_sites *cache, uint64_t callee_addr,
                         uint64_t caller_ra, uint64_t **ret_pcs, size_t *ret_n);

#endif
