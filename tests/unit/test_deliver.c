/* test_deliver: sending stored reports and recording each outcome in the
 * state file (submit/deliver.c), on a real database in a mkdtemp directory:
 * only to the endpoint a report was made for, only with its own copies.
 * libcurl's transfer is mocked at the link boundary (--wrap), and the
 * multipart part names are observed (curl_mime_name). */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "curl_linked.h"
#include "config.h"
#include "db.h"
#include "deliver.h"
#include "loops.h"
#include "http.h"

#define OLD "00000000-0000-4000-8000-000000000001"
#define MID "00000000-0000-4000-8000-000000000002"
#define NEW "00000000-0000-4000-8000-000000000003"

static struct {
    long status;
    CURLcode rc;
    int performs;
    curl_write_callback write_fn;
    void *write_data;
    char url[512];
    char parts[8][128]; /* the part names of the requests, in order */
    int nparts;
    curl_off_t retry_after; /* CURLINFO_RETRY_AFTER */
} g_mock;

CURLcode __real_curl_easy_setopt(CURL *curl, CURLoption option, ...);
CURLcode __wrap_curl_easy_setopt(CURL *curl, CURLoption option, ...);
CURLcode __wrap_curl_easy_perform(CURL *curl);
CURLcode __wrap_curl_easy_getinfo(CURL *curl, CURLINFO info, ...);
CURLcode __real_curl_mime_name(curl_mimepart *part, const char *name);
CURLcode __wrap_curl_mime_name(curl_mimepart *part, const char *name);

/* Only the URL and the write callback matter here; everything else is
 * passed on with the argument type its option number implies (curl.h's
 * CURLOPTTYPE_*). */
CURLcode
__wrap_curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    va_list ap;
    CURLcode rc;

    va_start(ap, option);
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        rc = __real_curl_easy_setopt(curl, option, va_arg(ap, long));
    } else if (option < CURLOPTTYPE_FUNCTIONPOINT || option >= CURLOPTTYPE_BLOB) {
        void *v = va_arg(ap, void *);

        if (option == CURLOPT_WRITEDATA)
            g_mock.write_data = v;
        else if (option == CURLOPT_URL)
            snprintf(g_mock.url, sizeof(g_mock.url), "%s", (const char *)v);
        rc = __real_curl_easy_setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_OFF_T) {
        curl_write_callback v = va_arg(ap, curl_write_callback);

        if (option == CURLOPT_WRITEFUNCTION)
            g_mock.write_fn = v;
        rc = __real_curl_easy_setopt(curl, option, v);
    } else {
        rc = __real_curl_easy_setopt(curl, option, va_arg(ap, curl_off_t));
    }
    va_end(ap);
    return rc;
}

CURLcode
__wrap_curl_easy_perform(CURL *curl)
{
    char body[64];
    int n;

    (void)curl;
    g_mock.performs++;
    if (g_mock.rc == CURLE_OK && g_mock.status == 200) {
        n = snprintf(body, sizeof(body), "{\"response\":\"ok\",\"_rxid\":\"rx%d\"}",
                     g_mock.performs);
        g_mock.write_fn(body, 1, (size_t)n, g_mock.write_data);
    }
    return g_mock.rc;
}

CURLcode
__wrap_curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    va_list ap;

    (void)curl;
    va_start(ap, info);
    if (info == CURLINFO_RESPONSE_CODE)
        *va_arg(ap, long *) = g_mock.rc == CURLE_OK ? g_mock.status : 0;
    else if (info == CURLINFO_RETRY_AFTER)
        *va_arg(ap, curl_off_t *) = g_mock.retry_after;
    va_end(ap);
    return CURLE_OK;
}

CURLcode
__wrap_curl_mime_name(curl_mimepart *part, const char *name)
{
    if (g_mock.nparts < 8)
        snprintf(g_mock.parts[g_mock.nparts++], sizeof(g_mock.parts[0]), "%s", name);
    return __real_curl_mime_name(part, name);
}

