/* dump_state: what a minidump needs of the crashed process beyond the raw
 * capture (minidump/minidump.h): every thread's whole register state and a
 * copy of its stack, and the /proc files a minidump carries. Read while the
 * threads are ptrace-stopped (btc_capture_others), or, for the crashing
 * thread, from the crash record. Helper process only. */
#ifndef BTCRASH_DUMP_STATE_H
#define BTCRASH_DUMP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/user.h>

#include "crash_record.h"
#include "memory.h"

/* Stack bytes copied per thread at most, from the stack pointer's page up
 * (toward the stack's base, where the callers' frames are): the crashing
 * thread's whole record snapshot and more; the others' innermost frames.
 * A deeper stack is cut, as Breakpad's own writer cuts it (32 KiB); the
 * JSON report has every frame. */
#define BTC_DUMP_FAULT_STACK_MAX (512u * 1024u)
#define BTC_DUMP_OTHER_STACK_MAX (64u * 1024u)
/* All threads' stack copies together: a process of thousands of threads
 * keeps them all listed, the last ones without stack memory. */
#define BTC_DUMP_STACKS_MAX (32u * 1024u * 1024u)
/* Bytes of code kept around the crashing thread's pc. */
#define BTC_DUMP_CODE_BYTES 256u
/* Bytes kept of each /proc file (maps come from the capture). */
#define BTC_DUMP_PROC_FILE_MAX (1024u * 1024u)

struct btc_dump_thread {
    int tid;
    struct user_regs_struct regs;
    bool have_fpregs;
    struct user_fpregs_struct fpregs; /* FXSAVE layout */
    uint64_t stack_start;
    unsigned char *stack; /* stack_len bytes that were at stack_start, or NULL */
    size_t stack_len;
};

struct btc_dump_blob {
    char *data; /* or NULL: could not be read */
    size_t len;
};

struct btc_dump_state {
    struct btc_dump_thread *threads; /* the crashing thread first */
    size_t nthreads;
    size_t stack_bytes; /* of every thread, toward BTC_DUMP_STACKS_MAX */
    /* The code around the crashing thread's pc, as Breakpad's writer keeps
     * it for a server's analysis; code_len 0 when unreadable (a call
     * through NULL). */
    uint64_t code_start;
    unsigned char code[BTC_DUMP_CODE_BYTES];
    size_t code_len;
    struct btc_dump_blob status, cmdline, auxv, environ;
    /* Where the process's environment strings are (/proc/PID/stat), when
     * it was not asked for: the writer blanks them in the stack copies,
     * since the main thread's stack holds them at its top. 0, 0 when
     * asked for or unknown. */
    uint64_t environ_start, environ_end;
};

/**
 * Add the crashing thread of @rec: its registers from the record (the
 * signal's ucontext), its stack through @mem (the record's snapshot first).
 * Returns: 0 or -ENOMEM.
 */
int btc_dump_add_fault(struct btc_dump_state *d, const struct btc_crash_record *rec,
                       struct btc_unwind_mem *mem, const char *maps, size_t maps_len);

/**
 * Add ptrace-stopped thread @tid: PTRACE_GETREGS, PTRACE_GETFPREGS, and its
 * stack through @mem. A thread whose registers cannot be read is left out.
 * Returns: 0, 1 when left out, or -ENOMEM.
 */
int btc_dump_add_stopped(struct btc_dump_state *d, int tid, struct btc_unwind_mem *mem,
                         const char *maps, size_t maps_len);

/**
 * Read /proc/@pid/status, cmdline and auxv, and environ only when
 * @environ (it may hold secrets: the user opts in); without @environ, where
 * the environment strings are instead (environ_start, environ_end). A file
 * that cannot be read is left NULL. Returns: 0 or -ENOMEM.
 */
int btc_dump_read_proc(struct btc_dump_state *d, int pid, bool environ);

/** Free @d's contents; accepts a zeroed @d. */
void btc_dump_state_done(struct btc_dump_state *d);

#endif
