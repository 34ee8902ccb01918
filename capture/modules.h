/* modules: the libdwfl session for a live process (ELF files by
 * /proc/PID/maps, separate debug info by build-id and .gnu_debuglink, never
 * debuginfod) and the module list of the report. Helper process only. */
#ifndef BTCRASH_UNWIND_MODULES_H
#define BTCRASH_UNWIND_MODULES_H

#include <stddef.h>

#include <elfutils/libdwfl.h>

#include "capture.h"

/**
 * Start a Dwfl for @pid and report its modules from /proc/PID/maps.
 * Returns: 0 and *ret_dwfl (dwfl_end it), -ENOMEM, -ESRCH when the process is
 *          gone, or another -errno.
 */
int btc_unwind_dwfl_open(int pid, Dwfl **ret_dwfl);

/**
 * List @dwfl's modules, loading each one's ELF and looking for its DWARF, and
 * remember each module's index for btc_unwind_module_path.
 * Returns: 0 and *ret_modules / *ret_n (free with btc_unwind_modules_free), or
 *          -ENOMEM.
 */
int btc_unwind_modules_list(Dwfl *dwfl, struct btc_module **ret_modules, size_t *ret_n);

/** @mod's path in @modules (as listed for the same Dwfl), or NULL. */
const char *btc_unwind_module_path(Dwfl_Module *mod, const struct btc_module *modules, size_t n);

/** Free a module array and its strings; accepts NULL and entries left zeroed. */
void btc_unwind_modules_free(struct btc_module *modules, size_t n);

#endif
