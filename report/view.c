/* view: see view.h. */
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct btc_module *
btc_view_module_at(const struct btc_capture *cap, uint64_t pc)
{
    size_t lo = 0, hi = cap->nmodules;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct btc_module *m = &cap->modules[mid];

        if (pc < m->start)
            hi = mid;
        else if (pc - m->start >= m->size)
            lo = mid + 1;
        else
            return m;
    }
    return NULL;
}

/* Whether a frame's function (as symbolicated, demangled) shows that an
 * exception is being thrown or has ended the program. */
static bool
is_throw_frame(const char *func)
{
    if (!func)
        return false;
    return strcmp(func, "__cxa_throw") == 0 || strncmp(func, "std::terminate(", 15) == 0 ||
           strcmp(func, "std::terminate") == 0 ||
           strncmp(func, "__cxxabiv1::__terminate(", 24) == 0;
}

int
btc_view_build(const struct btc_capture *cap, const struct btc_symbols *syms, struct btc_view *ret)
{
    struct btc_view v = {.cap = cap, .nthreads = cap->nthreads, .fault_thread = cap->fault_thread};
    size_t nraw = 0, used = 0;

    for (size_t t = 0; t < cap->nthreads; t++) {
        const struct btc_sym_thread *st = syms && t < syms->nthreads ? &syms->threads[t] : NULL;

        /* A thread symbolicated in part gets its symbolicated frames copied
         * in front of its raw rest. */
        nraw += cap->threads[t].nframes - (st ? st->raw_done : 0) + (st ? st->nframes : 0);
    }
    v.threads = calloc(cap->nthreads + 1, sizeof(*v.threads));
    v.raw = calloc(nraw + 1, sizeof(*v.raw));
    if (!v.threads || !v.raw) {
        btc_view_done(&v);
        return -ENOMEM;
    }
    for (size_t t = 0; t < cap->nthreads; t++) {
        const struct btc_raw_thread *rt = &cap->threads[t];
        const struct btc_sym_thread *st = syms && t < syms->nthreads ? &syms->threads[t] : NULL;
        struct btc_thread *th = &v.threads[t];
        size_t done = st ? st->raw_done : 0;

        *th = (struct btc_thread){
            .tid = rt->tid,
            .name = rt->name,
            .fault = rt->fault,
            .truncated = rt->truncated || (st && st->cut),
            .error = rt->error,
        };
        if (rt->omitted > 0 && done > rt->omitted_at) {
            th->omitted = rt->omitted;
            th->omitted_at = st->omitted_at;
        } else if (rt->omitted > 0 && !(st && st->cut)) {
            th->omitted = rt->omitted;
            th->omitted_at = (st ? st->nframes : 0) + (rt->omitted_at - done);
        }
        if (st && (done == rt->nframes || st->cut)) {
            /* Symbolicated whole: the symbols' frames as they are. */
            th->frames = st->frames;
            th->nframes = st->nframes;
            if (th->omitted_at >= th->nframes)
                th->omitted = th->omitted_at = 0; /* cut before them */
            continue;
        }
        /* The symbolicated frames first, then the raw rest, in one array. */
        th->frames = v.raw + used;
        for (size_t i = 0; st && i < st->nframes; i++)
            th->frames[th->nframes++] = st->frames[i];
        for (size_t k = done; k < rt->nframes; k++) {
            const struct btc_module *m = btc_view_module_at(cap, rt->frames[k].pc);

            th->frames[th->nframes++] = (struct btc_frame){
                .pc = rt->frames[k].pc,
                .module = m ? m->path : NULL,
                .guessed = rt->frames[k].guessed,
            };
        }
        used += th->nframes;
    }
    if (cap->cxx_type && cap->fault_thread < cap->nthreads) {
        const struct btc_thread *th = &v.threads[cap->fault_thread];

        for (size_t i = 0; i < th->nframes && !v.cxx_type; i++)
            if (is_throw_frame(th->frames[i].func)) {
                v.cxx_type = cap->cxx_type;
                v.cxx_what = cap->cxx_what;
            }
    }
    *ret = v;
    return 0;
}

void
btc_view_done(struct btc_view *v)
{
    free(v->threads);
    free(v->raw);
    *v = (struct btc_view){0};
}
