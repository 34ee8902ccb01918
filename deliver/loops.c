/* loops: see loops.h. */
#include "loops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "db.h"
#include "http.h"
#include "sha256.h"

/* One frame's part of the signature: the basename of its module and its
 * offset there, which neither ASLR nor how far symbolication got (a
 * deadline, a missing debug file) changes; the function name for a frame
 * in no module (JIT code, a corrupt pc). */
static void
add_frame(struct btc_sha256 *h, json_t *frame, json_t *modules)
{
    const char *addr = json_string_value(json_object_get(frame, "address"));
    const char *fn = json_string_value(json_object_get(frame, "funcName"));
    unsigned long long pc = addr ? strtoull(addr, NULL, 16) : 0;
    char text[320];
    json_t *m;
    size_t i;

    snprintf(text, sizeof(text), "%s", fn && *fn ? fn : "?");
    json_array_foreach(modules, i, m)
    {
        unsigned long long start =
            (unsigned long long)json_integer_value(json_object_get(m, "start"));
        unsigned long long size =
            (unsigned long long)json_integer_value(json_object_get(m, "size"));
        const char *file = json_string_value(json_object_get(m, "code_file"));
        const char *base = file ? strrchr(file, '/') : NULL;

        if (pc >= start && pc - start < size) {
            snprintf(text, sizeof(text), "%s+%llx",
                     base   ? base + 1
                     : file ? file
                            : "?",
                     pc - start);
            break;
        }
    }
    btc_sha256_update(h, text, strlen(text));
    btc_sha256_update(h, "\n", 1);
}

