/* crash_maps: copies a text, /proc/self/maps in the crash handler, into the
 * record's file in whole lines (crash_record.c). Crash path: async-signal-
 * safe only; raw system calls, a small buffer on the (alternate) stack, no
 * allocation. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "crash.h"
#include "sys.h"

/* Read and written in pieces this big: the text goes straight on to the
 * file, so nothing needs reserving for it, and the handler's stack (64 KiB
 * of alternate stack) has room. */
#define CHUNK 4096

static int
pwrite_all(int fd, const char *p, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = btc_sys_pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

uint64_t
btc_crash_copy_lines(int src_fd, int dst_fd, off_t off, uint64_t max, int64_t deadline_ns,
                     bool *ret_cut)
{
    char buf[CHUNK];
    uint64_t total = 0; /* bytes written at @off */
    uint64_t kept = 0;  /* of those, up to the end of the last whole line */
    bool cut = false;

    for (;;) {
        /* Bounded by the crash's deadline as well as by @max: reading
         * /proc/self/maps takes the kernel's mmap lock for each piece,
         * which a thread that is still running may hold for a while. */
        if (btc_sys_now_ns(CLOCK_MONOTONIC) >= deadline_ns) {
            cut = true;
            break;
        }
        size_t want = max - total < CHUNK ? (size_t)(max - total) : CHUNK;
        if (want == 0) {
            /* At the limit: cut, unless the text ends right here. */
            char c;
            ssize_t n;
            do
                n = btc_sys_read(src_fd, &c, 1);
            while (n < 0 && errno == EINTR);
            cut = n != 0;
            break;
        }
        ssize_t n = btc_sys_read(src_fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cut = true; /* what was read is kept; the rest is missing */
            break;
        }
        if (n == 0)
            break;
        /* A write that fails (EFBIG at a hard RLIMIT_FSIZE, ENOSPC in a
         * /tmp fallback) keeps the lines written before it. */
        if (pwrite_all(dst_fd, buf, (size_t)n, off + (off_t)total) < 0) {
            cut = true;
            break;
        }
        for (ssize_t i = n; i > 0; i--) {
            if (buf[i - 1] == '\n') {
                kept = total + (uint64_t)i;
                break;
            }
        }
        total += (uint64_t)n;
    }
    if (kept != total)
        cut = true; /* a partial line at the end: the limit fell inside it */
    /* Drop whatever lies past the last whole line (that partial line, or
     * part of a failed write), so the file ends where the kept text does. */
    if (cut)
        (void)btc_sys_ftruncate(dst_fd, off + (off_t)kept);
    *ret_cut = cut;
    return kept;
}
