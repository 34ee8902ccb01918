/* crash_helper: see crash_helper.h. Runs in the helper process while the
 * crashed process waits in its signal handler, until the record's deadline;
 * or, for a C API report, while the calling thread waits in
 * btcrash_report_send.
 *
 * Store first, improve later: a valid report is stored as soon as the
 * crashing thread's raw frames are known, then replaced by better versions
 * as each stage ends (the other threads, the crashing thread's symbols,
 * the others', source context, attachments), each within its share of the
 * time (budget.h). What the database holds when time runs out is what is
 * sent or kept, and it says what it lacks. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>

#include "attachments.h"
#include "budget.h"
#include "capture.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "crash_helper.h"
#include "crash_loop.h"
#include "crash_record.h"
#include "debuginfod.h"
#include "db.h"
#include "deliver.h"
#include "fileio.h"
#include "helper_api.h"
#include "http.h"
#include "json_util.h"
#include "loops.h"
#include "minidump.h"
#include "modules.h"
#include "outcome.h"
#include "print.h"
#include "record_check.h"
#include "report.h"
#include "source.h"
#include "symbols.h"
#include "view.h"

/* The crashed process inherited descriptors into us (all those without
 * close-on-exec), and blocked every signal before exec'ing us. The user data
 * descriptor is kept until the record says whether it is one. */
static void
sanitize_process(void)
{
    struct rlimit lim;
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A write past RLIMIT_FSIZE then fails with EFBIG, which the database
     * words, instead of killing us with the report unstored. */
    signal(SIGXFSZ, SIG_IGN);
    close_range(BTC_USERDATA_FD + 1, ~0u, 0);
    /* The crashed process's soft limits came along over exec; what the hard
     * limits allow is ours to use (libdw opens every module, the database
     * a few files per report). */
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &lim);
    }
    if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        (void)setrlimit(RLIMIT_FSIZE, &lim);
    }
}

/* Tell the crashed process that a report is kept: killed at its deadline
 * from now on, we lose improvements, not the report (crash_record.h). */
static void
say_kept(void)
{
    char kept = BTC_NOTIFY_STORED;

    if (write(BTC_NOTIFY_FD, &kept, 1) != 1 && errno != EBADF)
        fprintf(stderr, "btcrash: could not notify the crashed process: %s\n", strerror(errno));
}

/* Tell the crashed process it need not wait for us any longer: it re-raises
 * and dies while we free what we used. */
static void
release_crashed_process(void)
{
    /* Once only: after the close, the descriptor number may be a socket of
     * the upload's (BACKTRACE_WAIT_FOR_UPLOAD=0 releases before it). */
    static bool released;
    char done = BTC_NOTIFY_DONE;

    if (released)
        return;
    released = true;
    if (write(BTC_NOTIFY_FD, &done, 1) != 1 && errno != EBADF)
        fprintf(stderr, "btcrash: could not notify the crashed process: %s\n", strerror(errno));
    close(BTC_NOTIFY_FD);
}

/* Map the record and its stack copy read-only from BTC_RECORD_FD. */
static int
map_record(const struct btc_crash_record **ret_rec, size_t *ret_size)
{
    struct stat st;
    const struct btc_crash_record *rec;
    void *mem;

    if (fstat(BTC_RECORD_FD, &st) != 0)
        return -errno;
    if ((size_t)st.st_size < sizeof(*rec))
        return -EBADMSG;
    mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, BTC_RECORD_FD, 0);
    if (mem == MAP_FAILED)
        return -errno;
    rec = mem;
    if (btc_record_check(mem, (size_t)st.st_size) < 0) {
        munmap(mem, (size_t)st.st_size);
        return -EBADMSG;
    }
    *ret_rec = rec;
    *ret_size = (size_t)st.st_size;
    return 0;
}

/* Debug output of the submission: btc_http_log_fn. */
static void
log_stderr(const char *line, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "btcrash: %s\n", line);
}

struct older {
    bool debug;
    int sent, rejected, kept;
};

static void
on_older(const char *uuid, int err, const struct btc_http_result *res, void *ctx)
{
    struct older *o = ctx;

    if (err == -EXDEV || err == -ENOTCONN || err == -EAGAIN)
        return; /* another endpoint's, local, or not due yet: left alone */
    if (err == 0 && res->outcome == BTC_HTTP_SENT)
        o->sent++;
    else if (err == 0 && res->outcome == BTC_HTTP_REJECTED)
        o->rejected++;
    else
        o->kept++;
    if (o->debug)
        btc_outcome_print(stderr, uuid, err, res, true);
}

/*
 * Endpoint mode: send the stored report @uuid, which we hold the claim
 * @claim on since it was stored (so no flush can send it meanwhile), then
 * (for a crash) older pending ones made for the same endpoint while time is
 * left. Returns the outcome of the new report's attempt. @quiet: nothing on
 * stderr but debug output.
 */
