/* deliver: see deliver.h. The report is on disk, pending, before any attempt
 * starts; only the outcome of an attempt that was made changes its state. */
#include "deliver.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backoff.h"
#include "db.h"
#include "loops.h"
#include "text.h"
#include "clock.h"

/* Whether @path, from an older state file, is where the copy @name of
 * @uuid lives: ".../<uuid>.d/<name>". */
static bool
path_is_copy(const char *path, const char *uuid, const char *name)
{
    char tail[512];
    size_t plen = strlen(path), tlen;

    snprintf(tail, sizeof(tail), "/%s.d/%s", uuid, name);
    tlen = strlen(tail);
    return plen >= tlen && strcmp(path + plen - tlen, tail) == 0;
}

/* The attachment copies the state lists, opened from the report's own
 * DIR/<uuid>.d/ (btc_db_open_attachment): the state names them, it never
 * says where they are. Any other entry is left out, and said so in @note.
 * The strings stay owned by @state; close the descriptors with
 * close_attachments. */
static int
open_attachments(const char *dir, const char *uuid, json_t *state, char *note, size_t note_size,
                 struct btc_http_attachment **ret_atts, size_t *ret_n)
{
    json_t *list = json_object_get(state, "attachments"), *item;
    struct btc_http_attachment *atts = NULL;
    size_t n = 0, i, used = 0;

    if (json_is_array(list) && json_array_size(list) > 0) {
        atts = calloc(json_array_size(list), sizeof(*atts));
        if (!atts)
            return -ENOMEM;
    }
    json_array_foreach(list, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *path = json_string_value(json_object_get(item, "path"));
        const char *why = NULL;
        int fd;

        /* An older state names the copy's path too; any path is ignored,
         * but one that is not the copy's own place is worth a word. */
        fd = name ? btc_db_open_attachment(dir, uuid, name) : -EINVAL;
        if (fd == -EINVAL)
            why = "not a file name of the report's own copies";
        else if (fd == -ELOOP)
            why = "a symbolic link in the report's copies";
        else if (fd == -EMEDIUMTYPE)
            why = "not a regular file";
        else if (fd == -ENOENT)
            why = "no such copy in the database";
        else if (fd < 0)
            why = strerror(-fd);
        if (!why && path && !path_is_copy(path, uuid, name))
            why = "the state names a path outside the report's copies";
        if (why) {
            const char *label = name ? name : path ? path : "?";
            char shown[128];

            if (fd >= 0)
                close(fd);
            btc_text_escape(shown, sizeof(shown), label, strlen(label), 0);
            if (used < note_size)
                used +=
                    (size_t)snprintf(note + used, note_size - used, "%sattachment %s not sent: %s",
                                     used ? "; " : "", shown, why);
            continue;
        }
        atts[n].name = name;
        atts[n].path = name;
        atts[n].from_fd = true;
        atts[n].fd = fd;
        n++;
    }
    *ret_atts = atts;
    *ret_n = n;
    return 0;
}

static void
close_attachments(struct btc_http_attachment *atts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        close(atts[i].fd);
    free(atts);
}

/* "@what @where: <strerror(-@err)>" through @log, when there is one. */
static void
log_failure(btc_http_log_fn log, void *log_ctx, const char *what, const char *where, int err)
{
    char line[512];

    if (!log)
        return;
    snprintf(line, sizeof(line), "%s %s: %s", what, where, strerror(-err));
    log(line, log_ctx);
}

/* @t (seconds since the epoch) as "2026-12-03 10:42:13 UTC" in @buf. */
static void
format_utc(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, size, "%lld", (long long)t);
}

/* @state updated in place with the outcome of attempt number @attempts,
 * made at @now; a failed one gets its next attempt (backoff.h, and no
 * sooner than the server's Retry-After), also in res->next_attempt. */
