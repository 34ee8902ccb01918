/* sys: raw system calls for the crash path and the constructor.
 * Going through syscall() rather than libc's wrappers keeps the library's
 * imports few (each costs a symbol look-up at load time, in every process
 * that inherits LD_PRELOAD, because the library is bound with -z now), and
 * leaves no doubt about async-signal-safety: these are bare kernel calls,
 * with no cancellation points, locks or caches. They return -1 and set errno
 * like the libc wrappers. */
#ifndef BTCRASH_PRELOAD_SYS_H
#define BTCRASH_PRELOAD_SYS_H

#include <poll.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline int
btc_sys_clock_gettime(clockid_t clock, struct timespec *ts)
{
    return (int)syscall(SYS_clock_gettime, clock, ts);
}

/* @clock in nanoseconds, 0 on failure. The system call, not the vDSO:
 * slower, but one import fewer, and only the crash path and the rare waits
 * ask for the time. */
static inline int64_t
btc_sys_now_ns(clockid_t clock)
{
    struct timespec ts;

    if (btc_sys_clock_gettime(clock, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int
btc_sys_close(int fd)
{
    return (int)syscall(SYS_close, fd);
}

static inline int
btc_sys_dup2(int fd, int to)
{
    return (int)syscall(SYS_dup2, fd, to);
}

static inline int
btc_sys_execve(const char *path, char *const argv[], char *const envp[])
{
    return (int)syscall(SYS_execve, path, argv, envp);
}

static inline int
btc_sys_fcntl(int fd, int cmd, long arg)
{
    return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

static inline pid_t
btc_sys_getpid(void)
{
    return (pid_t)syscall(SYS_getpid);
}

static inline pid_t
btc_sys_getppid(void)
{
    return (pid_t)syscall(SYS_getppid);
}

static inline uid_t
btc_sys_getuid(void)
{
    return (uid_t)syscall(SYS_getuid);
}

static inline uid_t
btc_sys_geteuid(void)
{
    return (uid_t)syscall(SYS_geteuid);
}

static inline pid_t
btc_sys_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static inline int
btc_sys_kill(pid_t pid, int sig)
{
    return (int)syscall(SYS_kill, pid, sig);
}

static inline int
btc_sys_memfd_create(const char *name, unsigned flags)
{
    return (int)syscall(SYS_memfd_create, name, flags);
}

static inline int
btc_sys_open(const char *path, int flags, mode_t mode)
{
    return (int)syscall(SYS_open, path, flags, mode);
}

static inline int
btc_sys_ftruncate(int fd, off_t len)
{
    return (int)syscall(SYS_ftruncate, fd, len);
}

/* prlimit64 on this process (pid 0); @new or @old may be NULL. */
static inline int
btc_sys_prlimit(int resource, const struct rlimit *new_limit, struct rlimit *old_limit)
{
    return (int)syscall(SYS_prlimit64, 0, resource, new_limit, old_limit);
}

static inline int
btc_sys_pipe2(int fds[2], int flags)
{
    return (int)syscall(SYS_pipe2, fds, flags);
}

static inline int
btc_sys_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    return (int)syscall(SYS_poll, fds, n, timeout_ms);
}

static inline int
btc_sys_prctl(int option, unsigned long arg)
{
    return (int)syscall(SYS_prctl, option, arg, 0UL, 0UL, 0UL);
}

static inline ssize_t
btc_sys_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return (ssize_t)syscall(SYS_pwrite64, fd, buf, n, off);
}

static inline ssize_t
btc_sys_read(int fd, void *buf, size_t n)
{
    return (ssize_t)syscall(SYS_read, fd, buf, n);
}

static inline ssize_t
btc_sys_write(int fd, const void *buf, size_t n)
{
    return (ssize_t)syscall(SYS_write, fd, buf, n);
}

static inline pid_t
btc_sys_waitpid(pid_t pid, int *status, int options)
{
    return (pid_t)syscall(SYS_wait4, pid, status, options, NULL);
}

static inline int
btc_sys_waitid(idtype_t type, id_t id, siginfo_t *si, int options)
{
    return (int)syscall(SYS_waitid, type, id, si, options, NULL);
}

static inline int
btc_sys_nanosleep(const struct timespec *ts)
{
    return (int)syscall(SYS_nanosleep, ts, NULL);
}

static inline int
btc_sys_setpgid(pid_t pid, pid_t pgid)
{
    return (int)syscall(SYS_setpgid, pid, pgid);
}

static inline int
btc_sys_tgkill(pid_t pid, pid_t tid, int sig)
{
    return (int)syscall(SYS_tgkill, pid, tid, sig);
}

static inline int
btc_sys_rt_tgsigqueueinfo(pid_t pid, pid_t tid, int sig, siginfo_t *si)
{
    return (int)syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, si);
}

static inline _Noreturn void
btc_sys_exit(int status)
{
    for (;;)
        syscall(SYS_exit, status);
}

#endif
