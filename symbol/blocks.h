/* blocks: the code of one compilation unit as a tree of address ranges,
 * built once per unit: every range of each subprogram and inlined
 * subroutine, with its DIE and the range of the enclosing function or
 * inlined call it lies in. Finding the functions at a pc is then a binary
 * search and a walk up the tree, not a walk of the unit's DIEs. Helper
 * process. */
#ifndef BTCRASH_SYMBOL_BLOCKS_H
#define BTCRASH_SYMBOL_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdw.h>

#define BTC_BLOCK_NONE UINT32_MAX

struct btc_block {
    /* [lo, hi), DWARF (module-relative) addresses; lo first: the key of
     * btc_upper_bound_u64 */
    Dwarf_Addr lo, hi;
    Dwarf_Die die;   /* DW_TAG_subprogram, _inlined_subroutine or _entry_point */
    uint32_t parent; /* the enclosing block, or BTC_BLOCK_NONE for a function */
    uint32_t depth;  /* 0 for a function */
};

struct btc_blocks {
    struct btc_block *v; /* by lo; at one lo, outer blocks first */
    size_t n;
};

/**
 * Build the tree of the code under @root (a unit DIE: a compile or partial
 * unit, or the split unit of a skeleton). Functions inside namespaces,
 * modules and types are found too (where C++ and Rust put them).
 * Returns: 0 and *ret, or -ENOMEM; a unit without code gives no block.
 */
int btc_blocks_build(Dwarf_Die *root, struct btc_blocks *ret);

/**
 * The innermost block containing @addr (DWARF address), or NULL.
 */
const struct btc_block *btc_blocks_at(const struct btc_blocks *b, Dwarf_Addr addr);

/** Frees @b's array; accepts a zeroed @b. */
void btc_blocks_free(struct btc_blocks *b);

#endif
