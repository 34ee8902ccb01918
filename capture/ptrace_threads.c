/* ptrace_threads: see ptrace_threads.h. */
#include "ptrace_threads.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* How long EPERM from PTRACE_SEIZE may just mean "PR_SET_PTRACER not set yet". */
#define SEIZE_EPERM_RETRY_NS (100 * 1000 * 1000LL)
/* Threads that did not stop by the deadline get this long to stop before detach. */
#define DETACH_GRACE_NS (20 * 1000 * 1000LL)
/* Threads can be created while we attach; give up rescanning after this many passes. */
#define MAX_SCAN_PASSES 64

static bool
has_tid(const struct btc_unwind_tracees *ts, int tid)
{
    for (size_t i = 0; i < ts->n; i++)
        if (ts->t[i].tid == tid)
            return true;
    return false;
}

static int
push_tracee(struct btc_unwind_tracees *ts, int tid)
{
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 16;
        struct btc_unwind_tracee *t = realloc(ts->t, cap * sizeof(*t));

        if (!t)
            return -ENOMEM;
        ts->t = t;
        ts->cap = cap;
    }
    ts->t[ts->n++] = (struct btc_unwind_tracee){.tid = tid};
    return 0;
}

static bool
was_unseized(const struct btc_unwind_tracees *ts, int tid)
{
    for (size_t i = 0; i < ts->nunseized; i++)
        if (ts->unseized[i] == tid)
            return true;
    return false;
}

static int
push_unseized(struct btc_unwind_tracees *ts, int tid, bool busy)
{
    int *v = realloc(ts->unseized, (ts->nunseized + 1) * sizeof(*v));

    if (!v)
        return -ENOMEM;
    ts->unseized = v;
    ts->unseized[ts->nunseized++] = tid;
    ts->nbusy += busy;
    return 0;
}

/* The thread ids in /proc/PID/task, in directory order. */
static int
list_tasks(int pid, int **ret_tids, size_t *ret_n)
{
    char path[64];
    int *tids = NULL;
    size_t n = 0, cap = 0;
    DIR *dir;
    int fd, r;

    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    dir = fdopendir(fd);
    if (!dir) {
        r = -errno;
        close(fd);
        return r;
    }
    for (;;) {
        struct dirent *de;
        char *end;
        long tid;

        errno = 0;
        de = readdir(dir);
        if (!de) {
            r = -errno;
            if (r < 0)
                goto fail;
            break;
        }
        tid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || tid <= 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            int *nt = realloc(tids, ncap * sizeof(*nt));

            if (!nt) {
                r = -ENOMEM;
                goto fail;
            }
            tids = nt;
            cap = ncap;
        }
        tids[n++] = (int)tid;
    }
    closedir(dir);
    *ret_tids = tids;
    *ret_n = n;
    return 0;
fail:
    closedir(dir);
    free(tids);
    return r;
}

static bool
has_tracer(int pid, int tid)
{
    char path[64], line[128];
    bool traced = false;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
    f = fopen(path, "re");
    if (!f)
        return false;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "TracerPid:", 10) == 0) {
            traced = strtol(line + 10, NULL, 10) > 0;
            break;
        }
    }
    fclose(f);
    return traced;
}

/* PTRACE_SEIZE, not PTRACE_ATTACH: ATTACH stops the thread with a SIGSTOP,
 * and if we died before detaching, that SIGSTOP could leave the whole process
 * group-stopped, i.e. hung forever instead of dying. A seized thread is
 * simply released when its tracer exits. Returns -EBUSY for EPERM on a
 * thread that another process traces. */
static int
seize(int pid, int tid, bool retry_eperm, int64_t start_ns, int64_t deadline_ns)
{
    for (;;) {
        int64_t now;

        if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) == 0)
            return 0;
        if (errno != EPERM)
            return -errno;
        if (has_tracer(pid, tid))
            return -EBUSY;
        if (!retry_eperm)
            return -EPERM;
        now = btc_clock_now_ns();
        if (now - start_ns >= SEIZE_EPERM_RETRY_NS || now >= deadline_ns)
            return -EPERM;
        btc_clock_sleep_ns(2 * 1000 * 1000);
    }
}

/* Collect the stop of @t if it has happened. Returns true when @t needs no
 * more waiting (stopped or gone). */
static bool
poll_stop(struct btc_unwind_tracee *t)
{
    int status;
    pid_t r;

    if (t->stopped || t->gone)
        return true;
    r = waitpid(t->tid, &status, __WALL | WNOHANG);
    if (r == 0)
        return false;
    if (r < 0) {
        if (errno == EINTR)
            return false;
        /* ECHILD: no longer our tracee, so it has exited. */
        t->gone = true;
        return true;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        t->gone = true;
        return true;
    }
    if (WIFSTOPPED(status)) {
        /* Without ptrace options the only stops are PTRACE_EVENT_STOP
         * (our interrupt, or a group-stop) and signal-delivery-stops; the
         * latter's signal must be handed back at detach or it would be lost. */
        if ((status >> 16) == 0)
            t->pending_sig = WSTOPSIG(status);
        t->stopped = true;
        return true;
    }
    return false;
}