struct fixture {
    char dir[64];
    char src[64]; /* where attachments come from, outside the database */
    struct btc_config cfg;
    char endpoint_id[BTC_HTTP_ENDPOINT_ID_LEN + 1]; /* of cfg */
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/btc-test-deliver-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    strcpy(f->src, "/tmp/btc-test-deliver-src-XXXXXX");
    if (!mkdtemp(f->src))
        return -1;
    btc_cfg_defaults(&f->cfg);
    f->cfg.endpoint = "http://127.0.0.1:9";
    f->cfg.token = "0123abcd";
    if (btc_http_endpoint_id(f->cfg.endpoint, f->cfg.token, f->endpoint_id) < 0)
        return -1;
    memset(&g_mock, 0, sizeof(g_mock));
    *state = f;
    return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(f->src, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static int64_t
deadline_in(int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + ms * 1000000LL;
}

/* The state of a report made for @endpoint with @token, as the helper
 * writes it, with @attachments (stolen; NULL: none). */
static json_t *
endpoint_state(const char *endpoint, const char *token, json_t *attachments)
{
    char id[BTC_HTTP_ENDPOINT_ID_LEN + 1];
    json_t *st;

    assert_int_equal(btc_http_endpoint_id(endpoint, token, id), 0);
    st = json_pack("{s:s, s:s, s:s, s:s, s:o}", "state", "pending", "mode", "endpoint",
                   "endpoint_id", id, "endpoint_url", endpoint, "attachments",
                   attachments ? attachments : json_array());
    assert_non_null(st);
    return st;
}

/* Store a report with @st as its state (stolen), the claim released. */
static void
store_with(struct fixture *f, const char *uuid, long long timestamp, json_t *st)
{
    json_t *report = json_pack("{s:s, s:I}", "uuid", uuid, "timestamp", timestamp);
    char *path = NULL;

    assert_non_null(report);
    assert_non_null(st);
    assert_int_equal(btc_db_store(f->dir, report, st, &path, NULL), 0);
    free(path);
    json_decref(report);
    json_decref(st);
}

/* A report made for the fixture's endpoint. */
static void
store(struct fixture *f, const char *uuid, long long timestamp)
{
    store_with(f, uuid, timestamp, endpoint_state(f->cfg.endpoint, f->cfg.token, NULL));
}

static json_t *
state_of(struct fixture *f, const char *uuid)
{
    json_t *state = NULL;

    assert_int_equal(btc_db_read_state(f->dir, uuid, &state), 0);
    return state;
}

static void
test_deliver_200_marks_sent_with_rxid_and_keeps_attachments(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    json_t *st, *atts;

    store(f, NEW, 100);
    atts = endpoint_state(f->cfg.endpoint, f->cfg.token,
                          json_pack("[{s:s, s:s, s:s}]", "name", "gone.log", "path",
                                    "/nonexistent/gone.log", "source", "/var/log/gone.log"));
    assert_int_equal(btc_db_write_state(f->dir, NEW, atts), 0);
    g_mock.status = 200;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    st = state_of(f, NEW);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "sent");
    assert_string_equal(json_string_value(json_object_get(st, "rxid")), "rx1");
    assert_int_equal(json_integer_value(json_object_get(st, "http_status")), 200);
    assert_int_equal(json_integer_value(json_object_get(st, "attempts")), 1);
    assert_true(json_integer_value(json_object_get(st, "updated")) > 0);
    assert_true(
        json_equal(json_object_get(st, "attachments"), json_object_get(atts, "attachments")));
    /* The copy is gone: the report goes without it, and says so. */
    assert_int_equal(g_mock.nparts, 1);
    assert_string_equal(g_mock.parts[0], "upload_file");
    assert_non_null(strstr(res.note, "gone.log not sent"));
    json_decref(st);
    json_decref(atts);
    /* Sent once is sent: no second upload. */
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res),
        -EALREADY);
    assert_int_equal(g_mock.performs, 1);
}

/* A report stored with its minidump, as the helper does for
 * BACKTRACE_FORMAT=minidump: the report with attributes, the dump, and a
 * state that says "format": "minidump". */
static void
store_with_minidump(struct fixture *f, const char *uuid)
{
    json_t *report = json_pack("{s:s, s:I, s:{s:s, s:i, s:n}}", "uuid", uuid, "timestamp",
                               (json_int_t)100, "attributes", "app", "blue", "build", 42, "none");
    json_t *st = endpoint_state(f->cfg.endpoint, f->cfg.token, NULL);
    char *path = NULL;

    assert_non_null(report);
    assert_int_equal(btc_db_store(f->dir, report, st, &path, NULL), 0);
    free(path);
    assert_int_equal(btc_db_store_minidump(f->dir, uuid, "MDMP....", 8), 0);
    assert_int_equal(json_object_set_new(st, "format", json_string("minidump")), 0);
    assert_int_equal(btc_db_write_state(f->dir, uuid, st), 0);
    json_decref(report);
    json_decref(st);
}

static void
test_deliver_sends_the_minidump_its_state_names(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    json_t *st;

    store_with_minidump(f, NEW);
    g_mock.status = 200;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_non_null(strstr(g_mock.url, "format=minidump"));
    /* The dump, then the attributes that a field can hold (not null). */
    assert_int_equal(g_mock.nparts, 3);
    assert_string_equal(g_mock.parts[0], "upload_file_minidump");
    assert_string_equal(g_mock.parts[1], "app");
    assert_string_equal(g_mock.parts[2], "build");
    st = state_of(f, NEW);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "sent");
    json_decref(st);
}

static void
test_deliver_sends_the_json_when_the_minidump_is_a_link(void **state)
{
    struct fixture *f = *state;
    char dmp[128], target[128];
    struct btc_http_result res;
    FILE *t;

    store_with_minidump(f, NEW);
    /* A link planted in place of the dump, to a file of the user's: never
     * followed, never uploaded. */
    snprintf(dmp, sizeof(dmp), "%s/%s.dmp", f->dir, NEW);
    snprintf(target, sizeof(target), "%s/secret", f->src);
    assert_non_null(t = fopen(target, "w"));
    fputs("secret", t);
    fclose(t);
    assert_int_equal(unlink(dmp), 0);
    assert_int_equal(symlink(target, dmp), 0);
    g_mock.status = 200;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_non_null(strstr(g_mock.url, "format=json"));
    assert_int_equal(g_mock.nparts, 1);
    assert_string_equal(g_mock.parts[0], "upload_file");
    assert_non_null(strstr(res.note, "not sent (a symbolic link); the JSON report was sent"));
}

