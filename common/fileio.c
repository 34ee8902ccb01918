/* fileio: whole-file reads and complete writes (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a first read of a file whose size is unknown (0, as /proc files
 * report) allocates. */
#define READ_CHUNK 4096

int
btc_file_read_at(int dirfd, const char *path, size_t max, unsigned flags, char **ret_data,
                 size_t *ret_len)
{
    size_t len = 0, cap, limit = max;
    struct stat st;
    char *data = NULL, *bigger;
    int fd, r;

    fd = openat(dirfd, path,
                O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                    (flags & BTC_FILE_NOFOLLOW ? O_NOFOLLOW : 0));
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto fail;
    }
    if ((flags & BTC_FILE_REGULAR) && !S_ISREG(st.st_mode)) {
        r = -EINVAL;
        goto fail;
    }
    if (flags & BTC_FILE_SNAPSHOT) {
        if (st.st_size < 0 || (uint64_t)st.st_size > max) {
            r = -EFBIG;
            goto fail;
        }
        limit = (size_t)st.st_size;
    }
    /* One byte over the size, so that reaching the end of a file whose size
     * is right takes no second allocation. */
    cap =
        st.st_size > 0 && (uint64_t)st.st_size < SIZE_MAX - 1 ? (size_t)st.st_size + 1 : READ_CHUNK;
    if (cap > limit)
        cap = limit;
    data = malloc(cap + 1);
    if (!data) {
        r = -ENOMEM;
        goto fail;
    }
    while (len < limit) {
        ssize_t n;

        if (len == cap) {
            cap = cap > limit / 2 ? limit : cap * 2;
            /* cap + 1 must not wrap to a zero-byte allocation. */
            bigger = cap < SIZE_MAX ? realloc(data, cap + 1) : NULL;
            if (!bigger) {
                r = -ENOMEM;
                goto fail;
            }
            data = bigger;
        }
        n = read(fd, data + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    data[len] = '\0';
    *ret_data = data;
    *ret_len = len;
    return 0;
fail:
    free(data);
    close(fd);
    return r;
}

int
btc_file_write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int
btc_file_pwrite_all(int fd, const void *data, size_t len, off_t off)
{
    const char *p = data;

    while (len) {
        ssize_t n = pwrite(fd, p, len, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}
