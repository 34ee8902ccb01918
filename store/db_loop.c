/* db_loop: the crash-loop record of one crash signature, DIR/<sig>.loop
 * (see db.h): when a report of it was last sent, and how many crashes of
 * it were kept since without being sent. Read and written under its
 * flock, so that crashes at once decide one after the other. */
#include "db.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "db_internal.h"
#include "fileio.h"

/* The record is small; anything longer is not ours. */
#define LOOP_MAX_BYTES 4096

bool
btc_db_hex_id_is_safe(const char *id)
{
    if (!id || strlen(id) != 64)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* flock without waiting forever: another helper holds it for a read and a
 * write, a few milliseconds. */
static int
lock_until(int fd, int64_t deadline_mono_ns)
{
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        if (btc_clock_now_ns() >= deadline_mono_ns)
            return -ETIMEDOUT;
        usleep(2000);
    }
}

static void
parse_loop(int fd, struct btc_db_loop *l)
{
    char buf[LOOP_MAX_BYTES + 1];
    ssize_t n = pread(fd, buf, LOOP_MAX_BYTES, 0);
    json_t *v;

    l->sent_at = 0;
    l->throttled = 0;
    if (n <= 0)
        return; /* new */
    v = json_loadb(buf, (size_t)n, 0, NULL);
    /* A record cut short by a killed writer reads as new: its count is
     * lost, the reports it counted are still in the database. */
    l->sent_at = (int64_t)json_integer_value(json_object_get(v, "sent_at"));
    l->throttled = (int64_t)json_integer_value(json_object_get(v, "throttled"));
    if (l->throttled < 0)
        l->throttled = 0;
    json_decref(v);
}

int
btc_db_loop_open(const char *dir, const char *sig, int64_t deadline_mono_ns,
                 struct btc_db_loop *ret)
{
    char name[128];
    struct stat st;
    int dirfd, fd, r;

    if (!btc_db_hex_id_is_safe(sig) || !ret)
        return -EINVAL;
    dirfd = btc_db_open_dir(dir, true);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.loop", sig);
    /* O_NOFOLLOW: a planted link is refused, never written through. */
    fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                0600);
    close(dirfd);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        r = -errno;
    else if (!S_ISREG(st.st_mode))
        r = -EINVAL;
    else if (st.st_uid != geteuid())
        r = -EPERM; /* someone else's record is no input of ours */
    else
        r = lock_until(fd, deadline_mono_ns);
    if (r < 0) {
        close(fd);
        return r;
    }
    ret->fd = fd;
    parse_loop(fd, ret);
    return 0;
}

int
btc_db_loop_close(struct btc_db_loop *l, bool write)
{
    char text[128];
    int n, r = 0;

    if (!l || l->fd < 0)
        return -EINVAL;
    if (write) {
        n = snprintf(text, sizeof(text), "{\"sent_at\":%lld,\"throttled\":%lld}\n",
                     (long long)l->sent_at, (long long)l->throttled);
        /* In place, under the lock: the record is one short line. */
        if (ftruncate(l->fd, 0) < 0 || pwrite(l->fd, text, (size_t)n, 0) != n)
            r = errno ? -errno : -EIO;
    }
    close(l->fd); /* and with it the lock */
    l->fd = -1;
    return r;
}

int
btc_db_loop_list(const char *dir, char (**ret_sigs)[65], size_t *ret_n)
{
    char(*sigs)[65] = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int dirfd;
    DIR *d;

    dirfd = btc_db_open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return -errno;
    }
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);

        if (len != 64 + 5 || strcmp(de->d_name + 64, ".loop") != 0)
            continue;
        if (n == cap) {
            void *grown = realloc(sigs, (cap = cap ? cap * 2 : 8) * sizeof(*sigs));

            if (!grown) {
                free(sigs);
                closedir(d);
                return -ENOMEM;
            }
            sigs = grown;
        }
        memcpy(sigs[n], de->d_name, 64);
        sigs[n][64] = '\0';
        if (btc_db_hex_id_is_safe(sigs[n]))
            n++;
    }
    closedir(d);
    *ret_sigs = sigs;
    *ret_n = n;
    return 0;
}