static void
test_deliver_ignores_a_minidump_its_state_does_not_name(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;

    store(f, NEW, 100);
    assert_int_equal(btc_db_store_minidump(f->dir, NEW, "MDMP", 4), 0);
    g_mock.status = 200;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_non_null(strstr(g_mock.url, "format=json"));
    assert_int_equal(g_mock.nparts, 1);
    assert_string_equal(g_mock.parts[0], "upload_file");
}

static void
test_deliver_400_is_rejected_and_never_retried(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    json_t *st;

    store(f, NEW, 100);
    g_mock.status = 400;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_REJECTED);
    st = state_of(f, NEW);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "rejected");
    assert_int_equal(json_integer_value(json_object_get(st, "http_status")), 400);
    json_decref(st);
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res),
        -EALREADY);
    assert_int_equal(btc_deliver_pending(f->dir, NULL, &f->cfg, 0, 1000, deadline_in(2000), NULL,
                                         NULL, NULL, NULL),
                     0);
    assert_int_equal(g_mock.performs, 1);
}

static void
test_deliver_failures_stay_pending_and_count_attempts(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    json_t *st;

    store(f, NEW, 100);
    g_mock.status = 503;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    g_mock.rc = CURLE_COULDNT_CONNECT;
    /* Before its backoff is over only a forced attempt goes. */
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, BTC_DELIVER_FORCE, deadline_in(2000),
                                        NULL, NULL, &res),
                     0);
    assert_int_equal(res.outcome, BTC_HTTP_RETRY);
    st = state_of(f, NEW);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "pending");
    assert_int_equal(json_integer_value(json_object_get(st, "attempts")), 2);
    assert_non_null(json_string_value(json_object_get(st, "last_error")));
    /* No answer the second time: the first one's status is not kept. */
    assert_null(json_object_get(st, "http_status"));
    json_decref(st);
}

static int64_t
now_s(void)
{
    return (int64_t)time(NULL);
}

static void
test_deliver_failure_waits_out_its_backoff(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    int64_t before = now_s(), next;
    json_t *st;

    store(f, NEW, 100);
    g_mock.status = 500;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    st = state_of(f, NEW);
    next = json_integer_value(json_object_get(st, "next_attempt"));
    json_decref(st);
    /* After one failure: 30 to 60 s, jittered. */
    assert_true(next >= before + 30 && next <= now_s() + 60);
    assert_int_equal(res.next_attempt, next);
    /* Whoever tries it next waits too, a backlog pass included. */
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), -EAGAIN);
    assert_int_equal(res.next_attempt, next);
    assert_non_null(strstr(res.error, "next attempt due at "));
    assert_non_null(strstr(res.error, "backoff after 1 failed attempt)"));
    assert_int_equal(btc_deliver_pending(f->dir, NULL, &f->cfg, 0, 1000, deadline_in(2000), NULL,
                                         NULL, NULL, NULL),
                     0);
    assert_int_equal(g_mock.performs, 1);
    /* The second failure waits 60 to 120 s. */
    before = now_s();
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, BTC_DELIVER_FORCE, deadline_in(2000),
                                        NULL, NULL, &res),
                     0);
    assert_true(res.next_attempt >= before + 60 && res.next_attempt <= now_s() + 120);
    /* Sent: no next attempt. */
    g_mock.status = 200;
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, BTC_DELIVER_FORCE, deadline_in(2000),
                                        NULL, NULL, &res),
                     0);
    st = state_of(f, NEW);
    assert_null(json_object_get(st, "next_attempt"));
    json_decref(st);
}

