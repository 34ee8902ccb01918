/* inflate: debug files whose sections are compressed (SHF_COMPRESSED, as
 * Debian's -dbg packages ship them) decompressed ahead of need, by two
 * background threads, a section each at a time, into a sealed memfd
 * holding the same ELF file with its sections stored plain; libdwfl is
 * then given that descriptor and reads the file without inflating it on
 * the helper's critical path. Location lists (.debug_loclists, .debug_loc)
 * are left out, as SHT_NOBITS: btcrash reads no variable, and they are a
 * sixth of libc's inflating time. Helper process. */
#ifndef BTCRASH_CAPTURE_INFLATE_H
#define BTCRASH_CAPTURE_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btc_inflate;

/* The largest build-id a job is keyed by (GNU build-ids are 20 bytes). */
#define BTC_INFLATE_MAX_ID 64

/**
 * A set of jobs whose decompressed sections may total @max_bytes at most:
 * the memfds live as long as the set, and a file over what is left is
 * left to libdw.
 * Returns: 0 and *@ret, or -ENOMEM.
 */
int btc_inflate_new(uint64_t max_bytes, struct btc_inflate **ret);

/**
 * Queue the debug file @path of the module whose build-id is @id for
 * decompression in the background. Checked here, in the caller's thread:
 * a 64-bit ELF file of this machine's byte order, carrying that build-id,
 * with at least one zlib-compressed section, no .gnu_debugaltlink (libdw
 * would look for the alternate file beside the memfd), room left, and
 * descriptors to spare under RLIMIT_NOFILE for the one the image holds.
 * Returns: 1 queued, 0 not queued (also when @id is queued already), or
 *          -errno (-ENOMEM; -EAGAIN when the thread cannot start).
 */
int btc_inflate_queue(struct btc_inflate *in, const char *path, const void *id, size_t id_len);

/** Whether the job for @id is queued or running: its image is not ready. */
bool btc_inflate_pending(struct btc_inflate *in, const void *id, size_t id_len);

/**
 * The decompressed image of the job for @id, waiting for it until
 * @deadline_ns (CLOCK_MONOTONIC) at the latest.
 * Returns: 0, *@ret_fd an O_CLOEXEC descriptor on it and *@ret_path a
 *          copy of the file's path (both the caller's, and the descriptor
 *          handed over: a second take finds none); -ENOENT when no job
 *          has @id, its job failed or its image was taken (read the file
 *          itself); -ETIMEDOUT at the deadline; -ENOMEM.
 */
int btc_inflate_take(struct btc_inflate *in, const void *id, size_t id_len, int64_t deadline_ns,
                     int *ret_fd, char **ret_path);

/**
 * Drop the set. A section being inflated cannot be interrupted inside
 * libelf: the threads finish theirs, skip the rest, and the last one out
 * frees the set, so that this never waits.
 */
void btc_inflate_free(struct btc_inflate *in);

#endif
