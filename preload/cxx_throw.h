/* cxx_throw: notes the object and type of each C++ exception a thread
 * throws (the interposed __cxa_throw), so that a crash report for an
 * uncaught exception can name it. The note is written in the crashed
 * process, by the throwing thread, and read by the signal handler (crash
 * path) of that same thread. */
#ifndef BTCRASH_PRELOAD_CXX_THROW_H
#define BTCRASH_PRELOAD_CXX_THROW_H

#include <stdint.h>

/* The last exception this thread threw with __cxa_throw: the thrown object
 * and its std::type_info, as addresses; zero before the first throw. It is
 * not cleared when the exception is caught: the helper only believes it
 * when the crashed thread's stack shows std::terminate or __cxa_throw. */
struct btc_crash_cxx_thrown {
    uint64_t object;
    uint64_t tinfo;
};

/* Initial-exec: the handler reads it with a plain %fs-relative load, no
 * __tls_get_addr (not async-signal-safe) and no allocation. */
extern __thread struct btc_crash_cxx_thrown btc_crash_cxx_thrown
    __attribute__((tls_model("initial-exec")));

#endif