static void
test_deliver_retry_after_holds_the_endpoint_back_for_every_report(void **state)
{
    struct fixture *f = *state;
    struct btc_config other = f->cfg;
    struct btc_http_result res;
    int64_t until = 0;
    long status = 0;

    store(f, OLD, 100);
    store(f, NEW, 200);
    g_mock.status = 429;
    g_mock.retry_after = 600;
    assert_int_equal(
        btc_deliver_report(f->dir, OLD, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_true(res.next_attempt >= now_s() + 599);
    assert_int_equal(btc_db_hold_get(f->dir, f->endpoint_id, &until, &status), 0);
    assert_true(until >= now_s() + 599 && until <= now_s() + 600);
    assert_int_equal(status, 429);
    /* A report never tried waits as well. */
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), -EAGAIN);
    assert_non_null(strstr(res.error, "the server asked to wait until "));
    assert_non_null(strstr(res.error, "(HTTP 429, Retry-After)"));
    assert_int_equal(res.next_attempt, until);
    assert_int_equal(g_mock.performs, 1);
    /* Another endpoint is not held back. */
    other.token = "another-token";
    store_with(f, MID, 150, endpoint_state(other.endpoint, other.token, NULL));
    g_mock.status = 200;
    g_mock.retry_after = 0;
    assert_int_equal(
        btc_deliver_report(f->dir, MID, &other, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    /* flush --force goes anyway. */
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, BTC_DELIVER_FORCE, deadline_in(2000),
                                        NULL, NULL, &res),
                     0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
}

static void
test_deliver_hold_and_due_times_are_bounded(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    char path[256];
    int64_t until = 0;
    FILE *h;
    json_t *st;

    /* A server asking for a year gets a day. */
    assert_int_equal(btc_db_hold_set(f->dir, f->endpoint_id, now_s() + 365 * 86400, 429), 0);
    assert_int_equal(btc_db_hold_get(f->dir, f->endpoint_id, &until, NULL), 0);
    assert_true(until <= now_s() + BTC_DB_HOLD_MAX_S);
    /* A planted hold for a year is cut the same way; a link is not read. */
    snprintf(path, sizeof(path), "%s/%s.hold", f->dir, f->endpoint_id);
    assert_non_null(h = fopen(path, "w"));
    fprintf(h, "{\"until\": %lld}", (long long)(now_s() + 365 * 86400));
    fclose(h);
    assert_int_equal(btc_db_hold_get(f->dir, f->endpoint_id, &until, NULL), 0);
    assert_true(until <= now_s() + BTC_DB_HOLD_MAX_S);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/etc/hostname", path), 0);
    assert_true(btc_db_hold_get(f->dir, f->endpoint_id, &until, NULL) < 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(btc_db_hold_get(f->dir, "../../etc/passwd", &until, NULL), -EINVAL);
    /* A due time no writer would set does not hold a report back. */
    store(f, NEW, 100);
    st = endpoint_state(f->cfg.endpoint, f->cfg.token, NULL);
    json_object_set_new(st, "next_attempt", json_integer(now_s() + 10 * 365 * 86400LL));
    assert_int_equal(btc_db_write_state(f->dir, NEW, st), 0);
    json_decref(st);
    g_mock.status = 200;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
}

static void
test_deliver_wrong_token_or_url_keeps_the_backlog_pending(void **state)
{
    static const long statuses[] = {401, 404};
    struct fixture *f = *state;

    store(f, OLD, 100);
    store(f, MID, 200);
    store(f, NEW, 300);
    for (size_t i = 0; i < 2; i++) {
        struct btc_db_entry *e = NULL;
        size_t n = 0;
        int performs = g_mock.performs;

        g_mock.status = statuses[i];
        /* The first is tried; it fails as every other would: they are
         * left untried, and nothing is rejected. */
        assert_int_equal(btc_deliver_pending(f->dir, NULL, &f->cfg, BTC_DELIVER_FORCE, 1000,
                                             deadline_in(2000), NULL, NULL, NULL, NULL),
                         1);
        assert_int_equal(g_mock.performs, performs + 1);
        assert_int_equal(btc_db_list(f->dir, &e, &n), 0);
        assert_int_equal(n, 3);
        for (size_t k = 0; k < n; k++)
            assert_string_equal(e[k].state, "pending");
        btc_db_entries_free(e, n);
    }
    /* 400 is about that one report: only it is rejected. */
    g_mock.status = 400;
    assert_int_equal(btc_deliver_report(f->dir, MID, &f->cfg, BTC_DELIVER_FORCE, deadline_in(2000),
                                        NULL, NULL, &(struct btc_http_result){0}),
                     0);
    {
        json_t *a = state_of(f, OLD), *b = state_of(f, MID), *c = state_of(f, NEW);

        assert_string_equal(json_string_value(json_object_get(a, "state")), "pending");
        assert_string_equal(json_string_value(json_object_get(b, "state")), "rejected");
        assert_string_equal(json_string_value(json_object_get(c, "state")), "pending");
        json_decref(a);
        json_decref(b);
        json_decref(c);
    }
    /* --retry-rejected requeues it. */
    g_mock.status = 200;
    assert_int_equal(btc_deliver_report(f->dir, MID, &f->cfg, 0, deadline_in(2000), NULL, NULL,
                                        &(struct btc_http_result){0}),
                     -EALREADY);
    assert_int_equal(btc_deliver_report(f->dir, MID, &f->cfg, BTC_DELIVER_RETRY_REJECTED,
                                        deadline_in(2000), NULL, NULL,
                                        &(struct btc_http_result){0}),
                     0);
    {
        json_t *b = state_of(f, MID);

        assert_string_equal(json_string_value(json_object_get(b, "state")), "sent");
        json_decref(b);
    }
}

/* A crash report of timed_null's shape: two frames in the program, with
 * or without their function names. */
static json_t *
loop_report(bool symbolicated, unsigned long long pc0)
{
    json_t *r = json_pack("{s:s, s:[s], s:{s:s}, s:{s:{s:[{s:s}, {s:s}]}}, s:[{s:I, s:I, s:s}]}",
                          "mainThread", "7", "classifiers", "SIGSEGV", "attributes", "application",
                          "timed_null", "threads", "7", "stack", "address", "", "address", "0x1010",
                          "modules", "start", (json_int_t)0x1000, "size", (json_int_t)0x1000,
                          "code_file", "/opt/app/bin/timed_null");
    json_t *stack = json_object_get(json_object_get(json_object_get(r, "threads"), "7"), "stack");
    char pc[32];

    assert_non_null(r);
    snprintf(pc, sizeof(pc), "0x%llx", pc0);
    json_object_set_new(json_array_get(stack, 0), "address", json_string(pc));
    if (symbolicated) {
        json_object_set_new(json_array_get(stack, 0), "funcName", json_string("level3"));
        json_object_set_new(json_array_get(stack, 1), "funcName", json_string("level2"));
    }
    return r;
}

static void
test_loops_signature_is_the_same_whatever_symbolication_managed(void **state)
{
    json_t *a = loop_report(true, 0x1234), *b = loop_report(false, 0x1234);
    json_t *c = loop_report(true, 0x1240), *d = json_pack("{s:s}", "mainThread", "1");
    char sa[65], sb[65], sc[65];

    (void)state;
    assert_int_equal(btc_loops_signature(a, sa), 0);
    assert_int_equal(btc_loops_signature(b, sb), 0);
    assert_int_equal(btc_loops_signature(c, sc), 0);
    assert_true(btc_db_hex_id_is_safe(sa));
    /* Named or not, the same place is the same crash. */
    assert_string_equal(sa, sb);
    /* Another place is another crash. */
    assert_string_not_equal(sa, sc);
    /* Another signal too. */
    json_array_set_new(json_object_get(b, "classifiers"), 0, json_string("SIGBUS"));
    assert_int_equal(btc_loops_signature(b, sb), 0);
    assert_string_not_equal(sa, sb);
    /* No faulting thread: no signature. */
    assert_int_equal(btc_loops_signature(d, sa), -EINVAL);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}

static void
test_loop_record_counts_under_its_lock_and_refuses_links(void **state)
{
    struct fixture *f = *state;
    const char *sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    struct btc_db_loop l, busy;
    char path[256];

    assert_int_equal(btc_db_loop_open(f->dir, sig, deadline_in(500), &l), 0);
    assert_int_equal(l.sent_at, 0);
    assert_int_equal(l.throttled, 0);
    l.sent_at = 1000;
    l.throttled = 7;
    /* Held: a second opener waits, then gives up at its deadline. */
    assert_int_equal(btc_db_loop_open(f->dir, sig, deadline_in(50), &busy), -ETIMEDOUT);
    assert_int_equal(btc_db_loop_close(&l, true), 0);
    assert_int_equal(btc_db_loop_open(f->dir, sig, deadline_in(500), &l), 0);
    assert_int_equal(l.sent_at, 1000);
    assert_int_equal(l.throttled, 7);
    assert_int_equal(btc_db_loop_close(&l, false), 0);
    /* A planted link is not written through; a bad name is refused. */
    snprintf(path, sizeof(path), "%s/%s.loop", f->dir, sig);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/etc/hostname", path), 0);
    assert_int_equal(btc_db_loop_open(f->dir, sig, deadline_in(500), &l), -ELOOP);
    assert_int_equal(btc_db_loop_open(f->dir, "../../etc", deadline_in(500), &l), -EINVAL);
}

static void
test_deliver_without_time_left_changes_nothing(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    json_t *st;

    store(f, NEW, 100);
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(10), NULL, NULL, &res),
                     -ETIMEDOUT);
    assert_int_equal(g_mock.performs, 0);
    st = state_of(f, NEW);
    assert_null(json_object_get(st, "attempts"));
    json_decref(st);
}

