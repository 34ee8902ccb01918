/* sysinfo: the automatic attributes (DESIGN.md §3) of a crashed process and
 * its machine, read from /proc, uname and /etc/machine-id. Helper process,
 * while the crashed process still exists. */
#ifndef BTCRASH_SYSINFO_H
#define BTCRASH_SYSINFO_H

#include <jansson.h>

/**
 * The facts about process @pid and its machine that the report's attributes
 * and "Process" annotation show, read now, while the process exists:
 * {"attributes": {application, process.id, process.cwd, process.age,
 * descriptor.count, process.thread.count, vm.*, sched.cs.*, hostname, guid,
 * uname.*, cpu.*, system.memory.*, application.session, backtrace.*},
 * "argv": [...], "exe": @exe_path, "cwd": ...}. A value that cannot be read
 * (a missing /proc file, a process already gone or not dumpable) is left
 * out.
 *
 * Returns: 0 and *ret_facts (a new reference), or -ENOMEM.
 */
int btc_sysinfo_collect(int pid, const char *exe_path, json_t **ret_facts);

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
