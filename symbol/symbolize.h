/* symbolize: turns one unwound pc into frames with function, file, line and
 * column, one frame per inlined call as gdb's `bt` shows them. Helper
 * process only. */
#ifndef BTCRASH_UNWIND_SYMBOLIZE_H
#define BTCRASH_UNWIND_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#include "capture.h"
#include "index.h"
#include "symbols.h"

struct btc_unwind_frames {
    struct btc_frame *v;
    size_t n;
    size_t cap;
    size_t max; /* never more than this many frames */
};

struct btc_unwind_sym_request {
    uint64_t pc;
    /* @pc is the next instruction to run (the faulting pc, or a stopped
     * thread's pc) rather than a return address. */
    bool activation;
    /* One frame per inlined call; false gives one frame naming the innermost
     * function at @pc, inlined or not: gdb's view of a frame recovered from
     * a tail call. */
    bool expand_inlines;
};

/**
 * Append the frames of one unwound pc to @out: the inlined calls at the pc
 * innermost first (inlined = true), then the function containing them.
 * Module paths are borrowed from @modules.
 *
 * Returns: 1 when @out reached out->max and frames were left out, 0, or
 *          -ENOMEM.
 */
int btc_unwind_symbolize(struct btc_index *ix, const struct btc_module *modules, size_t nmodules,
                         const struct btc_unwind_sym_request *req, struct btc_unwind_frames *out);

#endif