static int
deliver_stored(const char *dir, const char *uuid, int claim, const struct btc_config *cfg,
               int64_t deadline, bool api, bool quiet, struct btc_http_result *ret)
{
    btc_http_log_fn log = cfg->debug ? log_stderr : NULL;
    struct older older = {.debug = cfg->debug};
    int r, n;

    r = btc_deliver_claimed(dir, uuid, cfg, 0, deadline, log, NULL, ret);
    btc_db_unclaim(claim);
    if (!quiet)
        btc_outcome_print(stderr, uuid, r, ret, true);
    /* The server answered: worth offering it what earlier crashes left.
     * After a network error or time-out, the next attempt would fare alike.
     * Not on an API call's time: the caller is waiting, and the backlog is
     * for `btcrash flush` and the next crash. Only this endpoint's reports:
     * another program's (or a local-mode one) is not ours to send here. */
    if (r < 0 || ret->outcome == BTC_HTTP_RETRY || api)
        return r;
    n = btc_deliver_pending(dir, uuid, cfg, 0, cfg->timeout_ms, deadline, log, NULL, on_older,
                            &older);
    if (n < 0 && cfg->debug)
        fprintf(stderr, "btcrash: could not list older reports in %s: %s\n", dir, strerror(-n));
    if (n > 0 && !cfg->debug)
        fprintf(stderr, "btcrash: %d older report%s: %d sent, %d rejected, %d kept for retry\n", n,
                n == 1 ? "" : "s", older.sent, older.rejected, older.kept);
    return r;
}

/* The report could not be stored: send it from memory, the last chance;
 * its minidump (@dump, @dump_len) instead when there is one. The request
 * reads a dump from a descriptor: a memfd (close-on-exec) holds it.
 * Returns as btc_http_submit. */
static int
deliver_direct(json_t *report, const char *uuid, const unsigned char *dump, size_t dump_len,
               const struct btc_config *cfg, const struct btc_http_attachment *atts, size_t natts,
               int64_t deadline, bool quiet, struct btc_http_result *ret)
{
    struct btc_http_payload payload = {.format = BTC_CFG_FORMAT_JSON, .minidump_fd = -1};
    char *json = NULL;
    int r = 0;

    if (dump) {
        payload.minidump_fd = memfd_create("btcrash-minidump", MFD_CLOEXEC);
        r = payload.minidump_fd < 0
                ? -errno
                : btc_file_write_all(payload.minidump_fd, (const char *)dump, dump_len);
        if (r == 0) {
            payload.format = BTC_CFG_FORMAT_MINIDUMP;
            payload.uuid = uuid;
            payload.attributes = json_object_get(report, "attributes");
        } else if (!quiet) {
            fprintf(stderr,
                    "btcrash: could not hold the minidump to send it: %s; the JSON "
                    "report is sent instead\n",
                    strerror(-r));
        }
    }
    if (payload.format == BTC_CFG_FORMAT_JSON) {
        json = json_dumps(report, JSON_COMPACT);
        if (!json) {
            r = -ENOMEM;
            goto out;
        }
        payload.json = json;
        payload.len = strlen(json);
    }
    r = btc_http_submit_payload(cfg, &payload, atts, natts, deadline,
                                cfg->debug ? log_stderr : NULL, NULL, ret);
    if (!quiet)
        btc_outcome_print(stderr, uuid, r, ret, false);
out:
    if (payload.minidump_fd >= 0)
        close(payload.minidump_fd);
    free(json);
    return r;
}

/* A line on stderr, unless @quiet; and for an API report the reason it
 * failed, which the caller gets in the answer. */
static void __attribute__((format(printf, 3, 4)))
fail_line(struct btc_helper_answer *a, bool quiet, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(a->error, sizeof(a->error), fmt, ap);
    va_end(ap);
    a->outcome = "failed";
    if (!quiet)
        fprintf(stderr, "btcrash: %s\n", a->error);
}

/* The state a report is stored with (db.h): pending, the endpoint it is
 * made for (a hash and a redacted URL, never the token) or local mode, and
 * its attachment copies (none yet when it is first stored). NULL when out
 * of memory. */
static json_t *
initial_state(const struct btc_config *cfg, json_t *copied, bool minidump)
{
    char id[BTC_HTTP_ENDPOINT_ID_LEN + 1], *shown;
    json_t *state;

    if (!cfg->endpoint) {
        state = json_pack("{s:s, s:s, s:o, s:I}", "state", "pending", "mode", "local",
                          "attachments", copied ? json_incref(copied) : json_array(), "created",
                          (json_int_t)time(NULL));
    } else {
        if (btc_http_endpoint_id(cfg->endpoint, cfg->token, id) < 0)
            return NULL;
        shown = btc_http_redact(cfg->endpoint, cfg->token);
        if (!shown)
            return NULL;
        state = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "state", "pending", "mode", "endpoint",
                          "endpoint_id", id, "endpoint_url", shown, "attachments",
                          copied ? json_incref(copied) : json_array(), "created",
                          (json_int_t)time(NULL));
        free(shown);
    }
    /* The report's minidump is stored (<uuid>.dmp): it is what is sent. */
    if (state && minidump && json_object_set_new(state, "format", json_string("minidump")) < 0) {
        json_decref(state);
        return NULL;
    }
    return state;
}

