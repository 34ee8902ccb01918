/* record_check: validation of the crash record the helper maps from
 * BTC_RECORD_FD (protocol/crash_record.h), before anything reads its fields.
 * Helper process; kept apart from crash_helper.c so it can be fuzzed. */
#ifndef BTCRASH_CLI_RECORD_CHECK_H
#define BTCRASH_CLI_RECORD_CHECK_H

#include <stddef.h>

/**
 * Whether the @size bytes at @mem hold a crash record this helper can read:
 * the magic, version and header size of this build, and a stack copy of at
 * most BTC_STACK_SNAPSHOT_MAX bytes that lies within @size. @mem must be
 * suitably aligned for struct btc_crash_record (mmap'ed memory is).
 *
 * Returns: 0, or -EBADMSG.
 * Borrows: @mem.
 */
int btc_record_check(const void *mem, size_t size);

#endif
