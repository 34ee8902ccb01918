/* scan: see scan.h. */
#include "scan.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdlib.h>

#include "clock.h"

/* User space addresses on x86-64 (47 bits), past the page the kernel never
 * maps: other words (small integers, kernel or sign-extended values) are
 * no code address, and cost no memory read. */
#define USER_MIN 0x1000ull
#define USER_MAX 0x800000000000ull

/* The length of an FF /2 call whose ModRM byte is @modrm and whose SIB
 * byte, when it has one, is @sib. */
static size_t
ff_call_len(unsigned char modrm, unsigned char sib)
{
    unsigned mod = modrm >> 6, rm = modrm & 7;
    size_t n = 2;

    if (mod == 3)
        return n; /* call *%reg */
    if (rm == 4) {
        n++; /* SIB; base 101 without displacement means disp32 */
        if (mod == 0 && (sib & 7) == 5)
            n += 4;
    } else if (mod == 0 && rm == 5) {
        n += 4; /* RIP-relative disp32 */
    }
    if (mod == 1)
        n += 1;
    else if (mod == 2)
        n += 4;
    return n;
}

bool
btc_scan_after_call(const unsigned char b[BTC_SCAN_CALL_BYTES])
{
    /* call rel32 */
    if (b[BTC_SCAN_CALL_BYTES - 5] == 0xe8)
        return true;
    /* FF /2 of every length from the end: a REX prefix before the FF
     * changes which registers it names, not its length. */
    for (size_t len = 2; len <= 7; len++) {
        const unsigned char *p = b + BTC_SCAN_CALL_BYTES - len;

        if (p[0] != 0xff || ((p[1] >> 3) & 7) != 2)
            continue;
        if (ff_call_len(p[1], len >= 3 ? p[2] : 0) == len)
            return true;
    }
    return false;
}

/* Whether @ra can be a return address, and where its call went when that
 * was a direct call (*@ret_target; 0 for an indirect one). */
static bool
return_address(struct btc_unwind_mem *m, uint64_t ra, btc_scan_in_function_fn fn, void *arg,
               uint64_t *ret_target)
{
    unsigned char b[BTC_SCAN_CALL_BYTES];
    const unsigned char *rel = b + BTC_SCAN_CALL_BYTES - 4;

    if (ra < USER_MIN + BTC_SCAN_CALL_BYTES || ra >= USER_MAX)
        return false;
    if (btc_unwind_mem_read(m, ra - BTC_SCAN_CALL_BYTES, b, sizeof(b)) < 0 ||
        !btc_scan_after_call(b))
        return false;
    *ret_target = 0;
    if (b[BTC_SCAN_CALL_BYTES - 5] == 0xe8)
        *ret_target =
            ra + (uint64_t)(int64_t)(int32_t)((uint32_t)rel[0] | (uint32_t)rel[1] << 8 |
                                              (uint32_t)rel[2] << 16 | (uint32_t)rel[3] << 24);
    /* The call's last byte: a call that ends a function (to a noreturn
     * function) returns to the next one's first byte. */
    return fn(arg, ra - 1, NULL);
}

bool
btc_scan_is_return_address(struct btc_unwind_mem *m, uint64_t ra, btc_scan_in_function_fn fn,
                           void *arg)
{
    uint64_t target;

    return return_address(m, ra, fn, arg, &target);
}

int
btc_scan_stack(struct btc_unwind_mem *m, uint64_t sp, size_t max_words, uint64_t callee,
               btc_scan_in_function_fn fn, void *arg, int64_t deadline_ns, uint64_t *ret_slot,
               uint64_t *ret_ra)
{
    uint64_t first_slot = 0, first_ra = 0;

    for (size_t i = 0; i < max_words; i++) {
        uint64_t slot = sp + 8 * i, word, target;

        if (slot < sp || btc_unwind_mem_read_word(m, slot, &word) < 0)
            break;
        /* Checked now and then: a word costs a few reads at most. */
        if (deadline_ns > 0 && i % 64 == 63 && btc_clock_now_ns() >= deadline_ns)
            break;
        if (!return_address(m, word, fn, arg, &target))
            continue;
        /* A direct call of the frame's own function is the best evidence
         * there is: a stale return address in the frame's locals seldom
         * is one. */
        if (callee == 0 || target == callee) {
            first_slot = slot;
            first_ra = word;
            break;
        }
        if (first_ra == 0) {
            first_slot = slot;
            first_ra = word;
        }
    }
    if (first_ra == 0)
        return 0;
    *ret_slot = first_slot;
    *ret_ra = first_ra;
    return 1;
}

/* The subprogram among @cu's children (and in namespaces, classes and
 * structures) that holds @addr, file-relative. */
static bool
subprogram_at(Dwarf_Die *parent, Dwarf_Addr addr, Dwarf_Addr *ret_low, int depth)
{
    Dwarf_Die child;

    if (depth > 4 || dwarf_child(parent, &child) != 0)
        return false;
    do {
        int tag = dwarf_tag(&child);

        if (tag == DW_TAG_subprogram && dwarf_haspc(&child, addr) > 0) {
            if (dwarf_lowpc(&child, ret_low) != 0)
                *ret_low = 0;
            return true;
        }
        if ((tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type) &&
            subprogram_at(&child, addr, ret_low, depth + 1))
            return true;
    } while (dwarf_siblingof(&child, &child) == 0);
    return false;
}

bool
btc_scan_in_function_dwfl(void *arg, uint64_t addr, uint64_t *ret_start)
{
    Dwfl_Module *mod = dwfl_addrmodule(arg, addr);
    GElf_Off off = 0;
    GElf_Sym sym;
    Dwarf_Addr bias, low;
    Dwarf_Die *cu;
    const char *name;

    if (!mod)
        return false;
    /* An FDE covers a function's code, and is found in O(log n) through
     * .eh_frame_hdr, also in a stripped module; its range may be a part of
     * the function only, so the entry comes from the symbols. */
    if (!ret_start) {
        Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &bias);
        Dwarf_Frame *frame;

        if (cfi && dwarf_cfi_addrframe(cfi, addr - bias, &frame) == 0) {
            free(frame);
            return true;
        }
    }
    name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
    if (name && sym.st_size > 0 && off < sym.st_size &&
        (GELF_ST_TYPE(sym.st_info) == STT_FUNC || GELF_ST_TYPE(sym.st_info) == STT_GNU_IFUNC)) {
        if (ret_start)
            *ret_start = addr - off;
        return true;
    }
    cu = dwfl_module_addrdie(mod, addr, &bias);
    if (!cu || !subprogram_at(cu, addr - bias, &low, 0))
        return false;
    if (ret_start)
        *ret_start = low ? low + bias : 0;
    return true;
}
