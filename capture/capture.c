/* capture: see capture.h. Two steps: btc_capture_begin reads what needs
 * neither ptrace nor another thread (the crashing thread, from the record),
 * so a first report can be stored at once; btc_capture_others then stops
 * and unwinds the rest within its deadlines. Helper process only. */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abort_msg.h"
#include "clock.h"
#include "cxx_exception.h"
#include "dump_state.h"
#include "fileio.h"
#include "memory.h"
#include "modules.h"
#include "procinfo.h"
#include "ptrace_threads.h"
#include "scan.h"
#include "sysinfo.h"
#include "uuid.h"
#include "walk.h"

/* /proc/PID/maps read by the helper itself: the same bound as the record's. */
#define MAPS_MAX BTC_MAPS_MAX

struct btc_capture_session {
    const struct btc_crash_record *rec;
    const void *stack; /* the record's stack copy, or NULL */
    struct btc_capture *c;
    struct btc_unwind_tracees tracees;
    struct btc_unwind_mem mem;
    struct btc_unwind_walker walker;
    Dwfl *dwfl;
    int *tids; /* the threads offered to libdwfl: c->threads' tids */
    bool others_done;
    /* For a minidump (btc_capture_want_dump): the threads' whole state. */
    bool want_dump, dump_environ, dump_fault_done;
    struct btc_dump_state dump;
};

void
btc_capture_free(struct btc_capture *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->threads && i < c->nthreads; i++) {
        free(c->threads[i].name);
        free(c->threads[i].error);
        free(c->threads[i].frames);
    }
    free(c->threads);
    btc_unwind_modules_free(c->modules, c->nmodules);
    free(c->ptrace_error);
    free(c->exe_path);
    free(c->lang_version);
    free(c->maps);
    free(c->abort_message);
    free(c->cxx_type);
    free(c->cxx_what);
    json_decref(c->facts);
    free(c);
}

void
btc_capture_detach(struct btc_capture_session *s)
{
    if (s)
        btc_unwind_tracees_detach(&s->tracees);
}

void
btc_capture_session_free(struct btc_capture_session *s)
{
    if (!s)
        return;
    btc_unwind_tracees_detach(&s->tracees);
    if (s->dwfl)
        dwfl_end(s->dwfl);
    btc_unwind_mem_done(&s->mem);
    free(s->tids);
    btc_dump_state_done(&s->dump);
    btc_capture_free(s->c);
    free(s);
}

struct btc_capture *
btc_capture_get(const struct btc_capture_session *s)
{
    return s->c;
}

Dwfl *
btc_capture_dwfl(const struct btc_capture_session *s)
{
    return s->dwfl;
}

/* Append a thread to the capture and to the list libdwfl is offered. */
static struct btc_raw_thread *
add_thread(struct btc_capture_session *s, int tid)
{
    struct btc_capture *c = s->c;
    struct btc_raw_thread *v = realloc(c->threads, (c->nthreads + 1) * sizeof(*v));
    int *tids;

    if (!v)
        return NULL;
    c->threads = v;
    tids = realloc(s->tids, (c->nthreads + 1) * sizeof(*tids));
    if (!tids)
        return NULL;
    s->tids = tids;
    s->tids[c->nthreads] = tid;
    v[c->nthreads] = (struct btc_raw_thread){.tid = tid};
    c->nthreads++;
    s->walker.tids = s->tids;
    s->walker.ntids = c->nthreads;
    return &v[c->nthreads - 1];
}

/* Unwind @t until @deadline_ns: to the stack's real end (within
 * BTC_UNWIND_WALK_LIMIT frames), keeping its innermost and outermost
 * frames, and scanning the stack past a frame without CFI or frame
 * pointer, with libdwfl's symbols for the functions a return address must
 * point into. */
static int
unwind_thread(struct btc_capture_session *s, struct btc_raw_thread *t, int64_t deadline_ns)
{
    const struct btc_unwind_walk_opts opts = {
        .keep = BTC_UNWIND_MAX_FRAMES,
        .tail = BTC_UNWIND_TAIL_FRAMES,
        .limit = BTC_UNWIND_WALK_LIMIT,
        .deadline_ns = deadline_ns,
        .in_function = btc_scan_in_function_dwfl,
        .in_function_arg = s->dwfl,
    };
    struct btc_unwind_raw_stack raw = {0};
    int r = btc_unwind_walk_thread(s->dwfl, &s->walker, t->tid, &opts, &raw);

    if (r < 0)
        return r;
    t->frames = raw.frames;
    t->nframes = raw.n;
    t->omitted = raw.omitted;
    t->omitted_at = raw.omitted_at;
    t->truncated = raw.truncated;
    t->error = raw.error;
    /* A thread that has exited since it was unwound keeps its frames; it
     * only has no name. */
    r = btc_unwind_thread_name(s->c->rec.pid, t->tid, &t->name);
    return r == -ENOMEM ? r : 0;
}