/* Everything one run of the pipeline holds. */
struct pipeline {
    const struct btc_crash_record *rec;
    struct btc_config cfg;
    bool api, quiet;
    json_t *userdata;
    struct btc_budget budget;

    struct btc_capture_session *session; /* NULL when the capture failed */
    struct btc_capture *cap;
    struct btc_symbols *syms;
    struct btc_view view;
    struct btc_source *src;
    bool have_view;
    /* Which improvements are in the report; the others are noted as
     * missing in it. */
    bool others_done, symbols_done, source_done, attachments_done;
    /* An improvement left for the next store: the modules' debug files of
     * a one-thread process, when the source context follows at once. */
    const char *unsaved;
    size_t symbolized;       /* threads symbolicated whole */
    char symbols_error[256]; /* why there are no symbols at all, if not time */

    /* Whether BACKTRACE_ATTACHMENTS or the API call names any file: known
     * from the start, while the paths are resolved only in their stage
     * (realpath may wait on a stale mount, never before the first store). */
    bool wants_attachments;
    struct btc_helper_paths paths;
    json_t *refused;                  /* attachment paths refused outright */
    json_t *copied;                   /* the copies in the database, for the state */
    json_t *problems;                 /* one line per attachment left out or cut */
    struct btc_http_attachment *atts; /* the originals, when unstored */
    size_t natts;

    json_t *report;
    const char *dir;
    char dbdir[4096];
    char *stored; /* the report's path, once stored */
    int claim;
    char store_error[4200];
    char minidump_error[4200]; /* why there is no minidump, or "" */
    struct btc_helper_answer answer;
    /* BACKTRACE_FORMAT=minidump: the minidump, once written, and whether
     * it is stored beside the report (else it is sent from memory). */
    unsigned char *minidump;
    size_t minidump_len;
    bool minidump_stored;
    struct btc_inflate *inflate;       /* debug files decompressed in the background */
    struct btc_debuginfod *debuginfod; /* missing ones fetched, with DEBUGINFOD_URLS */
};

