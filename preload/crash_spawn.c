/* crash_spawn: starts the helper from the signal handler and waits for it,
 * never past the deadline. Crash path: async-signal-safe only. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "helper_path.h"
#include "sys.h"
#include "strbuf.h"

/* How long the handler may still spend reaping a helper it had to kill. */
#define REAP_GRACE_NS (200 * 1000000LL)
/* poll() slice: also bounds how late we notice a helper that exited while a
 * forked sibling still holds the notify pipe open. */
#define WAIT_SLICE_MS 50

/* The helper child runs on this stack, not the crashed thread's: that stack
 * may be the one that just overflowed. Reserved in .bss so nothing is
 * allocated at crash time. */
static char g_child_stack[64 * 1024] __attribute__((aligned(64)));

struct child_args {
    int record_fd;
    int notify_fd;
};

void
btc_crash_say(const char *msg, const char *detail, long num)
{
    char line[512];
    struct btc_strbuf b;

    btc_strbuf_init(&b, line, sizeof(line));
    btc_strbuf_puts(&b, "btcrash: ");
    btc_strbuf_puts(&b, msg);
    if (detail) {
        btc_strbuf_puts(&b, " ");
        btc_strbuf_put_printable(&b, detail, 300);
    }
    if (num >= 0) {
        btc_strbuf_puts(&b, " ");
        btc_strbuf_put_i64(&b, num);
    }
    btc_strbuf_finish_line(&b);
    /* Nothing useful can be done if stderr is gone. */
    (void)!btc_sys_write(STDERR_FILENO, b.buf, b.len);
}

void
btc_crash_say_errno(const char *msg, int err)
{
    char line[512];
    struct btc_strbuf b;
    const char *words = btc_crash_errno_words(err);

    btc_strbuf_init(&b, line, sizeof(line));
    btc_strbuf_puts(&b, "btcrash: ");
    btc_strbuf_puts(&b, msg);
    btc_strbuf_puts(&b, ": ");
    if (words) {
        btc_strbuf_puts(&b, words);
    } else {
        btc_strbuf_puts(&b, "errno ");
        btc_strbuf_put_i64(&b, err < 0 ? -(int64_t)err : err);
    }
    btc_strbuf_finish_line(&b);
    (void)!btc_sys_write(STDERR_FILENO, b.buf, b.len);
}

int
btc_crash_fd_high(int fd)
{
    int hi, err;

    if (fd >= 10)
        return fd;
    hi = btc_sys_fcntl(fd, F_DUPFD_CLOEXEC, 10);
    err = errno;
    btc_sys_close(fd);
    if (hi >= 0)
        return hi;
    /* F_DUPFD says EINVAL, not EMFILE, when 10 is at or above the soft
     * RLIMIT_NOFILE: that is the limit the message is to name. */
    return err == EINVAL ? -EMFILE : -err;
}

/* Runs in the child, which shares the parent's memory until execve
 * (CLONE_VM | CLONE_VFORK): it may only place descriptors and exec. The
 * signal mask stays fully blocked across execve; the helper unblocks itself,
 * so no handler of the crashed program can ever run in this child. */
static int
child_main(void *arg)
{
    const struct child_args *a = arg;
    static char mode[] = BTC_HELPER_MODE;

    /* Its own process group, so a timeout kills anything it started too. */
    (void)btc_sys_setpgid(0, 0);
    if (btc_sys_dup2(a->record_fd, BTC_RECORD_FD) < 0 ||
        btc_sys_dup2(a->notify_fd, BTC_NOTIFY_FD) < 0)
        btc_sys_exit(126);
    /* On the child's own stack (g_child_stack), which is large enough. */
    char path[BTC_PATH_MAX];
    /* btcrash_initialize may publish a new environment at any time; the
     * pointer is swapped atomically and the old block is never freed. */
    char *const *envp = __atomic_load_n(&btc_crash_plan.envp, __ATOMIC_ACQUIRE);
    for (size_t i = 0; btc_helper_path_candidate(&btc_crash_plan, i, path, sizeof(path)); i++) {
        char *argv[] = {path, mode, NULL};
        btc_sys_execve(path, argv, envp);
    }
    btc_sys_exit(127);
}

static bool
reap(pid_t pid, int *ret_status)
{
    pid_t r;

    do
        r = btc_sys_waitpid(pid, ret_status, __WALL | WNOHANG);
    while (r < 0 && errno == EINTR);
    /* ECHILD: someone else reaped it (a program calling btc_sys_waitpid(-1, __WALL)). */
    return r == pid || (r < 0 && errno == ECHILD);
}

enum wait_result { HELPER_DONE, HELPER_EXITED, HELPER_LATE };

/* Wait until the helper writes BTC_NOTIFY_DONE on @notify_fd (it has stored
 * the report, and may go on cleaning up without us), or exits (reaped, with
 * *ret_status), or @deadline passes. *stored becomes true once the helper
 * has written BTC_NOTIFY_STORED (a first report is kept). */
