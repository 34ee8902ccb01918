/* walk: unwinds threads of the crashed process with libdw's CFI unwinder,
 * through our own Dwfl_Thread_Callbacks: registers from the crash record
 * (crashing thread) or PTRACE_GETREGS (others), memory from memory.h.
 * Where a frame has neither CFI nor a frame pointer (or its CFI fails),
 * the stack is scanned for its return address (scan.h) and the walk goes
 * on from there. Stacks of any depth are walked to their end, within a
 * hard limit and a deadline; the frames kept are frame_keep.h's.
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
#include "scan.h"

struct btc_unwind_raw_stack {
    struct btc_raw_frame *frames; /* innermost first */
    size_t n;
    size_t omitted; /* frames walked but left out, before frames[omitted_at] */
    size_t omitted_at;
    bool truncated; /* an unwind error, the hard limit or the deadline stopped the walk */
    char *error;    /* why the walk stopped early, or NULL */
};

/* Whether a pc has CFI, remembered: a deep recursion returns to the same
 * few addresses again and again. */
#define BTC_UNWIND_CFI_CACHE 64

/* State shared with libdwfl's callbacks; lives until dwfl_end. */
struct btc_unwind_walker {
    const struct btc_crash_record *rec;
    struct btc_unwind_mem *mem;
    const int *tids; /* threads offered to libdwfl */
    size_t ntids;
    size_t next; /* iteration cursor for next_thread */
    /* A walk that starts again where a guess found a caller: thread
     * resume_tid starts from resume_regs instead of its own registers. */
    int resume_tid;
    const uint64_t *resume_regs;
    struct {
        uint64_t pc;
        bool valid, has;
    } cfi_cache[BTC_UNWIND_CFI_CACHE];
};

struct btc_unwind_walk_opts {
    size_t keep;         /* frames kept at most (frame_keep.h) */
    size_t tail;         /* of them the outermost */
    size_t limit;        /* frames walked at most */
    int64_t deadline_ns; /* CLOCK_MONOTONIC; 0: none */
    /* Where a return address found by scanning must point; NULL: no
     * scanning, libdwfl alone. */
    btc_scan_in_function_fn in_function;
    void *in_function_arg;
};

/**
 * dwfl_attach_state with @w's callbacks. @w must outlive @dwfl.
 * Returns: 0, or -EINVAL with the reason in dwfl_errmsg(-1).
 */
int btc_unwind_walk_attach(Dwfl *dwfl, struct btc_unwind_walker *w);

/**
 * Unwind thread @tid of @w into @ret. An unwind error is not a failure: it
 * ends the walk and is described in ret->error.
 * Returns: 0, or -ENOMEM.
 */
int btc_unwind_walk_thread(Dwfl *dwfl, struct btc_unwind_walker *w, int tid,
                           const struct btc_unwind_walk_opts *o, struct btc_unwind_raw_stack *ret);

/** Free @s's contents; accepts a zeroed @s. */
void btc_unwind_raw_stack_free(struct btc_unwind_raw_stack *s);

#endif
