/* crash_errno: words for the errno values the crash path can meet, so that
 * its one line on stderr says why a report was lost rather than printing a
 * bare number. A static table: strerror() is not async-signal-safe (it may
 * translate, hence lock and allocate), and the texts here also name the
 * limit to raise. Crash path: async-signal-safe; pure. */
#include <errno.h>
#include <stddef.h>

#include "crash.h"

struct errno_words {
    int err;
    const char *words;
};

/* The limits are named where they are what the user can change: the
 * handler raises the soft limits it can (crash_handler.c), so what is left
 * is a hard limit, or the system's. */
static const struct errno_words k_words[] = {
    {EMFILE, "too many open files (RLIMIT_NOFILE)"},
    {ENFILE, "too many open files in the system (fs.file-max)"},
    {ENOMEM, "out of memory"},
    {EFBIG, "file too large (RLIMIT_FSIZE)"},
    {ENOSPC, "no space left on the device"},
    {EDQUOT, "disk quota exceeded"},
    {EACCES, "permission denied"},
    {EPERM, "operation not permitted"},
    {EAGAIN, "resource temporarily unavailable (for a new process: RLIMIT_NPROC)"},
    {EROFS, "read-only file system"},
    {ENOENT, "no such file or directory"},
    {ENOSYS, "not supported by this kernel, or forbidden by a seccomp filter"},
    {EINVAL, "invalid argument"},
    {EINTR, "interrupted"},
    {EIO, "input/output error"},
    {EBADF, "bad file descriptor"},
    {EFAULT, "bad address"},
    {ETIMEDOUT, "timed out"},
    {ENAMETOOLONG, "file name too long"},
    {ESRCH, "no such process"},
    {ECHILD, "no child process"},
};

const char *
btc_crash_errno_words(int err)
{
    if (err < 0)
        err = -err;
    for (size_t i = 0; i < sizeof(k_words) / sizeof(k_words[0]); i++) {
        if (k_words[i].err == err)
            return k_words[i].words;
    }
    return NULL;
}