static void
test_deliver_unknown_report_is_enoent(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;

    store(f, OLD, 100);
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), -ENOENT);
}

struct order {
    char uuids[4][40];
    int n;
};

static void
record_order(const char *uuid, int err, const struct btc_http_result *res, void *ctx)
{
    struct order *o = ctx;

    assert_int_equal(err, 0);
    assert_non_null(res);
    assert_true(o->n < 4);
    snprintf(o->uuids[o->n++], sizeof(o->uuids[0]), "%s", uuid);
}

static void
test_deliver_pending_goes_oldest_first_skipping_the_new_one(void **state)
{
    struct fixture *f = *state;
    struct order order = {0};
    json_t *sent = json_pack("{s:s}", "state", "sent");

    store(f, NEW, 300);
    store(f, MID, 200);
    store(f, OLD, 100);
    store(f, "00000000-0000-4000-8000-000000000000", 50);
    assert_int_equal(btc_db_write_state(f->dir, "00000000-0000-4000-8000-000000000000", sent), 0);
    json_decref(sent);
    g_mock.status = 200;
    assert_int_equal(btc_deliver_pending(f->dir, NEW, &f->cfg, 0, 1000, deadline_in(2000), NULL,
                                         NULL, record_order, &order),
                     2);
    assert_int_equal(order.n, 2);
    assert_string_equal(order.uuids[0], OLD);
    assert_string_equal(order.uuids[1], MID);
    assert_int_equal(g_mock.performs, 2);
}

static void
test_deliver_pending_stops_at_the_deadline(void **state)
{
    struct fixture *f = *state;

    store(f, OLD, 100);
    store(f, MID, 200);
    g_mock.status = 200;
    assert_int_equal(btc_deliver_pending(f->dir, NULL, &f->cfg, 0, 1000, deadline_in(-1), NULL,
                                         NULL, NULL, NULL),
                     0);
    assert_int_equal(g_mock.performs, 0);
}

struct logbuf {
    char text[4096];
    size_t len;
};

static void
collect_log(const char *line, void *ctx)
{
    struct logbuf *l = ctx;
    int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", line);

    if (n > 0 && (size_t)n < sizeof(l->text) - l->len)
        l->len += (size_t)n;
}

/* Copy a new file @name holding @text into @uuid's copies; returns the
 * state entry btc_db_copy_attachment_paths made for it. */
