/* cxx_throw: see cxx_throw.h. The exported __cxa_throw is a few
 * instructions of assembly that note the exception and jump to libstdc++'s
 * __cxa_throw, so that, as with the thread trampoline (threads.c), no
 * btcrash frame shows in any stack: the real __cxa_throw returns (it never
 * does) straight to the program's throwing function. */
#include <dlfcn.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cxx_throw.h"

typedef void (*cxa_throw_fn)(void *, void *, void (*)(void *));

__thread struct btc_crash_cxx_thrown btc_crash_cxx_thrown
    __attribute__((tls_model("initial-exec")));

/* Looked up on the first throw, not imported: programs that never throw
 * (and C programs, which have no __cxa_throw at all) pay nothing at
 * start-up. Racing first throws may both look it up; they store the same
 * value. */
static _Atomic(cxa_throw_fn) g_real_throw;

/* Called by the __cxa_throw below with its first two arguments: note them
 * and return the real __cxa_throw. Without one there is nothing sane to do
 * with the exception (a program that throws links libstdc++, so this means
 * a broken process): abort, as an uncaught exception would. abort() itself
 * would be one more import to bind at every exec (see sys.h), so: SIGABRT
 * to this thread, and a trap should that signal be blocked or ignored. */
cxa_throw_fn btc_cxx_throw_note(void *obj, void *tinfo);

__attribute__((visibility("hidden"))) cxa_throw_fn
btc_cxx_throw_note(void *obj, void *tinfo)
{
    cxa_throw_fn real = atomic_load_explicit(&g_real_throw, memory_order_acquire);

    btc_crash_cxx_thrown.object = (uint64_t)(uintptr_t)obj;
    btc_crash_cxx_thrown.tinfo = (uint64_t)(uintptr_t)tinfo;
    if (!real) {
        /* dlsym returns void *; the conversion to a function pointer is
         * what POSIX requires to work. */
        *(void **)&real = dlsym(RTLD_NEXT, "__cxa_throw");
        if (!real) {
            syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), SIGABRT);
            __builtin_trap();
        }
        atomic_store_explicit(&g_real_throw, real, memory_order_release);
    }
    return real;
}

#if defined(__x86_64__)
/* Exported: it must interpose libstdc++'s __cxa_throw for every throw in
 * the process (README, "C++ exceptions"). The three pushes keep the call
 * 16-byte aligned (on entry rsp is 8 mod 16) and save the arguments; after
 * the pops the stack and registers are as on entry, and the jump makes the
 * real __cxa_throw's return address the program's own. */
__asm__(".text\n"
        ".globl __cxa_throw\n"
        ".type __cxa_throw, @function\n"
        "__cxa_throw:\n"
        ".cfi_startproc\n"
        "    pushq %rdi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "    pushq %rsi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "    pushq %rdx\n"
        ".cfi_adjust_cfa_offset 8\n"
        "    call btc_cxx_throw_note\n"
        "    popq %rdx\n"
        ".cfi_adjust_cfa_offset -8\n"
        "    popq %rsi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "    popq %rdi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "    jmp *%rax\n"
        ".cfi_endproc\n"
        ".size __cxa_throw, .-__cxa_throw\n");
#else
#error "btcrash supports x86_64 Linux only for now"
#endif
