/* md_system: the minidump's system info stream, of the machine the helper
 * runs on, which is the crashed process's: cpuid and uname. Helper
 * process only. */
#ifndef BTCRASH_MD_SYSTEM_H
#define BTCRASH_MD_SYSTEM_H

#include "md_buf.h"
#include "md_format.h"

/**
 * Append the system info stream to @b.
 * Returns: its location (data_size 0 once @b has failed).
 */
struct btc_md_location btc_md_system_info(struct btc_md_buf *b);

#endif