static json_t *
copy_in(struct fixture *f, const char *uuid, const char *name, const char *text)
{
    char src[160];
    const char *paths[1] = {src};
    json_t *copied = NULL, *problems = NULL, *entry;
    FILE *fp;

    snprintf(src, sizeof(src), "%s/%s", f->src, name);
    fp = fopen(src, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(btc_db_copy_attachment_paths(f->dir, uuid, paths, 1, 0, &copied, &problems),
                     0);
    assert_int_equal(json_array_size(copied), 1);
    assert_int_equal(json_array_size(problems), 0);
    entry = json_incref(json_array_get(copied, 0));
    json_decref(copied);
    json_decref(problems);
    return entry;
}

static void
test_deliver_sends_the_copies_but_not_a_planted_path(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    struct logbuf log = {0};
    json_t *atts = json_array();

    json_array_append_new(atts, copy_in(f, NEW, "app.log", "log"));
    /* What a state file planted by someone else could say. */
    json_array_append_new(atts, json_pack("{s:s, s:s}", "name", "passwd", "path", "/etc/passwd"));
    store_with(f, NEW, 100, endpoint_state(f->cfg.endpoint, f->cfg.token, atts));
    g_mock.status = 200;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), collect_log, &log, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_int_equal(g_mock.nparts, 2);
    assert_string_equal(g_mock.parts[0], "upload_file");
    assert_string_equal(g_mock.parts[1], "attachment_app.log");
    assert_non_null(strstr(res.note, "attachment passwd not sent"));
    assert_null(strstr(res.note, "app.log"));
    assert_non_null(strstr(log.text, "attachment passwd not sent"));
}

static void
test_deliver_leaves_out_names_that_are_not_copies(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    json_t *atts;
    char path[256];

    atts = json_pack("[{s:s}, {s:s}, {s:s}]", "name", "../../../etc/passwd", "path", "/etc/passwd",
                     "name", "link");
    store_with(f, NEW, 100, endpoint_state(f->cfg.endpoint, f->cfg.token, atts));
    /* A link among the copies, to a file the report never had. */
    snprintf(path, sizeof(path), "%s/%s.d", f->dir, NEW);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s.d/link", f->dir, NEW);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    g_mock.status = 200;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_int_equal(g_mock.nparts, 1);
    assert_string_equal(g_mock.parts[0], "upload_file");
    assert_non_null(strstr(res.note, "../../../etc/passwd not sent"));
    assert_non_null(strstr(res.note, "/etc/passwd not sent"));
    assert_non_null(strstr(res.note, "link not sent"));
}

static void
test_deliver_leaves_out_a_copy_whose_state_names_another_path(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    json_t *copy, *atts = json_array();
    char old_path[256];

    /* Both copies exist. An older state's path to the copy itself is fine;
     * a path anywhere else is not the copy's, whatever the name says. */
    copy = copy_in(f, NEW, "app.log", "log");
    snprintf(old_path, sizeof(old_path), "/var/lib/btcrash/%s.d/app.log", NEW);
    json_object_set_new(copy, "path", json_string(old_path));
    json_array_append_new(atts, copy);
    copy = copy_in(f, NEW, "passwd", "copy");
    json_object_set_new(copy, "path", json_string("/etc/passwd"));
    json_array_append_new(atts, copy);
    store_with(f, NEW, 100, endpoint_state(f->cfg.endpoint, f->cfg.token, atts));
    g_mock.status = 200;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_int_equal(g_mock.nparts, 2);
    assert_string_equal(g_mock.parts[1], "attachment_app.log");
    assert_non_null(strstr(res.note, "passwd not sent"));
}

/* Nothing was attempted: no transfer, and the state is as stored. */
static void
assert_untouched(struct fixture *f, const char *uuid)
{
    json_t *st = state_of(f, uuid);

    assert_string_equal(json_string_value(json_object_get(st, "state")), "pending");
    assert_null(json_object_get(st, "attempts"));
    json_decref(st);
}

static void
test_deliver_refuses_a_report_made_for_another_endpoint(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;

    store_with(f, OLD, 100, endpoint_state("http://other.example", f->cfg.token, NULL));
    /* The same URL with another token is another endpoint too. */
    store_with(f, MID, 200, endpoint_state(f->cfg.endpoint, "other-token", NULL));
    store_with(f, NEW, 300,
               json_pack("{s:s, s:s}", "state", "pending", "mode", "endpoint")); /* no id */
    g_mock.status = 200;
    for (unsigned flags = 0; flags <= BTC_DELIVER_LOCAL; flags += BTC_DELIVER_LOCAL) {
        assert_int_equal(
            btc_deliver_report(f->dir, OLD, &f->cfg, flags, deadline_in(2000), NULL, NULL, &res),
            -EXDEV);
        assert_int_equal(
            btc_deliver_report(f->dir, MID, &f->cfg, flags, deadline_in(2000), NULL, NULL, &res),
            -EXDEV);
        assert_int_equal(
            btc_deliver_report(f->dir, NEW, &f->cfg, flags, deadline_in(2000), NULL, NULL, &res),
            -EXDEV);
    }
    assert_int_equal(g_mock.performs, 0);
    assert_untouched(f, OLD);
    assert_untouched(f, MID);
    assert_untouched(f, NEW);
}

