/* modules: see modules.h. */
#include "modules.h"

#include <stdio.h>

#include "clock.h"
#include "hex.h"
#include "debuginfod.h"
#include "inflate.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>
#include <gelf.h>

/* NULL: libdwfl's default ":.debug:/usr/lib/debug", which covers
 * /usr/lib/debug/.build-id/xx/yyyy.debug and .gnu_debuglink targets next to
 * the file, in .debug/ and under /usr/lib/debug. */
static char *g_debuginfo_path = NULL;

/* Debug files being decompressed ahead of need (btc_unwind_inflate_use),
 * and how long libdwfl may wait for one: its callbacks take no context,
 * and the helper has one Dwfl session at a time. */
static struct btc_inflate *g_inflate;
static int64_t g_inflate_deadline_ns;
/* Missing debug files being fetched (btc_unwind_debuginfod_use). */
static struct btc_debuginfod *g_debuginfod;

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
                          const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name);

static const Dwfl_Callbacks g_proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = find_debuginfo,
    .debuginfo_path = &g_debuginfo_path,
};

/* Report the modules of @pid from /proc/PID/maps, or, when @maps is given,
 * from that text instead (the record's copy, or a stored capture's). */
int
btc_unwind_dwfl_open(int pid, const char *maps, size_t maps_len, Dwfl **ret_dwfl)
{
    Dwfl *dwfl;
    FILE *f = NULL;
    int r;

    /* dwfl_standard_find_debuginfo would ask debuginfod servers over the
     * network, stalling a helper that has a deadline to meet. */
    unsetenv("DEBUGINFOD_URLS");
    dwfl = dwfl_begin(&g_proc_callbacks);
    if (!dwfl)
        return -ENOMEM;
    dwfl_report_begin(dwfl);
    if (maps) {
        f = fmemopen((void *)maps, maps_len, "r");
        if (!f) {
            r = -errno;
            goto fail;
        }
        r = dwfl_linux_proc_maps_report(dwfl, f);
        fclose(f);
    } else {
        r = dwfl_linux_proc_report(dwfl, pid);
    }
    if (r != 0) {
        /* A positive errno from opening /proc/PID/maps, or -1 from libdwfl,
         * whose dwfl_errmsg(-1) says why. */
        r = r > 0 ? (r == ENOENT ? -ESRCH : -r) : -EIO;
        goto fail;
    }
    if (dwfl_report_end(dwfl, NULL, NULL) != 0) {
        r = -EIO;
        goto fail;
    }
    *ret_dwfl = dwfl;
    return 0;
fail:
    dwfl_end(dwfl);
    return r;
}

struct list_ctx {
    struct btc_module *v;
    size_t n;
    size_t cap;
    int r;
};

static char *
build_id_hex(Dwfl_Module *mod)
{
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    char *s;

    if (len <= 0)
        return NULL;
    s = malloc((size_t)len * 2 + 1);
    if (!s)
        return NULL;
    btc_hex_encode(bits, (size_t)len, s);
    return s;
}

/* The module's code_file: the path as mapped. libdwfl names the vDSO
 * "[vdso: PID]"; /proc/PID/maps and other tools call it "[vdso]". */
static const char *
display_name(const char *name)
{
    return strncmp(name, "[vdso", 5) == 0 ? "[vdso]" : name;
}

static void
clear_module(struct btc_module *m)
{
    free(m->path);
    free(m->build_id);
    free(m->debug_file);
}