static int add_note(json_t *notes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
add_note(json_t *notes, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    return btc_json_append(notes, btc_json_str(line));
}

/* What the report lacks at this point, in words: each stage not (or not
 * wholly) done, and why. */
static json_t *
incomplete_notes(const struct pipeline *p)
{
    json_t *notes = json_array();
    int r = 0;

    if (!notes)
        return NULL;
    if (!p->cap)
        return notes; /* annotations.Crash["note.capture"] says it all */
    if (!p->others_done)
        r = add_note(notes, "the other threads were not captured: time budget");
    if (r == 0 && !p->syms)
        r = add_note(notes, "no frame is symbolicated: %s",
                     p->symbols_error[0] ? p->symbols_error : "time budget");
    if (r == 0 && p->syms && p->syms->stopped)
        r = add_note(notes, "%s", p->syms->stopped);
    if (r == 0 && p->syms && p->symbolized < p->cap->nthreads && !p->syms->stopped)
        r = add_note(notes, "%zu of %zu threads are not symbolicated: time budget",
                     p->cap->nthreads - p->symbolized, p->cap->nthreads);
    if (r == 0 && !p->source_done && p->cfg.collect_source_code)
        r = add_note(notes, "no source context: time budget");
    if (r == 0 && !p->attachments_done && p->wants_attachments)
        r = add_note(notes, "the attachments were not copied: time budget");
    if (r == 0 && btc_debuginfod_abandoned(p->debuginfod) > 0)
        r = add_note(notes,
                     "%zu debug file%s not fetched from DEBUGINFOD_URLS: time budget (their "
                     "frames keep addresses and ELF symbols)",
                     btc_debuginfod_abandoned(p->debuginfod),
                     btc_debuginfod_abandoned(p->debuginfod) == 1 ? " was" : "s were");
    if (r == 0 && p->minidump_error[0])
        r = add_note(notes, "%s", p->minidump_error);
    if (r < 0) {
        json_decref(notes);
        return NULL;
    }
    return notes;
}

/* Build the report from what the stages have so far. Returns 0 or -ENOMEM. */
static int
rebuild(struct pipeline *p)
{
    struct btc_report_parts parts = {.userdata = p->userdata, .source = p->src};
    json_t *report, *notes;

    if (p->cap) {
        if (p->have_view)
            btc_view_done(&p->view);
        p->have_view = false;
        if (btc_view_build(p->cap, p->syms, &p->view) < 0)
            return -ENOMEM;
        p->have_view = true;
        parts.view = &p->view;
    }
    notes = incomplete_notes(p);
    if (!notes)
        return -ENOMEM;
    parts.incomplete = notes;
    /* BACKTRACE_ATTRIBUTES problems were reported at start-up; once here
     * is enough for the first version. */
    report = btc_report_build(p->rec, &parts, &p->cfg,
                              p->report || p->quiet ? NULL : btc_cli_warn_stderr, NULL);
    json_decref(notes);
    if (!report)
        return -ENOMEM;
    if (p->problems && btc_report_note_attachments(report, p->api, p->problems) < 0) {
        json_decref(report);
        return -ENOMEM;
    }
    json_decref(p->report);
    p->report = report;
    return 0;
}

/* For debug output and bench/first_store.sh: the time since the fault. */
static double
since_fault_ms(const struct pipeline *p)
{
    return (double)(btc_clock_now_ns() - p->rec->fault_mono_ns) / 1e6;
}

/* Replace the stored report with the latest build, and @state too when not
 * NULL; a failure keeps the version stored before, which is valid too. */
static void
save(struct pipeline *p, const char *what, json_t *state)
{
    char why[512];
    int r;

    p->unsaved = NULL; /* in the latest build, which every save follows */
    if (!p->stored)
        return;
    r = btc_db_replace(p->dir, p->answer.uuid, p->report, state, &p->claim);
    if (r < 0 && p->cfg.debug)
        fprintf(stderr, "btcrash: could not store the report with %s: %s\n", what,
                btc_db_strerror(p->dir, r, why, sizeof(why)));
    else if (p->cfg.debug)
        fprintf(stderr, "btcrash: stored report improved with %s, %.1f ms after the fault\n", what,
                since_fault_ms(p));
}

/* Rebuild and save after the stage that added @what; false when out of
 * memory. */
static bool
improve(struct pipeline *p, const char *what)
{
    if (rebuild(p) < 0)
        return false;
    save(p, what, NULL);
    return true;
}

static void
resolve_dir(struct pipeline *p)
{
    p->dir = p->cfg.database_path;
    if (!p->dir) {
        /* The database must belong to the effective uid (db.h): name the
         * fallback after the same uid. */
        int r = btc_cfg_default_database_path(btc_cli_getenv, NULL, geteuid(), p->dbdir,
                                              sizeof(p->dbdir));

        p->dir = r < 0 ? NULL : p->dbdir;
    }
}

/* Decompressed debug files take at most this much memory (libc6-dbg's
 * libc: 14 MB); bigger ones are left to libdw. */
#define INFLATE_MAX_BYTES (256ULL << 20)

/* Have threads decompress the debug files of thread @t's modules, when
 * they are compressed, and children fetch those missing (DEBUGINFOD_URLS),
 * while this one stores the report and symbolizes the frames of the
 * others: inflating libc6-dbg's libc takes ~70 ms. Without memory for
 * it, libdw inflates them itself. */
static void
prefetch_debug_files(struct pipeline *p, size_t t)
{
    Dwfl *dwfl = btc_capture_dwfl(p->session);

    if (!dwfl)
        return;
    if (!p->inflate && btc_inflate_new(INFLATE_MAX_BYTES, &p->inflate) == 0)
        btc_unwind_inflate_use(p->inflate, p->budget.symbols_fault);
    (void)btc_unwind_modules_prefetch(dwfl, p->cap->modules, p->cap->nmodules, &p->cap->threads[t]);
}

/* The first version: the crashing thread's raw frames, stored at once. */
static int
store_first(struct pipeline *p)
{
    const char *uuid;
    json_t *state;
    int r;

    if (rebuild(p) < 0)
        return -ENOMEM;
    uuid = json_string_value(json_object_get(p->report, "uuid"));
    if (!uuid)
        return -EINVAL;
    snprintf(p->answer.uuid, sizeof(p->answer.uuid), "%s", uuid);
    resolve_dir(p);
    /* Everything a sender needs is in the state (db.h); the attachment
     * copies join it once made. */
    state = initial_state(&p->cfg, NULL, false);
    if (!state)
        return -ENOMEM;
    r = p->dir ? btc_db_store(p->dir, p->report, state, &p->stored, &p->claim) : -ENAMETOOLONG;
    json_decref(state);
    if (r < 0) {
        char why[512];

        snprintf(p->store_error, sizeof(p->store_error), "could not store the report in %s: %s",
                 p->dir ? p->dir : "(none)", btc_db_strerror(p->dir, r, why, sizeof(why)));
        if (!p->quiet)
            fprintf(stderr, "btcrash: %s%s\n", p->store_error,
                    p->cfg.endpoint ? "; sending it directly" : "");
        p->stored = NULL;
        return 0;
    }
    if (!p->api)
        say_kept();
    if (p->cfg.debug)
        fprintf(stderr, "btcrash: report stored as %s, %.1f ms after the fault\n", p->stored,
                since_fault_ms(p));
    return 0;
}

static int
stage_others(struct pipeline *p)
{
    size_t before = p->cap->nthreads;
    int r = btc_capture_others(p->session, p->budget.stop, p->budget.unwind);

    if (r < 0)
        return r;
    p->others_done = true;
    for (size_t t = 0; t < p->cap->nthreads; t++)
        if (t != p->cap->fault_thread)
            prefetch_debug_files(p, t);
    /* One thread only, and no news about the others: nothing to store. */
    if (p->cap->nthreads == before && p->cap->ptrace_ok)
        return 0;
    return improve(p, "the other threads") ? 0 : -ENOMEM;
}

/* BACKTRACE_FORMAT=minidump: the minidump, written as soon as the threads
 * are captured, since it needs no symbols (its reader has them); stored
 * beside the report, and the state says it is what is sent. Without it the
 * JSON report is sent, which says why. */
static int
stage_minidump(struct pipeline *p)
{
    const struct btc_dump_state *dump = btc_capture_dump(p->session);
    char why[512];
    json_t *state;
    int r = dump ? btc_minidump_build(p->cap, dump, &p->minidump, &p->minidump_len) : -ENOMEM;

    if (r < 0) {
        p->minidump = NULL;
        snprintf(p->minidump_error, sizeof(p->minidump_error), "could not write the minidump: %s",
                 r == -EFBIG ? "it would exceed 1 GiB" : "out of memory");
        goto fail;
    }
    if (!p->stored)
        return 0;
    r = btc_db_store_minidump(p->dir, p->answer.uuid, p->minidump, p->minidump_len);
    if (r < 0) {
        snprintf(p->minidump_error, sizeof(p->minidump_error),
                 "could not store the minidump in %s: %s", p->dir,
                 btc_db_strerror(p->dir, r, why, sizeof(why)));
        goto fail;
    }
    state = initial_state(&p->cfg, p->copied, true);
    r = state ? btc_db_write_state(p->dir, p->answer.uuid, state) : -ENOMEM;
    json_decref(state);
    if (r < 0) {
        snprintf(p->minidump_error, sizeof(p->minidump_error),
                 "could not name the minidump in the report's state: %s",
                 btc_db_strerror(p->dir, r, why, sizeof(why)));
        goto fail;
    }
    p->minidump_stored = true;
    if (p->cfg.debug)
        fprintf(stderr, "btcrash: minidump stored (%zu bytes), %.1f ms after the fault\n",
                p->minidump_len, since_fault_ms(p));
    return 0;
fail:
    /* The next version of the report says so (incomplete_notes). */
    if (!p->quiet)
        fprintf(stderr, "btcrash: %s; the JSON report is %s instead\n", p->minidump_error,
                p->cfg.endpoint ? "sent" : "kept");
    return 0;
}

static int
stage_symbols(struct pipeline *p)
{
    int r;

    r = btc_symbols_new(p->cap, btc_capture_dwfl(p->session), &p->syms, p->symbols_error,
                        sizeof(p->symbols_error));
    if (r < 0)
        return r == -ENOMEM ? r : 0;
    /* The crashing thread first, innermost frame first: what a report cut
     * short by time must not lack. Its modules' debug files are found on the
     * way; the others' only with the other threads. */
    r = btc_symbols_thread(p->syms, p->cap->fault_thread, p->budget.symbols_fault);
    if (r < 0)
        return r;
    if (r == 0)
        p->symbolized = 1;
    if (!improve(p, "the crashing thread's symbols"))
        return -ENOMEM;
    if (r > 0)
        return 0;
    /* A debug file still being inflated is waited for until the stage's
     * end, the other threads' now. */
    btc_unwind_inflate_use(p->inflate, p->budget.symbols_other);
    r = btc_symbols_modules(p->syms, p->budget.symbols_other);
    for (size_t t = 0; t < p->cap->nthreads && r == 0; t++) {
        if (t == p->cap->fault_thread)
            continue;
        r = btc_symbols_thread(p->syms, t, p->budget.symbols_other);
        if (r == 0)
            p->symbolized++;
    }
    if (r < 0)
        return r;
    p->symbols_done = r == 0;
    if (p->cap->nthreads > 1)
        return improve(p, "the other threads' symbols") ? 0 : -ENOMEM;
    /* Only the modules' debug files are new: a store of their own (a few
     * ms for a deep stack) is worth it only when no stage follows. */
    p->unsaved = "the modules' debug files";
    return 0;
}

static int
stage_source(struct pipeline *p)
{
    struct btc_source_opts opts = {
        .collect = p->cfg.collect_source_code,
        .context_lines = p->cfg.context_line_count,
        .tab_width = p->cfg.tab_width,
        .deadline_ns = p->budget.source,
    };

    if (!p->cfg.collect_source_code)
        return 0;
    if (!p->have_view && rebuild(p) < 0)
        return -ENOMEM;
    /* The index belongs to this very view, which no later stage changes. */
    if (btc_report_source_new(&p->view, p->api, &opts, &p->src) < 0)
        return -ENOMEM;
    p->source_done = !btc_source_late(p->src);
    return improve(p, "source context") ? 0 : -ENOMEM;
}

/* Copies first, so a later flush sends what the files held at crash time;
 * then the state names them, and the report says which are missing. */
static int
stage_attachments(struct pipeline *p)
{
    json_t *state;
    int r;

    if (!p->wants_attachments)
        return 0;
    p->refused = json_array();
    if (!p->refused || btc_helper_paths_collect(p->userdata, p->cfg.attachments, p->rec->pid,
                                                p->rec->tid, p->refused, &p->paths) < 0)
        return -ENOMEM;
    if (p->stored && p->paths.n > 0) {
        r = btc_db_copy_attachment_paths(p->dir, p->answer.uuid, (const char *const *)p->paths.v,
                                         p->paths.n, p->budget.attachments, &p->copied,
                                         &p->problems);
        if (r < 0) {
            p->copied = p->problems = NULL;
            if (p->cfg.debug)
                fprintf(stderr, "btcrash: could not copy the attachments into %s: %s\n", p->dir,
                        strerror(-r));
        }
    }
    if (!p->problems)
        p->problems = json_array();
    /* No copies: the originals will be sent from where they are. */
    if (!p->copied && p->paths.n > 0 && p->problems &&
        btc_helper_original_attachments(&p->paths, p->problems, &p->atts, &p->natts) < 0)
        return -ENOMEM;
    if (!p->problems || json_array_extend(p->problems, p->refused) < 0)
        return -ENOMEM;
    p->attachments_done = true;
    if (p->cfg.debug) {
        size_t i;
        json_t *note;

        json_array_foreach(p->problems, i, note)
            fprintf(stderr, "btcrash: %s\n", json_string_value(note));
    }
    if (rebuild(p) < 0)
        return -ENOMEM;
    /* The report with its notes and the state naming the copies, together. */
    state = p->copied ? initial_state(&p->cfg, p->copied, p->minidump_stored) : NULL;
    save(p, "the attachments", state);
    json_decref(state);
    return 0;
}

/* Every stage in order of value, each within its time. A stage past its
 * time is skipped, and the report keeps saying that it lacks it. */
static int
improve_stages(struct pipeline *p)
{
    int r = 0;

    if (!p->session)
        return 0;
    if (!btc_budget_over(p->budget.unwind))
        r = stage_others(p);
    /* Its reads were made with the threads stopped; building and storing
     * it is a copy in memory and one file. */
    if (r == 0 && p->cfg.format == BTC_CFG_FORMAT_MINIDUMP &&
        !btc_budget_over(p->budget.attachments))
        r = stage_minidump(p);
    if (r == 0 && !btc_budget_over(p->budget.symbols_fault))
        r = stage_symbols(p);
    if (r == 0 && p->syms && !btc_budget_over(p->budget.source))
        r = stage_source(p);
    if (r == 0 && !btc_budget_over(p->budget.attachments))
        r = stage_attachments(p);
    if (r == 0 && p->unsaved && !improve(p, p->unsaved))
        r = -ENOMEM;
    return r;
}

/* Local mode: where the minidump is, after the report's summary line. */
static void
say_minidump(const struct pipeline *p)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/%s.dmp", p->dir, p->answer.uuid);
    fputs("btcrash: minidump stored in ", stderr);
    btc_cli_put_safe(stderr, path, "?");
    fputc('\n', stderr);
}

