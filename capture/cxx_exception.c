/* cxx_exception: see cxx_exception.h. The Itanium C++ ABI's type_info
 * layout (2.9.5): a vtable pointer, then the mangled name's address; a
 * __si_class_type_info adds its one public base's type_info. */
#include "cxx_exception.h"

#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "abort_msg.h"

extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define TINFO_NAME_OFFSET 8u
#define SI_BASE_OFFSET    16u
/* The vtable's address point: past the offset-to-top and RTTI words. */
#define VTABLE_ADDRESS_POINT 16u
/* Base chains are short; the bound guards against a cycle in bad memory. */
#define MAX_BASES 32
/* libstdc++: runtime_error and logic_error hold a __cow_string right after
 * the vtable pointer, and its only member points at the text. */
#define MSG_OFFSET 8u

#define SI_VTABLE_SYM "_ZTVN10__cxxabiv120__si_class_type_infoE"

struct find_ctx {
    uint64_t addr;
    bool found;
};

static int
find_si_vtable(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
    struct find_ctx *ctx = arg;
    int n;

    (void)userdata;
    (void)name;
    (void)start;
    n = dwfl_module_getsymtab(mod);
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        GElf_Word shndx;
        const char *sname = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, NULL, NULL);

        if (!sname || shndx == SHN_UNDEF || strcmp(sname, SI_VTABLE_SYM) != 0)
            continue;
        ctx->addr = addr;
        ctx->found = true;
        return DWARF_CB_ABORT;
    }
    return DWARF_CB_OK;
}

/* The NUL-terminated string at @addr, at most @max bytes, read page by
 * page. Returns 1 and *ret (malloc'ed, possibly cut at @max), 0 when not
 * even the first byte is readable, or -ENOMEM. */
static int
read_string(struct btc_unwind_mem *mem, uint64_t addr, size_t max, char **ret)
{
    char *buf = malloc(max + 1);
    size_t got = 0;
    char *nul = NULL;

    if (!buf)
        return -ENOMEM;
    while (got < max && !nul) {
        size_t chunk = BTC_UNWIND_MEM_PAGE - (addr + got) % BTC_UNWIND_MEM_PAGE;

        if (chunk > max - got)
            chunk = max - got;
        if (btc_unwind_mem_read(mem, addr + got, buf + got, chunk) < 0)
            break;
        nul = memchr(buf + got, '\0', chunk);
        got += chunk;
    }
    if (got == 0) {
        free(buf);
        return 0;
    }
    buf[got] = '\0';
    *ret = buf;
    return 1;
}

static int
read_mangled(struct btc_unwind_mem *mem, uint64_t tinfo, char **ret)
{
    uint64_t name;

    if (btc_unwind_mem_read_word(mem, tinfo + TINFO_NAME_OFFSET, &name) < 0 || name == 0)
        return 0;
    return read_string(mem, name, BTC_UNWIND_CXX_NAME_MAX, ret);
}

/* Whether @tinfo, or one of its single-inheritance bases, is
 * std::runtime_error or std::logic_error. */
static int
has_message_base(Dwfl *dwfl, struct btc_unwind_mem *mem, uint64_t tinfo, const char *mangled)
{
    struct find_ctx si = {0};
    char *name = NULL;
    int r;

    for (int i = 0; i < MAX_BASES; i++) {
        uint64_t vptr, base;

        if (strcmp(mangled, "St13runtime_error") == 0 || strcmp(mangled, "St11logic_error") == 0)
            break;
        if (i == 0) {
            dwfl_getmodules(dwfl, find_si_vtable, &si, 0);
            if (!si.found)
                goto no;
        }
        if (btc_unwind_mem_read_word(mem, tinfo, &vptr) < 0 ||
            vptr != si.addr + VTABLE_ADDRESS_POINT ||
            btc_unwind_mem_read_word(mem, tinfo + SI_BASE_OFFSET, &base) < 0 || base == 0)
            goto no;
        free(name);
        name = NULL;
        r = read_mangled(mem, base, &name);
        if (r <= 0) {
            free(name);
            return r;
        }
        tinfo = base;
        mangled = name;
        if (i == MAX_BASES - 1)
            goto no;
    }
    free(name);
    return 1;
no:
    free(name);
    return 0;
}

int
btc_unwind_cxx_exception(Dwfl *dwfl, struct btc_unwind_mem *mem, uint64_t object, uint64_t tinfo,
                         char **ret_type, char **ret_what)
{
    char *mangled = NULL, *type = NULL, *what = NULL, *raw = NULL;
    const char *m;
    uint64_t text;
    int status = 0, r;

    r = read_mangled(mem, tinfo, &mangled);
    if (r <= 0)
        return r;
    /* A type with internal linkage is named "*N...": the '*' tells
     * libstdc++ to compare names by address. */
    m = mangled[0] == '*' ? mangled + 1 : mangled;
    type = __cxa_demangle(m, NULL, NULL, &status);
    if (!type || status != 0) {
        free(type);
        type = strdup(m); /* a builtin such as "i" demangles; others stay as they are */
        if (!type) {
            r = -ENOMEM;
            goto out;
        }
    }
    r = has_message_base(dwfl, mem, tinfo, m);
    if (r < 0)
        goto out;
    if (r > 0 && object && btc_unwind_mem_read_word(mem, object + MSG_OFFSET, &text) == 0 && text) {
        r = read_string(mem, text, BTC_UNWIND_CXX_WHAT_MAX, &raw);
        if (r < 0)
            goto out;
        if (r > 0) {
            /* Cut at the bound like glibc's abort text: no half character. */
            r = btc_unwind_abort_text(raw, strlen(raw), &what);
            if (r < 0)
                goto out;
        }
    }
    *ret_type = type;
    *ret_what = what;
    type = NULL;
    r = 1;
out:
    free(raw);
    free(type);
    free(mangled);
    return r;
}
