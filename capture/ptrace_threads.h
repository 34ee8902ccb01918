/* ptrace_threads: stops every thread of the crashed process with
 * PTRACE_SEIZE + PTRACE_INTERRUPT within a deadline, reads their registers,
 * and detaches them again. Helper process only. */
#ifndef BTCRASH_PTRACE_THREADS_H
#define BTCRASH_PTRACE_THREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crash_record.h"

struct btc_unwind_tracee {
    int tid;
    int pending_sig; /* caught in a signal-delivery-stop: re-injected at detach */
    bool stopped;    /* in a ptrace-stop: registers and memory are stable */
    bool gone;       /* exited during capture */
};

struct btc_unwind_tracees {
    int pid;
    struct btc_unwind_tracee *t; /* seized threads, /proc/PID/task order */
    size_t n;
    size_t cap;
    /* Threads PTRACE_SEIZE failed on (not counting those that exited), and
     * how many of them another process traces already: a debugger, or the
     * helper of another report from the same process. */
    int *unseized;
    size_t nunseized;
    size_t nbusy;
};

/**
 * Seize and interrupt every thread of @pid, rescanning /proc/PID/task until
 * no new thread appears, and wait until each is stopped or @deadline_ns
 * (CLOCK_MONOTONIC) has passed. Threads that exit meanwhile are marked gone.
 *
 * Until a first thread is seized, PTRACE_SEIZE failing with EPERM is retried
 * for about 100 ms, because the crashed process grants us PR_SET_PTRACER
 * only after spawning us; but not for a thread that already has a tracer
 * (TracerPid in its status), where waiting cannot help: such a thread is
 * skipped at once and counted in nbusy. Concurrent API reports from one
 * process meet exactly that, each helper finding threads the others hold.
 * A thread that cannot be seized after another was is skipped as well.
 *
 * Returns: 0 with @ret filled (some threads may be left unstopped at the
 *          deadline, or unseized; release them with
 *          btc_unwind_tracees_detach), or -errno when no thread could be
 *          seized (nothing to detach then): -EBUSY when every thread has
 *          another tracer. For a PTRACE_SEIZE failure *ret_call is
 *          "ptrace(PTRACE_SEIZE)", otherwise the failing call.
 * Context: helper process.
 */
int btc_unwind_tracees_stop(int pid, int64_t deadline_ns, struct btc_unwind_tracees *ret,
                            const char **ret_call);

/** The stopped tracee @tid, or NULL when it is not seized or not stopped. */
const struct btc_unwind_tracee *btc_unwind_tracees_find(const struct btc_unwind_tracees *ts,
                                                        int tid);

/**
 * Read the registers of the stopped tracee @tid in DWARF order
 * (crash_record.h: rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp, r8..r15, rip).
 * Returns: 0, or -errno from PTRACE_GETREGS.
 */
int btc_unwind_tracee_getregs(int tid, uint64_t ret_regs[BTC_REG_COUNT]);

/**
 * Detach every seized thread, re-injecting signals we intercepted, and free
 * @ts. Threads still running (not yet stopped) get a short grace period to
 * stop; one that never does is released by the kernel when the helper exits.
 * Accepts a zeroed or half-built @ts; may be called twice.
 */
void btc_unwind_tracees_detach(struct btc_unwind_tracees *ts);

#endif
