/* scope_map: the enclosing scopes of one unit's functions, found once per
 * unit, so that naming a function ("ns::Class::method") costs a binary
 * search instead of dwarf_getscopes_die's walk of the whole unit. Helper
 * process. */
#ifndef BTCRASH_SYMBOL_SCOPE_MAP_H
#define BTCRASH_SYMBOL_SCOPE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdw.h>

struct btc_scope_map;

/**
 * Record, for every subprogram, namespace, module, type that can hold
 * functions, and lexical block under @root (a unit DIE), its parent.
 * Returns: 0 and *ret, or -ENOMEM.
 */
int btc_scope_map_build(Dwarf_Die *root, struct btc_scope_map **ret);

/**
 * The scopes of @die as dwarf_getscopes_die gives them: @die itself, then
 * each enclosing DIE out to the unit DIE.
 * Returns: their number and *ret (free it), 0 when @die is not in the map
 *          (not one of the tags above), or -ENOMEM.
 */
int btc_scope_map_scopes(const struct btc_scope_map *m, Dwarf_Die *die, Dwarf_Die **ret);

/** Frees @m; accepts NULL. */
void btc_scope_map_free(struct btc_scope_map *m);

#endif
