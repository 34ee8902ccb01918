/* crash_record: what the crashed process hands to the helper. The signal
 * handler fills it (crash path); the helper reads it from descriptor
 * BTC_RECORD_FD (helper). Both sides are built from this one header, so the
 * layout needs no versioning beyond the magic and size checks. */
#ifndef BTCRASH_CRASH_RECORD_H
#define BTCRASH_CRASH_RECORD_H

#include <signal.h>
#include <stdint.h>

#if !defined(__x86_64__)
#error "btcrash supports x86_64 Linux only for now"
#endif

#define BTC_RECORD_MAGIC   0x42544352u /* "BTCR" */
#define BTC_RECORD_VERSION 3u

/* The helper is the btcrash executable run with this one argument:
 * argv = {path, BTC_HELPER_MODE, NULL}. */
#define BTC_HELPER_MODE "__crash-helper"

/* Descriptors the helper finds open at exec time. */
#define BTC_RECORD_FD 3 /* memfd: struct btc_crash_record, then the stack copy */
#define BTC_NOTIFY_FD 4 /* pipe write end, see BTC_NOTIFY_DONE */

/* The helper writes this byte on BTC_NOTIFY_FD once the crashed process need
 * not wait any longer (the report is stored, and sent if it could be). The
 * process also stops waiting when the helper exits, or at the deadline. */
#define BTC_NOTIFY_DONE 'D'
/* Written by the helper before BTC_NOTIFY_DONE, as soon as a first valid
 * report is kept (stored in the database, or printed whole in local mode
 * when it could not be stored). A handler that has to kill the helper at
 * the deadline without having seen it knows the report is lost, and says
 * so ("report lost: timeout too short"). */
#define BTC_NOTIFY_STORED 'S'

/* x86_64 registers in DWARF numbering (System V psABI, table 3.36): rax, rdx,
 * rcx, rbx, rsi, rdi, rbp, rsp, r8..r15, then the return address column (rip).
 * libdw's dwfl_thread_state_registers takes them in this order. */
#define BTC_REG_COUNT 17
#define BTC_REG_SP    7
#define BTC_REG_PC    16

/* Upper bound on the stack copy: enough for the frames that matter in a
 * typical crash, small enough to write in well under a millisecond. */
#define BTC_STACK_SNAPSHOT_MAX (256u * 1024u)

/* Upper bound on the copy of /proc/self/maps: about 10,000 mappings, more
 * than a JVM's. A longer map is cut at a line end (BTC_RECORD_F_MAPS_CUT). */
#define BTC_MAPS_MAX (1024u * 1024u)

/* Bytes below the stack pointer that the x86_64 ABI lets leaf functions use. */
#define BTC_RED_ZONE 128u

struct btc_crash_record {
    uint32_t magic;
    uint32_t version;
    uint32_t header_size; /* sizeof(struct btc_crash_record) on the writer */
    uint32_t flags;       /* BTC_RECORD_F_* */

    int32_t pid;
    int32_t tid;
    int32_t signo;
    int32_t si_code;
    int32_t si_errno;
    int32_t sender_pid; /* for signals sent by a process (si_code <= 0) */
    int32_t sender_uid;
    int32_t saved_errno; /* errno of the crashing thread at the fault */
    uint64_t fault_address;

    /* CLOCK_REALTIME and CLOCK_MONOTONIC at the fault, and the monotonic
     * deadline by which the crashed process will be gone. */
    int64_t fault_time_ns;
    int64_t fault_mono_ns;
    int64_t deadline_mono_ns;

    uint64_t regs[BTC_REG_COUNT];
    /* The remaining ucontext registers the report shows. */
    uint64_t eflags;
    uint64_t trapno;
    uint64_t err;
    /* For a minidump's thread context (minidump/minidump.h): the
     * ucontext's packed cs, gs, fs and ss, and its FXSAVE area (the x87,
     * MXCSR and XMM registers) when it has one (has_fpregs). A C API
     * report has neither. */
    uint64_t csgsfs;
    uint32_t has_fpregs;
    uint32_t pad0;
    uint8_t fpregs[512];

    /* The stack copy follows the header: stack_len bytes that were at
     * stack_start in the crashed thread. */
    uint64_t stack_start;
    uint64_t stack_len;
    /* The memory map follows the stack copy: maps_len bytes of
     * /proc/self/maps text as the crashed process read it in its handler
     * (whole lines, at most BTC_MAPS_MAX). The helper needs it when it
     * cannot read /proc/PID/maps itself: a non-dumpable process, or one
     * whose credentials changed. 0 when it could not be read. */
    uint64_t maps_len;
    /* Real and effective uid at the fault. */
    uint32_t uid;
    uint32_t euid;

    /* SIGABRT only: the last C++ exception the crashing thread threw (the
     * thrown object and its std::type_info), or zeros. Possibly one that
     * was caught long ago: the helper checks the stack before it trusts
     * them. */
    uint64_t cxx_object;
    uint64_t cxx_tinfo;

    siginfo_t siginfo;
};

enum {
    BTC_RECORD_F_TIMED_OUT_OTHERS = 1u << 0, /* other threads were crashing too */
    /* A report from the C API (btcrash_report_send), not a crash: signo is
     * 0, the registers and stack are those btcrash_report_capture_stack
     * recorded, the report's own data is a JSON object on BTC_USERDATA_FD,
     * and the helper answers with a JSON object on BTC_NOTIFY_FD. */
    BTC_RECORD_F_API = 1u << 1,
    /* The memory map was longer than BTC_MAPS_MAX and is cut. */
    BTC_RECORD_F_MAPS_CUT = 1u << 2,
    /* prctl(PR_GET_DUMPABLE) said 0 at the fault: the helper can neither
     * ptrace the process nor read its /proc/PID/mem, maps or exe. */
    BTC_RECORD_F_NOT_DUMPABLE = 1u << 3,
};

/* API reports only: a memfd holding the user data, one JSON object:
 *   {"attributes": {flat primitives}, "annotations": {...},
 *    "log": [{"ts": seconds, "msg": text}], "attachments": [paths],
 *    "error": {"type": "Exception"|"Message", "classifier": text|absent,
 *              "message": text|absent}}
 * and the helper's answer on BTC_NOTIFY_FD, one JSON object then EOF:
 *   {"outcome": "sent"|"pending"|"stored"|"rejected"|"failed",
 *    "uuid": ..., "rxid": ..., "http_status": N, "error": text} */
#define BTC_USERDATA_FD 5

#endif
