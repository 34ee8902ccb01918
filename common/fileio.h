/* fileio: whole-file reads into a NUL-terminated buffer and complete writes,
 * retrying EINTR and short transfers. Helper process and btcrash command. */
#ifndef BTCRASH_FILEIO_H
#define BTCRASH_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Refuse anything but a regular file (-EINVAL): a FIFO or device planted
 * under a file's name must not feed or drive the reader. */
#define BTC_FILE_REGULAR (1u << 0)
/* Refuse a symbolic link as the last component of the path (-ELOOP). */
#define BTC_FILE_NOFOLLOW (1u << 1)
/* Take the size fstat gives at open as the file's length: refuse a file
 * longer than @max (-EFBIG) rather than cut it, and read no more than that
 * size, so a file growing meanwhile is cut there. Meant for regular files;
 * without it the size is only a hint and the file is read to its end. */
#define BTC_FILE_SNAPSHOT (1u << 2)

/**
 * Read @path (relative to @dirfd, which may be AT_FDCWD) whole, at most
 * @max bytes (SIZE_MAX: no limit); without BTC_FILE_SNAPSHOT, bytes past
 * @max are silently left unread. The file is opened O_NONBLOCK, so a FIFO
 * never blocks the reader: it reads as empty or fails with -EAGAIN.
 *
 * Returns: 0, *ret_data (malloc'ed, NUL-terminated after *ret_len bytes;
 *          the data itself may hold NULs), or -errno (see the flags).
 * Borrows: @path.
 */
int btc_file_read_at(int dirfd, const char *path, size_t max, unsigned flags, char **ret_data,
                     size_t *ret_len);

/**
 * Write all @len bytes of @data to @fd.
 *
 * Returns: 0 or -errno; on failure part of @data may have been written.
 */
int btc_file_write_all(int fd, const char *data, size_t len);

/**
 * Write all @len bytes of @data to @fd at offset @off (pwrite: the file
 * offset stays, so threads may write parts of one file at once).
 *
 * Returns: 0 or -errno (-EIO for a write of 0 bytes); on failure part of
 *          @data may have been written.
 */
int btc_file_pwrite_all(int fd, const void *data, size_t len, off_t off);

#endif