static void
test_deliver_local_report_is_sent_only_with_the_local_flag(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    char path[256];
    json_t *st;

    store_with(f, OLD, 100, json_pack("{s:s, s:s}", "state", "pending", "mode", "local"));
    store_with(f, MID, 200, json_pack("{s:s}", "state", "pending")); /* no known endpoint */
    store_with(f, NEW, 300, json_pack("{s:s}", "state", "pending"));
    snprintf(path, sizeof(path), "%s/%s.state", f->dir, NEW); /* an older version's */
    assert_int_equal(unlink(path), 0);
    g_mock.status = 200;
    assert_int_equal(
        btc_deliver_report(f->dir, OLD, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res),
        -ENOTCONN);
    assert_int_equal(
        btc_deliver_report(f->dir, MID, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res),
        -ENOTCONN);
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res),
        -ENOTCONN);
    assert_int_equal(g_mock.performs, 0);
    assert_untouched(f, OLD);

    const char *uuids[] = {OLD, MID, NEW};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(btc_deliver_report(f->dir, uuids[i], &f->cfg, BTC_DELIVER_LOCAL,
                                            deadline_in(2000), NULL, NULL, &res),
                         0);
        assert_int_equal(res.outcome, BTC_HTTP_SENT);
        /* Bound to this endpoint from now on; its token is not stored. */
        st = state_of(f, uuids[i]);
        assert_string_equal(json_string_value(json_object_get(st, "state")), "sent");
        assert_string_equal(json_string_value(json_object_get(st, "mode")), "endpoint");
        assert_string_equal(json_string_value(json_object_get(st, "endpoint_id")), f->endpoint_id);
        assert_string_equal(json_string_value(json_object_get(st, "endpoint_url")),
                            f->cfg.endpoint);
        json_decref(st);
    }
    assert_int_equal(g_mock.performs, 3);
    assert_int_equal(g_mock.nparts, 3);
}

static void
test_deliver_local_report_tried_once_is_bound_to_the_endpoint(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    struct btc_config other = f->cfg;
    json_t *st;

    store_with(f, NEW, 100, json_pack("{s:s, s:s}", "state", "pending", "mode", "local"));
    g_mock.status = 503;
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, BTC_DELIVER_LOCAL, deadline_in(2000),
                                        NULL, NULL, &res),
                     0);
    st = state_of(f, NEW);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "pending");
    assert_string_equal(json_string_value(json_object_get(st, "mode")), "endpoint");
    assert_string_equal(json_string_value(json_object_get(st, "endpoint_id")), f->endpoint_id);
    json_decref(st);
    /* A retry needs no flag now, and no other endpoint may have it. */
    g_mock.status = 200;
    other.token = "another-token";
    assert_int_equal(btc_deliver_report(f->dir, NEW, &other, BTC_DELIVER_LOCAL | BTC_DELIVER_FORCE,
                                        deadline_in(2000), NULL, NULL, &res),
                     -EXDEV);
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, BTC_DELIVER_FORCE, deadline_in(2000),
                                        NULL, NULL, &res),
                     0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_int_equal(g_mock.performs, 2);
}

