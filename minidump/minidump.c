/* minidump: see minidump.h. The file is written front to back into a
 * md_buf: the header and the stream directory first, as placeholders,
 * then each stream's data, then the two are patched with where the streams
 * went. Every part a reader takes as a table (the thread, module and
 * memory lists) is written whole at once, so its count and entries are
 * contiguous, as readers require. */
#include "minidump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "md_buf.h"
#include "md_format.h"
#include "md_memory_info.h"
#include "md_system.h"

/* Streams written at most (the directory is sized for them up front). */
#define MAX_STREAMS 16
/* /proc/cpuinfo is read whole up to this (a 256-core machine has ~300 KiB). */
#define CPUINFO_MAX (1024u * 1024u)

struct writer {
    struct btc_md_buf b;
    struct btc_md_directory dir[MAX_STREAMS];
    uint32_t ndir;
    const struct btc_capture *cap;
    const struct btc_dump_state *dump;
    /* Per dump thread: where its context and its stack copy went. */
    struct btc_md_location *contexts;
    struct btc_md_location *stacks;
};

static void
add_stream(struct writer *w, uint32_t type, struct btc_md_location loc)
{
    /* A stream that could not be written (out of memory) is left out; the
     * whole file then fails anyway (b.failed). */
    if (loc.rva == 0 || w->ndir == MAX_STREAMS)
        return;
    w->dir[w->ndir++] = (struct btc_md_directory){.stream_type = type, .location = loc};
}

static struct btc_md_location
append(struct writer *w, const void *src, size_t len, size_t align)
{
    uint32_t rva = btc_md_buf_append(&w->b, src, len, align);

    return (struct btc_md_location){.data_size = rva ? (uint32_t)len : 0, .rva = rva};
}

/* A table stream: a 32-bit count, then @n entries of @size bytes. */
static struct btc_md_location
append_table(struct writer *w, uint32_t n, const void *entries, size_t size)
{
    struct btc_md_location loc = append(w, &n, sizeof(n), 8);

    if (loc.rva == 0 || btc_md_buf_append(&w->b, entries, n * size, 1) == 0)
        return (struct btc_md_location){0};
    loc.data_size = (uint32_t)(sizeof(n) + n * size);
    return loc;
}

/* MDRawContextAMD64 of @t, from its ptrace register layout. */
static void
make_context(const struct btc_dump_thread *t, struct btc_md_context_amd64 *c)
{
    const struct user_regs_struct *r = &t->regs;

    memset(c, 0, sizeof(*c));
    c->context_flags =
        BTC_MD_CONTEXT_AMD64_CONTROL | BTC_MD_CONTEXT_AMD64_INTEGER | BTC_MD_CONTEXT_AMD64_SEGMENTS;
    c->cs = (uint16_t)r->cs, c->ds = (uint16_t)r->ds, c->es = (uint16_t)r->es;
    c->fs = (uint16_t)r->fs, c->gs = (uint16_t)r->gs, c->ss = (uint16_t)r->ss;
    c->eflags = (uint32_t)r->eflags;
    c->rax = r->rax, c->rcx = r->rcx, c->rdx = r->rdx, c->rbx = r->rbx;
    c->rsp = r->rsp, c->rbp = r->rbp, c->rsi = r->rsi, c->rdi = r->rdi;
    c->r8 = r->r8, c->r9 = r->r9, c->r10 = r->r10, c->r11 = r->r11;
    c->r12 = r->r12, c->r13 = r->r13, c->r14 = r->r14, c->r15 = r->r15;
    c->rip = r->rip;
    if (t->have_fpregs) {
        /* user_fpregs_struct is the FXSAVE image, which is what the
         * format's XMM_SAVE_AREA32 holds, byte for byte. */
        _Static_assert(sizeof(t->fpregs) == sizeof(c->fxsave), "FXSAVE image");
        c->context_flags |= BTC_MD_CONTEXT_AMD64_FLOAT;
        c->mx_csr = t->fpregs.mxcsr;
        memcpy(c->fxsave, &t->fpregs, sizeof(c->fxsave));
    }
}

