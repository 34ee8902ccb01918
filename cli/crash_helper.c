/* crash_helper: see crash_helper.h. Runs in the helper process while the
 * crashed process waits in its signal handler, until the record's deadline. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "cli.h"
#include "clock.h"
#include "crash_helper.h"
#include "config.h"
#include "crash_record.h"
#include "db.h"
#include "deliver.h"
#include "http.h"
#include "json_util.h"
#include "print.h"
#include "report.h"

/* The crashed process inherited descriptors into us (all those without
 * close-on-exec), and blocked every signal before exec'ing us. */
static void
sanitize_process(void)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    close_range(BTC_NOTIFY_FD + 1, ~0u, 0);
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
    if (rec->magic != BTC_RECORD_MAGIC || rec->version != BTC_RECORD_VERSION ||
        rec->header_size != sizeof(*rec) || rec->stack_len > BTC_STACK_SNAPSHOT_MAX ||
        sizeof(*rec) + rec->stack_len > (size_t)st.st_size) {
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

/* Say in the report's "Crash" annotation which attachments were left out. */
static int
note_attachment_problems(json_t *report, json_t *problems)
{
    json_t *crash = json_object_get(json_object_get(report, "annotations"), "Crash");

    if (!json_is_object(crash))
        return 0;
    if (json_array_size(problems) == 0) {
        json_object_del(crash, "attachments");
        return 0;
    }
    return json_object_set(crash, "attachments", problems) < 0 ? -ENOMEM : 0;
}

static const char *
basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/*
 * The original files of @paths (':'-separated) as parts, for a report that
 * could not be stored; @problems (may be NULL) gets a note for each one
 * btc_http_submit will skip. The parts point into *@ret_buf, which the caller frees.
 */
static int
original_attachments(const char *paths, json_t *problems, char **ret_buf,
                     struct btc_http_attachment **ret_atts, size_t *ret_n)
{
    struct btc_http_attachment *atts = NULL;
    char *buf, *save = NULL;
    size_t n = 0, max = 1;

    buf = strdup(paths ? paths : "");
    if (!buf)
        return -ENOMEM;
    for (const char *p = buf; *p; p++)
        max += *p == ':';
    atts = calloc(max, sizeof(*atts));
    if (!atts) {
        free(buf);
        return -ENOMEM;
    }
    for (char *path = strtok_r(buf, ":", &save); path; path = strtok_r(NULL, ":", &save)) {
        const char *name = basename_of(path);
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
    *ret_buf = buf;
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
        fprintf(stderr, "btcrash: report %s rejected by the server: HTTP %ld\n", uuid, res->status);
    else
        fprintf(stderr, "btcrash: report %s %s: %s\n", uuid, keep, res->error);
}

struct older {
    bool debug;
    int sent, rejected, kept;
};

static void
on_older(const char *uuid, int err, const struct btc_http_result *res, void *ctx)
{
    struct older *o = ctx;

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
 * Endpoint mode: send the stored report @uuid, then older pending ones while
 * time is left. Returns the outcome of the new report's attempt.
 */
static int
deliver_stored(const char *dir, const char *uuid, const struct btc_config *cfg, int64_t deadline,
               struct btc_http_result *ret)
{
    btc_http_log_fn log = cfg->debug ? log_stderr : NULL;
    struct older older = {.debug = cfg->debug};
    int r, n;

    r = btc_deliver_report(dir, uuid, cfg, deadline, log, NULL, ret);
    print_outcome(uuid, r, ret, true);
    /* The server answered: worth offering it what earlier crashes left.
     * After a network error or time-out, the next attempt would fare alike. */
    if (r < 0 || ret->outcome == BTC_HTTP_RETRY)
        return r;
    n = btc_deliver_pending(dir, uuid, cfg, cfg->timeout_ms, deadline, log, NULL, on_older, &older);
    if (n < 0 && cfg->debug)
        fprintf(stderr, "btcrash: could not list older reports in %s: %s\n", dir, strerror(-n));
    if (n > 0 && !cfg->debug)
        fprintf(stderr, "btcrash: %d older report%s: %d sent, %d rejected, %d kept for retry\n", n,
                n == 1 ? "" : "s", older.sent, older.rejected, older.kept);
    return r;
}

/* The report could not be stored: send it from memory, the last chance. */
static int
deliver_direct(json_t *report, const char *uuid, const struct btc_config *cfg,
               const struct btc_http_attachment *atts, size_t natts, int64_t deadline)
{
    struct btc_http_result res = {0};
    char *json = json_dumps(report, JSON_COMPACT);
    int r;

    if (!json)
        return -ENOMEM;
    r = btc_http_submit(cfg, json, strlen(json), atts, natts, deadline,
                        cfg->debug ? log_stderr : NULL, NULL, &res);
    print_outcome(uuid, r, &res, false);
    free(json);
    return r < 0 ? r : res.outcome == BTC_HTTP_SENT ? 0 : -EIO;
}

int
btc_helper_main(void)
{
    const struct btc_crash_record *rec = NULL;
    struct btc_capture *cap = NULL;
    struct btc_http_attachment *atts = NULL;
    struct btc_http_result res = {0};
    struct btc_config cfg;
    char dbdir[4096];
    const char *dir, *uuid;
    char *stored = NULL, *paths_buf = NULL;
    json_t *report = NULL, *copied = NULL, *problems = NULL, *state = NULL;
    size_t size = 0, natts = 0;
    int64_t deadline;
    int r, status = 1;

    sanitize_process();
    /* The library already reported bad values at start-up: stay quiet. */
    btc_cfg_load(btc_cli_getenv, NULL, NULL, NULL, &cfg);
    /* curl's one-time set-up (OpenSSL's included) before the clock matters. */
    if (cfg.endpoint && btc_http_global_init() < 0)
        fprintf(stderr, "btcrash: curl_global_init failed; the report can only be stored\n");

    r = map_record(&rec, &size);
    if (r < 0) {
        fprintf(stderr, "btcrash: no valid crash record on descriptor %d: %s\n", BTC_RECORD_FD,
                strerror(-r));
        return 2;
    }
    deadline = send_deadline(rec, cfg.timeout_ms);
    r = btc_unwind_capture(rec, (const char *)rec + rec->header_size, &cap);
    if (r < 0) {
        fprintf(stderr, "btcrash: could not capture the crashed process %d: %s\n", rec->pid,
                strerror(-r));
        goto out;
    }
    report = btc_report_build(rec, cap, &cfg, btc_cli_warn_stderr, NULL);
    if (!report) {
        fprintf(stderr, "btcrash: could not build the report: out of memory\n");
        goto out;
    }
    uuid = json_string_value(json_object_get(report, "uuid"));
    if (!uuid) {
        fprintf(stderr, "btcrash: the report has no uuid\n");
        goto out;
    }

    dir = cfg.database_path;
    if (!dir) {
        r = btc_cfg_default_database_path(btc_cli_getenv, NULL, getuid(), dbdir, sizeof(dbdir));
        dir = r < 0 ? NULL : dbdir;
    }
    /* Copies first, so the report can say which attachments are missing,
     * and a later flush sends what the files held at crash time. */
    if (dir && cfg.attachments) {
        r = btc_db_copy_attachments(dir, uuid, cfg.attachments, &copied, &problems);
        if (r < 0) {
            copied = problems = NULL;
            if (cfg.debug)
                fprintf(stderr, "btcrash: could not copy the attachments into %s: %s\n", dir,
                        strerror(-r));
        }
    }
    if (!problems)
        problems = json_array();
    if (cfg.attachments && !copied) {
        /* No copies: the originals will be sent from where they are. */
        r = original_attachments(cfg.attachments, problems, &paths_buf, &atts, &natts);
        if (r < 0)
            goto out;
    }
    if (note_attachment_problems(report, problems) < 0)
        goto out;
    if (cfg.debug) {
        size_t i;
        json_t *note;

        json_array_foreach(problems, i, note)
            fprintf(stderr, "btcrash: %s\n", json_string_value(note));
    }

    r = dir ? btc_db_store(dir, report, &stored) : -ENAMETOOLONG;
    if (r < 0) {
        fprintf(stderr, "btcrash: could not store the report in %s: %s%s\n", dir ? dir : "(none)",
                strerror(-r), cfg.endpoint ? "; sending it directly" : "");
        if (dir && copied)
            (void)btc_db_remove(dir, uuid);
        /* The copies are gone (or were never made): send the originals, and
         * let the report say what became of them, not of the copies. */
        if (cfg.attachments) {
            free(atts);
            free(paths_buf);
            atts = NULL;
            paths_buf = NULL;
            natts = 0;
            json_decref(problems);
            problems = json_array();
            if (!problems ||
                original_attachments(cfg.attachments, problems, &paths_buf, &atts, &natts) < 0 ||
                note_attachment_problems(report, problems) < 0)
                goto out;
        }
    } else {
        status = 0;
        state = json_pack("{s:s, s:o}", "state", "pending", "attachments",
                          copied ? json_incref(copied) : json_array());
        /* btc_db_store wrote {"state":"pending"}: enough to be sent later,
         * but without the attachment list a flush would leave them out. */
        r = state ? btc_db_write_state(dir, uuid, state) : -ENOMEM;
        if (r < 0)
            fprintf(stderr, "btcrash: could not record the attachments of report %s: %s\n", uuid,
                    strerror(-r));
    }

    if (cfg.debug)
        btc_print_report(stderr, report, false);
    if (!cfg.endpoint) {
        btc_print_summary(stderr, report, stored);
    } else if (stored) {
        if (cfg.debug)
            fprintf(stderr, "btcrash: report stored as %s; sending it\n", stored);
        (void)deliver_stored(dir, uuid, &cfg, deadline, &res);
    } else if (deliver_direct(report, uuid, &cfg, atts, natts, deadline) == 0) {
        status = 0;
    }
out:
    fflush(stderr);
    release_crashed_process();
    /* Bounding the database can wait until the crashed process is gone. */
    if (status == 0 && stored)
        (void)btc_db_prune(dir, uuid);
    free(stored);
    free(atts);
    free(paths_buf);
    json_decref(state);
    json_decref(copied);
    json_decref(problems);
    json_decref(report);
    btc_capture_free(cap);
    if (rec)
        munmap((void *)rec, size);
    return status;
}