static void
test_deliver_report_is_ebusy_while_another_holds_the_claim(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    json_t *report = json_pack("{s:s, s:i}", "uuid", NEW, "timestamp", 100);
    json_t *st = endpoint_state(f->cfg.endpoint, f->cfg.token, NULL);
    char *path = NULL;
    int claim = -1;

    /* Claimed by its maker from the moment it was stored. */
    assert_int_equal(btc_db_store(f->dir, report, st, &path, &claim), 0);
    g_mock.status = 200;
    assert_int_equal(
        btc_deliver_report(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), -EBUSY);
    assert_int_equal(btc_deliver_pending(f->dir, NULL, &f->cfg, 0, 1000, deadline_in(2000), NULL,
                                         NULL, NULL, NULL),
                     0);
    assert_int_equal(g_mock.performs, 0);
    assert_untouched(f, NEW);
    /* The holder sends it without letting go. */
    assert_int_equal(
        btc_deliver_claimed(f->dir, NEW, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_int_equal(g_mock.performs, 1);
    btc_db_unclaim(claim);

    /* A claim taken with btc_db_claim blocks a sender the same way. */
    store(f, OLD, 50);
    assert_int_equal(btc_db_claim(f->dir, OLD, &claim), 0);
    assert_int_equal(
        btc_deliver_report(f->dir, OLD, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), -EBUSY);
    btc_db_unclaim(claim);
    assert_int_equal(
        btc_deliver_report(f->dir, OLD, &f->cfg, 0, deadline_in(2000), NULL, NULL, &res), 0);
    assert_int_equal(g_mock.performs, 2);
    free(path);
    json_decref(st);
    json_decref(report);
}

struct calls {
    char uuid[8][40];
    int err[8];
    bool with_result[8];
    int n;
};

static void
record_call(const char *uuid, int err, const struct btc_http_result *res, void *ctx)
{
    struct calls *c = ctx;

    assert_true(c->n < 8);
    snprintf(c->uuid[c->n], sizeof(c->uuid[0]), "%s", uuid);
    c->err[c->n] = err;
    c->with_result[c->n] = res != NULL;
    c->n++;
}

static void
assert_call(const struct calls *c, int i, const char *uuid, int err, bool with_result)
{
    assert_true(i < c->n);
    assert_string_equal(c->uuid[i], uuid);
    assert_int_equal(c->err[i], err);
    assert_int_equal(c->with_result[i], with_result);
}

#define LOCAL "00000000-0000-4000-8000-000000000004"
#define BAD   "00000000-0000-4000-8000-000000000005"

static void
test_deliver_pending_reports_the_ones_made_elsewhere_without_trying_them(void **state)
{
    struct fixture *f = *state;
    struct calls calls = {0};
    char path[256];
    FILE *fp;

    store(f, OLD, 100);
    store_with(f, MID, 200, endpoint_state("http://other.example", f->cfg.token, NULL));
    store_with(f, NEW, 300, json_pack("{s:s, s:s}", "state", "pending", "mode", "local"));
    store_with(f, LOCAL, 400, json_pack("{s:s}", "state", "pending"));
    /* A corrupt report is never a pending one. */
    snprintf(path, sizeof(path), "%s/%s.json", f->dir, BAD);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{not json", fp);
    fclose(fp);
    g_mock.status = 200;

    assert_int_equal(btc_deliver_pending(f->dir, NULL, &f->cfg, 0, 1000, deadline_in(2000), NULL,
                                         NULL, record_call, &calls),
                     1);
    assert_int_equal(calls.n, 4);
    assert_call(&calls, 0, OLD, 0, true);
    assert_call(&calls, 1, MID, -EXDEV, false);
    assert_call(&calls, 2, NEW, -ENOTCONN, false);
    assert_call(&calls, 3, LOCAL, -ENOTCONN, false);
    assert_int_equal(g_mock.performs, 1);
    assert_untouched(f, MID);
    assert_untouched(f, NEW);

    /* `flush --local`: the local ones too, never another endpoint's. */
    memset(&calls, 0, sizeof(calls));
    assert_int_equal(btc_deliver_pending(f->dir, NULL, &f->cfg, BTC_DELIVER_LOCAL, 1000,
                                         deadline_in(2000), NULL, NULL, record_call, &calls),
                     2);
    assert_int_equal(calls.n, 3);
    assert_call(&calls, 0, MID, -EXDEV, false);
    assert_call(&calls, 1, NEW, 0, true);
    assert_call(&calls, 2, LOCAL, 0, true);
    assert_int_equal(g_mock.performs, 3);
    assert_untouched(f, MID);
}

static void
test_deliver_pending_sends_a_repaired_state_only_with_the_local_flag(void **state)
{
    struct fixture *f = *state;
    struct calls calls = {0};
    char path[256];
    FILE *fp;

    store(f, OLD, 100);
    snprintf(path, sizeof(path), "%s/%s.state", f->dir, OLD);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("[\"not a state\"]", fp);
    fclose(fp);
    g_mock.status = 200;
    /* Repaired by the listing, made for no known endpoint. */
    assert_int_equal(btc_deliver_pending(f->dir, NULL, &f->cfg, 0, 1000, deadline_in(2000), NULL,
                                         NULL, record_call, &calls),
                     0);
    assert_int_equal(calls.n, 1);
    assert_call(&calls, 0, OLD, -ENOTCONN, false);
    assert_int_equal(g_mock.performs, 0);
    memset(&calls, 0, sizeof(calls));
    assert_int_equal(btc_deliver_pending(f->dir, NULL, &f->cfg, BTC_DELIVER_LOCAL, 1000,
                                         deadline_in(2000), NULL, NULL, record_call, &calls),
                     1);
    assert_call(&calls, 0, OLD, 0, true);
    assert_int_equal(g_mock.performs, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deliver_200_marks_sent_with_rxid_and_keeps_attachments,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_sends_the_minidump_its_state_names, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_sends_the_json_when_the_minidump_is_a_link,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_ignores_a_minidump_its_state_does_not_name,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_400_is_rejected_and_never_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_failures_stay_pending_and_count_attempts,
                                        setup, teardown),
        cmocka_unit_test(test_loops_signature_is_the_same_whatever_symbolication_managed),
        cmocka_unit_test_setup_teardown(test_loop_record_counts_under_its_lock_and_refuses_links,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_failure_waits_out_its_backoff, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_deliver_retry_after_holds_the_endpoint_back_for_every_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_hold_and_due_times_are_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_wrong_token_or_url_keeps_the_backlog_pending,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_without_time_left_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_unknown_report_is_enoent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_pending_goes_oldest_first_skipping_the_new_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_pending_stops_at_the_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_sends_the_copies_but_not_a_planted_path, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_leaves_out_names_that_are_not_copies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_deliver_leaves_out_a_copy_whose_state_names_another_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_refuses_a_report_made_for_another_endpoint,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_local_report_is_sent_only_with_the_local_flag,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_deliver_local_report_tried_once_is_bound_to_the_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_report_is_ebusy_while_another_holds_the_claim,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_deliver_pending_reports_the_ones_made_elsewhere_without_trying_them, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_deliver_pending_sends_a_repaired_state_only_with_the_local_flag, setup, teardown),
    };

    btc_test_curl_linked();
    return cmocka_run_group_tests_name("deliver", tests, NULL, NULL);
}
