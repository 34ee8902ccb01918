/* crash: the crash path of the preloaded library, shared between its files.
 * Everything declared here runs in the crashed process after a fatal signal,
 * except filling btc_crash_plan, which the constructor does ahead of time. */
#ifndef BTCRASH_PRELOAD_CRASH_H
#define BTCRASH_PRELOAD_CRASH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "crash_record.h"

#define BTC_PATH_MAX 4096

/* Filled by the constructor. Afterwards only btcrash_initialize (in
 * libbtcrash-api.so, which gets a pointer to this) changes it, and only the
 * fields marked "published": each with one atomic store (__atomic_store_n),
 * because a signal handler may be reading them at that very moment. Readers
 * on the crash path use __atomic_load_n. */
struct btc_crash_plan {
    uint32_t timeout_ms; /* published */
    bool debug;          /* published */
    /* BACKTRACE_HELPER_PATH, or NULL: then the helper is looked for next to
     * the library, whose directory is the first lib_dir_len bytes of lib_dir
     * (the dynamic loader's own copy of the path; it lives as long as the
     * library). Paths are built at crash time, so start-up touches no
     * buffers. */
    const char *helper_path;
    const char *lib_dir;
    size_t lib_dir_len;
    /* The helper's environment: the kept variables (LD_PRELOAD removed) with
     * btcrash_initialize's overrides applied. Published: a new block is
     * swapped in whole, and an old one is never freed (a handler may still
     * be exec'ing with it). */
    char *const *envp;
    /* The kept variables as the constructor found them: what each
     * btcrash_initialize call starts again from. Never changes. */
    char *const *env_base;
};

extern struct btc_crash_plan btc_crash_plan;

/* Crash path: async-signal-safe. Fill the record from the signal; the
 * fault happened at @fault_mono_ns (CLOCK_MONOTONIC), and the process is to
 * be gone by @deadline_mono_ns. */
void btc_crash_record_fill(struct btc_crash_record *rec, int sig, const siginfo_t *si,
                           const void *ucontext, int64_t fault_mono_ns, int64_t deadline_mono_ns);

/* Constructor, and a forked child (pthread_atfork): note that this
 * process's memory is its own. */
void btc_crash_note_own_memory(void);

/* Crash path: async-signal-safe. Whether this process runs in another
 * process's memory: a vfork() child before its exec. Its writes to the
 * library's statics are seen by its parent. */
bool btc_crash_in_borrowed_memory(void);

/* Crash path: async-signal-safe. Write the record, a copy of the crashing
 * thread's stack and the text of /proc/self/maps into a new memfd (sets
 * stack_len, maps_len and BTC_RECORD_F_MAPS_CUT). Returns the fd (>= 10,
 * close-on-exec) or -errno. */
int btc_crash_record_write(struct btc_crash_record *rec);

/* Crash path: async-signal-safe. Copy the text read from @src_fd (to its
 * end) into @dst_fd at offset @off, and keep whole lines only: at most @max
 * bytes, and no more than was read by @deadline_ns (CLOCK_MONOTONIC). The
 * file is cut after the last whole line kept. Returns the bytes kept; sets
 * *ret_cut when anything was left out (the limit, the deadline, a read or
 * write that failed, a last line without its newline). */
uint64_t btc_crash_copy_lines(int src_fd, int dst_fd, off_t off, uint64_t max, int64_t deadline_ns,
                              bool *ret_cut);

/* Crash path: async-signal-safe. Start the helper on @record_fd and wait for
 * it until rec->deadline_mono_ns; kill it if it is still running then.
 * Returns 0 when the helper finished in time, or -errno. */
int btc_crash_run_helper(const struct btc_crash_record *rec, int record_fd);

/* Crash path: async-signal-safe. Move @fd to 10 or above (close-on-exec),
 * closing the original, so the child's dup2 onto 3 and 4 cannot clobber one
 * of the descriptors it is placing. Returns the new fd or -errno. */
int btc_crash_fd_high(int fd);

/* Crash path: async-signal-safe. One line on stderr, "btcrash: " first. */
void btc_crash_say(const char *msg, const char *detail, long num);

/* Crash path: async-signal-safe. One line on stderr: "btcrash: @msg: " and
 * what @err (an errno value, either sign) means, in words when
 * btc_crash_errno_words knows it, else "errno N". */
void btc_crash_say_errno(const char *msg, int err);

/* Crash path: async-signal-safe, pure. A few words for @err (either sign),
 * naming the limit involved where there is one, e.g. "too many open files
 * (RLIMIT_NOFILE)" for EMFILE; NULL for a value not in the table. The text
 * is static. */
const char *btc_crash_errno_words(int err);

#endif
