/* symbols: see symbols.h. */
#include "symbols.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "modules.h"
#include "symbolize.h"
#include "tailcall.h"

int
btc_symbols_new(struct btc_capture *cap, Dwfl *dwfl, struct btc_symbols **ret, char *why,
                size_t size)
{
    struct btc_symbols *s = calloc(1, sizeof(*s));
    int r;

    if (!s)
        return -ENOMEM;
    s->cap = cap;
    s->nthreads = cap->nthreads;
    s->threads = calloc(cap->nthreads + 1, sizeof(*s->threads));
    if (!s->threads) {
        free(s);
        return -ENOMEM;
    }
    if (dwfl) {
        s->dwfl = dwfl;
    } else {
        /* A stored capture: the modules as the map names them, opened from
         * the files. */
        r = cap->maps ? btc_unwind_dwfl_open(cap->rec.pid, cap->maps, cap->maps_len, &s->dwfl)
                      : -ENODATA;
        if (r < 0) {
            if (size > 0)
                snprintf(why, size, "could not open the modules: %s",
                         r == -ENODATA ? "the capture has no memory map"
                         : r == -EIO   ? dwfl_errmsg(-1)
                                       : strerror(-r));
            btc_symbols_free(s);
            return r;
        }
        s->own_dwfl = true;
        btc_unwind_modules_index(s->dwfl, cap->modules, cap->nmodules);
    }
    r = btc_index_new(s->dwfl, &s->index);
    if (r == 0)
        r = btc_call_sites_new(&s->call_sites);
    if (r < 0) {
        btc_symbols_free(s);
        return r;
    }
    *ret = s;
    return 0;
}

void
btc_symbols_free(struct btc_symbols *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->threads && i < s->nthreads; i++)
        btc_unwind_frames_free(s->threads[i].frames, s->threads[i].nframes);
    free(s->threads);
    /* The index refers into the session's DWARF: freed first. */
    btc_call_sites_free(s->call_sites);
    btc_index_free(s->index);
    if (s->own_dwfl)
        dwfl_end(s->dwfl);
    free(s->stopped);
    free(s);
}

static int
note_stop(struct btc_symbols *s, const char *fmt, size_t frame, int tid)
{
    if (s->stopped)
        return 1;
    if (asprintf(&s->stopped, fmt, frame, tid) < 0) {
        s->stopped = NULL;
        return -ENOMEM;
    }
    return 1;
}

int
btc_symbols_modules(struct btc_symbols *s, int64_t deadline_ns)
{
    int r;

    if (s->modules_done)
        return 0;
    r = btc_unwind_modules_debuginfo(s->dwfl, s->cap->modules, s->cap->nmodules, deadline_ns);
    if (r == 0)
        s->modules_done = true;
    if (r == 1 && !s->stopped) {
        s->stopped = strdup("the search for debug files stopped: time budget");
        if (!s->stopped)
            return -ENOMEM;
    }
    return r;
}

/* The frames of functions that tail-called their way from the function that
 * called @callee's up to @callee's: the stack has no return address for them. */
static int
symbolize_tailcalls(struct btc_symbols *s, const struct btc_raw_frame *callee, uint64_t caller_ra,
                    struct btc_unwind_frames *out)
{
    uint64_t callee_addr = callee->activation ? callee->pc : callee->pc - 1;
    uint64_t *pcs = NULL;
    size_t n = 0;
    int r;

    r = btc_unwind_tailcalls(s->index, s->call_sites, callee_addr, caller_ra, &pcs, &n);
    for (size_t i = 0; i < n && r == 0; i++) {
        struct btc_unwind_sym_request req = {.pc = pcs[i]};

        r = btc_unwind_symbolize(s->index, s->cap->modules, s->cap->nmodules, &req, out);
    }
    free(pcs);
    return r;
}

/* The frames of raw frame @k appended to @out: those of the functions that
 * tail-called their way between it and frame @k - 1, then its own. */
static int
symbolize_raw(struct btc_symbols *s, const struct btc_raw_thread *raw, size_t k, bool after_gap,
              struct btc_unwind_frames *out)
{
    const struct btc_raw_frame *f = &raw->frames[k];
    struct btc_unwind_sym_request req = {
        .pc = f->pc,
        .activation = f->activation,
        .expand_inlines = true,
    };
    size_t first;
    int r = 0;

    if (k > 0 && !f->activation && !after_gap)
        r = symbolize_tailcalls(s, &raw->frames[k - 1], f->pc, out);
    if (r != 0)
        return r;
    first = out->n;
    r = btc_unwind_symbolize(s->index, s->cap->modules, s->cap->nmodules, &req, out);
    for (size_t i = first; i < out->n; i++)
        out->v[i].guessed = f->guessed;
    return r;
}

