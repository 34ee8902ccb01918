/* deliver: see deliver.h. The report is on disk, pending, before any attempt
 * starts; only the outcome of an attempt that was made changes its state. */
#include "deliver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "db.h"

static int64_t
now_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The attachment copies the state lists, as parts for btc_http_submit. The
 * strings stay owned by @state. */
static int
attachments_of(json_t *state, struct btc_http_attachment **ret_atts, size_t *ret_n)
{
    json_t *list = json_object_get(state, "attachments"), *item;
    struct btc_http_attachment *atts = NULL;
    size_t n = 0, i;

    if (json_is_array(list) && json_array_size(list) > 0) {
        atts = calloc(json_array_size(list), sizeof(*atts));
        if (!atts)
            return -ENOMEM;
        json_array_foreach(list, i, item)
        {
            const char *path = json_string_value(json_object_get(item, "path"));

            /* A malformed entry is ignored: the report itself matters more. */
            if (!path)
                continue;
            atts[n].path = path;
            atts[n].name = json_string_value(json_object_get(item, "name"));
            n++;
        }
    }
    *ret_atts = atts;
    *ret_n = n;
    return 0;
}

/* @state updated in place with the outcome of attempt number @attempts. */
static int
record_outcome(json_t *state, const struct btc_http_result *res, json_int_t attempts)
{
    const char *name = res->outcome == BTC_HTTP_SENT       ? "sent"
                       : res->outcome == BTC_HTTP_REJECTED ? "rejected"
                                                           : "pending";

    if (json_object_set_new(state, "state", json_string(name)) < 0 ||
        json_object_set_new(state, "attempts", json_integer(attempts)) < 0 ||
        json_object_set_new(state, "updated", json_integer((json_int_t)time(NULL))) < 0)
        return -ENOMEM;
    if (res->status != 0) {
        if (json_object_set_new(state, "http_status", json_integer(res->status)) < 0)
            return -ENOMEM;
    } else {
        /* No answer this time: an older attempt's status would mislead. */
        json_object_del(state, "http_status");
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

int
btc_deliver_report(const char *dir, const char *uuid, const struct btc_config *cfg,
                   int64_t deadline_mono_ns, btc_http_log_fn log, void *log_ctx,
                   struct btc_http_result *ret)
{
    struct btc_http_attachment *atts = NULL;
    struct btc_http_result res;
    json_t *state = NULL;
    const char *current;
    json_int_t attempts;
    char *json = NULL;
    size_t len = 0, natts = 0;
    int claim = -1, r;

    if (!dir || !uuid || !cfg || !cfg->endpoint || !ret)
        return -EINVAL;
    /* Claim first, then read the state: another process may have sent the
     * report between our listing and our claim. */
    r = btc_db_claim(dir, uuid, &claim);
    if (r < 0)
        return r;
    r = btc_db_read_state(dir, uuid, &state);
    if (r < 0)
        goto out;
    current = json_string_value(json_object_get(state, "state"));
    if (current && strcmp(current, "pending") != 0) {
        r = -EALREADY;
        goto out;
    }
    r = btc_db_read_report(dir, uuid, &json, &len);
    if (r < 0)
        goto out;
    r = attachments_of(state, &atts, &natts);
    if (r < 0)
        goto out;
    r = btc_http_submit(cfg, json, len, atts, natts, deadline_mono_ns, log, log_ctx, &res);
    if (r < 0)
        goto out;
    attempts = json_integer_value(json_object_get(state, "attempts"));
    attempts = attempts < 0 ? 1 : attempts + 1;
    r = record_outcome(state, &res, attempts);
    if (r < 0)
        goto out;
    /* Whatever happens to the state file, the attempt was made and the
     * caller learns its outcome. A failed write leaves the report pending:
     * a later flush sends it again (at worst a duplicate, never a loss). */
    r = btc_db_write_state(dir, uuid, state);
    if (r < 0 && log) {
        char line[256];

        snprintf(line, sizeof(line), "could not record the outcome in %s.state: %s", uuid,
                 strerror(-r));
        log(line, log_ctx);
    }
    *ret = res;
    r = 0;
out:
    btc_db_unclaim(claim);
    free(atts);
    free(json);
    json_decref(state);
    return r;
}

int
btc_deliver_pending(const char *dir, const char *skip_uuid, const struct btc_config *cfg,
                    uint32_t per_report_ms, int64_t deadline_mono_ns, btc_http_log_fn log,
                    void *log_ctx, btc_deliver_each_fn each, void *each_ctx)
{
    struct btc_db_entry *entries = NULL;
    size_t n = 0;
    int tried = 0, r;

    if (!dir || !cfg || !cfg->endpoint)
        return -EINVAL;
    r = btc_db_list(dir, &entries, &n);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        const struct btc_db_entry *e = &entries[i];
        struct btc_http_result res = {0};
        int64_t now = now_mono_ns(), deadline = deadline_mono_ns;

        if (now >= deadline_mono_ns)
            break;
        if ((e->state && strcmp(e->state, "pending") != 0) ||
            (skip_uuid && strcmp(e->uuid, skip_uuid) == 0))
            continue;
        if (per_report_ms > 0 && now + (int64_t)per_report_ms * 1000000LL < deadline)
            deadline = now + (int64_t)per_report_ms * 1000000LL;
        r = btc_deliver_report(dir, e->uuid, cfg, deadline, log, log_ctx, &res);
        /* Gone, or sent by someone else since the listing: not ours. */
        if (r == -ENOENT || r == -EALREADY || r == -EBUSY)
            continue;
        /* Too little time left for another attempt: neither is this one. */
        if (r == -ETIMEDOUT && deadline == deadline_mono_ns)
            break;
        tried++;
        if (each)
            each(e->uuid, r, r < 0 ? NULL : &res, each_ctx);
    }
    btc_db_entries_free(entries, n);
    return tried;
}