/* The crash-loop record lock is held for a read and a write (and, once a
 * window, the marking of the repeats): a second at most, and never past
 * the deadline; 50 crashes at once on 2 cores wait that long at times. */
#define LOOP_LOCK_WAIT_NS (1000 * 1000000LL)

/* Crash loops (crash_loop.h): a repeat of a crash sent less than
 * BACKTRACE_CRASH_LOOP_WINDOW ago is kept as "throttled", not sent; a
 * crash that is sent says how many it stands for (crash.count). Only in
 * endpoint mode, for a stored crash report. Returns true when throttled. */
static bool
stage_crash_loop(struct pipeline *p)
{
    struct btc_crash_loop loop = {.count = 1};
    int64_t wait = btc_clock_now_ns() + LOOP_LOCK_WAIT_NS;
    json_t *state;
    int r = 0;

    if (p->api || !p->report)
        return false;
    if (p->stored && p->cfg.endpoint && p->cfg.crash_loop_window_ms > 0) {
        r = btc_crash_loop_decide(p->dir, p->report, p->answer.uuid, p->cfg.crash_loop_window_ms,
                                  wait < p->budget.end ? wait : p->budget.end, &loop);
        if (r < 0 && !p->quiet)
            fprintf(stderr,
                    "btcrash: could not consult the crash-loop record in %s: %s; "
                    "sending the report as a lone crash\n",
                    p->dir, r == -ETIMEDOUT ? "another crash held it too long" : strerror(-r));
    }
    if (loop.throttled) {
        state = initial_state(&p->cfg, p->copied, p->minidump_stored);
        if (!state || json_object_set_new(state, "state", json_string("throttled")) < 0 ||
            json_object_set_new(state, "signature", json_string(loop.sig)) < 0 ||
            btc_db_write_state(p->dir, p->answer.uuid, state) < 0) {
            /* Counted already: sending it too would count it twice, and
             * it is stored; it stays pending for a flush. */
            json_decref(state);
            return true;
        }
        json_decref(state);
        if (!p->quiet)
            fprintf(stderr,
                    "btcrash: report %s kept, not sent: the same crash was sent %lld s ago "
                    "(a crash loop: %lld repeat%s kept since; BACKTRACE_CRASH_LOOP_WINDOW=%g s); "
                    "the next report of it sent counts it\n",
                    p->answer.uuid, (long long)loop.since_s, (long long)loop.repeats,
                    loop.repeats == 1 ? "" : "s", p->cfg.crash_loop_window_ms / 1000.0);
        return true;
    }
    if (json_object_set_new(json_object_get(p->report, "attributes"), BTC_LOOPS_COUNT_ATTRIBUTE,
                            json_integer(loop.count)) == 0)
        save(p, "the crash count", NULL);
    return false;
}

