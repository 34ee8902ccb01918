/* source: source-code context. One entry per merged line range rather than
 * one per file (as backtrace-python does): frames far apart in one big file
 * would otherwise pull in everything between them. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fileio.h"
#include "json_util.h"

struct range {
    uint64_t lo, hi; /* 1-based, inclusive */
};

struct cluster {
    uint64_t lo, hi; /* after reading: the lines actually in the text */
    int entry;       /* entry with text, or -1 */
};

struct file {
    const char *path; /* borrowed from the capture */
    struct range *ranges;
    size_t nranges, ranges_cap;
    struct cluster *clusters;
    size_t nclusters;
    int path_entry; /* the {path} entry, -1 until a frame needs it */
    bool loaded;
};

struct btc_source {
    json_t *entries;
    char **ids; /* entry index -> its id */
    size_t nids;
    int **frame_entry; /* [thread][frame] -> entry index, or -1 */
    size_t nthreads;
    int **frame_file; /* [thread][frame] -> file index, or -1 */
    struct file *files;
    size_t nfiles;
    bool late; /* a file was left unread: the deadline had passed */
};

void
btc_source_free(struct btc_source *s)
{
    if (!s)
        return;
    json_decref(s->entries);
    for (size_t i = 0; i < s->nids; i++)
        free(s->ids[i]);
    free(s->ids);
    for (size_t t = 0; t < s->nthreads; t++) {
        if (s->frame_entry)
            free(s->frame_entry[t]);
        if (s->frame_file)
            free(s->frame_file[t]);
    }
    free(s->frame_entry);
    free(s->frame_file);
    for (size_t i = 0; i < s->nfiles; i++) {
        free(s->files[i].ranges);
        free(s->files[i].clusters);
    }
    free(s->files);
    free(s);
}

const char *
btc_source_frame_id(const struct btc_source *s, size_t thread, size_t frame)
{
    int e;

    if (thread >= s->nthreads || !s->frame_entry[thread])
        return NULL;
    e = s->frame_entry[thread][frame];
    return e < 0 ? NULL : s->ids[e];
}

bool
btc_source_late(const struct btc_source *s)
{
    return s->late;
}

json_t *
btc_source_entries(const struct btc_source *s)
{
    return s->entries;
}

/* Add @entry (stolen) under a new id; returns its index or -ENOMEM. */
static int
add_entry(struct btc_source *s, json_t *entry)
{
    char id[32], **ids;

    if (!entry)
        return -ENOMEM;
    ids = realloc(s->ids, (s->nids + 1) * sizeof(*ids));
    if (!ids) {
        json_decref(entry);
        return -ENOMEM;
    }
    s->ids = ids;
    snprintf(id, sizeof(id), "%zu", s->nids);
    if (!(ids[s->nids] = strdup(id))) {
        json_decref(entry);
        return -ENOMEM;
    }
    if (json_object_set_new(s->entries, id, entry) < 0) {
        free(ids[s->nids]);
        return -ENOMEM;
    }
    return (int)s->nids++;
}

/* Index of @path in s->files, added if new. @map: path -> index. */
static int
file_index(struct btc_source *s, json_t *map, const char *path)
{
    json_t *idx = json_object_get(map, path);
    struct file *files;

    if (idx)
        return (int)json_integer_value(idx);
    files = realloc(s->files, (s->nfiles + 1) * sizeof(*files));
    if (!files)
        return -ENOMEM;
    s->files = files;
    files[s->nfiles] = (struct file){.path = path, .path_entry = -1};
    /* nocheck: paths need not be UTF-8, and this map is never serialised. */
    if (json_object_set_new_nocheck(map, path, json_integer((json_int_t)s->nfiles)) < 0)
        return -ENOMEM;
    return (int)s->nfiles++;
}

static int
add_range(struct file *f, uint64_t line, uint32_t context)
{
    if (f->nranges == f->ranges_cap) {
        size_t cap = f->ranges_cap ? f->ranges_cap * 2 : 8;
        struct range *r = realloc(f->ranges, cap * sizeof(*r));

        if (!r)
            return -ENOMEM;
        f->ranges = r;
        f->ranges_cap = cap;
    }
    f->ranges[f->nranges].lo = line > context ? line - context : 1;
    f->ranges[f->nranges].hi = line + context;
    f->nranges++;
    return 0;
}