static enum wait_result
wait_helper(pid_t pid, int notify_fd, int64_t deadline, int *ret_status, bool *stored)
{
    struct pollfd pfd = {.fd = notify_fd, .events = POLLIN};

    for (;;) {
        if (reap(pid, ret_status))
            return HELPER_EXITED;
        int64_t left = deadline - btc_sys_now_ns(CLOCK_MONOTONIC);
        if (left <= 0)
            return HELPER_LATE;
        int slice = left / 1000000 < WAIT_SLICE_MS ? (int)(left / 1000000) + 1 : WAIT_SLICE_MS;
        /* poll is async-signal-safe. EINTR cannot happen (all signals are
         * blocked in the handler), but a retry is harmless. */
        int n = btc_sys_poll(&pfd, 1, slice);
        if (n > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLIN))) {
            char c;
            ssize_t got = btc_sys_read(notify_fd, &c, 1);
            if (got == 1 && c == BTC_NOTIFY_STORED)
                *stored = true;
            if (got == 1 && c == BTC_NOTIFY_DONE) {
                (void)reap(pid, ret_status); /* if it has exited already */
                return HELPER_DONE;
            }
            if (got <= 0)
                pfd.fd = -1; /* closed without "done": it is exiting; reap it */
        }
    }
}

/* The helper is stopped at the deadline before it said BTC_NOTIFY_STORED:
 * nothing of this crash is in the database, nor on stderr. Most often the
 * timeout is too short for this program (a big one, debug files fetched,
 * a slow disk): say so, with the timeout in force. */
static void
say_lost(const struct btc_crash_record *rec)
{
    char line[256];
    struct btc_strbuf b;

    btc_strbuf_init(&b, line, sizeof(line));
    btc_strbuf_puts(&b, "btcrash: report lost: timeout too short (BACKTRACE_TIMEOUT=");
    btc_strbuf_put_i64(&b, (rec->deadline_mono_ns - rec->fault_mono_ns) / 1000000);
    btc_strbuf_puts(&b, " ms): the helper had kept nothing by the deadline; stopping it");
    btc_strbuf_finish_line(&b);
    (void)!btc_sys_write(STDERR_FILENO, b.buf, b.len);
}

int
btc_crash_run_helper(const struct btc_crash_record *rec, int record_fd)
{
    struct child_args args = {.record_fd = record_fd, .notify_fd = -1};
    int pipefd[2], status = 0, r = 0;
    pid_t pid;

    if (btc_sys_pipe2(pipefd, O_CLOEXEC) < 0) {
        r = -errno;
        btc_crash_say_errno("could not start the helper (pipe)", r);
        return r;
    }
    pipefd[0] = btc_crash_fd_high(pipefd[0]);
    pipefd[1] = btc_crash_fd_high(pipefd[1]);
    if (pipefd[0] < 0 || pipefd[1] < 0) {
        r = pipefd[0] < 0 ? pipefd[0] : pipefd[1];
        btc_crash_say_errno("could not start the helper (pipe)", r);
        goto out;
    }
    args.notify_fd = pipefd[1];

    /* Not fork(): it runs atfork handlers and copies the address space, and
     * neither is safe or cheap here. CLONE_VFORK suspends us until the child
     * has exec'ed. No exit signal: the program's SIGCHLD handler must never
     * see, or reap, our helper. */
    pid = clone(child_main, g_child_stack + sizeof(g_child_stack), CLONE_VM | CLONE_VFORK, &args);
    btc_sys_close(pipefd[1]);
    pipefd[1] = -1;
    if (pid < 0) {
        r = -errno;
        btc_crash_say_errno("could not start the helper (clone)", r);
        goto out;
    }
    /* Under Yama ptrace_scope=1 only ancestors may trace us; the helper is our
     * child, so name it. It retries its attach briefly in case it is faster
     * than this call. */
    (void)btc_sys_prctl(PR_SET_PTRACER, (unsigned long)pid);

    bool stored = false;
    enum wait_result w = wait_helper(pid, pipefd[0], rec->deadline_mono_ns, &status, &stored);
    if (w == HELPER_DONE) {
        /* Not reaped if still cleaning up: our death hands it to init. */
    } else if (w == HELPER_LATE) {
        if (stored)
            btc_crash_say("the helper did not finish within BACKTRACE_TIMEOUT; stopping it "
                          "(the report was kept)",
                          NULL, -1);
        else
            say_lost(rec);
        btc_sys_kill(-pid, SIGKILL);
        btc_sys_kill(pid, SIGKILL);
        (void)wait_helper(pid, -1, btc_sys_now_ns(CLOCK_MONOTONIC) + REAP_GRACE_NS, &status,
                          &stored);
        r = -ETIMEDOUT;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        char path[BTC_PATH_MAX];
        btc_crash_say("no helper could be started; tried",
                      btc_helper_path_candidate(&btc_crash_plan, 0, path, sizeof(path)) ? path
                                                                                        : "nothing",
                      -1);
        r = -ENOENT;
    } else if (WIFSIGNALED(status)) {
        btc_crash_say("the helper was killed by signal", NULL, WTERMSIG(status));
        r = -ECHILD;
    }
out:
    if (pipefd[0] >= 0)
        btc_sys_close(pipefd[0]);
    if (pipefd[1] >= 0)
        btc_sys_close(pipefd[1]);
    return r;
}
