/* memory: see memory.h. */
#include "memory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include <gelf.h>

void
btc_unwind_mem_init(struct btc_unwind_mem *m, int pid, int peek_tid, const void *snap,
                    uint64_t snap_start, uint64_t snap_len)
{
    *m = (struct btc_unwind_mem){
        .pid = pid,
        .peek_tid = peek_tid,
        .snap = snap,
        .snap_start = snap_start,
        .snap_len = snap ? snap_len : 0,
    };
}

void
btc_unwind_mem_done(struct btc_unwind_mem *m)
{
    if (!m)
        return;
    free(m->pages);
    m->pages = NULL;
}

static bool
in_snapshot(const struct btc_unwind_mem *m, uint64_t addr, size_t len)
{
    return m->snap_len >= len && addr >= m->snap_start && addr - m->snap_start <= m->snap_len - len;
}

/* The cached page holding @addr, reading it on a miss; NULL if unreadable. */
static const struct btc_unwind_mem_page *
cached_page(struct btc_unwind_mem *m, uint64_t addr)
{
    uint64_t page = addr & ~(uint64_t)(BTC_UNWIND_MEM_PAGE - 1);
    struct btc_unwind_mem_page *p;
    struct iovec local, remote;

    if (!m->pages) {
        m->pages = calloc(BTC_UNWIND_MEM_SLOTS, sizeof(*m->pages));
        if (!m->pages)
            return NULL;
    }
    p = &m->pages[(page / BTC_UNWIND_MEM_PAGE) % BTC_UNWIND_MEM_SLOTS];
    if (p->addr == page && (p->valid || p->failed))
        return p->valid ? p : NULL;
    p->addr = page;
    local = (struct iovec){.iov_base = p->data, .iov_len = sizeof(p->data)};
    remote = (struct iovec){.iov_base = (void *)(uintptr_t)page, .iov_len = sizeof(p->data)};
    /* One page lies in one mapping, so the read is all or nothing. */
    p->valid = process_vm_readv(m->pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof(p->data);
    p->failed = !p->valid;
    return p->valid ? p : NULL;
}

static int
peek_bytes(struct btc_unwind_mem *m, uint64_t addr, unsigned char *buf, size_t len)
{
    uint64_t first = addr & ~(uint64_t)7;
    size_t done = 0;

    if (m->peek_tid <= 0)
        return -EFAULT;
    for (uint64_t a = first; done < len; a += 8) {
        size_t skip = a < addr ? (size_t)(addr - a) : 0, n = 8 - skip;
        long w;

        errno = 0;
        w = ptrace(PTRACE_PEEKDATA, m->peek_tid, (void *)(uintptr_t)a, NULL);
        if (errno != 0)
            return -EFAULT;
        if (n > len - done)
            n = len - done;
        memcpy(buf + done, (unsigned char *)&w + skip, n);
        done += n;
    }
    return 0;
}

/* @len bytes at @addr from the executable section of a module's file that
 * holds them all. */
static int
file_bytes(struct btc_unwind_mem *m, uint64_t addr, unsigned char *buf, size_t len)
{
    Dwfl_Module *mod = m->dwfl ? dwfl_addrmodule(m->dwfl, addr) : NULL;
    Dwarf_Addr rel = addr, bias;
    Elf_Scn *scn = mod ? dwfl_module_address_section(mod, &rel, &bias) : NULL;
    Elf_Data *d;
    GElf_Shdr shdr;

    if (!scn || !gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_PROGBITS ||
        !(shdr.sh_flags & SHF_EXECINSTR))
        return -EFAULT;
    d = elf_getdata(scn, NULL);
    if (!d || !d->d_buf || rel > d->d_size || len > d->d_size - rel)
        return -EFAULT;
    memcpy(buf, (const unsigned char *)d->d_buf + rel, len);
    return 0;
}

int
btc_unwind_mem_read(struct btc_unwind_mem *m, uint64_t addr, void *buf, size_t len)
{
    unsigned char *out = buf;
    size_t done = 0;

    if (len == 0)
        return 0;
    if (in_snapshot(m, addr, len)) {
        memcpy(out, m->snap + (addr - m->snap_start), len);
        return 0;
    }
    if (addr > UINT64_MAX - len)
        return -EFAULT;
    while (done < len) {
        uint64_t a = addr + done;
        size_t off = a % BTC_UNWIND_MEM_PAGE;
        size_t chunk = BTC_UNWIND_MEM_PAGE - off;
        const struct btc_unwind_mem_page *p = cached_page(m, a);

        if (chunk > len - done)
            chunk = len - done;
        if (p)
            memcpy(out + done, p->data + off, chunk);
        else if (peek_bytes(m, a, out + done, chunk) < 0 && file_bytes(m, a, out + done, chunk) < 0)
            return -EFAULT;
        done += chunk;
    }
    return 0;
}

int
btc_unwind_mem_read_word(struct btc_unwind_mem *m, uint64_t addr, uint64_t *ret_word)
{
    uint64_t w;
    int r = btc_unwind_mem_read(m, addr, &w, sizeof(w));

    if (r < 0)
        return r;
    *ret_word = w;
    return 0;
}
