/* scopes_at: the DIE scopes that hold a pc, in their physical nesting.
 * libdw 0.188's dwarf_getscopes prunes every DIE without a range of its own,
 * so it never reaches functions that rustc (or a C++ compiler, for methods
 * defined in a class) nests in DW_TAG_namespace or structure DIEs: this
 * search descends into those. Helper process only. */
#ifndef BTCRASH_SYMBOL_SCOPES_AT_H
#define BTCRASH_SYMBOL_SCOPES_AT_H

#include <elfutils/libdw.h>

/**
 * The scopes of unit @cudie holding module-relative @pc, innermost first,
 * ending with the unit's DIE: the innermost function, inlined subroutine or
 * lexical block at @pc and its physical parents (dwarf_getscopes_die's
 * contract, not dwarf_getscopes', which continues past an inlined
 * subroutine with its abstract definition's scopes).
 *
 * Returns: the number of scopes and *ret (free it), 0 when no function of
 *          the unit holds @pc, or -1 (libdw's error).
 */
int btc_unwind_scopes_at(Dwarf_Die *cudie, Dwarf_Addr pc, Dwarf_Die **ret);

#endif
