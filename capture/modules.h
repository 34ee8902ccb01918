/* modules: the libdwfl session for a live process (ELF files by
 * /proc/PID/maps, separate debug info by build-id and .gnu_debuglink, never
 * debuginfod) and the module list of the report. Helper process only. */
#ifndef BTCRASH_UNWIND_MODULES_H
#define BTCRASH_UNWIND_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#include "capture.h"
#include "debuginfod.h"
#include "inflate.h"

/**
 * Start a Dwfl for @pid and report its modules from /proc/PID/maps, or from
 * @maps (@maps_len bytes of the same format) when it is not NULL: the
 * handler's copy, for a process whose maps the helper may not read, or a
 * stored capture's.
 * Returns: 0 and *ret_dwfl (dwfl_end it), -ENOMEM, -ESRCH when the process is
 *          gone, -EIO when libdwfl failed (dwfl_errmsg(-1) says why), or
 *          another -errno.
 */
int btc_unwind_dwfl_open(int pid, const char *maps, size_t maps_len, Dwfl **ret_dwfl);

/**
 * List @dwfl's modules sorted by start, loading each one's ELF (for its
 * build-id) but not its DWARF, and remember each module's index for
 * btc_unwind_module_path.
 * Returns: 0 and *ret_modules / *ret_n (free with btc_unwind_modules_free), or
 *          -ENOMEM.
 */
int btc_unwind_modules_list(Dwfl *dwfl, struct btc_module **ret_modules, size_t *ret_n);

/** Remember, in each module of @dwfl, its index in @modules (sorted by
 * start, as btc_unwind_modules_list makes them) for btc_unwind_module_path. */
void btc_unwind_modules_index(Dwfl *dwfl, const struct btc_module *modules, size_t n);

/**
 * Look for each indexed module's DWARF (its own, or a separate debug file by
 * build-id or .gnu_debuglink) and note it in debug_file and
 * debug_file_exists, until @deadline_ns (CLOCK_MONOTONIC; 0: none).
 * Returns: 0, 1 when the deadline stopped the search, or -ENOMEM.
 */
int btc_unwind_modules_debuginfo(Dwfl *dwfl, struct btc_module *modules, size_t n,
                                 int64_t deadline_ns);

/** The module of frame @f's code: that of its pc, or, for a return
 * address, of the call before it. NULL when in none. */
Dwfl_Module *btc_unwind_frame_module(Dwfl *dwfl, const struct btc_raw_frame *f);

/**
 * Have the debug files of the modules of @t's frames (innermost first)
 * decompressed in the background, when they are compressed (see
 * btc_unwind_inflate_use), and those found nowhere fetched from debuginfod
 * (btc_unwind_debuginfod_use). Each module's debug file is located on the
 * way (btc_module.debug_file). Returns: 0, or -ENOMEM.
 */
int btc_unwind_modules_prefetch(Dwfl *dwfl, struct btc_module *modules, size_t n,
                                const struct btc_raw_thread *t);

/** Whether @mod's debug file is still being decompressed in the
 * background, or fetched from a debuginfod server. */
bool btc_unwind_module_pending(Dwfl_Module *mod);

/**
 * Have btc_unwind_modules_prefetch fetch the debug files found nowhere
 * here with @d (NULL: none), and libdwfl take them from it.
 */
void btc_unwind_debuginfod_use(struct btc_debuginfod *d);

/**
 * Give the Dwfl sessions of btc_unwind_dwfl_open, the current one and the
 * next ones, the images of @in (NULL: none), waiting for one until
 * @deadline_ns at the latest.
 */
void btc_unwind_inflate_use(struct btc_inflate *in, int64_t deadline_ns);

/** @mod's path in @modules (as listed for the same Dwfl), or NULL. */
const char *btc_unwind_module_path(Dwfl_Module *mod, const struct btc_module *modules, size_t n);

/** Free a module array and its strings; accepts NULL and entries left zeroed. */
void btc_unwind_modules_free(struct btc_module *modules, size_t n);

#endif
