/* symbols: the symbol stage. Turns a capture's raw frames into frames with
 * function, file, line and column, inline calls included, using only the
 * module map and the files: it may run after the process is gone, or on a
 * stored capture. Innermost frames first, within a deadline, so a report
 * cut short by time keeps the frames that matter most. Helper process. */
#ifndef BTCRASH_SYMBOL_SYMBOLS_H
#define BTCRASH_SYMBOL_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#include "capture.h"
#include "call_sites.h"
#include "call_sites.h"
#include "index.h"

struct btc_frame {
    uint64_t pc;        /* the return address or faulting pc, as found on the stack */
    char *func;         /* demangled; NULL when unknown */
    char *file;         /* as the debug information names it; NULL when unknown */
    int line;           /* 0 when unknown */
    int column;         /* 0 when unknown */
    const char *module; /* borrowed from the capture's modules[].path; NULL when unmapped */
    bool inlined;       /* an inlined call, shown as a frame of its own */
    bool guessed;       /* its pc was found by a heuristic (btc_raw_frame.guessed) */
};

/* Symbolicated frames per thread at most: room for the inline frames of
 * BTC_UNWIND_MAX_FRAMES raw ones, so that a deep stack's outermost frames
 * (capture.h) are seldom cut. */
#define BTC_SYMBOLS_MAX_FRAMES (2 * BTC_UNWIND_MAX_FRAMES)

/* One thread's symbolicated frames: those of its first raw_done raw frames. */
struct btc_sym_thread {
    struct btc_frame *frames; /* innermost first */
    size_t nframes;
    size_t raw_done;
    /* Where the raw frames left out (btc_raw_thread.omitted) go: before
     * frames[omitted_at], once raw_done is past them. */
    size_t omitted_at;
    bool cut; /* BTC_SYMBOLS_MAX_FRAMES frames reached: the rest is left out */
};

struct btc_symbols {
    struct btc_capture *cap; /* borrowed; its modules get their debug files */
    Dwfl *dwfl;
    bool own_dwfl;
    struct btc_index *index; /* over dwfl */
    struct btc_call_sites *call_sites;
    struct btc_sym_thread *threads; /* cap->nthreads */
    size_t nthreads;
    bool modules_done;
    /* Why symbolication is incomplete, e.g. "symbolication stopped at
     * frame 212 of thread 1234: time budget", or NULL. */
    char *stopped;
};

/**
 * Start symbolicating @cap with @dwfl (the capture's own session), or, when
 * @dwfl is NULL, with one opened from @cap->maps.
 *
 * Returns: 0 and *ret (free with btc_symbols_free), -ENOMEM, or -errno when
 *          no session could be opened; @why (@size bytes) then says why.
 * Borrows: @cap and @dwfl, which must outlive *ret.
 */
int btc_symbols_new(struct btc_capture *cap, Dwfl *dwfl, struct btc_symbols **ret, char *why,
                    size_t size);

/**
 * Find the modules' debug files (cap->modules[].debug_file) until
 * @deadline_ns (CLOCK_MONOTONIC; 0: none).
 * Returns: 0, 1 when the deadline stopped it (and s->stopped says so), or
 *          -ENOMEM.
 */
int btc_symbols_modules(struct btc_symbols *s, int64_t deadline_ns);

/**
 * Symbolicate thread @t (an index into the capture's threads), innermost
 * frame first, continuing where an earlier call stopped, until
 * @deadline_ns (0: none).
 * Returns: 0 when the thread is done, 1 when the deadline stopped it (and
 *          s->stopped says where), or -ENOMEM.
 */
int btc_symbols_thread(struct btc_symbols *s, size_t t, int64_t deadline_ns);

/** Frees @s; accepts NULL. */
void btc_symbols_free(struct btc_symbols *s);

/** Free the frames' strings and the array; accepts NULL and a zeroed @v. */
void btc_unwind_frames_free(struct btc_frame *v, size_t n);

#endif