static int
record_outcome(json_t *state, struct btc_http_result *res, json_int_t attempts, int64_t now)
{
    const char *name = res->outcome == BTC_HTTP_SENT       ? "sent"
                       : res->outcome == BTC_HTTP_REJECTED ? "rejected"
                                                           : "pending";

    if (json_object_set_new(state, "state", json_string(name)) < 0 ||
        json_object_set_new(state, "attempts", json_integer(attempts)) < 0 ||
        json_object_set_new(state, "updated", json_integer((json_int_t)now)) < 0)
        return -ENOMEM;
    if (res->status != 0) {
        if (json_object_set_new(state, "http_status", json_integer(res->status)) < 0)
            return -ENOMEM;
    } else {
        /* No answer this time: an older attempt's status would mislead. */
        json_object_del(state, "http_status");
    }
    res->next_attempt = 0;
    if (res->outcome == BTC_HTTP_RETRY) {
        int64_t after =
            res->retry_after_s > BTC_DB_HOLD_MAX_S ? BTC_DB_HOLD_MAX_S : res->retry_after_s;

        res->next_attempt = now + btc_backoff_delay_s((int)attempts, btc_backoff_random());
        if (now + after > res->next_attempt)
            res->next_attempt = now + after;
        if (json_object_set_new(state, "next_attempt", json_integer(res->next_attempt)) < 0)
            return -ENOMEM;
    } else {
        json_object_del(state, "next_attempt");
    }
    if (res->outcome == BTC_HTTP_SENT) {
        json_object_del(state, "last_error");
        if (res->rxid[0] && json_object_set_new(state, "rxid", json_string(res->rxid)) < 0)
            return -ENOMEM;
    } else if (json_object_set_new(state, "last_error", json_string(res->error)) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/* Whether the report whose state is @state may be tried now (DESIGN.md
 * §6): not while its endpoint @id is held back by a Retry-After, nor
 * before its own next attempt is due. Returns 0, or -EAGAIN with *@ret
 * saying until when and why. */
static int
check_due(const char *dir, const char *id, json_t *state, struct btc_http_result *ret)
{
    int64_t now = (int64_t)time(NULL), until = 0,
            next = json_integer_value(json_object_get(state, "next_attempt"));
    json_int_t attempts = json_integer_value(json_object_get(state, "attempts"));
    long status = 0;
    char when[64];

    if (btc_db_hold_get(dir, id, &until, &status) == 0 && until > now) {
        *ret = (struct btc_http_result){.outcome = BTC_HTTP_RETRY, .next_attempt = until};
        format_utc(until, when, sizeof(when));
        snprintf(ret->error, sizeof(ret->error),
                 "the server asked to wait until %s (HTTP %ld, Retry-After)", when, status);
        return -EAGAIN;
    }
    /* A due time past the longest backoff and hold is no writer's: a
     * planted or broken state file does not hold a report back. */
    if (next > now && next <= now + BTC_BACKOFF_MAX_S + BTC_DB_HOLD_MAX_S) {
        *ret = (struct btc_http_result){.outcome = BTC_HTTP_RETRY, .next_attempt = next};
        format_utc(next, when, sizeof(when));
        snprintf(ret->error, sizeof(ret->error),
                 "next attempt due at %s (backoff after %lld failed attempt%s)", when,
                 (long long)attempts, attempts == 1 ? "" : "s");
        return -EAGAIN;
    }
    return 0;
}

/* Whether the report whose state is @state may go to @cfg's endpoint
 * (DESIGN.md §6): made for it, or, with BTC_DELIVER_LOCAL, made in local
 * mode or for no known endpoint, in which case it is bound to this one from
 * now on. Returns 0, -EXDEV, -ENOTCONN or -ENOMEM. */
static int
check_endpoint(json_t *state, const struct btc_config *cfg, unsigned flags)
{
    const char *mode = json_string_value(json_object_get(state, "mode"));
    const char *made_for = json_string_value(json_object_get(state, "endpoint_id"));
    char id[BTC_HTTP_ENDPOINT_ID_LEN + 1], *shown;
    int r;

    r = btc_http_endpoint_id(cfg->endpoint, cfg->token, id);
    if (r < 0)
        return r;
    if (mode && !strcmp(mode, "endpoint"))
        return made_for && !strcmp(made_for, id) ? 0 : -EXDEV;
    if (!(flags & BTC_DELIVER_LOCAL))
        return -ENOTCONN;
    shown = btc_http_redact(cfg->endpoint, cfg->token);
    if (!shown || json_object_set_new(state, "mode", json_string("endpoint")) < 0 ||
        json_object_set_new(state, "endpoint_id", json_string(id)) < 0 ||
        json_object_set_new(state, "endpoint_url", json_string(shown)) < 0)
        r = -ENOMEM;
    free(shown);
    return r;
}

/* The payload for @uuid's report @json: its minidump when the state says
 * one is stored (db.h), with the report's attributes as form fields; else
 * the report itself. A dump that is named but cannot be opened, or a
 * report whose attributes cannot be read, is not lost for it: the JSON
 * report goes instead, and @note says why. *@dump_fd is the dump's
 * descriptor (the caller closes it) or -1; *@attrs the parsed report
 * (the caller decrefs it) or NULL. */
static void
choose_payload(const char *dir, const char *uuid, json_t *state, const char *json, size_t len,
               struct btc_http_payload *p, int *dump_fd, json_t **report, char *note,
               size_t note_size)
{
    const char *format = json_string_value(json_object_get(state, "format"));
    uint64_t size;
    int r;

    *p = (struct btc_http_payload){
        .format = BTC_CFG_FORMAT_JSON, .json = json, .len = len, .minidump_fd = -1, .uuid = uuid};
    *dump_fd = -1;
    *report = NULL;
    if (!format || strcmp(format, "minidump") != 0)
        return;
    r = btc_db_open_minidump(dir, uuid, dump_fd, &size);
    if (r < 0) {
        size_t used = strlen(note);

        snprintf(note + used, note_size - used,
                 "%sminidump %s.dmp not sent (%s); the JSON report "
                 "was sent instead",
                 used ? "; " : "", uuid,
                 r == -ELOOP    ? "a symbolic link"
                 : r == -EINVAL ? "not a regular file"
                                : strerror(-r));
        *dump_fd = -1;
        return;
    }
    /* The report was parsed when it was read (btc_db_read_report); a
     * failure here is out of memory, and the fields are then left out. */
    *report = json_loadb(json, len, 0, NULL);
    p->format = BTC_CFG_FORMAT_MINIDUMP;
    p->minidump_fd = *dump_fd;
    p->attributes = json_object_get(*report, "attributes");
    if (!json_is_object(p->attributes))
        p->attributes = NULL;
}

int
btc_deliver_claimed(const char *dir, const char *uuid, const struct btc_config *cfg, unsigned flags,
                    int64_t deadline_mono_ns, btc_http_log_fn log, void *log_ctx,
                    struct btc_http_result *ret)
{
    struct btc_http_attachment *atts = NULL;
    struct btc_http_payload payload;
    struct btc_http_result res;
    char id[BTC_HTTP_ENDPOINT_ID_LEN + 1];
    json_t *state = NULL, *report = NULL;
    const char *current;
    json_int_t attempts;
    char *json = NULL, note[sizeof(res.note)] = "";
    size_t len = 0, natts = 0;
    int dump_fd = -1, r;

    if (!dir || !uuid || !cfg || !cfg->endpoint || !ret)
        return -EINVAL;
    r = btc_db_read_state(dir, uuid, &state);
    if (r < 0)
        goto out;
    current = json_string_value(json_object_get(state, "state"));
    /* `flush --retry-rejected`: a rejected report is pending again. */
    if (current && !strcmp(current, "rejected") && (flags & BTC_DELIVER_RETRY_REJECTED))
        current = NULL;
    if (current && strcmp(current, "pending") != 0) {
        r = -EALREADY;
        goto out;
    }
    r = check_endpoint(state, cfg, flags);
    if (r < 0)
        goto out;
    r = btc_http_endpoint_id(cfg->endpoint, cfg->token, id);
    if (r < 0)
        goto out;
    if (!(flags & BTC_DELIVER_FORCE)) {
        r = check_due(dir, id, state, ret);
        if (r < 0)
            goto out;
    }
    r = btc_db_read_report(dir, uuid, &json, &len);
    if (r < 0)
        goto out;
    r = open_attachments(dir, uuid, state, note, sizeof(note), &atts, &natts);
    if (r < 0)
        goto out;
    choose_payload(dir, uuid, state, json, len, &payload, &dump_fd, &report, note, sizeof(note));
    if (note[0] && log)
        log(note, log_ctx);
    r = btc_http_submit_payload(cfg, &payload, atts, natts, deadline_mono_ns, log, log_ctx, &res);
    if (r < 0)
        goto out;
    /* Ours first: they are about the state file, http's about the request. */
    if (note[0]) {
        char both[2 * sizeof(note) + 2];

        snprintf(both, sizeof(both), "%s%s%s", note, res.note[0] ? "; " : "", res.note);
        btc_text_escape(res.note, sizeof(res.note), both, strlen(both), 0);
    }
    attempts = json_integer_value(json_object_get(state, "attempts"));
    attempts = attempts < 0 ? 1 : attempts + 1;
    r = record_outcome(state, &res, attempts, (int64_t)time(NULL));
    if (r < 0)
        goto out;
    /* Every process that shares the database holds back from the
     * endpoint, not only this report (btc_db_hold_get). */
    if (res.retry_after_s > 0) {
        /* Cut before the sum: what the server said may be near INT64_MAX. */
        int64_t after =
            res.retry_after_s > BTC_DB_HOLD_MAX_S ? BTC_DB_HOLD_MAX_S : res.retry_after_s;
        int h = btc_db_hold_set(dir, id, (int64_t)time(NULL) + after, res.status);

        if (h < 0)
            log_failure(log, log_ctx, "could not record the server's Retry-After in", dir, h);
    }
    /* Whatever happens to the state file, the attempt was made and the
     * caller learns its outcome. A failed write leaves the report pending:
     * a later flush sends it again (at worst a duplicate, never a loss). */
    r = btc_db_write_state(dir, uuid, state);
    if (r < 0)
        log_failure(log, log_ctx, "could not record the outcome in the state of", uuid, r);
    *ret = res;
    r = 0;
out:
    if (dump_fd >= 0)
        close(dump_fd);
    json_decref(report);
    close_attachments(atts, natts);
    free(json);
    json_decref(state);
    return r;
}

int
btc_deliver_report(const char *dir, const char *uuid, const struct btc_config *cfg, unsigned flags,
                   int64_t deadline_mono_ns, btc_http_log_fn log, void *log_ctx,
                   struct btc_http_result *ret)
{
    int claim = -1, r;

    if (!dir || !uuid || !cfg || !cfg->endpoint || !ret)
        return -EINVAL;
    /* Claim first, then read the state: another process may have sent the
     * report between our listing and our claim. */
    r = btc_db_claim(dir, uuid, &claim);
    if (r < 0)
        return r;
    r = btc_deliver_claimed(dir, uuid, cfg, flags, deadline_mono_ns, log, log_ctx, ret);
    btc_db_unclaim(claim);
    return r;
}

/* check_endpoint on a listing's entry, before any claim: a claim, however
 * short, on another endpoint's report could make its own sender skip it. */
static int
entry_is_for(const struct btc_db_entry *e, const char *id, unsigned flags)
{
    if (e->mode && !strcmp(e->mode, "endpoint"))
        return e->endpoint_id && !strcmp(e->endpoint_id, id) ? 0 : -EXDEV;
    return flags & BTC_DELIVER_LOCAL ? 0 : -ENOTCONN;
}

int
btc_deliver_pending(const char *dir, const char *skip_uuid, const struct btc_config *cfg,
                    unsigned flags, uint32_t per_report_ms, int64_t deadline_mono_ns,
                    btc_http_log_fn log, void *log_ctx, btc_deliver_each_fn each, void *each_ctx)
{
    struct btc_db_entry *entries = NULL;
    char id[BTC_HTTP_ENDPOINT_ID_LEN + 1];
    size_t n = 0;
    int tried = 0, r;

    if (!dir || !cfg || !cfg->endpoint)
        return -EINVAL;
    r = btc_http_endpoint_id(cfg->endpoint, cfg->token, id);
    if (r < 0)
        return r;
    /* Crash loops whose window has passed: the newest repeat of each goes
     * with their count (loops.h). */
    r = btc_loops_release(dir, cfg, deadline_mono_ns);
    if (r < 0)
        log_failure(log, log_ctx, "could not release the crash loops in", dir, r);
    r = btc_db_list(dir, &entries, &n);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        const struct btc_db_entry *e = &entries[i];
        struct btc_http_result res = {0};
        int64_t now = btc_clock_now_ns(), deadline = deadline_mono_ns;

        if (now >= deadline_mono_ns)
            break;
        bool wanted = !e->state || !strcmp(e->state, "pending") ||
                      (!strcmp(e->state, "rejected") && (flags & BTC_DELIVER_RETRY_REJECTED));

        if (!wanted || (skip_uuid && strcmp(e->uuid, skip_uuid) == 0))
            continue;
        r = entry_is_for(e, id, flags);
        if (r == 0) {
            if (per_report_ms > 0 && now + (int64_t)per_report_ms * 1000000LL < deadline)
                deadline = now + (int64_t)per_report_ms * 1000000LL;
            r = btc_deliver_report(dir, e->uuid, cfg, flags, deadline, log, log_ctx, &res);
        }
        /* Gone, or sent by someone else since the listing: not ours. */
        if (r == -ENOENT || r == -EALREADY || r == -EBUSY)
            continue;
        /* Not for this endpoint: the caller may say so, it was not tried. */
        if (r == -EXDEV || r == -ENOTCONN) {
            if (each)
                each(e->uuid, r, NULL, each_ctx);
            continue;
        }
        /* Not due yet (a Retry-After, its backoff): not tried, said why. */
        if (r == -EAGAIN) {
            if (each)
                each(e->uuid, r, &res, each_ctx);
            continue;
        }
        /* Too little time left for another attempt: neither is this one. */
        if (r == -ETIMEDOUT && deadline == deadline_mono_ns)
            break;
        tried++;
        if (each)
            each(e->uuid, r, r < 0 ? NULL : &res, each_ctx);
        /* A wrong token or URL fails every report alike: the others stay
         * pending, untried, until it is fixed. */
        if (r == 0 && res.endpoint_wrong)
            break;
    }
    btc_db_entries_free(entries, n);
    return tried;
}
