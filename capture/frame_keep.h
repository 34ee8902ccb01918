/* frame_keep: the frames a walk keeps of a stack of any depth: the innermost
 * ones and the few outermost (where a recursion began, down to main), in
 * bounded memory, counting the ones left out between them. Helper process
 * only. */
#ifndef BTCRASH_UNWIND_FRAME_KEEP_H
#define BTCRASH_UNWIND_FRAME_KEEP_H

#include <stddef.h>

#include "capture.h"

struct btc_frame_keep {
    size_t head_max; /* innermost frames kept */
    size_t tail_max; /* outermost frames kept, in a ring */
    struct btc_raw_frame *head;
    size_t nhead;
    size_t head_cap;
    struct btc_raw_frame *ring; /* tail_max entries, allocated once the head is full */
    size_t ring_next;           /* where the next frame goes */
    size_t total;               /* frames pushed */
};

/**
 * Set up @k to keep at most @max frames, @tail of them (at most @max / 2)
 * the outermost. Allocates nothing yet.
 */
void btc_frame_keep_init(struct btc_frame_keep *k, size_t max, size_t tail);

/** The next frame, outward. Returns: 0, or -ENOMEM. */
int btc_frame_keep_push(struct btc_frame_keep *k, const struct btc_raw_frame *f);

/**
 * Hand over what was kept, innermost first: *ret_frames (malloc'd, NULL
 * when none), *ret_n of them, and *ret_omitted frames left out before
 * index *ret_omitted_at (0 and 0 when none). Leaves @k empty.
 * Returns: 0, or -ENOMEM.
 */
int btc_frame_keep_finish(struct btc_frame_keep *k, struct btc_raw_frame **ret_frames,
                          size_t *ret_n, size_t *ret_omitted, size_t *ret_omitted_at);

/** Release what @k holds; accepts a zeroed or finished @k. */
void btc_frame_keep_done(struct btc_frame_keep *k);

#endif