static void
deliver(struct pipeline *p, int *status)
{
    struct btc_http_result res = {0};
    int r;

    /* Unstored in local mode, the report would be gone with us: stderr
     * gets all of it, not just the summary. */
    if (p->cfg.debug || (!p->cfg.endpoint && !p->stored && !p->quiet))
        btc_print_report(stderr, p->report, false);
    if (!p->cfg.endpoint) {
        btc_db_unclaim(p->claim);
        p->claim = -1;
        if (!p->quiet)
            btc_print_summary(stderr, p->report, p->stored);
        if (!p->quiet && p->minidump_stored)
            say_minidump(p);
        p->answer.outcome = p->stored ? "stored" : "failed";
        snprintf(p->answer.error, sizeof(p->answer.error), "%s", p->stored ? "" : p->store_error);
        if (!p->stored && !p->api)
            say_kept(); /* printed whole: kept on the terminal */
        if (p->stored)
            *status = 0;
    } else if (p->stored) {
        /* BACKTRACE_WAIT_FOR_UPLOAD=0: the report is stored whole and the
         * threads are let go (a stage skipped for time may have left them
         * stopped): the process may die
         * now, and a crash-looping service restart, while we upload
         * within the same deadline, on our own (its death hands us to
         * init). An API caller waits for its answer whatever the setting. */
        if (!p->api && !p->cfg.wait_for_upload) {
            btc_capture_detach(p->session);
            fflush(stderr);
            release_crashed_process();
        }
        r = deliver_stored(p->dir, p->answer.uuid, p->claim, &p->cfg, p->budget.end, p->api,
                           p->quiet, &res);
        p->claim = -1;
        btc_outcome_answer(&p->answer, r, &res, true, NULL);
        *status = 0;
    } else {
        r = deliver_direct(p->report, p->answer.uuid, p->minidump, p->minidump_len, &p->cfg,
                           p->atts, p->natts, p->budget.end, p->quiet, &res);
        if (r == 0 && res.outcome == BTC_HTTP_SENT)
            *status = 0;
        btc_outcome_answer(&p->answer, r, &res, false, p->store_error);
    }
}

