/* walk: unwinds threads of the crashed process with libdw's CFI unwinder,
 * through our own Dwfl_Thread_Callbacks: registers from the crash record
 * (crashing thread) or PTRACE_GETREGS (others), memory from memory.h.
 * Helper process only. */
#ifndef BTCRASH_UNWIND_WALK_H
#define BTCRASH_UNWIND_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#include "capture.h"
#include "crash_record.h"
#include "memory.h"

struct btc_unwind_raw_stack {
    struct btc_raw_frame *frames; /* innermost first */
    size_t n;
    bool truncated; /* the cap or an unwind error stopped the walk */
    char *error;    /* why the walk stopped early, or NULL */
};

/* State shared with libdwfl's callbacks; lives until dwfl_end. */
struct btc_unwind_walker {
    const struct btc_crash_record *rec;
    /* The crashing thread's registers when not the record's (a walk that
     * starts again from a guessed caller), or NULL. */
    const uint64_t *fault_regs;
    struct btc_unwind_mem *mem;
    const int *tids; /* threads offered to libdwfl */
    size_t ntids;
    size_t next; /* iteration cursor for next_thread */
};

/**
 * dwfl_attach_state with @w's callbacks. @w must outlive @dwfl.
 * Returns: 0, or -EINVAL with the reason in dwfl_errmsg(-1).
 */
int btc_unwind_walk_attach(Dwfl *dwfl, struct btc_unwind_walker *w);

/**
 * Unwind thread @tid into @ret (at most @max frames). An unwind error is not
 * a failure: it ends the walk and is described in ret->error.
 * Returns: 0, or -ENOMEM.
 */
int btc_unwind_walk_thread(Dwfl *dwfl, int tid, size_t max, struct btc_unwind_raw_stack *ret);

/** Free @s's contents; accepts a zeroed @s. */
void btc_unwind_raw_stack_free(struct btc_unwind_raw_stack *s);

#endif
