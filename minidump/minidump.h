/* minidump: the crash as a minidump in the Breakpad/Crashpad format, for
 * servers that symbolicate native frames themselves (Backtrace's
 * minidump endpoint, Sentry's): written from what the capture holds, with
 * no Breakpad or Crashpad code. Helper process only.
 *
 * Streams, in this order: thread list (each thread's AMD64 context and
 * stack copy), thread names, module list (CodeView "BpEL" records
 * carrying each build-id), memory list (the stacks and the code around the
 * crashing pc), exception (the signal; for a C API report the code
 * 0xffffffff, "dump requested"), memory info (the maps' protections),
 * system info, misc info (the pid),
 * Breakpad info (the requesting thread), and the Linux streams: maps,
 * /proc status, cmdline, auxv, cpuinfo, and the environment only when the
 * capture read it (BACKTRACE_MINIDUMP_ENVIRONMENT). */
#ifndef BTCRASH_MINIDUMP_H
#define BTCRASH_MINIDUMP_H

#include <stddef.h>

#include "capture.h"
#include "crash_record.h"
#include "dump_state.h"

/**
 * Write the minidump of @cap and @dump (btc_capture_dump) into memory.
 *
 * Returns: 0, *ret (malloc'ed; caller frees) and *ret_len; -ENOMEM; or
 *          -EFBIG past BTC_MD_MAX_BYTES (md_buf.h).
 * Borrows: everything.
 */
int btc_minidump_build(const struct btc_capture *cap, const struct btc_dump_state *dump,
                       unsigned char **ret, size_t *ret_len);

#endif