static void
pipeline_done(struct pipeline *p)
{
    btc_db_unclaim(p->claim);
    free(p->stored);
    free(p->atts);
    free(p->minidump);
    btc_helper_paths_free(&p->paths);
    json_decref(p->copied);
    json_decref(p->problems);
    json_decref(p->refused);
    json_decref(p->report);
    json_decref(p->userdata);
    btc_source_free(p->src);
    if (p->have_view)
        btc_view_done(&p->view);
    btc_symbols_free(p->syms);
    btc_capture_session_free(p->session);
    btc_unwind_inflate_use(NULL, 0);
    btc_inflate_free(p->inflate);
    btc_unwind_debuginfod_use(NULL);
    btc_debuginfod_free(p->debuginfod);
}

int
btc_helper_main(const char *self)
{
    struct pipeline p = {.claim = -1, .answer = {.outcome = "failed"}};
    const struct btc_crash_record *rec = NULL;
    size_t size = 0;
    char why[512] = "";
    int r, status = 1;

    sanitize_process();
    r = map_record(&rec, &size);
    p.rec = rec;
    p.api = r == 0 && (rec->flags & BTC_RECORD_F_API);
    if (!p.api)
        close(BTC_USERDATA_FD); /* the crashed program's, if anything */
    /* The library already reported bad values at start-up: stay quiet. */
    btc_cfg_load(btc_cli_getenv, NULL, NULL, NULL, &p.cfg);
    /* An API report is the program's business: stderr is the program's
     * too, so only debug output goes there. */
    p.quiet = p.api && !p.cfg.debug;
    /* curl's one-time set-up (OpenSSL's included) before the clock matters. */
    if (p.cfg.endpoint && btc_http_global_init() < 0 && !p.quiet)
        fprintf(stderr, "btcrash: libcurl is not usable (%s); the report can only be stored\n",
                btc_http_init_error());

    if (r < 0) {
        fprintf(stderr, "btcrash: no valid crash record on descriptor %d: %s\n", BTC_RECORD_FD,
                strerror(-r));
        return 2;
    }
    btc_budget_plan(&p.budget, btc_clock_now_ns(), rec->deadline_mono_ns, p.cfg.endpoint != NULL);
    if (p.api) {
        r = btc_helper_api_read_userdata(BTC_USERDATA_FD, &p.userdata, why, sizeof(why));
        close(BTC_USERDATA_FD);
        if (r < 0) {
            fail_line(&p.answer, p.quiet, "%s", why);
            goto out;
        }
    }
    /* Before the capture, whose libdwfl session takes DEBUGINFOD_URLS out
     * of the environment. Without memory for it, nothing is fetched. */
    if (btc_debuginfod_new(getenv("DEBUGINFOD_URLS"), self, p.budget.fetch, p.cfg.debug,
                           &p.debuginfod) == 0)
        btc_unwind_debuginfod_use(p.debuginfod);
    r = btc_capture_begin(rec, (const char *)rec + rec->header_size,
                          (const char *)rec + rec->header_size + rec->stack_len, rec->maps_len,
                          p.budget.unwind, &p.session, why, sizeof(why));
    if (r == -ENOMEM) {
        fail_line(&p.answer, p.quiet, "could not capture the %s process: out of memory",
                  p.api ? "calling" : "crashed");
        goto out;
    }
    if (r < 0 && !p.quiet)
        fprintf(stderr, "btcrash: could not capture the %s process %d: %s\n",
                p.api ? "calling" : "crashed", rec->pid, why);
    /* Without a capture the report still says what happened, and why the
     * stack is missing. */
    p.cap = p.session ? btc_capture_get(p.session) : NULL;
    p.others_done = !p.cap;
    if (p.cap && !p.api) {
        json_t *n =
            json_object_get(json_object_get(p.cap->facts, "attributes"), "process.thread.count");

        btc_budget_reserve(&p.budget, json_integer_value(n) * BTC_BUDGET_EXIT_NS_PER_THREAD);
    }
    if (p.cap)
        prefetch_debug_files(&p, p.cap->fault_thread);
    /* The threads' registers and stacks are kept while they are stopped. */
    if (p.session && p.cfg.format == BTC_CFG_FORMAT_MINIDUMP)
        btc_capture_want_dump(p.session, p.cfg.minidump_environment);
    p.wants_attachments =
        (p.cfg.attachments && strspn(p.cfg.attachments, ":") < strlen(p.cfg.attachments)) ||
        json_array_size(json_object_get(p.userdata, "attachments")) > 0;
    r = store_first(&p);
    if (r < 0) {
        fail_line(&p.answer, p.quiet, "could not build the report: %s",
                  r == -ENOMEM ? "out of memory" : "it has no uuid");
        goto out;
    }
    if (improve_stages(&p) < 0)
        fail_line(&p.answer, p.quiet, "could not improve the report: out of memory");
    if (stage_crash_loop(&p)) {
        p.answer.outcome = "stored";
        status = 0;
    } else {
        deliver(&p, &status);
    }
out:
    btc_db_unclaim(p.claim);
    p.claim = -1;
    fflush(stderr);
    if (p.api)
        (void)btc_helper_api_answer(BTC_NOTIFY_FD, &p.answer);
    else
        release_crashed_process();
    /* Bounding the database can wait until the crashed process is gone. */
    if (status == 0 && p.stored)
        (void)btc_db_prune(p.dir, p.answer.uuid);
    pipeline_done(&p);
    if (rec)
        munmap((void *)rec, size);
    return status;
}