static const struct btc_raw_thread *
raw_thread(const struct btc_capture *cap, int tid)
{
    for (size_t i = 0; i < cap->nthreads; i++)
        if (cap->threads[i].tid == tid)
            return &cap->threads[i];
    return NULL;
}

/* Blank what of the environment strings the stack copy at @loc (of the
 * memory at @start) holds: the user did not ask for them
 * (BACKTRACE_MINIDUMP_ENVIRONMENT), and the main thread's stack has them at
 * its top. */
static void
blank_environ(struct writer *w, struct btc_md_location loc, uint64_t start)
{
    uint64_t lo = w->dump->environ_start, hi = w->dump->environ_end, end = start + loc.data_size;

    if (loc.rva == 0 || hi <= start || lo >= end)
        return;
    lo = lo > start ? lo : start;
    hi = hi < end ? hi : end;
    memset(w->b.data + loc.rva + (lo - start), 0, (size_t)(hi - lo));
}

/* Each thread's context and stack copy, then the list that points at them. */
static void
write_threads(struct writer *w)
{
    const struct btc_dump_state *d = w->dump;
    struct btc_md_thread *list = calloc(d->nthreads ? d->nthreads : 1, sizeof(*list));

    if (!list) {
        w->b.failed = true;
        return;
    }
    for (size_t i = 0; i < d->nthreads; i++) {
        const struct btc_dump_thread *t = &d->threads[i];
        struct btc_md_context_amd64 ctx;

        make_context(t, &ctx);
        w->contexts[i] = append(w, &ctx, sizeof(ctx), 16);
        if (t->stack) {
            w->stacks[i] = append(w, t->stack, t->stack_len, 16);
            blank_environ(w, w->stacks[i], t->stack_start);
        }
        list[i] = (struct btc_md_thread){
            .thread_id = (uint32_t)t->tid,
            /* The thread's TLS block, which Crashpad records here too. */
            .teb = t->regs.fs_base,
            .stack = {.start = t->stack ? t->stack_start : t->regs.rsp, .memory = w->stacks[i]},
            .context = w->contexts[i],
        };
    }
    add_stream(w, BTC_MD_THREAD_LIST, append_table(w, (uint32_t)d->nthreads, list, sizeof(*list)));
    free(list);
}

static void
write_thread_names(struct writer *w)
{
    const struct btc_dump_state *d = w->dump;
    struct btc_md_thread_name *names = calloc(d->nthreads ? d->nthreads : 1, sizeof(*names));
    uint32_t n = 0;

    if (!names) {
        w->b.failed = true;
        return;
    }
    for (size_t i = 0; i < d->nthreads; i++) {
        const struct btc_raw_thread *t = raw_thread(w->cap, d->threads[i].tid);

        if (!t || !t->name)
            continue;
        names[n].thread_id = (uint32_t)d->threads[i].tid;
        names[n].name_rva = btc_md_buf_string(&w->b, t->name, strlen(t->name));
        n++;
    }
    if (n)
        add_stream(w, BTC_MD_THREAD_NAME_LIST, append_table(w, n, names, sizeof(*names)));
    free(names);
}

/* The CodeView record of a module with build-id @hex: "BpEL" and the
 * build-id's bytes, from which a server derives the debug identifier that
 * dump_syms gives the module's symbol file. */
static struct btc_md_location
write_cv(struct writer *w, const char *hex)
{
    unsigned char rec[4 + 64];
    uint32_t sig = BTC_MD_CV_ELF;
    size_t n = 0, len = hex ? strlen(hex) : 0;

    if (len == 0 || len % 2 || len / 2 > sizeof(rec) - 4)
        return (struct btc_md_location){0};
    memcpy(rec, &sig, 4);
    for (size_t i = 0; i < len; i += 2) {
        char byte[3] = {hex[i], hex[i + 1], 0};
        char *end;
        unsigned long v = strtoul(byte, &end, 16);

        if (*end)
            return (struct btc_md_location){0};
        rec[4 + n++] = (unsigned char)v;
    }
    return append(w, rec, 4 + n, 4);
}