static int
compare_start(const void *a, const void *b)
{
    const struct btc_module *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

/* The index of the module starting at @start in the sorted @modules, plus
 * one, or 0. */
static uintptr_t
index_of(const struct btc_module *modules, size_t n, uint64_t start)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (modules[mid].start == start)
            return mid + 1;
        if (modules[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int
set_index(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
    const struct list_ctx *ctx = arg;

    (void)mod;
    (void)name;
    *userdata = (void *)index_of(ctx->v, ctx->n, start);
    return DWARF_CB_OK;
}

static int
list_one(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
    struct list_ctx *ctx = arg;
    struct btc_module *m;
    Dwarf_Addr end = 0, bias;

    if (ctx->n == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 64;
        struct btc_module *v = realloc(ctx->v, cap * sizeof(*v));

        if (!v)
            goto nomem;
        ctx->v = v;
        ctx->cap = cap;
    }
    m = &ctx->v[ctx->n];
    *m = (struct btc_module){0};
    /* Loading the ELF reads the build-id; the search for DWARF is the
     * symbol stage's (btc_unwind_modules_debuginfo). */
    (void)userdata;
    dwfl_module_getelf(mod, &bias);
    dwfl_module_info(mod, NULL, NULL, &end, NULL, NULL, NULL, NULL);
    m->start = start;
    m->size = end > start ? end - start : 0;
    m->path = strdup(display_name(name ? name : ""));
    if (!m->path)
        goto nomem;
    m->build_id = build_id_hex(mod);
    ctx->n++;
    return DWARF_CB_OK;
nomem:
    if (ctx->n < ctx->cap)
        clear_module(&ctx->v[ctx->n]);
    ctx->r = -ENOMEM;
    return DWARF_CB_ABORT;
}

int
btc_unwind_modules_list(Dwfl *dwfl, struct btc_module **ret_modules, size_t *ret_n)
{
    struct list_ctx ctx = {0};

    dwfl_getmodules(dwfl, list_one, &ctx, 0);
    if (ctx.r < 0) {
        btc_unwind_modules_free(ctx.v, ctx.n);
        return ctx.r;
    }
    if (ctx.n > 1)
        qsort(ctx.v, ctx.n, sizeof(*ctx.v), compare_start);
    btc_unwind_modules_index(dwfl, ctx.v, ctx.n);
    *ret_modules = ctx.v;
    *ret_n = ctx.n;
    return 0;
}

void
btc_unwind_modules_index(Dwfl *dwfl, const struct btc_module *modules, size_t n)
{
    struct list_ctx ctx = {.v = (struct btc_module *)modules, .n = n};

    dwfl_getmodules(dwfl, set_index, &ctx, 0);
}

struct debuginfo_ctx {
    struct btc_module *v;
    size_t n;
    int64_t deadline_ns;
    int r;
};

static bool
has_debug_info(Elf *elf)
{
    size_t shstrndx;
    Elf_Scn *scn = NULL;

    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return false;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr shdr;
        const char *name;

        if (gelf_getshdr(scn, &shdr) && shdr.sh_type != SHT_NOBITS &&
            (name = elf_strptr(elf, shstrndx, shdr.sh_name)) && strcmp(name, ".debug_info") == 0)
            return true;
    }
    return false;
}

/* @path if it is a regular file, as a new string in *ret. */
static int
try_path(char *path, char **ret)
{
    struct stat st;

    if (!path)
        return -ENOMEM;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        *ret = path;
        return 1;
    }
    free(path);
    return 0;
}

/* Where the module's DWARF is, without reading it: dwfl_module_getdwarf
 * would decompress every debug section of every module (libc6-dbg's are
 * compressed), most of which no frame is in. Nor dwfl_standard_find_debuginfo:
 * it keeps the file it validates open inside the module, as though the
 * module's DWARF had been asked for. The places are libdwfl's default
 * search (debuginfo_path NULL): the build-id tree, the module itself, and
 * its .gnu_debuglink beside it, in .debug/ and under /usr/lib/debug; the
 * file libdwfl opens when a frame needs it is checked by libdwfl.
 * Returns: 0 and *ret (a new path, or NULL when there is none), or -ENOMEM. */
static int
locate_debug_file(Dwfl_Module *mod, const char *build_id, char **ret)
{
    const char *mainfile = NULL, *debugfile = NULL, *link, *slash;
    Dwarf_Addr bias;
    GElf_Word crc = 0;
    Elf *elf = dwfl_module_getelf(mod, &bias);
    char *path = NULL;
    int r;

    *ret = NULL;
    if (!elf)
        return 0;
    dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
    if (debugfile) /* opened already for a frame */
        return try_path(strdup(debugfile), ret) < 0 ? -ENOMEM : 0;
    if (build_id && strlen(build_id) > 2) {
        r = asprintf(&path, "/usr/lib/debug/.build-id/%.2s/%s.debug", build_id, build_id + 2) < 0
                ? -ENOMEM
                : try_path(path, ret);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    if (has_debug_info(elf))
        return try_path(strdup(mainfile ? mainfile : ""), ret) < 0 ? -ENOMEM : 0;
    link = dwelf_elf_gnu_debuglink(elf, &crc);
    if (!link || !mainfile || strchr(link, '/') || !(slash = strrchr(mainfile, '/')))
        return 0;
    {
        int dirlen = (int)(slash - mainfile);
        const char *forms[] = {"%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s"};

        for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
            path = NULL;
            r = asprintf(&path, forms[i], dirlen, mainfile, link) < 0 ? -ENOMEM
                                                                      : try_path(path, ret);
            /* The module itself, were its debuglink its own name. */
            if (r == 1 && strcmp(*ret, mainfile) == 0) {
                free(*ret);
                *ret = NULL;
                continue;
            }
            if (r != 0)
                return r < 0 ? r : 0;
        }
    }
    return 0;
}

static int
locate_one(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
    struct debuginfo_ctx *ctx = arg;
    uintptr_t idx = (uintptr_t)*userdata;
    struct btc_module *m;
    char *found = NULL;
    int r;

    (void)name;
    (void)start;
    if (idx < 1 || idx > ctx->n)
        return DWARF_CB_OK;
    if (ctx->deadline_ns > 0 && btc_clock_now_ns() >= ctx->deadline_ns) {
        ctx->r = 1;
        return DWARF_CB_ABORT;
    }
    m = &ctx->v[idx - 1];
    if (m->debug_file)
        return DWARF_CB_OK;
    r = locate_debug_file(mod, m->build_id, &found);
    if (r < 0) {
        ctx->r = r;
        return DWARF_CB_ABORT;
    }
    if (!found)
        return DWARF_CB_OK;
    m->debug_file = found;
    m->debug_file_exists = true;
    return DWARF_CB_OK;
}

int
btc_unwind_modules_debuginfo(Dwfl *dwfl, struct btc_module *modules, size_t n, int64_t deadline_ns)
{
    struct debuginfo_ctx ctx = {.v = modules, .n = n, .deadline_ns = deadline_ns};

    dwfl_getmodules(dwfl, locate_one, &ctx, 0);
    return ctx.r;
}

/* libdwfl's search for @mod's debug file, when its main file has no DWARF:
 * the decompressed image of a queued file, else where
 * dwfl_standard_find_debuginfo looks. */
static int
find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
               const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
               char **debuginfo_file_name)
{
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    char hex[2 * BTC_INFLATE_MAX_ID + 1];
    char *found = NULL;
    int fd, r;

    if (g_inflate && len > 0) {
        r = btc_inflate_take(g_inflate, bits, (size_t)len, g_inflate_deadline_ns, &fd,
                             debuginfo_file_name);
        if (r == 0)
            return fd;
        /* No time left to inflate it here again. */
        if (r == -ETIMEDOUT)
            return -1;
    }
    /* Where no file is, dwfl_standard_find_debuginfo would load
     * libdebuginfod (and its libcurl) to ask the servers of DEBUGINFOD_URLS
     * without a deadline (btc_unwind_dwfl_open unset it): the fetch
     * started by btc_unwind_modules_prefetch answers instead. */
    if (len > 0 && len <= BTC_INFLATE_MAX_ID) {
        btc_hex_encode(bits, (size_t)len, hex);
        if (locate_debug_file(mod, hex, &found) == 0 && !found) {
            if (g_debuginfod &&
                btc_debuginfod_take(g_debuginfod, bits, (size_t)len, &fd, debuginfo_file_name) == 0)
                return fd;
            return -1;
        }
        free(found);
    }
    return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                        debuglink_crc, debuginfo_file_name);
}