/* Wait until every tracee is stopped or gone, or @deadline_ns passes; polls at
 * least once. Returns the number still running. */
static size_t
wait_stops(struct btc_unwind_tracees *ts, int64_t deadline_ns)
{
    for (;;) {
        size_t running = 0;

        for (size_t i = 0; i < ts->n; i++)
            if (!poll_stop(&ts->t[i]))
                running++;
        if (running == 0 || btc_clock_now_ns() >= deadline_ns)
            return running;
        btc_clock_sleep_ns(200 * 1000);
    }
}

int
btc_unwind_tracees_stop(int pid, int64_t deadline_ns, struct btc_unwind_tracees *ret,
                        const char **ret_call)
{
    struct btc_unwind_tracees ts = {.pid = pid};
    int64_t start = btc_clock_now_ns();
    const char *call = NULL;
    int r = 0;

    for (int pass = 0; pass < MAX_SCAN_PASSES; pass++) {
        int *tids = NULL;
        size_t ntids = 0, added = 0;

        r = list_tasks(pid, &tids, &ntids);
        if (r < 0) {
            call = "opendir(/proc/PID/task)";
            goto fail;
        }
        for (size_t i = 0; i < ntids; i++) {
            if (has_tid(&ts, tids[i]) || was_unseized(&ts, tids[i]))
                continue;
            r = seize(pid, tids[i], ts.n == 0, start, deadline_ns);
            if (r == -ESRCH)
                continue; /* exited before we got to it */
            if (r < 0 && ts.n == 0 && r != -EBUSY) {
                free(tids);
                call = "ptrace(PTRACE_SEIZE)";
                goto fail;
            }
            if (r < 0) {
                /* One odd thread must not cost us the others. */
                r = push_unseized(&ts, tids[i], r == -EBUSY);
                if (r < 0) {
                    free(tids);
                    call = "malloc";
                    goto fail;
                }
                continue;
            }
            r = push_tracee(&ts, tids[i]);
            if (r < 0) {
                ptrace(PTRACE_DETACH, tids[i], NULL, NULL);
                free(tids);
                call = "malloc";
                goto fail;
            }
            added++;
            if (ptrace(PTRACE_INTERRUPT, tids[i], NULL, NULL) < 0 && errno == ESRCH)
                ts.t[ts.n - 1].gone = true;
        }
        free(tids);
        if (added == 0)
            break;
    }
    if (ts.n == 0) {
        r = ts.nbusy > 0 ? -EBUSY : -ESRCH;
        call = "ptrace(PTRACE_SEIZE)";
        goto fail;
    }
    wait_stops(&ts, deadline_ns);
    *ret = ts;
    return 0;
fail:
    btc_unwind_tracees_detach(&ts);
    if (ret_call)
        *ret_call = call;
    return r;
}

const struct btc_unwind_tracee *
btc_unwind_tracees_find(const struct btc_unwind_tracees *ts, int tid)
{
    for (size_t i = 0; i < ts->n; i++)
        if (ts->t[i].tid == tid && ts->t[i].stopped)
            return &ts->t[i];
    return NULL;
}

int
btc_unwind_tracee_getregs(int tid, uint64_t ret_regs[BTC_REG_COUNT])
{
    struct user_regs_struct u;

    if (ptrace(PTRACE_GETREGS, tid, NULL, &u) < 0)
        return -errno;
    /* DWARF register numbers of the x86_64 psABI. */
    ret_regs[0] = u.rax;
    ret_regs[1] = u.rdx;
    ret_regs[2] = u.rcx;
    ret_regs[3] = u.rbx;
    ret_regs[4] = u.rsi;
    ret_regs[5] = u.rdi;
    ret_regs[6] = u.rbp;
    ret_regs[7] = u.rsp;
    ret_regs[8] = u.r8;
    ret_regs[9] = u.r9;
    ret_regs[10] = u.r10;
    ret_regs[11] = u.r11;
    ret_regs[12] = u.r12;
    ret_regs[13] = u.r13;
    ret_regs[14] = u.r14;
    ret_regs[15] = u.r15;
    ret_regs[16] = u.rip;
    return 0;
}

void
btc_unwind_tracees_detach(struct btc_unwind_tracees *ts)
{
    if (!ts)
        return;
    /* PTRACE_DETACH only works on a stopped tracee; our PTRACE_INTERRUPT is
     * still pending for the others, so give them a moment to stop. */
    wait_stops(ts, btc_clock_now_ns() + DETACH_GRACE_NS);
    for (size_t i = 0; i < ts->n; i++) {
        struct btc_unwind_tracee *t = &ts->t[i];

        if (t->stopped && !t->gone)
            ptrace(PTRACE_DETACH, t->tid, NULL, (void *)(uintptr_t)t->pending_sig);
    }
    free(ts->t);
    free(ts->unseized);
    ts->t = NULL;
    ts->unseized = NULL;
    ts->n = ts->cap = ts->nunseized = ts->nbusy = 0;
}
