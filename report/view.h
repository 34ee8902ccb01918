/* view: a capture's threads as the report shows them: each raw frame
 * symbolicated when the symbol stage got to it, and raw (address and
 * module only) when it did not. Pure: reads only the capture and the
 * symbols. Helper process and tests. */
#ifndef BTCRASH_REPORT_VIEW_H
#define BTCRASH_REPORT_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "capture.h"
#include "symbols.h"

struct btc_thread {
    int tid;
    const char *name;         /* or NULL */
    bool fault;               /* the crashing thread */
    bool truncated;           /* the frame cap, an unwind error or a deadline cut the stack */
    const char *error;        /* why the walk stopped early, or NULL */
    struct btc_frame *frames; /* innermost first */
    size_t nframes;
    /* Frames of a deep stack left out before frames[omitted_at] (the
     * capture's btc_raw_thread.omitted); 0 when none, or when the frames
     * after them were cut. */
    size_t omitted;
    size_t omitted_at;
};

struct btc_view {
    const struct btc_capture *cap;
    struct btc_thread *threads; /* cap->nthreads */
    size_t nthreads;
    size_t fault_thread;
    /* The C++ exception the report names: the capture's, once the
     * symbolicated stack shows it being thrown (std::terminate, __cxa_throw);
     * NULL before that, or when it was one caught long ago. */
    const char *cxx_type;
    const char *cxx_what;
    struct btc_frame *raw; /* storage for the frames the symbols lack */
};

/**
 * The view of @cap with @syms (NULL: every frame raw).
 * Returns: 0 and *ret (btc_view_done it), or -ENOMEM.
 * Borrows: @cap and @syms, which must outlive @ret.
 */
int btc_view_build(const struct btc_capture *cap, const struct btc_symbols *syms,
                   struct btc_view *ret);

void btc_view_done(struct btc_view *v);

/** The module of @cap containing @pc (binary search), or NULL. */
const struct btc_module *btc_view_module_at(const struct btc_capture *cap, uint64_t pc);

#endif
