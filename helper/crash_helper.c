/* crash_helper: see crash_helper.h. Runs in the helper process while the
 * crashed process waits in its signal handler, until the record's deadline;
 * or, for a C API report, while the calling thread waits in
 * btcrash_report_send. */
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

#include "capture.h"
#include "cli.h"
#include "clock.h"
#include "crash_helper.h"
#include "config.h"
#include "crash_record.h"
#include "db.h"
#include "deliver.h"
#include "helper_api.h"
#include "http.h"
#include "json_util.h"
#include "print.h"
#include "record_check.h"
#include "report.h"

/* The crashed process inherited descriptors into us (all those without
 * close-on-exec), and blocked every signal before exec'ing us. The user data
 * descriptor is kept until the record says whether it is one. */
static void
sanitize_process(void)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    close_range(BTC_USERDATA_FD + 1, ~0u, 0);
}

/* Tell the crashed process it need not wait for us any longer: it re-raises
 * and dies while we free what we used. */
static void
release_crashed_process(void)
{
    char done = BTC_NOTIFY_DONE;

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

/* Time kept back from the crashed process's deadline for what follows an
 * upload: writing the state (an fsync), printing, the notification. The
 * handler kills us at the deadline itself. */
static int64_t
send_deadline(const struct btc_crash_record *rec, uint32_t timeout_ms)
{
    int64_t margin = (int64_t)timeout_ms * 1000000LL / 10;

    if (margin < 50 * 1000000LL)
        margin = 50 * 1000000LL;
    if (margin > 300 * 1000000LL)
        margin = 300 * 1000000LL;
    return rec->deadline_mono_ns - margin;
}

/* Debug output of the submission: btc_http_log_fn. */
static void
log_stderr(const char *line, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "btcrash: %s\n", line);
}

static const char *
basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* The attachment files of a report, in the order they are taken: an API
 * report's own (which may contain ':'), then BACKTRACE_ATTACHMENTS. */
struct paths {
    char **v;
    size_t n;
};

