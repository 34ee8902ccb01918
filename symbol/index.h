/* index: btcrash's own symbol index over a Dwfl session, built lazily and
 * once: per module its units by their own address ranges (DW_AT_low_pc/
 * high_pc, DW_AT_ranges in .debug_ranges or .debug_rnglists; not only
 * .debug_aranges, which clang and rustc do not emit), split units from
 * their .dwo, and its ELF symbols sorted; per unit, on first use, the
 * tree of its functions and inlined calls (blocks.h) and the scopes that
 * name them (scope_map.h). A frame then costs binary searches, whatever
 * the program's size. libdw still reads the DWARF. Helper process. */
#ifndef BTCRASH_SYMBOL_INDEX_H
#define BTCRASH_SYMBOL_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include <elfutils/libdwfl.h>

#include <elfutils/libdw.h>

/* More nested inlined calls than this at one pc are not code. */
#define BTC_INDEX_MAX_LEVELS 256

struct btc_index;

/** What the index knows of one address. */
struct btc_index_at {
    Dwfl_Module *mod; /* NULL: the address is in no module */
    Dwarf_Addr bias;  /* process address - DWARF address */
    bool has_unit;
    Dwarf_Die lines_cu; /* the unit whose line table covers it (a skeleton's) */
    /* The functions at the address, innermost first: the inlined calls,
     * then the function they were inlined into (nlevels 0: no DWARF
     * function holds it). */
    Dwarf_Die level[BTC_INDEX_MAX_LEVELS]; /* DW_TAG_inlined_subroutine, then _subprogram */
    size_t nlevels;
};

/**
 * An index over @dwfl's modules, which must outlive it.
 * Returns: 0 and *ret, or -ENOMEM.
 */
int btc_index_new(Dwfl *dwfl, struct btc_index **ret);

/** Frees @ix; accepts NULL. */
void btc_index_free(struct btc_index *ix);

/** The Dwfl session @ix indexes. */
Dwfl *btc_index_dwfl(const struct btc_index *ix);

/**
 * Look @addr (a process address) up.
 * Returns: 0 and *ret (ret->mod NULL when no module holds it), or -ENOMEM.
 */
int btc_index_lookup(struct btc_index *ix, Dwarf_Addr addr, struct btc_index_at *ret);

/**
 * The ELF symbol covering @addr in @mod (elf_syms.h's choice).
 * Returns: 1 and *ret_name (borrowed) and *ret_start, 0 when none, or
 *          -ENOMEM.
 */
int btc_index_symbol(struct btc_index *ix, Dwfl_Module *mod, Dwarf_Addr addr, const char **ret_name,
                     Dwarf_Addr *ret_start);

/**
 * The process address of the function symbol @name of @mod.
 * Returns: 1 and *ret_addr, 0 when there is none, or -ENOMEM.
 */
int btc_index_symbol_named(struct btc_index *ix, Dwfl_Module *mod, const char *name,
                           Dwarf_Addr *ret_addr);

/**
 * The scopes of @die (any DIE of any unit libdw reads for @ix's modules,
 * across units too: LTO's abstract origins live in early-debug units) as
 * dwarf_getscopes_die gives them, @die first, the unit DIE last.
 * Returns: their number and *ret (free it), or -ENOMEM; a DIE the map
 *          does not hold falls back to dwarf_getscopes_die's walk.
 */
int btc_index_scopes(struct btc_index *ix, Dwarf_Die *die, Dwarf_Die **ret);

#endif
