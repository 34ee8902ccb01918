/* modules: see modules.h. */
#include "modules.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* NULL: libdwfl's default ":.debug:/usr/lib/debug", which covers
 * /usr/lib/debug/.build-id/xx/yyyy.debug and .gnu_debuglink targets next to
 * the file, in .debug/ and under /usr/lib/debug. */
static char *g_debuginfo_path = NULL;

static const Dwfl_Callbacks g_proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &g_debuginfo_path,
};

int
btc_unwind_dwfl_open(int pid, Dwfl **ret_dwfl)
{
    Dwfl *dwfl;
    int r;

    /* dwfl_standard_find_debuginfo would ask debuginfod servers over the
     * network, stalling a helper that has a deadline to meet. */
    unsetenv("DEBUGINFOD_URLS");
    dwfl = dwfl_begin(&g_proc_callbacks);
    if (!dwfl)
        return -ENOMEM;
    dwfl_report_begin(dwfl);
    r = dwfl_linux_proc_report(dwfl, pid);
    if (r != 0) {
        /* A positive errno from opening /proc/PID/maps, or -1 from libdwfl. */
        r = r > 0 ? (r == ENOENT ? -ESRCH : -r) : -ENOMEM;
        goto fail;
    }
    if (dwfl_report_end(dwfl, NULL, NULL) != 0) {
        r = -ENOMEM;
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
    static const char hex[] = "0123456789abcdef";
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    char *s;

    if (len <= 0)
        return NULL;
    s = malloc((size_t)len * 2 + 1);
    if (!s)
        return NULL;
    for (int i = 0; i < len; i++) {
        s[2 * i] = hex[bits[i] >> 4];
        s[2 * i + 1] = hex[bits[i] & 0xf];
    }
    s[2 * len] = '\0';
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
list_one(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
    struct list_ctx *ctx = arg;
    struct btc_module *m;
    const char *debugfile = NULL;
    Dwarf_Addr end = 0, bias;
    Dwarf *dw;

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
    /* Loading the ELF reads the build-id; asking for DWARF runs the debuginfo
     * search, after which dwfl_module_info names the file it found. */
    dwfl_module_getelf(mod, &bias);
    dw = dwfl_module_getdwarf(mod, &bias);
    dwfl_module_info(mod, NULL, NULL, &end, NULL, NULL, NULL, &debugfile);
    m->start = start;
    m->size = end > start ? end - start : 0;
    m->path = strdup(display_name(name ? name : ""));
    if (!m->path)
        goto nomem;
    m->build_id = build_id_hex(mod);
    if (dw) {
        m->debug_file = strdup(debugfile ? debugfile : m->path);
        if (!m->debug_file)
            goto nomem;
        m->debug_file_exists = true;
    }
    ctx->n++;
    /* The index, offset by one so that 0 keeps meaning "not listed". */
    *userdata = (void *)(uintptr_t)ctx->n;
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
    *ret_modules = ctx.v;
    *ret_n = ctx.n;
    return 0;
}

const char *
btc_unwind_module_path(Dwfl_Module *mod, const struct btc_module *modules, size_t n)
{
    void **userdata = NULL;
    uintptr_t idx;

    if (!mod || !dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL) || !userdata)
        return NULL;
    idx = (uintptr_t)*userdata;
    return idx >= 1 && idx <= n ? modules[idx - 1].path : NULL;
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
