/* db_minidump: a report's minidump, DIR/<uuid>.dmp (BACKTRACE_FORMAT=minidump,
 * see db.h): written as atomically as the report itself, and opened for
 * sending only as the database's own regular file. */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_internal.h"
#include "fileio.h"

int
btc_db_store_minidump(const char *dir, const char *uuid, const void *data, size_t len)
{
    char name[128], tmp[256];
    int dirfd, fd, r;

    if (!uuid || !btc_db_uuid_is_safe(uuid) || (!data && len > 0))
        return -EINVAL;
    dirfd = btc_db_open_dir(dir, true);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.dmp", uuid);
    /* The same temporary file as a report's: locked while written, so that
     * a prune does not take it, and renamed whole into place, so that a
     * sender never reads half a dump. */
    fd = btc_db_open_temp(dirfd, name, tmp, sizeof(tmp));
    if (fd < 0) {
        r = fd;
        goto done;
    }
    r = btc_file_write_all(fd, data, len);
    if (r < 0) {
        close(fd);
        unlinkat(dirfd, tmp, 0);
        goto done;
    }
    r = btc_db_commit_temp(dirfd, fd, tmp, name);
done:
    close(dirfd);
    return r;
}

int
btc_db_open_minidump(const char *dir, const char *uuid, int *ret_fd, uint64_t *ret_size)
{
    char name[128];
    struct stat st;
    int dirfd, fd, r;

    if (!uuid || !btc_db_uuid_is_safe(uuid) || !ret_fd || !ret_size)
        return -EINVAL;
    dirfd = btc_db_open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.dmp", uuid);
    /* O_NOFOLLOW: a link planted under the name is refused (-ELOOP), never
     * followed to a file of the user's that would then be uploaded.
     * O_NONBLOCK: opening a FIFO planted there must not block the sender;
     * it is refused below with everything else that is not a regular file. */
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    close(dirfd);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    *ret_fd = fd;
    *ret_size = (uint64_t)st.st_size;
    return 0;
}