static bool
raised_by_self(const struct btc_crash_record *rec)
{
    /* abort() sends the signal to its own thread with tgkill. */
    return (rec->si_code == SI_TKILL || rec->si_code == SI_USER || rec->si_code == SI_QUEUE) &&
           rec->sender_pid == rec->pid;
}

/* The message glibc left for an abort the process raised itself, and the
 * C++ exception the crashing thread last threw. A SIGABRT sent from outside
 * gets no message: __abort_msg may still hold the text of an earlier abort
 * that a handler caught. Memory that cannot be read (a non-dumpable
 * process) means no message, and that is no error. */
static int
collect_abort_facts(struct btc_capture_session *s)
{
    const struct btc_crash_record *rec = s->rec;
    struct btc_capture *c = s->c;
    int r = 0;

    if (rec->signo != SIGABRT)
        return 0;
    if (raised_by_self(rec))
        r = btc_unwind_abort_message(s->dwfl, &s->mem, &c->abort_message);
    if (r != -ENOMEM && rec->cxx_tinfo != 0)
        r = btc_unwind_cxx_exception(s->dwfl, &s->mem, rec->cxx_object, rec->cxx_tinfo,
                                     &c->cxx_type, &c->cxx_what);
    return r == -ENOMEM ? r : 0;
}

/* The executable: /proc/PID/exe, or, when the helper may not read that
 * link (a non-dumpable process), the first file in the memory map, where
 * the kernel maps the executable before anything else the loader adds. */
static int
collect_exe(struct btc_capture *c)
{
    const char *line = c->maps, *end = c->maps + c->maps_len;
    int r = btc_unwind_exe_path(c->rec.pid, &c->exe_path);

    if (r == -ENOMEM)
        return r;
    while (r < 0 && line && line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line)), *path;
        size_t len;

        len = (size_t)((nl ? nl : end) - line);
        path = memchr(line, '/', len);
        if (path) {
            c->exe_path = strndup(path, len - (size_t)(path - line));
            if (!c->exe_path)
                return -ENOMEM;
            r = 0;
        }
        line = nl ? nl + 1 : NULL;
    }
    r = btc_unwind_exe_comment(c->rec.pid, c->exe_path, &c->lang_version);
    return r == -ENOMEM ? r : 0;
}

/* The record's copy of the map when it has one (taken in the crashed
 * process, so it is exact even if the helper may not read the process's
 * /proc), else /proc/PID/maps. */
