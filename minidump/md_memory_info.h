/* md_memory_info: the minidump's memory info list, one entry per mapping
 * of the crashed process's /proc/PID/maps, with its protection: what lets a
 * reader tell a call through an unmapped or non-executable address from a
 * bad stack. Breakpad's minidump_dump requires the stream. Helper process
 * only. */
#ifndef BTCRASH_MD_MEMORY_INFO_H
#define BTCRASH_MD_MEMORY_INFO_H

#include <stddef.h>

#include "md_buf.h"
#include "md_format.h"

/**
 * Append the memory info list of @maps (@len bytes of /proc/PID/maps text;
 * lines that do not parse are skipped) to @b.
 * Returns: its location (rva 0 once @b has failed).
 */
struct btc_md_location btc_md_memory_info(struct btc_md_buf *b, const char *maps, size_t len);

#endif
