/* call_sites: the call sites (DW_TAG_call_site, DW_TAG_GNU_call_site) of
 * functions, read once per function and sorted by return address, for the
 * search through tail calls (tailcall.h), which asks about the same large
 * function (an interpreter's loop) for every frame. Helper process. */
#ifndef BTCRASH_SYMBOL_CALL_SITES_H
#define BTCRASH_SYMBOL_CALL_SITES_H

#include <stdbool.h>
#include <stddef.h>

#include <elfutils/libdw.h>

struct btc_call_site {
    Dwarf_Addr ret_pc; /* DWARF address after the call or jump */
    bool tail;         /* DW_AT_call_tail_call or DW_AT_GNU_tail_call */
    Dwarf_Die die;
};

struct btc_call_sites;

/** Returns: 0 and an empty cache in *ret, or -ENOMEM. */
int btc_call_sites_new(struct btc_call_sites **ret);

/** Frees @c; accepts NULL. */
void btc_call_sites_free(struct btc_call_sites *c);

/**
 * The call sites with a return address in @fn's subtree (a subprogram's
 * DIE, which must live as long as @c), by return address.
 * Returns: 0 and *ret, *ret_n (borrowed from @c), or -ENOMEM.
 */
int btc_call_sites_of(struct btc_call_sites *c, Dwarf_Die *fn, const struct btc_call_site **ret,
                      size_t *ret_n);

/**
 * The site of @sites (from btc_call_sites_of) returning to @ret_pc, or
 * NULL.
 */
const struct btc_call_site *btc_call_sites_find(const struct btc_call_site *sites, size_t n,
                                                Dwarf_Addr ret_pc);

#endif
