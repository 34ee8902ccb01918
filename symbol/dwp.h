/* dwp: split compile units out of a DWARF package (.dwp), which libdw 0.188
 * cannot read (its .dwp support came in 0.191). Each unit asked for is cut
 * out of the package into an in-memory .dwo and linked by libdw itself to a
 * copy of its skeleton, so that the normal libdw calls work on it.
 * Helper process only. */
#ifndef BTCRASH_SYMBOL_DWP_H
#define BTCRASH_SYMBOL_DWP_H

#include <stdint.h>

#include <elfutils/libdw.h>

struct btc_dwp;

/**
 * Open the package @path and check its .debug_cu_index: version 2 (GNU
 * dwp, DWARF 4) or 5 (DWARF 5), every table inside the section and every
 * unit's contribution inside its section. Nothing of the units is read yet.
 *
 * Returns: 0 and a new package into @ret (btc_dwp_free it); -ENOENT etc.
 * from open; -EINVAL when the file is no ELF, has no .debug_cu_index or a
 * malformed one; -ENOTSUP for a byte order other than the host's; -ENOMEM.
 * Borrows: @path.
 */
int btc_dwp_open(const char *path, struct btc_dwp **ret);

/**
 * The split compile unit whose DWO id is @dwo_id, for the skeleton unit
 * DIE @skeleton (a DW_TAG_compile_unit or DW_TAG_skeleton_unit from the
 * executable's or its debug file's Dwarf). Its DIE goes into @ret_cu and
 * its Dwarf into @ret_dw.
 *
 * What works on @ret_cu and the DIEs below it, with the normal libdw calls:
 * dwarf_child/dwarf_siblingof, dwarf_diename, string forms
 * (DW_FORM_strx*, DW_FORM_GNU_str_index), dwarf_formref_die,
 * dwarf_attr_integrate, addresses (DW_FORM_addrx*, DW_FORM_GNU_addr_index,
 * through the skeleton's .debug_addr), dwarf_lowpc/highpc/ranges/haspc
 * (DWARF 4 ranges through the skeleton's .debug_ranges, DWARF 5 ones in the
 * package; those of @ret_cu itself are @skeleton's, as libdw reads them
 * from @skeleton), dwarf_getscopes/dwarf_getscopes_die, dwarf_decl_file and
 * DW_AT_call_file (the package's .debug_line.dwo file table),
 * dwarf_getsrclines/dwarf_getsrc_die (the skeleton's line program), and
 * dwarf_getlocations (.debug_loc.dwo, .debug_loclists.dwo). tests/unit's
 * test_dwp compares all of these with libdw's own reading of .dwo files.
 * What does not: DW_FORM_ref_sig8 (type units are not read) and
 * .debug_macro.
 *
 * Returns: 0; -ENOENT when the package has no unit @dwo_id; -EINVAL when
 * @skeleton is not a skeleton unit with DWO id @dwo_id, or the unit or the
 * skeleton is malformed, or libdw does not accept them;
 * -ENOMEM; -ENOENT also without /proc; other -errno from memfd_create
 * or write.
 * Borrows: @skeleton (its Dwarf need not outlive the call).
 * Ownership: @ret_dw and @ret_cu stay valid until btc_dwp_free(@p); a
 * second call for the same @dwo_id returns the same unit.
 * Not thread-safe: one thread at a time per @p.
 * Context: helper process; needs /proc (libdw opens the in-memory .dwo by
 * the name /proc/self/fd/N). No file descriptor stays open after return.
 */
int btc_dwp_unit(struct btc_dwp *p, uint64_t dwo_id, Dwarf_Die *skeleton, Dwarf **ret_dw,
                 Dwarf_Die *ret_cu);

/** Free @p and every unit it returned. Accepts NULL. */
void btc_dwp_free(struct btc_dwp *p);

/**
 * The package for a module, as gdb and lldb look for it: "<file>.dwp"
 * beside @exe_path, then beside @debug_path (either may be NULL), and for a
 * debug file named "<name>.debug" also "<name>.dwp".
 *
 * Returns: 0 and a new string into @ret_path (free it), -ENOENT when
 * none is a regular file, -ENOMEM.
 */
int btc_dwp_find(const char *exe_path, const char *debug_path, char **ret_path);

#endif
