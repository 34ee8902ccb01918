/* capture: everything the report needs from the crashed process itself,
 * read while it still exists: the threads' raw frames (pcs, no names), the
 * module map, the abort message or C++ exception, and the /proc facts. The
 * result, struct btc_capture, is plain data: symbol/ turns its pcs into
 * names with the files alone, report/ turns both into JSON, and
 * capture_json.c writes it out and reads it back. Helper process only. */
#ifndef BTCRASH_CAPTURE_H
#define BTCRASH_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>
#include <jansson.h>

#include "crash_record.h"

/* Frames kept per thread. A deeper stack is walked to its end all the
 * same and keeps its innermost frames and its outermost
 * BTC_UNWIND_TAIL_FRAMES (where a recursion began, down to main); the
 * frames between are counted (btc_raw_thread.omitted). */
#define BTC_UNWIND_MAX_FRAMES  1024
#define BTC_UNWIND_TAIL_FRAMES 16
/* Frames walked per thread at most, and what the memory of the walk does
 * not depend on: a stack deeper still is cut and marked truncated. */
#define BTC_UNWIND_WALK_LIMIT (1u << 20)
/* Threads unwound besides the crashing one; the others are listed as
 * missing. Thousands of idle threads would otherwise take the time the
 * crashing thread's symbols need. */
#define BTC_CAPTURE_MAX_THREADS 2048

struct btc_raw_frame {
    uint64_t pc;
    bool activation; /* pc is the next instruction to run, not a return address */
    /* Found by scanning the stack (scan.h), not by CFI: the caller of a
     * frame that has neither CFI nor a frame pointer, e.g. a frame 0 in no
     * module (a call through NULL, into unmapped or unloaded code). */
    bool guessed;
};

struct btc_raw_thread {
    int tid;
    char *name;     /* /proc/PID/task/TID/comm, or NULL */
    bool fault;     /* the crashing (for an API report: the calling) thread */
    bool truncated; /* the frame cap, an unwind error or the deadline stopped the walk */
    char *error;    /* why the walk stopped early, or NULL */
    struct btc_raw_frame *frames; /* innermost first */
    size_t nframes;
    /* Frames of a stack deeper than BTC_UNWIND_MAX_FRAMES left out before
     * frames[omitted_at]; 0 and 0 when none. */
    size_t omitted;
    size_t omitted_at;
};

struct btc_module {
    uint64_t start;
    uint64_t size;
    char *path;     /* code_file */
    char *build_id; /* lowercase hex, or NULL */
    /* Filled by the symbol stage (btc_symbols_modules): where DWARF was
     * found (may equal path), or NULL. */
    char *debug_file;
    bool debug_file_exists;
    bool fetching; /* asked of debuginfod (btc_unwind_modules_prefetch) */
};

struct btc_capture {
    struct btc_crash_record rec; /* the record's header, copied */
    char uuid[37];               /* the report's, fixed once for all its versions */
    bool ptrace_ok;              /* every thread was stopped and unwound */
    char *ptrace_error;          /* why not, when !ptrace_ok */
    char *exe_path;              /* or NULL */
    char *lang_version;          /* the executable's .comment, or NULL */
    size_t fault_thread;         /* index into threads[] */
    struct btc_raw_thread *threads;
    size_t nthreads;
    struct btc_module *modules; /* sorted by start */
    size_t nmodules;
    /* The memory map as /proc/PID/maps text: what symbol/ reopens the
     * modules from. */
    char *maps;
    size_t maps_len;
    /* For a SIGABRT the process raised itself: the text glibc printed before
     * aborting (raw bytes, at most BTC_UNWIND_ABORT_MSG_MAX), or NULL. */
    char *abort_message;
    /* The last C++ exception the crashing thread threw, when the record named
     * one: its demangled type and what() (raw bytes), or NULL. Only a report
     * whose symbolicated stack shows the throw trusts them (report.c). */
    char *cxx_type;
    char *cxx_what;
    /* The /proc facts (sysinfo.h): {"attributes": {...}, "argv": [...],
     * "exe": ..., "cwd": ...}. Never NULL once captured. */
    json_t *facts;
};

