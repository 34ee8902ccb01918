/* procinfo: facts about the crashed process from /proc and its executable:
 * the executable's path, its compiler (.comment) and thread names. Helper
 * process only. */
#ifndef BTCRASH_UNWIND_PROCINFO_H
#define BTCRASH_UNWIND_PROCINFO_H

/**
 * readlink(/proc/PID/exe).
 * Returns: 0 and *ret_path (free it), or -errno.
 */
int btc_unwind_exe_path(int pid, char **ret_path);

/**
 * The first string of the executable's .comment section, i.e. the compiler
 * that built it, e.g. "GCC: (Debian 12.2.0-14) 12.2.0". Read through
 * /proc/PID/exe, or from @exe_path (may be NULL) when that link cannot be
 * opened.
 * Returns: 0 and *ret_comment (free it), -ENODATA when there is no such
 *          section, -ENOMEM, or another -errno.
 */
int btc_unwind_exe_comment(int pid, const char *exe_path, char **ret_comment);

/**
 * /proc/PID/task/TID/comm without its newline.
 * Returns: 0 and *ret_name (free it), or -errno.
 */
int btc_unwind_thread_name(int pid, int tid, char **ret_name);

#endif
