/* capture: stop and unwind every thread of a crashed process, symbolicated
 * with libdw. Helper process only: it runs while the crashed process waits
 * in its signal handler. */
#ifndef BTCRASH_CAPTURE_H
#define BTCRASH_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crash_record.h"

struct btc_frame {
    uint64_t pc;        /* the return address or faulting pc, as found on the stack */
    char *func;         /* demangled; NULL when unknown */
    char *file;         /* as the debug information names it; NULL when unknown */
    int line;           /* 0 when unknown */
    int column;         /* 0 when unknown */
    const char *module; /* borrowed from btc_capture.modules[].path; NULL when unmapped */
    bool inlined;       /* an inlined call, shown as a frame of its own */
};

struct btc_thread {
    int tid;
    char *name;               /* /proc/PID/task/TID/comm */
    bool fault;               /* the crashing thread */
    bool truncated;           /* the frame cap or an unwind error stopped the walk */
    char *error;              /* why the walk stopped early, or NULL */
    struct btc_frame *frames; /* innermost first */
    size_t nframes;
};

struct btc_module {
    uint64_t start;
    uint64_t size;
    char *path;       /* code_file */
    char *build_id;   /* lowercase hex, or NULL */
    char *debug_file; /* where DWARF was found (may equal path), or NULL */
    bool debug_file_exists;
};

struct btc_capture {
    int pid;
    bool ptrace_ok;     /* all threads were stopped and unwound */
    char *ptrace_error; /* why not, when !ptrace_ok (e.g. "ptrace: Operation not permitted") */
    char *exe_path;     /* /proc/PID/exe */
    char *lang_version; /* the executable's .comment, e.g. "GCC: (Debian 12.2.0-14) 12.2.0", or NULL
                         */
    size_t fault_thread; /* index into threads[] */
    struct btc_thread *threads;
    size_t nthreads;
    struct btc_module *modules;
    size_t nmodules;
    /* For a SIGABRT the process raised itself: the text glibc printed before
     * aborting (assert, malloc check, fortify, stack protector), read from
     * libc's __abort_msg, without its trailing newline and at most
     * BTC_UNWIND_ABORT_MSG_MAX bytes; raw bytes, not necessarily UTF-8.
     * NULL for other signals, a plain abort(), or when it cannot be read. */
    char *abort_message;
    /* For a SIGABRT that an uncaught C++ exception caused (the crashing
     * thread's stack shows std::terminate or __cxa_throw, and the record
     * names the exception the thread last threw): the exception's type,
     * demangled ("std::runtime_error"), and its what() for types derived
     * from std::runtime_error or std::logic_error (raw bytes, at most
     * BTC_UNWIND_CXX_WHAT_MAX). NULL when unknown. */
    char *cxx_type;
    char *cxx_what;
};

#define BTC_UNWIND_MAX_FRAMES 1024

/**
 * Capture the crashed process described by @rec. With ptrace it stops and
 * unwinds every thread; without it, only the crashing thread, from @stack (the
 * record's copy of @rec->stack_len bytes at @rec->stack_start) and the
 * record's registers. The crashing thread always starts at the record's pc,
 * so btcrash's own handler frames never show. Threads are resumed (detached)
 * before return.
 *
 * Returns: 0 and *ret_capture (free with btc_capture_free), -ENOMEM, or
 *          another -errno when not even the crashing thread could be unwound.
 * Borrows: @rec and @stack.
 * Context: helper process.
 */
int btc_unwind_capture(const struct btc_crash_record *rec, const void *stack,
                       struct btc_capture **ret_capture);

/** Frees a capture; accepts NULL and half-built captures. */
void btc_capture_free(struct btc_capture *c);

#endif