static int
compare_ranges(const void *a, const void *b)
{
    const struct range *x = a, *y = b;

    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort the ranges and merge those that overlap or touch. */
static int
merge_ranges(struct file *f)
{
    if (!f->nranges)
        return 0;
    f->clusters = malloc(f->nranges * sizeof(*f->clusters));
    if (!f->clusters)
        return -ENOMEM;
    qsort(f->ranges, f->nranges, sizeof(*f->ranges), compare_ranges);
    for (size_t i = 0; i < f->nranges; i++) {
        struct cluster *last = f->nclusters ? &f->clusters[f->nclusters - 1] : NULL;

        if (last && f->ranges[i].lo <= last->hi + 1) {
            if (f->ranges[i].hi > last->hi)
                last->hi = f->ranges[i].hi;
        } else {
            f->clusters[f->nclusters++] =
                (struct cluster){.lo = f->ranges[i].lo, .hi = f->ranges[i].hi, .entry = -1};
        }
    }
    return 0;
}

/* The offset just past the line starting at @pos (memchr, not strcspn: a
 * source file may hold NUL bytes). */
static size_t
next_line(const char *data, size_t len, size_t pos)
{
    const char *nl = memchr(data + pos, '\n', len - pos);

    return nl ? (size_t)(nl - data) + 1 : len;
}

/* Give each cluster of @f its text, as far as @budget allows. */
static int
load_file(struct btc_source *s, struct file *f, const struct btc_source_opts *opts, size_t *budget)
{
    size_t max = opts->max_file_bytes ? opts->max_file_bytes : BTC_SOURCE_MAX_FILE_BYTES;
    size_t len = 0, pos = 0;
    uint64_t line = 1; /* the line starting at data[pos] */
    char *data = NULL;
    int r = 0;

    f->loaded = true;
    /* A relative path is relative to the compilation directory or the
     * crashed process's cwd, not to ours: reading it could show the wrong
     * file. */
    if (f->path[0] != '/' || !f->nclusters)
        return 0;
    /* Past the stage's deadline: the frames keep their path entries. */
    if (opts->deadline_ns > 0 && btc_clock_now_ns() >= opts->deadline_ns) {
        s->late = true;
        return 0;
    }
    /* Only a regular file no larger than @max (O_NONBLOCK inside: a FIFO
     * planted at a source path cannot hang the helper), read no further
     * than its size at open: a file growing meanwhile is cut. */
    if (btc_file_read_at(AT_FDCWD, f->path, max, BTC_FILE_REGULAR | BTC_FILE_SNAPSHOT, &data,
                         &len) < 0)
        return 0; /* unreadable: the entries keep only the path */

    for (size_t c = 0; c < f->nclusters && r >= 0; c++) {
        struct cluster *cl = &f->clusters[c];
        size_t start, end, cut;
        uint64_t last;
        json_t *entry;

        for (; line < cl->lo && pos < len; line++)
            pos = next_line(data, len, pos);
        if (pos >= len)
            break; /* the file ends before the range: stale debug info */
        start = pos;
        last = line - 1;
        for (; pos < len && line <= cl->hi; line++) {
            pos = next_line(data, len, pos);
            last = line;
        }
        end = pos;
        /* Over budget: keep the whole lines that fit. */
        cut = end;
        if (end - start > *budget) {
            cut = start;
            last = cl->lo - 1;
            for (size_t p = start; p < start + *budget; p++) {
                if (data[p] == '\n') {
                    cut = p + 1;
                    last++;
                }
            }
        }
        if (cut == start) {
            *budget = 0;
            break;
        }
        *budget -= cut - start;
        cl->hi = last;
        entry = json_object();
        if (!entry || btc_json_set_str(entry, "path", f->path) < 0 ||
            btc_json_set(entry, "text", btc_json_strn(data + start, cut - start)) < 0 ||
            btc_json_set_int(entry, "startLine", (long long)cl->lo) < 0 ||
            btc_json_set_int(entry, "startColumn", 1) < 0 ||
            btc_json_set_int(entry, "tabWidth", opts->tab_width) < 0) {
            json_decref(entry);
            r = -ENOMEM;
            break;
        }
        r = add_entry(s, entry);
        if (r >= 0)
            cl->entry = r;
    }
    free(data);
    return r < 0 ? r : 0;
}

static int
entry_for(struct btc_source *s, struct file *f, int line)
{
    for (size_t c = 0; line > 0 && c < f->nclusters; c++)
        if (f->clusters[c].entry >= 0 && (uint64_t)line >= f->clusters[c].lo &&
            (uint64_t)line <= f->clusters[c].hi)
            return f->clusters[c].entry;
    if (f->path_entry < 0) {
        json_t *entry = json_object();
        int r;

        if (!entry || btc_json_set_str(entry, "path", f->path) < 0) {
            json_decref(entry);
            return -ENOMEM;
        }
        r = add_entry(s, entry);
        if (r < 0)
            return r;
        f->path_entry = r;
    }
    return f->path_entry;
}

int
btc_source_new(const struct btc_view *cap, const struct btc_source_opts *opts,
               struct btc_source **ret_source)
{
    struct btc_source *s = calloc(1, sizeof(*s));
    size_t budget = opts->max_total_bytes ? opts->max_total_bytes : BTC_SOURCE_MAX_TOTAL_BYTES;
    const struct btc_thread *fault = NULL;
    json_t *map = json_object();
    int r = -ENOMEM;

    if (!s || !map)
        goto fail;
    s->entries = json_object();
    s->frame_entry = calloc(cap->nthreads ? cap->nthreads : 1, sizeof(*s->frame_entry));
    s->frame_file = calloc(cap->nthreads ? cap->nthreads : 1, sizeof(*s->frame_file));
    if (!s->entries || !s->frame_entry || !s->frame_file)
        goto fail;
    s->nthreads = cap->nthreads;
    if (cap->fault_thread < cap->nthreads)
        fault = &cap->threads[cap->fault_thread];

    /* Every frame's file, and the faulting thread's line ranges. */
    for (size_t t = 0; t < cap->nthreads; t++) {
        const struct btc_thread *th = &cap->threads[t];

        s->frame_entry[t] = malloc((th->nframes ? th->nframes : 1) * sizeof(int));
        s->frame_file[t] = malloc((th->nframes ? th->nframes : 1) * sizeof(int));
        if (!s->frame_entry[t] || !s->frame_file[t])
            goto fail;
        for (size_t i = 0; i < th->nframes; i++) {
            const struct btc_frame *fr = &th->frames[i];
            int fi = -1;

            s->frame_entry[t][i] = -1;
            if (fr->file) {
                fi = file_index(s, map, fr->file);
                if (fi < 0)
                    goto fail;
                if (th == fault && opts->collect && fr->line > 0 &&
                    add_range(&s->files[fi], (uint64_t)fr->line, opts->context_lines) < 0)
                    goto fail;
            }
            s->frame_file[t][i] = fi;
        }
    }
    for (size_t i = 0; i < s->nfiles; i++)
        if (merge_ranges(&s->files[i]) < 0)
            goto fail;

    /* Text, innermost frame's file first, so the budget favours the fault. */
    for (size_t i = 0; fault && i < fault->nframes; i++) {
        int fi = s->frame_file[cap->fault_thread][i];

        if (fi >= 0 && !s->files[fi].loaded) {
            r = load_file(s, &s->files[fi], opts, &budget);
            if (r < 0)
                goto fail;
        }
    }

    for (size_t t = 0; t < cap->nthreads; t++) {
        for (size_t i = 0; i < cap->threads[t].nframes; i++) {
            int fi = s->frame_file[t][i];

            if (fi < 0)
                continue;
            r = entry_for(s, &s->files[fi], cap->threads[t].frames[i].line);
            if (r < 0)
                goto fail;
            s->frame_entry[t][i] = r;
        }
    }
    json_decref(map);
    *ret_source = s;
    return 0;
fail:
    json_decref(map);
    btc_source_free(s);
    return r < 0 ? r : -ENOMEM;
}
