/* memory: reads words of the crashed process for the unwinder, from the
 * handler's stack snapshot first, then process_vm_readv, then
 * PTRACE_PEEKDATA, and code, last, from the module files the process
 * mapped. Helper process only. */
#ifndef BTCRASH_UNWIND_MEMORY_H
#define BTCRASH_UNWIND_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#define BTC_UNWIND_MEM_PAGE  4096u
#define BTC_UNWIND_MEM_SLOTS 32u

struct btc_unwind_mem_page {
    uint64_t addr; /* page-aligned */
    bool valid;    /* data holds the page */
    bool failed;   /* process_vm_readv could not read it: do not ask again */
    unsigned char data[BTC_UNWIND_MEM_PAGE];
};

struct btc_unwind_mem {
    int pid;
    int peek_tid; /* a ptrace-stopped thread of pid for PTRACE_PEEKDATA, or 0 */
    const unsigned char *snap;
    uint64_t snap_start;
    uint64_t snap_len;
    /* Direct-mapped page cache: the unwinder reads the same stack words
     * many times, and a syscall per word would dominate capture time. */
    struct btc_unwind_mem_page *pages; /* BTC_UNWIND_MEM_SLOTS, allocated lazily */
    /* The process's modules, or NULL: code that the process will not let
     * us read (it is not dumpable) is read from their files instead, from
     * the executable sections, which the process cannot have changed. */
    Dwfl *dwfl;
};

/** Set up @m; borrows @snap (@snap_len bytes that were at @snap_start). */
void btc_unwind_mem_init(struct btc_unwind_mem *m, int pid, int peek_tid, const void *snap,
                         uint64_t snap_start, uint64_t snap_len);

/**
 * Read @len bytes at @addr into @buf, page by page: a page that
 * process_vm_readv cannot read is read with PTRACE_PEEKDATA when @m has a
 * stopped thread, else from a module's file when it is code there.
 * Returns: 0, or -EFAULT when any byte is unreadable (@buf then holds
 * garbage).
 */
int btc_unwind_mem_read(struct btc_unwind_mem *m, uint64_t addr, void *buf, size_t len);

/** Read the 8-byte word at @addr. Returns: 0, or -EFAULT. */
int btc_unwind_mem_read_word(struct btc_unwind_mem *m, uint64_t addr, uint64_t *ret_word);

/** Release the page cache; accepts a zeroed @m. */
void btc_unwind_mem_done(struct btc_unwind_mem *m);

#endif
