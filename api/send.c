/* send: see send.h. The helper is the one a crash starts (same candidate
 * paths, same environment), started with posix_spawn rather than the crash
 * path's raw clone: here the process is healthy, and posix_spawn handles
 * the signal mask, dispositions and descriptors for us. */
#include "send.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "helper_path.h"
#include "options.h"
#include "report.h"

/* The helper bounds its own work by the record's deadline; this much more
 * lets one that kept it write its answer and exit before it is killed. The
 * same half second DESIGN.md §1 allows a crashed process. */
#define ANSWER_GRACE_NS (500 * 1000000LL)
/* poll() slice: also bounds how late a helper's exit is noticed while
 * something else (a forked child of the program) holds the pipe open. */
#define WAIT_SLICE_MS 50
/* An answer is one small JSON object; anything longer is cut (and then
 * fails to parse, which counts as a failed helper). */
#define ANSWER_MAX (64 * 1024)

struct answer {
    char buf[ANSWER_MAX];
    size_t len;
    bool eof;
};

static int64_t
now_ns(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Move @fd to 10 or above (close-on-exec), closing the original, so the
 * helper's dup2 onto 3, 4 and 5 cannot clobber a descriptor still to be
 * placed (the program may have closed some low numbers). */
static int
fd_high(int *fd)
{
    int hi;

    if (*fd >= 10)
        return 0;
    hi = fcntl(*fd, F_DUPFD_CLOEXEC, 10);
    if (hi < 0)
        return -errno;
    close(*fd);
    *fd = hi;
    return 0;
}

static int
write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A memfd holding @len bytes of @a, then @len_b bytes of @b. */
static int
memfd_with(const char *name, const void *a, size_t len_a, const void *b, size_t len_b, int *ret_fd)
{
    int fd = memfd_create(name, MFD_CLOEXEC), r;

    if (fd < 0)
        return -errno;
    r = write_all(fd, a, len_a);
    if (r == 0 && len_b)
        r = write_all(fd, b, len_b);
    /* The helper's copy shares this file offset: rewind it, so the helper
     * may read() from the start, as it may from the crash path's memfd
     * (written with pwrite). */
    if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
        r = -errno;
    if (r == 0)
        r = fd_high(&fd);
    if (r < 0) {
        close(fd);
        return r;
    }
    *ret_fd = fd;
    return 0;
}

/* The record a crash would carry, with the API's flag and no signal. */
static void
fill_record(struct btc_crash_record *rec, const struct btc_api_stack *stack, int64_t mono,
            int64_t deadline)
{
    memset(rec, 0, sizeof(*rec));
    rec->magic = BTC_RECORD_MAGIC;
    rec->version = BTC_RECORD_VERSION;
    rec->header_size = sizeof(*rec);
    rec->flags = BTC_RECORD_F_API;
    rec->pid = (int32_t)getpid();
    rec->tid = (int32_t)stack->tid;
    rec->uid = (uint32_t)getuid();
    rec->euid = (uint32_t)geteuid();
    rec->signo = 0;
    rec->fault_time_ns = now_ns(CLOCK_REALTIME);
    rec->fault_mono_ns = mono;
    rec->deadline_mono_ns = deadline;
    memcpy(rec->regs, stack->regs, sizeof(rec->regs));
    rec->stack_start = stack->start;
    rec->stack_len = stack->len;
}

/* Start the helper on the three descriptors, trying each candidate path.
 * Returns 0 and *ret_pid, or -errno of the last candidate tried. */
static int
spawn_helper(int record_fd, int notify_fd, int userdata_fd, pid_t *ret_pid)
{
    static char mode[] = BTC_HELPER_MODE;
    const struct btc_crash_plan *plan = btc_api_options_plan();
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char path[BTC_PATH_MAX];
    int r = ENOENT;
    pid_t pid;

    if (posix_spawn_file_actions_init(&fa) != 0)
        return -ENOMEM;
    if (posix_spawnattr_init(&attr) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -ENOMEM;
    }
    /* dup2 clears close-on-exec on the copies; everything else above them,
     * the program's own descriptors included, is closed in the child. */
    if (posix_spawn_file_actions_adddup2(&fa, record_fd, BTC_RECORD_FD) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, notify_fd, BTC_NOTIFY_FD) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, userdata_fd, BTC_USERDATA_FD) != 0 ||
        posix_spawn_file_actions_addclosefrom_np(&fa, BTC_USERDATA_FD + 1) != 0) {
        r = ENOMEM;
        goto out;
    }
    /* The helper starts clean: nothing blocked, no signal ignored because
     * the program ignores it. Its own process group, so that a timeout
     * kills anything it started too. */
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    r = ENOENT;
    for (size_t i = 0; btc_helper_path_candidate(plan, i, path, sizeof(path)); i++) {
        char *argv[] = {path, mode, NULL};
        /* glibc reports a failed exec here, as the error of posix_spawn. */
        r = posix_spawn(&pid, path, &fa, &attr, argv, btc_api_options_env());
        if (r == 0) {
            *ret_pid = pid;
            break;
        }
        if (btc_api_options_debug())
            fprintf(stderr, "btcrash: btcrash_report_send: cannot start %s: %s\n", path,
                    strerror(r));
    }