void
btc_unwind_inflate_use(struct btc_inflate *in, int64_t deadline_ns)
{
    g_inflate = in;
    g_inflate_deadline_ns = deadline_ns;
}

/* @mod's entry in @modules, through the index btc_unwind_modules_index
 * left in its userdata, or NULL. */
static struct btc_module *
module_entry(Dwfl_Module *mod, struct btc_module *modules, size_t n)
{
    void **userdata = NULL;
    uintptr_t idx;

    if (!mod || !dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL) || !userdata)
        return NULL;
    idx = (uintptr_t)*userdata;
    return idx >= 1 && idx <= n ? &modules[idx - 1] : NULL;
}

Dwfl_Module *
btc_unwind_frame_module(Dwfl *dwfl, const struct btc_raw_frame *f)
{
    /* A return address may be just past the end of its caller's module. */
    return dwfl_addrmodule(dwfl, f->activation ? f->pc : f->pc - 1);
}

int
btc_unwind_modules_prefetch(Dwfl *dwfl, struct btc_module *modules, size_t n,
                            const struct btc_raw_thread *t)
{
    int r = 0;

    if (!g_inflate && !g_debuginfod)
        return 0;
    for (size_t i = 0; i < t->nframes && r >= 0; i++) {
        Dwfl_Module *mod = btc_unwind_frame_module(dwfl, &t->frames[i]);
        struct btc_module *m = module_entry(mod, modules, n);
        const unsigned char *bits = NULL;
        GElf_Addr vaddr;
        int len;

        if (!m || m->debug_file || m->fetching)
            continue; /* not ours, or located already */
        r = locate_debug_file(mod, m->build_id, &m->debug_file);
        len = dwfl_module_build_id(mod, &bits, &vaddr);
        if (r < 0 || len <= 0)
            continue;
        if (m->debug_file) {
            m->debug_file_exists = true;
            if (g_inflate)
                r = btc_inflate_queue(g_inflate, m->debug_file, bits, (size_t)len);
        } else if (g_debuginfod) {
            r = btc_debuginfod_find(g_debuginfod, bits, (size_t)len);
            m->fetching = r > 0;
        }
    }
    return r < 0 ? r : 0;
}

void
btc_unwind_debuginfod_use(struct btc_debuginfod *d)
{
    g_debuginfod = d;
}

bool
btc_unwind_module_pending(Dwfl_Module *mod)
{
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    int len;

    if ((!g_inflate && !g_debuginfod) || !mod)
        return false;
    len = dwfl_module_build_id(mod, &bits, &vaddr);
    return len > 0 && ((g_inflate && btc_inflate_pending(g_inflate, bits, (size_t)len)) ||
                       (g_debuginfod && btc_debuginfod_pending(g_debuginfod, bits, (size_t)len)));
}

const char *
btc_unwind_module_path(Dwfl_Module *mod, const struct btc_module *modules, size_t n)
{
    const struct btc_module *m = module_entry(mod, (struct btc_module *)modules, n);

    return m ? m->path : NULL;
}

void
btc_unwind_modules_free(struct btc_module *modules, size_t n)
{
    if (!modules)
        return;
    for (size_t i = 0; i < n; i++)
        clear_module(&modules[i]);
    free(modules);
}
