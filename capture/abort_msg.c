/* abort_msg: see abort_msg.h. */
#include "abort_msg.h"
#include "path.h"

#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* glibc's layout (include/stdio.h): the size, then the text at offset 4. */
#define ABORT_MSG_TEXT_OFFSET 4u

int
btc_unwind_abort_text(const char *buf, size_t len, char **ret_msg)
{
    const char *nul = memchr(buf, '\0', len);
    size_t n = nul ? (size_t)(nul - buf) : len;
    char *msg;

    if (!nul && n > 0) {
        /* Cut short: drop a multibyte sequence that lost its tail. */
        size_t start = n;

        while (start > 0 && n - start < 4 && ((unsigned char)buf[start - 1] & 0xc0) == 0x80)
            start--;
        if (start > 0 && ((unsigned char)buf[start - 1] & 0xc0) == 0xc0) {
            unsigned char lead = (unsigned char)buf[start - 1];
            size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;

            if (n - (start - 1) < need)
                n = start - 1;
        }
    }
    /* glibc prints "...\n"; the message is the line. */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0)
        return 0;
    msg = strndup(buf, n);
    if (!msg)
        return -ENOMEM;
    *ret_msg = msg;
    return 1;
}

struct find_ctx {
    uint64_t addr;
    bool found;
};

static bool
is_libc(const char *name)
{
    const char *base = name ? btc_basename(name) : NULL;

    return base && strncmp(base, "libc.so.", strlen("libc.so.")) == 0;
}

static int
find_in_module(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
    struct find_ctx *ctx = arg;
    int n;

    (void)userdata;
    (void)start;
    if (!is_libc(name))
        return DWARF_CB_OK;
    /* The symbol table: .symtab when the file or its debug file has one,
     * else .dynsym, which always holds __abort_msg. */
    n = dwfl_module_getsymtab(mod);
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        GElf_Word shndx;
        const char *sname = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, NULL, NULL);

        if (!sname || strcmp(sname, "__abort_msg") != 0 || shndx == SHN_UNDEF ||
            GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
            continue;
        ctx->addr = addr;
        ctx->found = true;
        return DWARF_CB_ABORT;
    }
    return DWARF_CB_OK;
}

int
btc_unwind_abort_msg_var(Dwfl *dwfl, uint64_t *ret_addr)
{
    struct find_ctx ctx = {0};

    dwfl_getmodules(dwfl, find_in_module, &ctx, 0);
    if (!ctx.found)
        return -ENOENT;
    *ret_addr = ctx.addr;
    return 0;
}

int
btc_unwind_abort_msg_read(struct btc_unwind_mem *mem, uint64_t var_addr, char **ret_msg)
{
    char buf[BTC_UNWIND_ABORT_MSG_MAX];
    uint64_t ptr, text;
    uint32_t size;
    size_t want, got = 0;

    if (btc_unwind_mem_read_word(mem, var_addr, &ptr) < 0)
        return -EFAULT;
    if (ptr == 0)
        return 0; /* abort() without a message */
    if (ptr > UINT64_MAX - ABORT_MSG_TEXT_OFFSET - sizeof(buf) ||
        btc_unwind_mem_read(mem, ptr, &size, sizeof(size)) < 0)
        return -EFAULT;
    if (size <= ABORT_MSG_TEXT_OFFSET)
        return 0;
    text = ptr + ABORT_MSG_TEXT_OFFSET;
    want = size - ABORT_MSG_TEXT_OFFSET;
    if (want > sizeof(buf))
        want = sizeof(buf);
    /* Page by page, so that a size that overstates the mapping costs only
     * the pages past its end. */
    while (got < want) {
        size_t chunk = BTC_UNWIND_MEM_PAGE - (text + got) % BTC_UNWIND_MEM_PAGE;

        if (chunk > want - got)
            chunk = want - got;
        if (btc_unwind_mem_read(mem, text + got, buf + got, chunk) < 0)
            break;
        got += chunk;
        if (memchr(buf + got - chunk, '\0', chunk))
            break;
    }
    return btc_unwind_abort_text(buf, got, ret_msg);
}

int
btc_unwind_abort_message(Dwfl *dwfl, struct btc_unwind_mem *mem, char **ret_msg)
{
    uint64_t var;
    int r = btc_unwind_abort_msg_var(dwfl, &var);

    if (r < 0)
        return r;
    return btc_unwind_abort_msg_read(mem, var, ret_msg);
}