static void
write_modules(struct writer *w)
{
    const struct btc_capture *cap = w->cap;
    struct btc_md_module *list = calloc(cap->nmodules ? cap->nmodules : 1, sizeof(*list));
    uint64_t last_end = 0;
    uint32_t n = 0;

    if (!list) {
        w->b.failed = true;
        return;
    }
    for (size_t i = 0; i < cap->nmodules; i++) {
        const struct btc_module *m = &cap->modules[i];
        const char *path = m->path ? m->path : "";

        /* Readers refuse the whole list when two modules overlap; the
         * modules are sorted by start, so one that begins before the last
         * one ended is the overlap. A module wider than the field is
         * clamped: its start is what names frames. */
        if (m->size == 0 || m->start < last_end)
            continue;
        last_end = m->start + m->size;
        list[n] = (struct btc_md_module){
            .base = m->start,
            .size = m->size > UINT32_MAX ? UINT32_MAX : (uint32_t)m->size,
            .name_rva = btc_md_buf_string(&w->b, path, strlen(path)),
            .cv_record = write_cv(w, m->build_id),
        };
        n++;
    }
    add_stream(w, BTC_MD_MODULE_LIST, append_table(w, n, list, sizeof(*list)));
    free(list);
}

static int
by_start(const void *a, const void *b)
{
    const struct btc_md_memory *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

/* Every range of memory the file holds: the stacks (the same bytes the
 * thread list points at) and the code around the crashing pc. Readers
 * refuse the whole list when two ranges overlap (two threads' stacks in
 * one mapping, code on an executable stack): sorted, each range starts
 * where the one before it ended. */
static void
write_memory(struct writer *w)
{
    const struct btc_dump_state *d = w->dump;
    struct btc_md_memory *list = calloc(d->nthreads + 1, sizeof(*list));
    uint32_t n = 0, kept = 0;
    uint64_t last_end = 0;

    if (!list) {
        w->b.failed = true;
        return;
    }
    for (size_t i = 0; i < d->nthreads; i++)
        if (w->stacks[i].rva)
            list[n++] =
                (struct btc_md_memory){.start = d->threads[i].stack_start, .memory = w->stacks[i]};
    if (d->code_len) {
        struct btc_md_location code = append(w, d->code, d->code_len, 16);

        if (code.rva)
            list[n++] = (struct btc_md_memory){.start = d->code_start, .memory = code};
    }
    qsort(list, n, sizeof(*list), by_start);
    for (uint32_t i = 0; i < n; i++) {
        struct btc_md_memory m = list[i];
        uint64_t end = m.start + m.memory.data_size;

        if (end <= last_end)
            continue;
        if (m.start < last_end) {
            uint32_t cut = (uint32_t)(last_end - m.start);

            m.start = last_end;
            m.memory.rva += cut;
            m.memory.data_size -= cut;
        }
        last_end = end;
        list[kept++] = m;
    }
    add_stream(w, BTC_MD_MEMORY_LIST, append_table(w, kept, list, sizeof(*list)));
    free(list);
}

static void
write_exception(struct writer *w)
{
    const struct btc_crash_record *rec = &w->cap->rec;
    struct btc_md_exception e = {
        .thread_id = (uint32_t)rec->tid,
        /* Breakpad's convention for a dump taken without a crash. */
        .code = (rec->flags & BTC_RECORD_F_API) ? BTC_MD_DUMP_REQUESTED : (uint32_t)rec->signo,
        .flags = (rec->flags & BTC_RECORD_F_API) ? 0 : (uint32_t)rec->si_code,
        .address = rec->fault_address,
    };

    /* The crashing thread is the dump's first (dump_state.h). */
    if (w->dump->nthreads && w->dump->threads[0].tid == rec->tid)
        e.context = w->contexts[0];
    add_stream(w, BTC_MD_EXCEPTION, append(w, &e, sizeof(e), 8));
}

static void
write_misc(struct writer *w)
{
    const struct btc_crash_record *rec = &w->cap->rec;
    struct btc_md_misc_info misc = {
        .size_of_info = sizeof(misc),
        .flags1 = BTC_MD_MISC_PROCESS_ID,
        .process_id = (uint32_t)rec->pid,
    };
    /* Only the requesting thread: the thread that wrote the dump (the
     * helper's) is not in the process, so there is none to hide. */
    struct btc_md_breakpad_info bp = {
        .validity = BTC_MD_BREAKPAD_REQUESTING_THREAD,
        .requesting_thread_id = (uint32_t)rec->tid,
    };

    add_stream(w, BTC_MD_MISC_INFO, append(w, &misc, sizeof(misc), 8));
    add_stream(w, BTC_MD_BREAKPAD_INFO, append(w, &bp, sizeof(bp), 4));
}

static void
write_blob(struct writer *w, uint32_t type, const char *data, size_t len)
{
    if (data && len)
        add_stream(w, type, append(w, data, len, 4));
}

/* /proc/cpuinfo of this machine, which is the crashed process's: read now,
 * since it does not change with the process. */
static void
write_cpuinfo(struct writer *w)
{
    char *data = NULL;
    size_t len = 0;

    if (btc_file_read_at(AT_FDCWD, "/proc/cpuinfo", CPUINFO_MAX, 0, &data, &len) == 0)
        write_blob(w, BTC_MD_LINUX_CPU_INFO, data, len);
    free(data);
}

static void
write_linux(struct writer *w)
{
    const struct btc_dump_state *d = w->dump;

    write_blob(w, BTC_MD_LINUX_MAPS, w->cap->maps, w->cap->maps_len);
    write_blob(w, BTC_MD_LINUX_PROC_STATUS, d->status.data, d->status.len);
    write_blob(w, BTC_MD_LINUX_CMD_LINE, d->cmdline.data, d->cmdline.len);
    write_blob(w, BTC_MD_LINUX_AUXV, d->auxv.data, d->auxv.len);
    write_cpuinfo(w);
    /* Only read when the user opted in (BACKTRACE_MINIDUMP_ENVIRONMENT). */
    write_blob(w, BTC_MD_LINUX_ENVIRON, d->environ.data, d->environ.len);
}

int
btc_minidump_build(const struct btc_capture *cap, const struct btc_dump_state *dump,
                   unsigned char **ret, size_t *ret_len)
{
    struct writer w = {.cap = cap, .dump = dump};
    struct btc_md_header h = {.signature = BTC_MD_SIGNATURE, .version = BTC_MD_VERSION};
    uint32_t dir_rva;
    int r;

    w.contexts = calloc(dump->nthreads + 1, sizeof(*w.contexts));
    w.stacks = calloc(dump->nthreads + 1, sizeof(*w.stacks));
    if (!w.contexts || !w.stacks) {
        free(w.contexts);
        free(w.stacks);
        return -ENOMEM;
    }
    (void)btc_md_buf_append(&w.b, NULL, sizeof(h), 8);
    dir_rva = btc_md_buf_append(&w.b, NULL, sizeof(w.dir), 4);
    write_threads(&w);
    write_thread_names(&w);
    write_modules(&w);
    write_memory(&w);
    write_exception(&w);
    add_stream(&w, BTC_MD_MEMORY_INFO_LIST,
               btc_md_memory_info(&w.b, cap->maps, cap->maps ? cap->maps_len : 0));
    add_stream(&w, BTC_MD_SYSTEM_INFO, btc_md_system_info(&w.b));
    write_misc(&w);
    write_linux(&w);

    h.stream_count = w.ndir;
    h.stream_directory_rva = dir_rva;
    h.time_date_stamp = (uint32_t)(cap->rec.fault_time_ns / 1000000000);
    btc_md_buf_patch(&w.b, 0, &h, sizeof(h));
    /* The directory was sized for MAX_STREAMS; the unused tail stays
     * zeros, which no reader looks at past stream_count. */
    btc_md_buf_patch(&w.b, dir_rva, w.dir, w.ndir * sizeof(w.dir[0]));
    free(w.contexts);
    free(w.stacks);
    if (w.b.failed) {
        r = w.b.too_big ? -EFBIG : -ENOMEM;
        btc_md_buf_free(&w.b);
        return r;
    }
    *ret = w.b.data;
    *ret_len = w.b.len;
    return 0;
}