int
btc_loops_signature(json_t *report, char ret[65])
{
    const char *main_thread = json_string_value(json_object_get(report, "mainThread"));
    const char *app =
        json_string_value(json_object_get(json_object_get(report, "attributes"), "application"));
    json_t *stack, *classifiers = json_object_get(report, "classifiers"), *c;
    struct btc_sha256 h;
    uint8_t digest[BTC_SHA256_LEN];
    size_t i;

    stack = json_object_get(
        json_object_get(json_object_get(report, "threads"), main_thread ? main_thread : ""),
        "stack");
    if (!json_is_array(stack))
        return -EINVAL;
    btc_sha256_init(&h);
    btc_sha256_update(&h, app ? app : "", strlen(app ? app : ""));
    btc_sha256_update(&h, "\n", 1);
    json_array_foreach(classifiers, i, c)
    {
        const char *s = json_string_value(c);

        btc_sha256_update(&h, s ? s : "", strlen(s ? s : ""));
        btc_sha256_update(&h, ",", 1);
    }
    btc_sha256_update(&h, "\n", 1);
    for (i = 0; i < json_array_size(stack) && i < 3; i++)
        add_frame(&h, json_array_get(stack, i), json_object_get(report, "modules"));
    btc_sha256_final(&h, digest);
    for (i = 0; i < BTC_SHA256_LEN; i++)
        snprintf(ret + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

/* @uuid's state becomes @name (with "counted_in" for "counted"). */
static int
set_state(const char *dir, const char *uuid, const char *name, const char *counted_in)
{
    json_t *state = NULL;
    int r = btc_db_read_state(dir, uuid, &state);

    if (r < 0)
        return r;
    if (json_object_set_new(state, "state", json_string(name)) < 0 ||
        (counted_in && json_object_set_new(state, "counted_in", json_string(counted_in)) < 0))
        r = -ENOMEM;
    else
        r = btc_db_write_state(dir, uuid, state);
    json_decref(state);
    return r;
}

static bool
is_throttled_of(const struct btc_db_entry *e, const char *sig)
{
    return e->state && !strcmp(e->state, "throttled") && e->signature && !strcmp(e->signature, sig);
}

int
btc_loops_mark_counted(const char *dir, const char *sig, const char *except_uuid,
                       const char *counted_in)
{
    struct btc_db_entry *e = NULL;
    size_t n = 0;
    int marked = 0, r;

    r = btc_db_list(dir, &e, &n);
    if (r < 0)
        return r == -ENOENT ? 0 : r;
    for (size_t i = 0; i < n; i++) {
        if (!is_throttled_of(&e[i], sig) || (except_uuid && !strcmp(e[i].uuid, except_uuid)))
            continue;
        if (set_state(dir, e[i].uuid, "counted", counted_in) == 0)
            marked++;
    }
    btc_db_entries_free(e, n);
    return marked;
}

/* @uuid, throttled, becomes the pending report of @count crashes: its
 * report carries crash.count, its state is pending. */
static int
make_representative(const char *dir, const char *uuid, int64_t count)
{
    json_t *report, *state = NULL, *attrs;
    char *text = NULL;
    size_t len = 0;
    int claim = -1, r;

    r = btc_db_claim(dir, uuid, &claim);
    if (r < 0)
        return r;
    r = btc_db_read_report(dir, uuid, &text, &len);
    if (r < 0)
        goto out;
    report = json_loadb(text, len, 0, NULL);
    free(text);
    attrs = json_object_get(report, "attributes");
    r = btc_db_read_state(dir, uuid, &state);
    if (r == 0 && (!json_is_object(attrs) ||
                   json_object_set_new(attrs, BTC_LOOPS_COUNT_ATTRIBUTE, json_integer(count)) < 0 ||
                   json_object_set_new(state, "state", json_string("pending")) < 0))
        r = -ENOMEM;
    if (r == 0)
        r = btc_db_replace(dir, uuid, report, state, &claim);
    json_decref(report);
    json_decref(state);
out:
    btc_db_unclaim(claim);
    return r;
}

/* The longest a release waits for one record's lock: its holders read and
 * write a line, or mark a few states. */
#define RECORD_WAIT_NS (1000 * 1000000LL)

/* Release @sig's loop when its window has passed. Returns 1 when a report
 * was released, 0, or -errno. */
static int
release_one(const char *dir, const char *sig, const char *endpoint_id, int64_t window_ms,
            int64_t deadline_mono_ns)
{
    struct btc_db_entry *e = NULL;
    struct btc_db_loop loop;
    const char *newest = NULL;
    int64_t now = (int64_t)time(NULL);
    size_t n = 0;
    int r;

    /* `btcrash flush` has no overall deadline: a record held by a stopped
     * or hung process must not hold it up for good, only for a moment. */
    if (deadline_mono_ns - btc_clock_now_ns() > RECORD_WAIT_NS)
        deadline_mono_ns = btc_clock_now_ns() + RECORD_WAIT_NS;
    r = btc_db_loop_open(dir, sig, deadline_mono_ns, &loop);
    if (r < 0)
        return r;
    if (loop.throttled == 0 || (now - loop.sent_at) * 1000 < window_ms) {
        btc_db_loop_close(&loop, false);
        return 0;
    }
    r = btc_db_list(dir, &e, &n);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (is_throttled_of(&e[i], sig) && e[i].endpoint_id &&
            !strcmp(e[i].endpoint_id, endpoint_id))
            newest = e[i].uuid; /* oldest first: the last one is the newest */
    if (r == 0 && newest) {
        r = make_representative(dir, newest, loop.throttled);
        if (r == 0) {
            btc_loops_mark_counted(dir, sig, newest, newest);
            loop.sent_at = now;
            loop.throttled = 0;
        }
    }
    /* No throttled report of this endpoint's left (pruned, or another
     * endpoint's): the count waits for the next crash of it. */
    btc_db_loop_close(&loop, r == 0 && newest);
    btc_db_entries_free(e, n);
    return r < 0 ? r : newest ? 1 : 0;
}

int
btc_loops_release(const char *dir, const struct btc_config *cfg, int64_t deadline_mono_ns)
{
    char id[BTC_HTTP_ENDPOINT_ID_LEN + 1], (*sigs)[65] = NULL;
    size_t n = 0;
    int released = 0, r;

    if (!dir || !cfg || !cfg->endpoint)
        return -EINVAL;
    r = btc_http_endpoint_id(cfg->endpoint, cfg->token, id);
    if (r < 0)
        return r;
    r = btc_db_loop_list(dir, &sigs, &n);
    if (r < 0)
        return r == -ENOENT ? 0 : r;
    for (size_t i = 0; i < n; i++) {
        r = release_one(dir, sigs[i], id, cfg->crash_loop_window_ms, deadline_mono_ns);
        if (r > 0)
            released++;
    }
    free(sigs);
    return released;
}
