/* elf_syms: one module's ELF symbols (.symtab, .dynsym and MiniDebugInfo's
 * .gnu_debugdata, as libdwfl reads them), sorted once so that each lookup
 * is a binary search: dwfl_module_addrinfo scans the whole table on every
 * call. Helper process. */
#ifndef BTCRASH_SYMBOL_ELF_SYMS_H
#define BTCRASH_SYMBOL_ELF_SYMS_H

#include <stdbool.h>
#include <stddef.h>

#include <elfutils/libdwfl.h>

struct btc_elfsyms;

/**
 * Read and sort @mod's symbols.
 * Returns: 0 and *ret (possibly holding no symbol), or -ENOMEM.
 */
int btc_elfsyms_new(Dwfl_Module *mod, struct btc_elfsyms **ret);

/** Frees @s; accepts NULL. */
void btc_elfsyms_free(struct btc_elfsyms *s);

/**
 * The symbol covering @addr (a process address), chosen as libdwfl's
 * dwfl_module_addrinfo chooses it: the closest sized symbol that contains
 * @addr, else the closest sizeless one. Of several names for its start
 * address and type gdb shows the last in strcmp order (clone3 over
 * __clone3), and so does this.
 * Returns: whether one was found; *ret_name is borrowed from the module's
 *          ELF data, *ret_start is its process address.
 */
bool btc_elfsyms_at(const struct btc_elfsyms *s, Dwarf_Addr addr, const char **ret_name,
                    Dwarf_Addr *ret_start);

/**
 * The process address of the function symbol (STT_FUNC or STT_GNU_IFUNC)
 * named @name.
 * Returns: whether there is one.
 */
bool btc_elfsyms_named(struct btc_elfsyms *s, const char *name, Dwarf_Addr *ret_addr);

#endif
