/* units: the compilation unit whose code holds an address. libdw 0.188
 * finds units only through .debug_aranges, which clang and rustc do not
 * emit: without it every frame of their code lost its file and line. This
 * falls back to the units' own ranges (DW_AT_low_pc/high_pc, DW_AT_ranges
 * in .debug_ranges or .debug_rnglists, through dwarf_haspc). Helper. */
#ifndef BTCRASH_SYMBOL_UNITS_H
#define BTCRASH_SYMBOL_UNITS_H

#include <stdbool.h>

#include <elfutils/libdwfl.h>

/**
 * The unit of @mod containing @addr (an address in the process), into
 * @ret_cu, and the module's bias into @ret_bias: libdwfl's aranges lookup
 * first, then every unit's own ranges in turn (linear in the units, until
 * the index issue 11 asks for).
 * Returns: whether one was found.
 */
bool btc_unwind_unit_at(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die *ret_cu, Dwarf_Addr *ret_bias);

#endif