static void
paths_free(struct paths *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

static int
paths_add(struct paths *p, const char *path, size_t len)
{
    char **v = realloc(p->v, (p->n + 1) * sizeof(*v));

    if (!v)
        return -ENOMEM;
    p->v = v;
    p->v[p->n] = strndup(path, len);
    if (!p->v[p->n])
        return -ENOMEM;
    p->n++;
    return 0;
}

/*
 * Add @path to @p unless it leads, through any link, into this helper's own
 * /proc entry ("/proc/<our pid>/environ" holds the token): that is never
 * the user's to attach, and @refused gets a note instead.
 */
static int
paths_add_checked(struct paths *p, const char *path, size_t len, json_t *refused)
{
    char *copy = strndup(path, len), *real, own[64], note[600];
    size_t olen;
    bool ours;

    if (!copy)
        return -ENOMEM;
    real = realpath(copy, NULL);
    olen = (size_t)snprintf(own, sizeof(own), "/proc/%d", (int)getpid());
    ours = real && strncmp(real, own, olen) == 0 && (real[olen] == '/' || real[olen] == '\0');
    free(real);
    if (ours) {
        snprintf(note, sizeof(note),
                 "attachment %.500s skipped: it is btcrash's own process, "
                 "not the crashed one",
                 copy);
        free(copy);
        return btc_json_append(refused, btc_json_str(note));
    }
    free(copy);
    return paths_add(p, path, len);
}

/*
 * Add @path (@len bytes) to @p as the crashed process means it: the user
 * wrote "/proc/self/..." or "/proc/thread-self/..." (or "/dev/fd/N", which
 * is /proc/self/fd/N) about their program, not about us, so these name the
 * process @pid (thread @tid). Left as they are, they would attach the
 * helper's own files: its environment holds the token.
 */
static int
paths_add_for(struct paths *p, const char *path, size_t len, int pid, int tid, json_t *refused)
{
    static const struct {
        const char *prefix;
        bool thread;
        const char *under;
    } k_self[] = {
        {"/proc/self/", false, ""},
        {"/proc/thread-self/", true, ""},
        {"/dev/fd/", false, "fd/"},
    };
    char *full;
    int r, n;

    for (size_t i = 0; i < sizeof(k_self) / sizeof(k_self[0]); i++) {
        size_t plen = strlen(k_self[i].prefix);

        if (len < plen || strncmp(path, k_self[i].prefix, plen) != 0)
            continue;
        if (k_self[i].thread)
            n = asprintf(&full, "/proc/%d/task/%d/%s%.*s", pid, tid, k_self[i].under,
                         (int)(len - plen), path + plen);
        else
            n = asprintf(&full, "/proc/%d/%s%.*s", pid, k_self[i].under, (int)(len - plen),
                         path + plen);
        if (n < 0)
            return -ENOMEM;
        r = paths_add_checked(p, full, (size_t)n, refused);
        free(full);
        return r;
    }
    return paths_add_checked(p, path, len, refused);
}

static int
paths_collect(json_t *userdata, const char *config, int pid, int tid, json_t *refused,
              struct paths *ret)
{
    struct paths p = {0};
    json_t *v;
    size_t i;

    json_array_foreach(json_object_get(userdata, "attachments"), i, v)
    {
        if (paths_add_for(&p, json_string_value(v), json_string_length(v), pid, tid, refused) < 0)
            goto fail;
    }
    /* Empty elements ("a::b", a trailing ':') name no file. */
    for (const char *s = config ? config : ""; *s;) {
        size_t len = strcspn(s, ":");

        if (len > 0 && paths_add_for(&p, s, len, pid, tid, refused) < 0)
            goto fail;
        s += len;
        s += *s == ':';
    }
    *ret = p;
    return 0;
fail:
    paths_free(&p);
    return -ENOMEM;
}

/*
 * The original files of @paths as parts, for a report that could not be
 * stored; @problems (may be NULL) gets a note for each one btc_http_submit
 * will skip. The parts point into @paths.
 */
static int
original_attachments(const struct paths *paths, json_t *problems,
                     struct btc_http_attachment **ret_atts, size_t *ret_n)
{
    struct btc_http_attachment *atts = NULL;
    size_t n = 0;

    atts = calloc(paths->n + 1, sizeof(*atts));
    if (!atts)
        return -ENOMEM;
    for (size_t k = 0; k < paths->n; k++) {
        const char *path = paths->v[k], *name = basename_of(path);
        const char *why = NULL;
        struct stat st;
        char note[512];
        bool dup = false;
        int fd;

        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(atts[i].name, name) == 0;
        if (dup) {
            snprintf(note, sizeof(note), "attachment %s skipped: another attachment is named %s",
                     path, name);
            if (problems)
                (void)btc_json_append(problems, btc_json_str(note));
            continue;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0)
            why = strerror(errno);
        else if (!S_ISREG(st.st_mode))
            why = "not a regular file";
        if (why) {
            snprintf(note, sizeof(note), "attachment %s skipped: %s", path, why);
            if (problems)
                (void)btc_json_append(problems, btc_json_str(note));
            if (fd >= 0)
                close(fd);
            continue;
        }
        close(fd);
        atts[n].path = path;
        atts[n].name = name;
        n++;
    }
    *ret_atts = atts;
    *ret_n = n;
    return 0;
}

/* The one line a user sees without debug output: what became of a report. */
static void
print_outcome(const char *uuid, int err, const struct btc_http_result *res, bool stored)
{
    const char *keep = stored ? "kept for retry" : "lost (it could not be stored)";

    if (err == -ETIMEDOUT)
        fprintf(stderr, "btcrash: report %s %s: no time left to send it\n", uuid, keep);
    else if (err == -EBUSY)
        fprintf(stderr, "btcrash: report %s is being sent by another process (btcrash flush)\n",
                uuid);
    else if (err < 0)
        fprintf(stderr, "btcrash: report %s %s: %s\n", uuid, keep, strerror(-err));
    else if (res->outcome == BTC_HTTP_SENT)
        fprintf(stderr, "btcrash: report %s sent (rxid %s)\n", uuid,
                res->rxid[0] ? res->rxid : "unknown");
    else if (res->outcome == BTC_HTTP_REJECTED)
        fprintf(stderr, "btcrash: report %s rejected by the server: %s\n", uuid, res->error);
    else
        fprintf(stderr, "btcrash: report %s %s: %s\n", uuid, keep, res->error);
    /* The rxid, error and note are escaped and cut already (http.h). */
    if (err == 0 && res->note[0])
        fprintf(stderr, "btcrash: report %s: %s\n", uuid, res->note);
}

/* Fill the API answer with the outcome of a delivery attempt (@err, @res),
 * for a report that was @stored or not. A report neither stored nor sent
 * has failed; @store_error says why it was not stored. */
static void
answer_delivery(struct btc_helper_answer *a, int err, const struct btc_http_result *res,
                bool stored, const char *store_error)
{
    char why[512];

    why[0] = '\0';
    if (err == -ETIMEDOUT)
        snprintf(why, sizeof(why), "no time left to send it");
    else if (err == -EBUSY)
        snprintf(why, sizeof(why), "it is being sent by another process");
    else if (err < 0)
        snprintf(why, sizeof(why), "%s", strerror(-err));
    else if (res->outcome != BTC_HTTP_SENT)
        snprintf(why, sizeof(why), "%s", res->error[0] ? res->error : "not accepted");
    if (err == 0) {
        a->http_status = res->status;
        snprintf(a->rxid, sizeof(a->rxid), "%s", res->rxid);
    }
    if (err == 0 && res->outcome == BTC_HTTP_SENT)
        a->outcome = "sent";
    else if (!stored)
        a->outcome = "failed";
    else if (err == 0 && res->outcome == BTC_HTTP_REJECTED)
        a->outcome = "rejected";
    else
        a->outcome = "pending";
    if (a->outcome[0] == 's')
        a->error[0] = '\0';
    else if (!stored)
        snprintf(a->error, sizeof(a->error), "%s; sending it failed: %s", store_error, why);
    else
        snprintf(a->error, sizeof(a->error), "%s", why);
}

struct older {
    bool debug;
    int sent, rejected, kept;
};

static void
on_older(const char *uuid, int err, const struct btc_http_result *res, void *ctx)
{
    struct older *o = ctx;

    if (err == -EXDEV || err == -ENOTCONN)
        return; /* another endpoint's, or local: left alone */
    if (err == 0 && res->outcome == BTC_HTTP_SENT)
        o->sent++;
    else if (err == 0 && res->outcome == BTC_HTTP_REJECTED)
        o->rejected++;
    else
        o->kept++;
    if (o->debug)
        print_outcome(uuid, err, res, true);
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
        print_outcome(uuid, r, ret, true);
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

/* The report could not be stored: send it from memory, the last chance.
 * Returns as btc_http_submit. */
static int
deliver_direct(json_t *report, const char *uuid, const struct btc_config *cfg,
               const struct btc_http_attachment *atts, size_t natts, int64_t deadline, bool quiet,
               struct btc_http_result *ret)
{
    char *json = json_dumps(report, JSON_COMPACT);
    int r;

    if (!json)
        return -ENOMEM;
    r = btc_http_submit(cfg, json, strlen(json), atts, natts, deadline,
                        cfg->debug ? log_stderr : NULL, NULL, ret);
    if (!quiet)
        print_outcome(uuid, r, ret, false);
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

/* The state a new report is stored with (db.h): pending, the endpoint it is
 * made for (a hash and a redacted URL, never the token) or local mode, and
 * its attachment copies. NULL when out of memory. */
static json_t *
initial_state(const struct btc_config *cfg, json_t *copied)
{
    char id[BTC_HTTP_ENDPOINT_ID_LEN + 1], *shown;
    json_t *state;

    if (!cfg->endpoint)
        return json_pack("{s:s, s:s, s:o, s:I}", "state", "pending", "mode", "local", "attachments",
                         copied ? json_incref(copied) : json_array(), "created",
                         (json_int_t)time(NULL));
    if (btc_http_endpoint_id(cfg->endpoint, cfg->token, id) < 0)
        return NULL;
    shown = btc_http_redact(cfg->endpoint, cfg->token);
    if (!shown)
        return NULL;
    state =
        json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "state", "pending", "mode", "endpoint",
                  "endpoint_id", id, "endpoint_url", shown, "attachments",
                  copied ? json_incref(copied) : json_array(), "created", (json_int_t)time(NULL));
    free(shown);
    return state;
}

int
btc_helper_main(void)
{
    const struct btc_crash_record *rec = NULL;
    struct btc_capture *cap = NULL;
    struct btc_http_attachment *atts = NULL;
    struct btc_http_result res = {0};
    struct btc_helper_answer answer = {.outcome = "failed"};
    struct btc_config cfg;
    struct paths paths = {0};
    char dbdir[4096], store_error[4200] = "";
    const char *dir = NULL, *uuid;
    char *stored = NULL;
    json_t *report = NULL, *copied = NULL, *problems = NULL, *state = NULL, *userdata = NULL;
    json_t *refused = NULL;
    size_t size = 0, natts = 0;
    int64_t deadline;
    bool api, quiet;
    int r, status = 1, claim = -1;

    sanitize_process();
    r = map_record(&rec, &size);
    api = r == 0 && (rec->flags & BTC_RECORD_F_API);
    if (!api)
        close(BTC_USERDATA_FD); /* the crashed program's, if anything */
    /* The library already reported bad values at start-up: stay quiet. */
    btc_cfg_load(btc_cli_getenv, NULL, NULL, NULL, &cfg);
    /* An API report is the program's business: stderr is the program's
     * too, so only debug output goes there. */
    quiet = api && !cfg.debug;
    /* curl's one-time set-up (OpenSSL's included) before the clock matters. */
    if (cfg.endpoint && btc_http_global_init() < 0 && !quiet)
        fprintf(stderr, "btcrash: curl_global_init failed; the report can only be stored\n");

    if (r < 0) {
        fprintf(stderr, "btcrash: no valid crash record on descriptor %d: %s\n", BTC_RECORD_FD,
                strerror(-r));
        return 2;
    }
    if (api) {
        char why[512];

        r = btc_helper_api_read_userdata(BTC_USERDATA_FD, &userdata, why, sizeof(why));
        close(BTC_USERDATA_FD);
        if (r < 0) {
            fail_line(&answer, quiet, "%s", why);
            goto out;
        }
    }
    deadline = send_deadline(rec, cfg.timeout_ms);
    r = btc_unwind_capture(rec, (const char *)rec + rec->header_size, &cap);
    if (r < 0) {
        if (!quiet)
            fprintf(stderr, "btcrash: could not capture the %s process %d: %s\n",
                    api ? "calling" : "crashed", rec->pid, strerror(-r));
        /* An API report is still worth its message and attributes; the
         * report says that the stack is missing. */
        if (!api)
            goto out;
        cap = NULL;
    }
    if (api)
        report = btc_report_build_api(rec, cap, &cfg, userdata, quiet ? NULL : btc_cli_warn_stderr,
                                      NULL);
    else
        report = btc_report_build(rec, cap, &cfg, btc_cli_warn_stderr, NULL);
    if (!report) {
        fail_line(&answer, quiet, "could not build the report: out of memory");
        goto out;
    }
    uuid = json_string_value(json_object_get(report, "uuid"));
    if (!uuid) {
        fail_line(&answer, quiet, "the report has no uuid");
        goto out;
    }
    snprintf(answer.uuid, sizeof(answer.uuid), "%s", uuid);

    dir = cfg.database_path;
    if (!dir) {
        /* The database must belong to the effective uid (db.h): name the
         * fallback after the same uid. */
        r = btc_cfg_default_database_path(btc_cli_getenv, NULL, geteuid(), dbdir, sizeof(dbdir));
        dir = r < 0 ? NULL : dbdir;
    }
    refused = json_array();
    if (!refused ||
        paths_collect(userdata, cfg.attachments, rec->pid, rec->tid, refused, &paths) < 0) {
        fail_line(&answer, quiet, "could not list the attachments: out of memory");
        goto out;
    }
    /* Copies first, so the report can say which attachments are missing,
     * and a later flush sends what the files held at crash time. */
    if (dir && paths.n > 0) {
        r = btc_db_copy_attachment_paths(dir, uuid, (const char *const *)paths.v, paths.n, 0,
                                         &copied, &problems);
        if (r < 0) {
            copied = problems = NULL;
            if (cfg.debug)
                fprintf(stderr, "btcrash: could not copy the attachments into %s: %s\n", dir,
                        strerror(-r));
        }
    }
    if (!problems)
        problems = json_array();
    if (paths.n > 0 && !copied) {
        /* No copies: the originals will be sent from where they are. */
        r = original_attachments(&paths, problems, &atts, &natts);
        if (r < 0) {
            fail_line(&answer, quiet, "could not list the attachments: out of memory");
            goto out;
        }
    }
    if (!problems || json_array_extend(problems, refused) < 0 ||
        btc_report_note_attachments(report, api, problems) < 0) {
        fail_line(&answer, quiet, "could not build the report: out of memory");
        goto out;
    }
    if (cfg.debug) {
        size_t i;
        json_t *note;

        json_array_foreach(problems, i, note)
            fprintf(stderr, "btcrash: %s\n", json_string_value(note));
    }

    /* Everything a sender needs is in the first state written (db.h). */
    state = initial_state(&cfg, copied);
    if (!state) {
        fail_line(&answer, quiet, "could not build the report's state: out of memory");
        goto out;
    }
    r = dir ? btc_db_store(dir, report, state, &stored, &claim) : -ENAMETOOLONG;
    if (r < 0) {
        char why[512];

        snprintf(store_error, sizeof(store_error), "could not store the report in %s: %s",
                 dir ? dir : "(none)", btc_db_strerror(dir, r, why, sizeof(why)));
        if (!quiet)
            fprintf(stderr, "btcrash: %s%s\n", store_error,
                    cfg.endpoint ? "; sending it directly" : "");
        if (dir && copied)
            (void)btc_db_remove(dir, uuid);
        /* The copies are gone (or were never made): send the originals, and
         * let the report say what became of them, not of the copies. */
        if (paths.n > 0) {
            free(atts);
            atts = NULL;
            natts = 0;
            json_decref(problems);
            problems = json_array();
            if (!problems || original_attachments(&paths, problems, &atts, &natts) < 0 ||
                json_array_extend(problems, refused) < 0 ||
                btc_report_note_attachments(report, api, problems) < 0) {
                fail_line(&answer, quiet, "%s; then out of memory", store_error);
                goto out;
            }
        }
    } else {
        status = 0;
    }

    /* Unstored in local mode, the report would be gone with us: stderr
     * gets all of it, not just the summary. */
    if (cfg.debug || (!cfg.endpoint && !stored && !quiet))
        btc_print_report(stderr, report, false);
    if (!cfg.endpoint) {
        btc_db_unclaim(claim);
        claim = -1;
        if (!quiet)
            btc_print_summary(stderr, report, stored);
        answer.outcome = stored ? "stored" : "failed";
        snprintf(answer.error, sizeof(answer.error), "%s", stored ? "" : store_error);
    } else if (stored) {
        if (cfg.debug)
            fprintf(stderr, "btcrash: report stored as %s; sending it\n", stored);
        r = deliver_stored(dir, uuid, claim, &cfg, deadline, api, quiet, &res);
        claim = -1;
        answer_delivery(&answer, r, &res, true, NULL);
    } else {
        r = deliver_direct(report, uuid, &cfg, atts, natts, deadline, quiet, &res);
        if (r == 0 && res.outcome == BTC_HTTP_SENT)
            status = 0;
        answer_delivery(&answer, r, &res, false, store_error);
    }
out:
    btc_db_unclaim(claim);
    fflush(stderr);
    if (api)
        (void)btc_helper_api_answer(BTC_NOTIFY_FD, &answer);
    else
        release_crashed_process();
    /* Bounding the database can wait until the crashed process is gone. */
    if (status == 0 && stored)
        (void)btc_db_prune(dir, uuid);
    free(stored);
    free(atts);
    paths_free(&paths);
    json_decref(state);
    json_decref(copied);
    json_decref(problems);
    json_decref(refused);
    json_decref(report);
    json_decref(userdata);
    btc_capture_free(cap);
    if (rec)
        munmap((void *)rec, size);
    return status;
}
