/* names: function names for frames: C++ demangling and the name of a
 * subprogram or inlined-subroutine DIE as gdb shows it. Helper process only. */
#ifndef BTCRASH_UNWIND_NAMES_H
#define BTCRASH_UNWIND_NAMES_H

#include <elfutils/libdw.h>

/**
 * Demangle a Rust symbol (v0 "_R..." or legacy, without its hash, see
 * rust_demangle.h) or an Itanium C++ ABI one (_Z...); other names, and
 * malformed ones, are copied.
 * Returns: a new string (free it), or NULL when out of memory.
 */
char *btc_unwind_demangle(const char *sym);

/**
 * How a caller with an index finds a DIE's scopes (index.h's
 * btc_index_scopes): as dwarf_getscopes_die does, @die first, the unit DIE
 * last. Returns their number and *ret (free it), or a negative value.
 */
typedef int (*btc_unwind_scopes_fn)(void *arg, Dwarf_Die *die, Dwarf_Die **ret);

/**
 * The name of the function @die (DW_TAG_subprogram, _inlined_subroutine or
 * _entry_point): its linkage name demangled when there is one, else its
 * DW_AT_name qualified by the enclosing namespaces and classes, following
 * DW_AT_abstract_origin and DW_AT_specification. The enclosing scopes come
 * from @scopes (with @arg), or, when it is NULL, from dwarf_getscopes_die,
 * which walks the unit from its first DIE.
 *
 * Returns: 0 and *ret_name (a new string, or NULL when the DIE has no name),
 *          or -ENOMEM.
 */
int btc_unwind_die_name(Dwarf_Die *die, btc_unwind_scopes_fn scopes, void *arg, char **ret_name);

#endif
