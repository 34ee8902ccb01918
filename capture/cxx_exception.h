/* cxx_exception: the type and what() of the uncaught C++ exception that
 * aborted the crashed process, from the thrown object and std::type_info
 * the interposed __cxa_throw noted (preload/cxx_throw.h). Helper process
 * only. */
#ifndef BTCRASH_UNWIND_CXX_EXCEPTION_H
#define BTCRASH_UNWIND_CXX_EXCEPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#include "memory.h"

/* The most bytes of a mangled type name and of a what() text read. */
#define BTC_UNWIND_CXX_NAME_MAX 1024u
#define BTC_UNWIND_CXX_WHAT_MAX 4096u

/**
 * Read the exception at @object of type @tinfo in @dwfl's process, whose
 * memory @mem reads: its demangled type name and, for types derived from
 * std::runtime_error or std::logic_error by single inheritance (as libstdc++
 * lays them out: the message is a copy-on-write string whose first word
 * points at the text), what(). Local types ("*N..." names) lose the '*'.
 *
 * Returns: 1 and *ret_type (malloc'ed) and *ret_what (malloc'ed, or NULL
 *          when unknown), 0 when the type's name cannot be read, or -ENOMEM.
 * Borrows: @dwfl and @mem.
 */
int btc_unwind_cxx_exception(Dwfl *dwfl, struct btc_unwind_mem *mem, uint64_t object,
                             uint64_t tinfo, char **ret_type, char **ret_what);

#endif
