/* helper_path: where the btcrash helper executable may be. Used on the crash
 * path (crash_spawn.c) and by the C API runtime (libbtcrash-api.so, which
 * gets the plan from libbtcrash.so), so both start the same helper. */
#ifndef BTCRASH_PRELOAD_HELPER_PATH_H
#define BTCRASH_PRELOAD_HELPER_PATH_H

#include <stdbool.h>
#include <stddef.h>

struct btc_crash_plan;

/**
 * Write candidate @i (0, 1, ...) for the helper's path into @buf:
 * BACKTRACE_HELPER_PATH alone when it is set, else the library's directory
 * followed by "../bin/btcrash" (build tree, and installs with lib/ beside
 * bin/), BTCRASH_HELPER_RELPATH (a deeper, multiarch libdir) and "btcrash".
 * Try them in order until one executes.
 *
 * Returns: true and a NUL-terminated path, or false when there is no
 *          candidate @i (or it does not fit in @size bytes).
 * Borrows: @plan.
 * Context: async-signal-safe (string building only): the crash path.
 */
bool btc_helper_path_candidate(const struct btc_crash_plan *plan, size_t i, char *buf, size_t size);

#endif