static int
collect_maps(struct btc_capture_session *s, const char *maps, size_t maps_len)
{
    struct btc_capture *c = s->c;
    char path[64];

    if (maps && maps_len > 0) {
        c->maps = malloc(maps_len + 1);
        if (!c->maps)
            return -ENOMEM;
        memcpy(c->maps, maps, maps_len);
        c->maps[maps_len] = '\0';
        c->maps_len = maps_len;
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/%d/maps", c->rec.pid);
    return btc_file_read_at(AT_FDCWD, path, MAPS_MAX, 0, &c->maps, &c->maps_len);
}

static void
say(char *why, size_t size, const char *what, int err)
{
    if (size > 0)
        snprintf(why, size, "%s: %s", what, strerror(-err));
}

int
btc_capture_begin(const struct btc_crash_record *rec, const void *stack, const char *maps,
                  size_t maps_len, int64_t unwind_deadline_ns, struct btc_capture_session **ret,
                  char *why, size_t size)
{
    struct btc_capture_session *s;
    struct btc_raw_thread *t;
    struct btc_capture *c;
    int r;

    if (!rec || !ret || rec->magic != BTC_RECORD_MAGIC || rec->pid <= 0 || rec->tid <= 0)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    c = s->c = calloc(1, sizeof(*c));
    if (!c) {
        free(s);
        return -ENOMEM;
    }
    s->rec = rec;
    s->stack = stack && rec->stack_len <= BTC_STACK_SNAPSHOT_MAX ? stack : NULL;
    c->rec = *rec;
    c->ptrace_ok = false;
    /* A missing random source is no reason to lose the crash; a uuid is
     * still needed to store it. */
    if (btc_uuid_v4(c->uuid) < 0)
        snprintf(c->uuid, sizeof(c->uuid), "00000000-0000-4000-8000-%04x%08x",
                 (unsigned)rec->pid & 0xffff, (unsigned)(rec->fault_time_ns / 1000000000));

    r = collect_maps(s, maps, maps_len);
    if (r == -ENOMEM)
        goto fail;
    /* The live map first: libdwfl then also finds the vDSO through the
     * process's auxv. The record's copy when the helper may not read it. */
    r = btc_unwind_dwfl_open(rec->pid, NULL, 0, &s->dwfl);
    if (r < 0 && r != -ENOMEM && c->maps && c->maps_len > 0)
        r = btc_unwind_dwfl_open(rec->pid, c->maps, c->maps_len, &s->dwfl);
    if (r == -EIO) {
        snprintf(why, size, "could not read its memory map: %s", dwfl_errmsg(-1));
        goto fail;
    }
    if (r < 0) {
        say(why, size, "could not read its memory map", r);
        goto fail;
    }
    r = btc_unwind_modules_list(s->dwfl, &c->modules, &c->nmodules);
    if (r < 0)
        goto fail;

    btc_unwind_mem_init(&s->mem, rec->pid, 0, s->stack, rec->stack_start, rec->stack_len);
    /* The call before a return address the stack scan considers, also in a
     * process that is not dumpable. */
    s->mem.dwfl = s->dwfl;
    s->walker = (struct btc_unwind_walker){.rec = rec, .mem = &s->mem};
    t = add_thread(s, rec->tid);
    if (!t) {
        r = -ENOMEM;
        goto fail;
    }
    t->fault = true;
    c->fault_thread = 0;
    if (btc_unwind_walk_attach(s->dwfl, &s->walker) < 0) {
        snprintf(why, size, "dwfl_attach_state: %s", dwfl_errmsg(-1));
        r = -EINVAL;
        goto fail;
    }
    r = unwind_thread(s, t, unwind_deadline_ns);
    if (r < 0)
        goto fail;
    r = collect_abort_facts(s);
    if (r == 0)
        r = collect_exe(c);
    if (r == 0)
        r = btc_sysinfo_collect(rec->pid, c->exe_path, &c->facts);
    if (r < 0)
        goto fail;
    *ret = s;
    return 0;
fail:
    if (r == -ENOMEM)
        say(why, size, "could not capture it", r);
    btc_capture_session_free(s);
    return r;
}

/* Why the capture lacks threads. Returns 0 or -ENOMEM. */
static int __attribute__((format(printf, 2, 3)))
set_ptrace_error(struct btc_capture *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    free(c->ptrace_error);
    va_start(ap, fmt);
    n = vasprintf(&c->ptrace_error, fmt, ap);
    va_end(ap);
    if (n < 0) {
        c->ptrace_error = NULL;
        return -ENOMEM;
    }
    return 0;
}

void
btc_capture_want_dump(struct btc_capture_session *s, bool environ)
{
    s->want_dump = true;
    s->dump_environ = environ;
}

/* The crashing thread and the /proc files, once. */
static int
dump_fault(struct btc_capture_session *s)
{
    int r;

    if (s->dump_fault_done)
        return 0;
    s->dump_fault_done = true;
    r = btc_dump_add_fault(&s->dump, s->rec, &s->mem, s->c->maps, s->c->maps_len);
    if (r == 0)
        r = btc_dump_read_proc(&s->dump, s->rec->pid, s->dump_environ);
    return r;
}

const struct btc_dump_state *
btc_capture_dump(struct btc_capture_session *s)
{
    if (!s->want_dump)
        return NULL;
    return dump_fault(s) < 0 ? NULL : &s->dump;
}

/* The other stopped threads' registers and stacks, for the minidump, until
 * @deadline_ns: past it, those left are not in it. */
static int
dump_others(struct btc_capture_session *s, int64_t deadline_ns)
{
    int r = 0;

    for (size_t i = 0; i < s->tracees.n && r >= 0; i++) {
        const struct btc_unwind_tracee *tr = &s->tracees.t[i];

        if (tr->tid == s->rec->tid || tr->gone || !tr->stopped)
            continue;
        if (btc_clock_now_ns() >= deadline_ns)
            break;
        r = btc_dump_add_stopped(&s->dump, tr->tid, &s->mem, s->c->maps, s->c->maps_len);
    }
    return r < 0 ? r : 0;
}

/* Stop all threads with ptrace. Without it the capture keeps the crashing
 * thread alone, which the record's registers and stack already gave. */
static int
stop_threads(struct btc_capture_session *s, int64_t deadline_ns, size_t *ret_unstopped)
{
    const struct btc_crash_record *rec = s->rec;
    struct btc_capture *c = s->c;
    const char *call = NULL;
    size_t unstopped = 0;
    int r;

    *ret_unstopped = 0;
    if (rec->flags & BTC_RECORD_F_NOT_DUMPABLE)
        return set_ptrace_error(c, "the process is not dumpable (it called "
                                   "prctl(PR_SET_DUMPABLE, 0), or changed its credentials)") < 0
                   ? -ENOMEM
                   : 1;
    r = btc_unwind_tracees_stop(rec->pid, deadline_ns, &s->tracees, &call);
    if (r == -ENOMEM)
        return r;
    if (r < 0) {
        return set_ptrace_error(c, "%s: %s", call ? call : "ptrace",
                                r == -EBUSY ? "every thread is traced by another process"
                                            : strerror(-r)) < 0
                   ? -ENOMEM
                   : 1;
    }
    for (size_t i = 0; i < s->tracees.n; i++)
        if (!s->tracees.t[i].gone && !s->tracees.t[i].stopped && s->tracees.t[i].tid != rec->tid)
            unstopped++;
    *ret_unstopped = unstopped;
    return 0;
}

int
btc_capture_others(struct btc_capture_session *s, int64_t stop_deadline_ns,
                   int64_t unwind_deadline_ns)
{
    const struct btc_crash_record *rec = s->rec;
    struct btc_capture *c = s->c;
    const struct btc_unwind_tracee *peek;
    size_t unstopped, unwound = 0, skipped = 0, unseized, busy;
    int r;

    if (s->others_done)
        return 0;
    s->others_done = true;
    r = stop_threads(s, stop_deadline_ns, &unstopped);
    if (r != 0)
        return r < 0 ? r : 0;
    /* Words the stopped threads hold, and what process_vm_readv cannot
     * read, come through PTRACE_PEEKDATA from now on. */
    peek = btc_unwind_tracees_find(&s->tracees, rec->tid);
    for (size_t i = 0; i < s->tracees.n && !peek; i++)
        peek = btc_unwind_tracees_find(&s->tracees, s->tracees.t[i].tid);
    s->mem.peek_tid = peek ? peek->tid : 0;
    if (s->want_dump) {
        r = dump_fault(s);
        if (r < 0)
            return r;
    }
    /* What process_vm_readv could not read before (it may be refused while
     * PTRACE_PEEKDATA works): the abort message and the C++ exception. */
    if (peek && !c->abort_message && !c->cxx_type) {
        r = collect_abort_facts(s);
        if (r < 0)
            return r;
    }

    for (size_t i = 0; i < s->tracees.n; i++) {
        const struct btc_unwind_tracee *tr = &s->tracees.t[i];
        struct btc_raw_thread *t;

        if (tr->tid == rec->tid || tr->gone || !tr->stopped)
            continue;
        if (unwound >= BTC_CAPTURE_MAX_THREADS) {
            skipped++;
            continue;
        }
        t = add_thread(s, tr->tid);
        if (!t)
            return -ENOMEM;
        unwound++;
        /* A deep or corrupt stack in one thread must not cost the report. */
        if (btc_clock_now_ns() >= unwind_deadline_ns) {
            t->truncated = true;
            t->error = strdup("not unwound: capture deadline reached");
            if (!t->error)
                return -ENOMEM;
            r = btc_unwind_thread_name(rec->pid, t->tid, &t->name);
            if (r == -ENOMEM)
                return r;
            continue;
        }
        r = unwind_thread(s, t, unwind_deadline_ns);
        if (r < 0)
            return r;
    }
    if (s->want_dump) {
        r = dump_others(s, unwind_deadline_ns);
        if (r < 0)
            return r;
    }
    unseized = s->tracees.nunseized;
    busy = s->tracees.nbusy;
    /* Symbolication needs files only: let the process go on to its end. */
    btc_unwind_tracees_detach(&s->tracees);

    c->ptrace_ok = unstopped == 0 && unseized == 0 && skipped == 0;
    if (unstopped > 0)
        return set_ptrace_error(c, "ptrace(PTRACE_INTERRUPT): %zu thread(s) did not stop in time",
                                unstopped);
    if (unseized > 0)
        return set_ptrace_error(c,
                                "ptrace(PTRACE_SEIZE): %zu thread(s) could not be seized, %zu of "
                                "them traced by another process",
                                unseized, busy);
    if (skipped > 0)
        return set_ptrace_error(c, "%zu thread(s) left out: a report holds at most %d", skipped,
                                BTC_CAPTURE_MAX_THREADS);
    return 0;
}
