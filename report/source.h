/* source: the report's "sourceCode" map (DESIGN.md §3): an id for every
 * frame whose file is known, and source text around the faulting thread's
 * frames. Helper process. */
#ifndef BTCRASH_SOURCE_H
#define BTCRASH_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "view.h"

/* Files larger than this are never read: a generated or minified file that
 * large is unlikely to be useful context, and would cost the deadline. */
#define BTC_SOURCE_MAX_FILE_BYTES (16u * 1024u * 1024u)
/* Source text per report, all entries together. With the default 200 lines
 * of context this fits ~20 ranges of 100-column lines; ranges are filled
 * innermost frame first, so what is cut is the outermost context. */
#define BTC_SOURCE_MAX_TOTAL_BYTES (2u * 1024u * 1024u)

struct btc_source_opts {
    bool collect;           /* read text at all (BACKTRACE_COLLECT_SOURCE_CODE) */
    uint32_t context_lines; /* lines kept above and below each frame's line */
    uint32_t tab_width;     /* reported as tabWidth */
    size_t max_file_bytes;  /* 0: BTC_SOURCE_MAX_FILE_BYTES */
    size_t max_total_bytes; /* 0: BTC_SOURCE_MAX_TOTAL_BYTES */
    /* CLOCK_MONOTONIC: no file is read past it (0: none); the frames of
     * files left unread keep their path entries. */
    int64_t deadline_ns;
};

struct btc_source;

/**
 * Index the source files of @cap. Every frame with a file gets an id. For
 * the faulting thread (@cap->fault_thread), each frame's line ± context is
 * read from the file, when it is readable, absolute, a regular file and not
 * above the size cap; overlapping or adjacent ranges in one file merge into
 * one entry {path, text, startLine, startColumn, tabWidth}. Frames elsewhere
 * reuse such an entry when their line falls inside it, and otherwise share
 * one {path} entry per file. Text is repaired to UTF-8.
 *
 * Returns: 0 and *ret_source (free with btc_source_free), or -ENOMEM.
 *          Unreadable files are not errors: their entries carry only path.
 * Borrows: @cap, which must outlive *ret_source; @opts.
 */
int btc_source_new(const struct btc_view *cap, const struct btc_source_opts *opts,
                   struct btc_source **ret_source);

/**
 * The "sourceCode" id of frame @frame of thread @thread (indices into
 * @cap), or NULL when that frame has no file.
 *
 * Borrows: the string lives as long as @s.
 */
const char *btc_source_frame_id(const struct btc_source *s, size_t thread, size_t frame);

/**
 * The "sourceCode" object, keyed by id.
 *
 * Returns: a borrowed reference (json_incref it to keep it past @s).
 */
json_t *btc_source_entries(const struct btc_source *s);

/** Whether a file's text was left out because opts->deadline_ns had passed. */
bool btc_source_late(const struct btc_source *s);

/** Frees @s; accepts NULL and half-built indexes. */
void btc_source_free(struct btc_source *s);

#endif