/* Whether raw frame @k can be symbolized without waiting for a debug file
 * being decompressed or fetched: its module's, and for the tail-call
 * search its callee's (frame @k - 1). */
static bool
ready(struct btc_symbols *s, const struct btc_raw_thread *raw, size_t k)
{
    if (btc_unwind_module_pending(btc_unwind_frame_module(s->dwfl, &raw->frames[k])))
        return false;
    return k == 0 ||
           !btc_unwind_module_pending(btc_unwind_frame_module(s->dwfl, &raw->frames[k - 1]));
}

struct early {
    struct btc_unwind_frames f;
    bool done;
};

/* While a debug file is being decompressed or fetched
 * (btc_unwind_modules_prefetch),
 * the frames that need none of those are symbolized first, each into its
 * own @pre[k], so that the wait overlaps with work. Returns: 0 (also at
 * @deadline_ns, the rest being left to the frame-by-frame pass), -ENOMEM. */
static int
symbolize_ready(struct btc_symbols *s, const struct btc_raw_thread *raw, size_t from,
                int64_t deadline_ns, struct early *pre)
{
    int r = 0;

    for (size_t k = from; k < raw->nframes && r >= 0; k++) {
        if (deadline_ns > 0 && btc_clock_now_ns() >= deadline_ns)
            break;
        if (!ready(s, raw, k))
            continue;
        pre[k].f.max = BTC_SYMBOLS_MAX_FRAMES;
        r = symbolize_raw(s, raw, k, raw->omitted > 0 && k == raw->omitted_at, &pre[k].f);
        pre[k].done = r >= 0;
    }
    return r < 0 ? r : 0;
}

/* Move @from's frames to the end of @out, up to out->max. Returns: 1 when
 * frames were left out (and freed), 0, or -ENOMEM. */
static int
append_frames(struct btc_unwind_frames *out, struct btc_unwind_frames *from)
{
    size_t room = out->max - out->n, n = from->n < room ? from->n : room;
    int r = from->n > room ? 1 : 0;

    if (out->n + n > out->cap) {
        struct btc_frame *v = realloc(out->v, (out->n + n) * sizeof(*v));

        if (!v)
            return -ENOMEM;
        out->v = v;
        out->cap = out->n + n;
    }
    if (n > 0)
        memcpy(out->v + out->n, from->v, n * sizeof(*from->v));
    out->n += n;
    for (size_t i = n; i < from->n; i++) {
        free(from->v[i].func);
        free(from->v[i].file);
    }
    free(from->v);
    *from = (struct btc_unwind_frames){0};
    return r;
}

static bool
any_pending(struct btc_symbols *s, const struct btc_raw_thread *raw, size_t from)
{
    for (size_t k = from; k < raw->nframes; k++)
        if (btc_unwind_module_pending(btc_unwind_frame_module(s->dwfl, &raw->frames[k])))
            return true;
    return false;
}

int
btc_symbols_thread(struct btc_symbols *s, size_t t, int64_t deadline_ns)
{
    const struct btc_raw_thread *raw = &s->cap->threads[t];
    struct btc_sym_thread *st = &s->threads[t];
    struct btc_unwind_frames out = {
        .v = st->frames, .n = st->nframes, .cap = st->nframes, .max = BTC_SYMBOLS_MAX_FRAMES};
    struct early *pre = NULL;
    int r = 0;

    if (any_pending(s, raw, st->raw_done)) {
        pre = calloc(raw->nframes, sizeof(*pre));
        if (!pre)
            return -ENOMEM;
        r = symbolize_ready(s, raw, st->raw_done, deadline_ns, pre);
    }
    for (size_t k = st->raw_done; k < raw->nframes && r == 0 && !st->cut; k++) {
        /* Frames left out lie between k - 1 and k: no call links them. */
        bool after_gap = raw->omitted > 0 && k == raw->omitted_at;

        /* Checked per frame: a frame costs binary searches, but the first
         * frame in a unit builds the unit's index. */
        if (deadline_ns > 0 && btc_clock_now_ns() >= deadline_ns) {
            r = 2;
            break;
        }
        if (after_gap)
            st->omitted_at = out.n;
        r = pre && pre[k].done ? append_frames(&out, &pre[k].f)
                               : symbolize_raw(s, raw, k, after_gap, &out);
        if (r >= 0)
            st->raw_done = k + 1;
        if (r == 1) {
            st->cut = true;
            r = 0;
        }
    }
    for (size_t k = 0; pre && k < raw->nframes; k++)
        btc_unwind_frames_free(pre[k].f.v, pre[k].f.n);
    free(pre);
    st->frames = out.v;
    st->nframes = out.n;
    if (r == 2)
        return note_stop(s, "symbolication stopped at frame %zu of thread %d: time budget",
                         st->raw_done, raw->tid);
    return r;
}
