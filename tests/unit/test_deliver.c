/* test_deliver: sending stored reports and recording each outcome in the
 * state file (submit/deliver.c), on a real database in a mkdtemp directory.
 * libcurl's transfer is mocked at the link boundary (--wrap). */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
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

#include "config.h"
#include "db.h"
#include "deliver.h"

#define OLD "00000000-0000-4000-8000-000000000001"
#define MID "00000000-0000-4000-8000-000000000002"
#define NEW "00000000-0000-4000-8000-000000000003"

static struct {
    long status;
    CURLcode rc;
    int performs;
    curl_write_callback write_fn;
    void *write_data;
} g_mock;

CURLcode __real_curl_easy_setopt(CURL *curl, CURLoption option, ...);
CURLcode __wrap_curl_easy_setopt(CURL *curl, CURLoption option, ...);
CURLcode __wrap_curl_easy_perform(CURL *curl);
CURLcode __wrap_curl_easy_getinfo(CURL *curl, CURLINFO info, ...);

/* Only the write callback matters here; everything else is passed on with
 * the argument type its option number implies (curl.h's CURLOPTTYPE_*). */
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
    va_end(ap);
    return CURLE_OK;
}

struct fixture {
    char dir[64];
    struct btc_config cfg;
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
    btc_cfg_defaults(&f->cfg);
    f->cfg.endpoint = "http://127.0.0.1:9";
    f->cfg.token = "0123abcd";
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

static void
store(struct fixture *f, const char *uuid, long long timestamp)
{
    json_t *report = json_pack("{s:s, s:I}", "uuid", uuid, "timestamp", timestamp);
    char *path = NULL;

    assert_non_null(report);
    assert_int_equal(btc_db_store(f->dir, report, &path), 0);
    free(path);
    json_decref(report);
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
    atts = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "state", "pending", "attachments", "name",
                     "gone.log", "path", "/nonexistent/gone.log", "source", "/var/log/gone.log");
    assert_int_equal(btc_db_write_state(f->dir, NEW, atts), 0);
    g_mock.status = 200;
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, deadline_in(2000), NULL, NULL, &res),
                     0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    st = state_of(f, NEW);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "sent");
    assert_string_equal(json_string_value(json_object_get(st, "rxid")), "rx1");
    assert_int_equal(json_integer_value(json_object_get(st, "http_status")), 200);
    assert_int_equal(json_integer_value(json_object_get(st, "attempts")), 1);
    assert_true(json_integer_value(json_object_get(st, "updated")) > 0);
    assert_true(
        json_equal(json_object_get(st, "attachments"), json_object_get(atts, "attachments")));
    json_decref(st);
    json_decref(atts);
    /* Sent once is sent: no second upload. */
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, deadline_in(2000), NULL, NULL, &res),
                     -EALREADY);
    assert_int_equal(g_mock.performs, 1);
}

static void
test_deliver_400_is_rejected_and_never_retried(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    json_t *st;

    store(f, NEW, 100);
    g_mock.status = 400;
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, deadline_in(2000), NULL, NULL, &res),
                     0);
    assert_int_equal(res.outcome, BTC_HTTP_REJECTED);
    st = state_of(f, NEW);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "rejected");
    assert_int_equal(json_integer_value(json_object_get(st, "http_status")), 400);
    json_decref(st);
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, deadline_in(2000), NULL, NULL, &res),
                     -EALREADY);
    assert_int_equal(
        btc_deliver_pending(f->dir, NULL, &f->cfg, 1000, deadline_in(2000), NULL, NULL, NULL, NULL),
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
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, deadline_in(2000), NULL, NULL, &res),
                     0);
    g_mock.rc = CURLE_COULDNT_CONNECT;
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, deadline_in(2000), NULL, NULL, &res),
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

static void
test_deliver_without_time_left_changes_nothing(void **state)
{
    struct fixture *f = *state;
    struct btc_http_result res;
    json_t *st;

    store(f, NEW, 100);
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, deadline_in(10), NULL, NULL, &res),
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
    assert_int_equal(btc_deliver_report(f->dir, NEW, &f->cfg, deadline_in(2000), NULL, NULL, &res),
                     -ENOENT);
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
    assert_int_equal(btc_deliver_pending(f->dir, NEW, &f->cfg, 1000, deadline_in(2000), NULL, NULL,
                                         record_order, &order),
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
    assert_int_equal(
        btc_deliver_pending(f->dir, NULL, &f->cfg, 1000, deadline_in(-1), NULL, NULL, NULL, NULL),
        0);
    assert_int_equal(g_mock.performs, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deliver_200_marks_sent_with_rxid_and_keeps_attachments,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_400_is_rejected_and_never_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_failures_stay_pending_and_count_attempts,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_without_time_left_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_unknown_report_is_enoent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_pending_goes_oldest_first_skipping_the_new_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_pending_stops_at_the_deadline, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("deliver", tests, NULL, NULL);
}
