/* uuid: version 4 UUIDs. */
#include "uuid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/random.h>
#include <unistd.h>

/* Kernels before 3.17 lack getrandom(2); their /dev/urandom is as good. */
static int
read_urandom(uint8_t *b, size_t n)
{
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int r = k < 0 ? -errno : -EIO;

            close(fd);
            return r;
        }
        got += (size_t)k;
    }
    close(fd);
    return 0;
}

int
btc_uuid_v4(char *buf)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    size_t got = 0;
    char *o = buf;

    while (got < sizeof(b)) {
        /* Flags 0: block until the pool is initialised, which only matters
         * in early boot; a predictable report id would be worse. */
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOSYS) {
                int r = read_urandom(b, sizeof(b));

                if (r < 0)
                    return r;
                break;
            }
            return -errno;
        }
        got += (size_t)n;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
    return 0;
}
