/* capture: see capture.h. */
#include "capture.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* When the thread's stack bounds are unknown (pthread_getattr_np fails, e.g.
 * on a thread not made by pthread_create), copy page by page until the first
 * unreadable page: process_vm_readv on ourselves reports it instead of
 * faulting. */
static size_t
copy_probing(unsigned char *dst, uint64_t start, size_t max)
{
    size_t done = 0;

    while (done < max) {
        uint64_t addr = start + done;
        size_t chunk = 4096 - (size_t)(addr % 4096);
        if (chunk > max - done)
            chunk = max - done;
        struct iovec local = {dst + done, chunk};
        struct iovec remote = {(void *)(uintptr_t)addr, chunk};
        ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return done;
}

/* The top of the calling thread's stack, or 0 when unknown. */
static uint64_t
stack_top(uint64_t sp)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    uint64_t top = 0;

    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return 0;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        top = (uint64_t)(uintptr_t)addr + size;
        /* Not this stack: the thread runs on a stack of its own making
         * (a coroutine, sigaltstack). Probe instead. */
        if (sp < (uint64_t)(uintptr_t)addr || sp >= top)
            top = 0;
    }
    pthread_attr_destroy(&attr);
    return top;
}

/* The raw machine stack, redzones and all: AddressSanitizer (in test builds)
 * would flag its own guard zones between our frames, which are exactly what
 * a stack copy must include. A byte loop, as memcpy would be checked. */
__attribute__((no_sanitize("address"))) static void
copy_raw_stack(unsigned char *dst, uintptr_t start, size_t len)
{
    const volatile unsigned char *src = (const volatile unsigned char *)start;

    for (size_t i = 0; i < len; i++)
        dst[i] = src[i];
}

/* noinline: the registers must be this function's, in a frame of its own,
 * so that the frames the helper drops are exactly btcrash's. */
__attribute__((noinline)) int
btc_api_capture(struct btc_api_stack *ret_stack)
{
    uint64_t regs[BTC_REG_COUNT];
    unsigned char *bytes;
    uint64_t sp, start, top;
    size_t len;

    /* DWARF order: rax rdx rcx rbx rsi rdi rbp rsp r8..r15, then rip. The
     * rip is the address of the instruction after the lea, inside this
     * function's body, where its CFI gives the caller's registers from rsp
     * (which nothing changes before the stack is copied below). Only the
     * callee-saved registers (rbx rbp r12-r15) and rsp and rip matter to
     * the unwinder; the others are recorded as they happen to be. */
    __asm__ volatile("movq %%rax, 0(%[r])\n\t"
                     "movq %%rdx, 8(%[r])\n\t"
                     "movq %%rcx, 16(%[r])\n\t"
                     "movq %%rbx, 24(%[r])\n\t"
                     "movq %%rsi, 32(%[r])\n\t"
                     "movq %%rdi, 40(%[r])\n\t"
                     "movq %%rbp, 48(%[r])\n\t"
                     "movq %%rsp, 56(%[r])\n\t"
                     "movq %%r8, 64(%[r])\n\t"
                     "movq %%r9, 72(%[r])\n\t"
                     "movq %%r10, 80(%[r])\n\t"
                     "movq %%r11, 88(%[r])\n\t"
                     "movq %%r12, 96(%[r])\n\t"
                     "movq %%r13, 104(%[r])\n\t"
                     "movq %%r14, 112(%[r])\n\t"
                     "movq %%r15, 120(%[r])\n\t"
                     "leaq 0(%%rip), %%rax\n\t"
                     "movq %%rax, 128(%[r])\n\t"
                     :
                     : [r] "r"(regs)
                     : "rax", "memory");
    _Static_assert(BTC_REG_COUNT == 17 && BTC_REG_SP == 7 && BTC_REG_PC == 16,
                   "the asm above writes the crash record's register order");

    sp = regs[BTC_REG_SP];
    start = sp - BTC_RED_ZONE;
    top = stack_top(sp);
    len = BTC_STACK_SNAPSHOT_MAX;
    if (top && top - start < len)
        len = (size_t)(top - start);
    bytes = malloc(len);
    if (!bytes)
        return -ENOMEM;
    if (top) {
        /* Mapped: it is this thread's stack, between our own frame and its
         * top. The red zone is below our stack pointer but above the
         * frames of the calls made since, so it is mapped too; its
         * contents are whatever those calls left, which no unwinder reads
         * (this function is not a leaf). */
        copy_raw_stack(bytes, start, len);
    } else {
        len = copy_probing(bytes, start, len);
    }

    ret_stack->tid = gettid();
    memcpy(ret_stack->regs, regs, sizeof(regs));
    ret_stack->start = start;
    ret_stack->len = len;
    ret_stack->bytes = bytes;
    return 0;
}

void
btc_api_stack_clear(struct btc_api_stack *stack)
{
    if (!stack)
        return;
    free(stack->bytes);
    memset(stack, 0, sizeof(*stack));
}