/* The session: the capture being made and what making it holds (the
 * stopped threads, the libdwfl session, the memory reader). */
struct btc_capture_session;

/**
 * Start capturing the process of @rec: open its modules from the record's
 * memory map (@maps, @maps_len bytes), or from /proc/PID/maps when the
 * record has none, and unwind the crashing thread from the record's
 * registers and stack copy @stack, until @unwind_deadline_ns
 * (CLOCK_MONOTONIC; 0: none). Reads the abort message, the C++
 * exception and the /proc facts. Nothing is stopped yet: this is the part
 * that needs neither ptrace nor /proc/PID/mem, so it works for a
 * non-dumpable process too.
 *
 * Returns: 0 and *ret (free with btc_capture_session_free), -ENOMEM, or
 *          -errno when not even the crashing thread's frames could be had;
 *          @why (@size bytes) then says why in words.
 * Borrows: @rec, @stack and @maps, which must outlive the session.
 */
int btc_capture_begin(const struct btc_crash_record *rec, const void *stack, const char *maps,
                      size_t maps_len, int64_t unwind_deadline_ns, struct btc_capture_session **ret,
                      char *why, size_t size);

/**
 * Stop the other threads with ptrace until @stop_deadline_ns, unwind them
 * (at most BTC_CAPTURE_MAX_THREADS) until @unwind_deadline_ns, then let
 * them go. Threads not unwound in time keep no frames and say why. When the
 * process cannot be traced (not dumpable, credentials changed, Yama,
 * seccomp) the capture keeps the crashing thread alone and says why in
 * ptrace_error. Call at most once.
 *
 * Returns: 0, or -ENOMEM.
 */
int btc_capture_others(struct btc_capture_session *s, int64_t stop_deadline_ns,
                       int64_t unwind_deadline_ns);

struct btc_dump_state;

/**
 * Keep, from btc_capture_others on, what a minidump needs besides the
 * capture: every stopped thread's registers and stack copy, and the /proc
 * files (dump_state.h), the environment only when @environ. Call before
 * btc_capture_others.
 */
void btc_capture_want_dump(struct btc_capture_session *s, bool environ);

/**
 * What btc_capture_want_dump asked for: the stopped threads' state, and
 * the crashing thread's (read now when btc_capture_others did not run).
 * Returns: owned by @s, or NULL when not asked for or out of memory.
 */
const struct btc_dump_state *btc_capture_dump(struct btc_capture_session *s);

/** The capture so far; owned by @s. Not const: the symbol stage notes the
 * modules' debug files in it. */
struct btc_capture *btc_capture_get(const struct btc_capture_session *s);

/** The libdwfl session the capture unwound with, for symbol/ to reuse. */
Dwfl *btc_capture_dwfl(const struct btc_capture_session *s);

/** Let the threads still stopped go on (ptrace detach); the capture and its
 * libdwfl session stay. Accepts NULL; a second call does nothing. */
void btc_capture_detach(struct btc_capture_session *s);

/** Release everything, stopped threads included; accepts NULL. */
void btc_capture_session_free(struct btc_capture_session *s);

/** Frees a capture made by btc_capture_from_json; accepts NULL. */
void btc_capture_free(struct btc_capture *c);

/**
 * The capture as JSON, and back: what a stored capture holds, so that it can
 * be symbolicated later, elsewhere, or again.
 *
 * Returns: a new reference or NULL (out of memory); 0 and *ret, -ENOMEM, or
 *          -EINVAL when @j is not a capture.
 */
json_t *btc_capture_to_json(const struct btc_capture *c);
int btc_capture_from_json(json_t *j, struct btc_capture **ret);

#endif