out:
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return -r;
}

/* Whether @pid has ended (reaped now, with *ret_status). ECHILD: the
 * program reaped it first (a SIGCHLD handler calling waitpid(-1), or
 * SIGCHLD ignored); it has ended all the same, status unknown. */
static bool
reaped(pid_t pid, int options, int *ret_status)
{
    pid_t r;

    do
        r = waitpid(pid, ret_status, options);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == ECHILD)
        *ret_status = -1;
    return r == pid || (r < 0 && errno == ECHILD);
}

/* Read what is there; note EOF. Bytes past ANSWER_MAX are read and
 * dropped, so a runaway helper never blocks on a full pipe. */
static void
read_answer(int fd, struct answer *a)
{
    char sink[4096];
    char *dst = a->len < sizeof(a->buf) ? a->buf + a->len : sink;
    size_t room = a->len < sizeof(a->buf) ? sizeof(a->buf) - a->len : sizeof(sink);
    ssize_t n = read(fd, dst, room);

    if (n > 0 && dst != sink)
        a->len += (size_t)n;
    else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        a->eof = true;
}

/* Read the answer until EOF and the helper's exit, or until @deadline.
 * Returns true when the helper ended (reaped, *ret_status), false at the
 * deadline. */
static bool
wait_helper(pid_t pid, int fd, int64_t deadline, struct answer *a, int *ret_status)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    for (;;) {
        if (reaped(pid, WNOHANG, ret_status)) {
            /* Whatever it wrote before exiting is in the pipe; a forked
             * child of the program may hold the pipe open, so do not wait
             * for EOF, only take what is there. */
            while (!a->eof && poll(&pfd, 1, 0) > 0)
                read_answer(fd, a);
            return true;
        }
        int64_t left = deadline - now_ns(CLOCK_MONOTONIC);
        if (left <= 0)
            return false;
        int slice = left / 1000000 < WAIT_SLICE_MS ? (int)(left / 1000000) + 1 : WAIT_SLICE_MS;
        if (!a->eof) {
            /* EINTR: a signal of the program; the loop tries again. The
             * helper ptrace-stopping this thread looks the same. */
            if (poll(&pfd, 1, slice) > 0)
                read_answer(fd, a);
        } else {
            /* Answered; it is finishing. No descriptor tells when it exits. */
            struct timespec ts = {0, (slice < 5 ? slice : 5) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

static int
outcome_code(const char *outcome)
{
    static const struct {
        const char *name;
        int code;
    } k_outcomes[] = {
        {"sent", BTCRASH_SENT},          {"pending", BTCRASH_PENDING}, {"stored", BTCRASH_STORED},
        {"rejected", BTCRASH_EREJECTED}, {"failed", BTCRASH_EHELPER},
    };

    for (size_t i = 0; outcome && i < sizeof(k_outcomes) / sizeof(k_outcomes[0]); i++)
        if (strcmp(outcome, k_outcomes[i].name) == 0)
            return k_outcomes[i].code;
    return BTCRASH_EHELPER;
}

/* The outcome an answer reports; a missing or garbled one is the helper's
 * failure. */
static int
parse_answer(const struct answer *a, int status)
{
    json_t *root = a->len ? json_loadb(a->buf, a->len, 0, NULL) : NULL;
    const char *outcome = NULL, *error = NULL;
    int code;

    if (json_is_object(root)) {
        outcome = json_string_value(json_object_get(root, "outcome"));
        error = json_string_value(json_object_get(root, "error"));
    }
    code = outcome_code(outcome);
    if (btc_api_options_debug() && code < 0) {
        if (!outcome)
            fprintf(stderr, "btcrash: btcrash_report_send: the helper gave no answer (%s %d)\n",
                    status == -1          ? "status unknown"
                    : WIFSIGNALED(status) ? "killed by signal"
                                          : "exit status",
                    status == -1          ? 0
                    : WIFSIGNALED(status) ? WTERMSIG(status)
                                          : WEXITSTATUS(status));
        else
            fprintf(stderr, "btcrash: btcrash_report_send: %s%s%s\n", outcome, error ? ": " : "",
                    error ? error : "");
    }
    json_decref(root);
    return code;
}

/* Run the helper on a record and user data, and wait for its answer.
 * Returns the outcome, BTCRASH_EHELPER, -ETIMEDOUT or -errno; *ret_started
 * says whether a helper ran (the report then counts as sent). */
static int
run_helper(int record_fd, int userdata_fd, int64_t deadline, bool *ret_started)
{
    int pipefd[2] = {-1, -1}, status = 0, r;
    struct answer *a = NULL;
    pid_t pid = -1; /* spawn_helper sets it before any use; gcc 12's -O2 cannot tell */

    *ret_started = false;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        r = -errno;
        goto out;
    }
    r = fd_high(&pipefd[0]);
    if (r == 0)
        r = fd_high(&pipefd[1]);
    if (r < 0)
        goto out;
    r = spawn_helper(record_fd, pipefd[1], userdata_fd, &pid);
    close_fd(&pipefd[1]);
    if (r < 0) {
        r = BTCRASH_EHELPER;
        goto out;
    }
    *ret_started = true;
    /* Under Yama ptrace_scope=1 only ancestors may trace a process; the
     * helper is our child, so name it. Only one tracer can be named per
     * process: concurrent sends from several threads overwrite each
     * other's, and a helper refused ptrace reports from the stack copy. */
    (void)prctl(PR_SET_PTRACER, (unsigned long)pid, 0UL, 0UL, 0UL);

    if (wait_helper(pid, pipefd[0], deadline, a, &status)) {
        r = parse_answer(a, status);
        /* 127 without a word: the exec failed in a child that could not
         * report it to posix_spawn (fork-based emulations, e.g. valgrind).
         * Nothing ran, as when posix_spawn itself fails. */
        if (a->len == 0 && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
            *ret_started = false;
    } else {
        /* Late: stop it, and anything it started. An answer that was
         * complete still counts: the helper was only cleaning up. */
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        (void)reaped(pid, 0, &status);
        r = a->eof ? parse_answer(a, status) : -ETIMEDOUT;
    }
out:
    close_fd(&pipefd[0]);
    close_fd(&pipefd[1]);
    free(a);
    return r;
}

int
btc_api_report_send(btcrash_report *r)
{
    int record_fd = -1, userdata_fd = -1, ret;
    struct btc_crash_record rec;
    char *userdata = NULL;
    int64_t mono, deadline;
    bool started;
    json_t *ud;

    if (!r)
        return -EINVAL;
    pthread_mutex_lock(&r->lock);
    if (r->state != BTC_API_UNSENT) {
        pthread_mutex_unlock(&r->lock);
        return -EALREADY;
    }
    if (!r->stack.bytes) {
        /* No capture_stack: the stack is where the report is sent from. */
        ret = btc_api_capture(&r->stack);
        if (ret < 0)
            goto unlock;
    }
    ud = btc_api_report_userdata(r);
    userdata = ud ? json_dumps(ud, JSON_COMPACT) : NULL;
    json_decref(ud);
    if (!userdata) {
        ret = -ENOMEM;
        goto unlock;
    }
    mono = now_ns(CLOCK_MONOTONIC);
    deadline = mono + (int64_t)btc_api_options_timeout_ms() * 1000000;
    fill_record(&rec, &r->stack, mono, deadline);
    ret = memfd_with("btcrash-api-record", &rec, sizeof(rec), r->stack.bytes, r->stack.len,
                     &record_fd);
    if (ret == 0)
        ret = memfd_with("btcrash-api-userdata", userdata, strlen(userdata), NULL, 0, &userdata_fd);
    if (ret < 0)
        goto unlock;
    /* Claimed: a concurrent send gets -EALREADY, without waiting for us. */
    r->state = BTC_API_SENDING;
    pthread_mutex_unlock(&r->lock);

    ret = run_helper(record_fd, userdata_fd, deadline + ANSWER_GRACE_NS, &started);

    pthread_mutex_lock(&r->lock);
    /* Nothing reached a helper: the report may be sent again. */
    r->state = started ? BTC_API_SENT : BTC_API_UNSENT;
unlock:
    pthread_mutex_unlock(&r->lock);
    close_fd(&record_fd);
    close_fd(&userdata_fd);
    free(userdata);
    return ret;
}

int
btc_api_send_last_exception(const char *message, const char *attributes_json,
                            const char *annotations_json)
{
    btcrash_report *r = btc_api_report_new();
    int ret = 0;

    if (!r)
        return -ENOMEM;
    /* Every argument is checked before anything is captured or sent. */
    if (message)
        ret = btc_api_report_set_message(r, message);
    if (ret == 0 && attributes_json)
        ret = btc_api_report_set_dict_attributes(r, attributes_json);
    if (ret == 0 && annotations_json)
        ret = btc_api_report_set_dict_annotations(r, annotations_json);
    /* send captures the stack: this function's frame and the shim's are
     * btcrash's, dropped by the helper. */
    if (ret == 0)
        ret = btc_api_report_send(r);
    btc_api_report_free(r);
    return ret;
}
