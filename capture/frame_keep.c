/* frame_keep: see frame_keep.h. The head grows as frames come (most stacks
 * are short); past it, a ring of the last tail_max frames is overwritten
 * in place, so a walk of a million frames holds max frames at most. */
#include "frame_keep.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
btc_frame_keep_init(struct btc_frame_keep *k, size_t max, size_t tail)
{
    if (tail > max / 2)
        tail = max / 2;
    *k = (struct btc_frame_keep){.head_max = max - tail, .tail_max = tail};
}

int
btc_frame_keep_push(struct btc_frame_keep *k, const struct btc_raw_frame *f)
{
    if (k->nhead < k->head_max) {
        if (k->nhead == k->head_cap) {
            size_t cap = k->head_cap ? k->head_cap * 2 : 64;
            struct btc_raw_frame *v;

            if (cap > k->head_max)
                cap = k->head_max;
            v = realloc(k->head, cap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            k->head = v;
            k->head_cap = cap;
        }
        k->head[k->nhead++] = *f;
        k->total++;
        return 0;
    }
    if (k->tail_max == 0) {
        k->total++;
        return 0;
    }
    if (!k->ring) {
        k->ring = malloc(k->tail_max * sizeof(*k->ring));
        if (!k->ring)
            return -ENOMEM;
    }
    k->ring[k->ring_next] = *f;
    k->ring_next = (k->ring_next + 1) % k->tail_max;
    k->total++;
    return 0;
}

int
btc_frame_keep_finish(struct btc_frame_keep *k, struct btc_raw_frame **ret_frames, size_t *ret_n,
                      size_t *ret_omitted, size_t *ret_omitted_at)
{
    size_t past = k->total - k->nhead; /* frames pushed after the head filled */
    size_t ntail = past < k->tail_max ? past : k->tail_max;
    size_t n = k->nhead + ntail;
    struct btc_raw_frame *v = k->head;

    if (ntail > 0) {
        /* The ring's oldest entry is at ring_next once it has wrapped. */
        size_t first = past > k->tail_max ? k->ring_next : 0;

        v = realloc(k->head, n * sizeof(*v));
        if (!v)
            return -ENOMEM;
        for (size_t i = 0; i < ntail; i++)
            v[k->nhead + i] = k->ring[(first + i) % k->tail_max];
    }
    *ret_frames = v;
    *ret_n = n;
    *ret_omitted = past - ntail;
    *ret_omitted_at = past > ntail ? k->nhead : 0;
    k->head = NULL;
    btc_frame_keep_done(k);
    return 0;
}

void
btc_frame_keep_done(struct btc_frame_keep *k)
{
    if (!k)
        return;
    free(k->head);
    free(k->ring);
    k->head = k->ring = NULL;
    k->nhead = k->head_cap = k->ring_next = k->total = 0;
}
