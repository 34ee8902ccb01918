/* sysinfo: the automatic attributes (DESIGN.md §3) of a crashed process and
 * its machine, read from /proc, uname and /etc/machine-id. Helper process,
 * while the crashed process still exists. */
#ifndef BTCRASH_SYSINFO_H
#define BTCRASH_SYSINFO_H

#include <jansson.h>

#include "capture.h"

/**
 * Set the automatic attributes in the object @attrs: error.type,
 * error.message, application, process.*, hostname, guid, uname.*, cpu.*,
 * system.memory.*, vm.*, sched.cs.*, descriptor.count, application.session,
 * backtrace.*, signal, signal.code and fault.address. For an API report
 * (BTC_RECORD_F_API) the fault group (error.*, signal, signal.code,
 * fault.address) is left to the caller. error.message is "type: what()"
 * (or the type) of @cap's uncaught C++ exception when there is one, else
 * @cap's abort_message when there is one, else the signal's description. A value
 * that cannot be read (a
 * missing /proc file, a process already gone) is left out.
 *
 * Returns: 0, or -ENOMEM (@attrs may then hold some of them).
 * Borrows: @rec, @cap (for the executable's path; may be NULL).
 */
int btc_sysinfo_attributes(json_t *attrs, const struct btc_crash_record *rec,
                           const struct btc_capture *cap);

/**
 * The target of /proc/@pid/@what ("cwd", "exe"), raw bytes.
 *
 * Returns: 0 and *ret_target (malloc'ed; caller frees), or -errno.
 */
int btc_sysinfo_readlink(int pid, const char *what, char **ret_target);

/**
 * The argument vector of @pid from /proc/@pid/cmdline, as an array of
 * strings repaired to UTF-8. Empty for kernel threads and zombies.
 *
 * Returns: 0 and *ret_argv (a new reference), or -errno.
 */
int btc_sysinfo_argv(int pid, json_t **ret_argv);

#endif
