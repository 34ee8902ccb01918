/* capture: the calling thread's registers and a copy of its stack, for a
 * report made through the C API, in the form the helper unwinds
 * (protocol/crash_record.h). libbtcrash-api.so, in the program's threads;
 * never in a signal handler. */
#ifndef BTCRASH_API_CAPTURE_H
#define BTCRASH_API_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crash_record.h"

struct btc_api_stack {
    pid_t tid;                    /* the thread it was taken on */
    uint64_t regs[BTC_REG_COUNT]; /* DWARF order, see crash_record.h */
    uint64_t start;               /* address of bytes[0] in that thread */
    size_t len;
    unsigned char *bytes; /* malloc'ed; NULL when nothing was captured */
};

/**
 * Record the calling thread's registers as they are inside this function,
 * and copy its stack from just below the stack pointer (the red zone) up to
 * the stack's top, at most BTC_STACK_SNAPSHOT_MAX bytes. The helper unwinds
 * from there and drops the leading frames of libbtcrash-api.so and
 * libbtcrash.so, so the first frame shown is the API's caller.
 *
 * Returns: 0 and *ret_stack (free its bytes with btc_api_stack_clear), or
 *          -ENOMEM.
 * Context: any thread; not async-signal-safe (allocates).
 */
int btc_api_capture(struct btc_api_stack *ret_stack);

/** Free @stack's copy and mark it empty. NULL and empty stacks are fine. */
void btc_api_stack_clear(struct btc_api_stack *stack);

#endif
