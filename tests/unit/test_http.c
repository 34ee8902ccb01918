/* test_http: submission URL rules, redaction, the endpoint identity and the
 * classification of answers, escaped (submit/http.c). libcurl is mocked at the link boundary:
 * curl_easy_perform and curl_easy_getinfo are replaced (--wrap), and
 * curl_easy_setopt and curl_mime_name are observed, then passed on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "curl_linked.h"
#include "config.h"
#include "http.h"
#include "sha256.h"
#include "text.h"

#define TOKEN     "s3cr3t tok&en"
#define TOKEN_ENC "s3cr3t%20tok%26en"

/* ---- the mock ---------------------------------------------------------- */

struct mock {
    /* What perform does. */
    CURLcode rc;
    long status;
    const char *body;
    const char *errtext;
    /* What the code under test did. */
    int performs;
    curl_write_callback write_fn;
    void *write_data;
    char *errbuf;
    long nosignal, timeout_ms, connect_timeout_ms, verify_peer, verify_host, quick_exit;
    char url[512];
    char parts[8][128];
    int nparts;
    curl_off_t retry_after; /* what CURLINFO_RETRY_AFTER gives */
};

static struct mock g_mock;

CURLcode __real_curl_easy_setopt(CURL *curl, CURLoption option, ...);
CURLcode __wrap_curl_easy_setopt(CURL *curl, CURLoption option, ...);
CURLcode __wrap_curl_easy_perform(CURL *curl);
CURLcode __wrap_curl_easy_getinfo(CURL *curl, CURLINFO info, ...);
CURLcode __real_curl_mime_name(curl_mimepart *part, const char *name);
CURLcode __wrap_curl_mime_name(curl_mimepart *part, const char *name);

static void
mock_long(CURLoption option, long v)
{
    switch (option) {
    case CURLOPT_NOSIGNAL:
        g_mock.nosignal = v;
        break;
    case CURLOPT_TIMEOUT_MS:
        g_mock.timeout_ms = v;
        break;
    case CURLOPT_CONNECTTIMEOUT_MS:
        g_mock.connect_timeout_ms = v;
        break;
    case CURLOPT_SSL_VERIFYPEER:
        g_mock.verify_peer = v;
        break;
    case CURLOPT_SSL_VERIFYHOST:
        g_mock.verify_host = v;
        break;
    case CURLOPT_QUICK_EXIT:
        g_mock.quick_exit = v;
        break;
    default:
        break;
    }
}

/* The variadic argument's type follows from the option's number range, as
 * curl.h's CURLOPTTYPE_* say. */
CURLcode
__wrap_curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    va_list ap;
    CURLcode rc;

    va_start(ap, option);
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);

        mock_long(option, v);
        rc = __real_curl_easy_setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
        void *v = va_arg(ap, void *);

        if (option == CURLOPT_URL)
            snprintf(g_mock.url, sizeof(g_mock.url), "%s", (const char *)v);
        else if (option == CURLOPT_WRITEDATA)
            g_mock.write_data = v;
        else if (option == CURLOPT_ERRORBUFFER)
            g_mock.errbuf = v;
        rc = __real_curl_easy_setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_OFF_T) {
        curl_write_callback v = va_arg(ap, curl_write_callback);

        if (option == CURLOPT_WRITEFUNCTION)
            g_mock.write_fn = v;
        rc = __real_curl_easy_setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);

        rc = __real_curl_easy_setopt(curl, option, v);
    } else {
        void *v = va_arg(ap, void *);

        rc = __real_curl_easy_setopt(curl, option, v);
    }
    va_end(ap);
    return rc;
}

CURLcode
__wrap_curl_easy_perform(CURL *curl)
{
    (void)curl;
    g_mock.performs++;
    if (g_mock.errtext && g_mock.errbuf)
        snprintf(g_mock.errbuf, CURL_ERROR_SIZE, "%s", g_mock.errtext);
    if (g_mock.body && g_mock.write_fn) {
        size_t n = strlen(g_mock.body);

        /* The callback's buffer is not const in curl's API. */
        char *copy = strdup(g_mock.body);

        assert_non_null(copy);
        assert_int_equal(g_mock.write_fn(copy, 1, n, g_mock.write_data), n);
        free(copy);
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
        *va_arg(ap, long *) = g_mock.status;
    else if (info == CURLINFO_RETRY_AFTER)
        *va_arg(ap, curl_off_t *) = g_mock.retry_after;
    va_end(ap);
    return info == CURLINFO_RESPONSE_CODE || info == CURLINFO_RETRY_AFTER ? CURLE_OK
                                                                          : CURLE_UNKNOWN_OPTION;
}

CURLcode
__wrap_curl_mime_name(curl_mimepart *part, const char *name)
{
    if (g_mock.nparts < 8)
        snprintf(g_mock.parts[g_mock.nparts++], sizeof(g_mock.parts[0]), "%s", name);
    return __real_curl_mime_name(part, name);
}

/* ---- helpers ----------------------------------------------------------- */

struct logbuf {
    char text[8192];
    size_t len;
    int lines;
};

static void
collect_log(const char *line, void *ctx)
{
    struct logbuf *l = ctx;
    int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", line);

    assert_true(n > 0 && (size_t)n < sizeof(l->text) - l->len);
    l->len += (size_t)n;
    l->lines++;
}

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct btc_config
config(const char *endpoint, const char *token)
{
    struct btc_config cfg;

    btc_cfg_defaults(&cfg);
    cfg.endpoint = endpoint;
    cfg.token = token;
    return cfg;
}

#define REPORT  "{\"uuid\":\"x\"}"
#define LIT_URL "https://submit.backtrace.io/u/0123abcd/json"

static int
submit(const struct btc_config *cfg, const struct btc_http_attachment *atts, size_t n,
       struct logbuf *log, struct btc_http_result *res)
{
    return btc_http_submit(cfg, REPORT, strlen(REPORT), atts, n, now_ns() + 2000000000LL,
                           collect_log, log, res);
}

static int
setup(void **state)
{
    (void)state;
    memset(&g_mock, 0, sizeof(g_mock));
    g_mock.nosignal = g_mock.verify_peer = g_mock.verify_host = -1;
    return 0;
}

/* ---- URL --------------------------------------------------------------- */

static void
expect_url(const char *endpoint, const char *token, const char *want)
{
    char *url = NULL;

    assert_int_equal(btc_http_url(endpoint, token, &url), 0);
    assert_string_equal(url, want);
    free(url);
}

static void
test_url_appends_post_with_token_and_format(void **state)
{
    (void)state;
    expect_url("https://host:6098", "abc123", "https://host:6098/post?token=abc123&format=json");
}

static void
test_url_encodes_the_token(void **state)
{
    (void)state;
    expect_url("https://host", "a b&c", "https://host/post?token=a%20b%26c&format=json");
    expect_url("https://host", "x=y/z?#+%",
               "https://host/post?token=x%3Dy%2Fz%3F%23%2B%25&format=json");
    expect_url("https://host", "-._~AZaz09", "https://host/post?token=-._~AZaz09&format=json");
}

static void
test_url_does_not_double_a_trailing_slash(void **state)
{
    (void)state;
    expect_url("https://host:6098/", "t", "https://host:6098/post?token=t&format=json");
}

static void
test_url_keeps_submit_backtrace_io_even_with_a_token(void **state)
{
    (void)state;
    expect_url("https://submit.backtrace.io/universe/0123abcd/json", "other",
               "https://submit.backtrace.io/universe/0123abcd/json");
}

static void
test_url_without_a_token_is_the_endpoint(void **state)
{
    (void)state;
    expect_url("https://host:6098/", NULL, "https://host:6098/");
    expect_url("https://host:6098", "", "https://host:6098");
}

static void
test_url_appends_to_a_query_the_endpoint_has(void **state)
{
    (void)state;
    /* A second '?' would make the token part of a's value. */
    expect_url("https://h/x?a=1", "T", "https://h/x?a=1&token=T&format=json");
    expect_url("https://h/x?a=1&b=2", "a b", "https://h/x?a=1&b=2&token=a%20b&format=json");
    expect_url("https://h/x?", "T", "https://h/x?token=T&format=json");
    expect_url("https://h/x?a=1&", "T", "https://h/x?a=1&token=T&format=json");
    expect_url("https://h/x?a=1", NULL, "https://h/x?a=1");
}

static void
expect_minidump_url(const char *endpoint, const char *token, const char *want)
{
    char *url = NULL;

    assert_int_equal(btc_http_url_for(endpoint, token, BTC_CFG_FORMAT_MINIDUMP, &url), 0);
    assert_string_equal(url, want);
    free(url);
}

static void
test_url_for_a_minidump(void **state)
{
    char *url = NULL;

    (void)state;
    expect_minidump_url("https://host:6098", "a b",
                        "https://host:6098/post?token=a%20b&format=minidump");
    expect_minidump_url("https://h/x?a=1", "T", "https://h/x?a=1&token=T&format=minidump");
    /* submit.backtrace.io: the format is the path's last segment. */
    expect_minidump_url("https://submit.backtrace.io/u/0123abcd/json", "other",
                        "https://submit.backtrace.io/u/0123abcd/minidump");
    expect_minidump_url("https://submit.backtrace.io/u/0123abcd/json?x=1#f", NULL,
                        "https://submit.backtrace.io/u/0123abcd/minidump?x=1#f");
    /* Not a /json one: the user's own form, as given. */
    expect_minidump_url("https://submit.backtrace.io/u/0123abcd/minidump", NULL,
                        "https://submit.backtrace.io/u/0123abcd/minidump");
    /* No token: a whole URL, such as Sentry's with its key in the query. */
    expect_minidump_url("https://o1.ingest.sentry.io/api/5/minidump/?sentry_key=abc", NULL,
                        "https://o1.ingest.sentry.io/api/5/minidump/?sentry_key=abc");
    /* JSON is btc_http_url's, byte for byte. */
    assert_int_equal(btc_http_url_for("https://host", "t", BTC_CFG_FORMAT_JSON, &url), 0);
    assert_string_equal(url, "https://host/post?token=t&format=json");
    free(url);
    url = NULL;
    assert_int_equal(btc_http_url_for("https://host", "t", (enum btc_cfg_format)7, &url), -EINVAL);
    assert_null(url);
}

static void
test_url_rejects_a_null_endpoint(void **state)
{
    char *url = NULL;

    (void)state;
    assert_int_equal(btc_http_url(NULL, "t", &url), -EINVAL);
    assert_null(url);
}

/* ---- redaction --------------------------------------------------------- */

static void
expect_redacted(const char *text, const char *token, const char *want)
{
    char *s = btc_http_redact(text, token);

    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

static void
test_redact_replaces_the_raw_and_the_encoded_token(void **state)
{
    (void)state;
    expect_redacted("https://host/post?token=" TOKEN_ENC "&format=json", TOKEN,
                    "https://host/post?token=REDACTED&format=json");
    expect_redacted("bad token " TOKEN " and " TOKEN_ENC " twice " TOKEN, TOKEN,
                    "bad token REDACTED and REDACTED twice REDACTED");
}

static void
test_redact_hides_the_token_segment_of_submit_backtrace_io(void **state)
{
    (void)state;
    expect_redacted("https://submit.backtrace.io/universe/0123abcd/json", NULL,
                    "https://submit.backtrace.io/universe/REDACTED/json");
}

static void
test_redact_hides_the_token_segment_of_a_minidump_url(void **state)
{
    (void)state;
    expect_redacted("https://submit.backtrace.io/universe/0123abcd/minidump", NULL,
                    "https://submit.backtrace.io/universe/REDACTED/minidump");
}

static void
test_redact_hides_a_url_password(void **state)
{
    (void)state;
    /* The whole userinfo: a token is often given as the user. */
    expect_redacted("https://user:pw@host/post", NULL, "https://REDACTED@host/post");
}

static void
test_redact_hides_the_whole_userinfo(void **state)
{
    (void)state;
    expect_redacted("https://TOKEN@host/", NULL, "https://REDACTED@host/");
    expect_redacted("https://u:p@h", NULL, "https://REDACTED@h");
    expect_redacted("http://u:p@ss@host:8080/post?x=1", NULL, "http://REDACTED@host:8080/post?x=1");
    /* An '@' after the authority is no userinfo. */
    expect_redacted("https://host/a@b?c=d@e", NULL, "https://host/a@b?c=d@e");
    expect_redacted("mail bob@example.com", NULL, "mail bob@example.com");
}

static void
test_redact_hides_every_token_parameter(void **state)
{
    (void)state;
    expect_redacted("https://h/post?token=abc&format=json", NULL,
                    "https://h/post?token=REDACTED&format=json");
    expect_redacted("https://h/post?format=json&token=abc", NULL,
                    "https://h/post?format=json&token=REDACTED");
    expect_redacted("https://h/?token=a&x=1&token=b#frag", NULL,
                    "https://h/?token=REDACTED&x=1&token=REDACTED#frag");
    /* Other parameters whose names end in "token" are not the token. */
    expect_redacted("https://h/?mytoken=abc&x_token=d", NULL, "https://h/?mytoken=abc&x_token=d");
}

static void
test_redact_covers_every_url_in_a_text(void **state)
{
    const char *text = "failed: https://a:b@h1/ then http://h2/post?token=t2&format=json, "
                       "and https://submit.backtrace.io/uni/tok3/json.";
    const char *want =
        "failed: https://REDACTED@h1/ then http://h2/post?token=REDACTED&format=json, "
        "and https://submit.backtrace.io/uni/REDACTED/json.";
    char *twice;

    (void)state;
    expect_redacted(text, NULL, want);
    /* What is redacted already stays as it is. */
    twice = btc_http_redact(want, NULL);
    assert_non_null(twice);
    assert_string_equal(twice, want);
    free(twice);
    assert_null(btc_http_redact(NULL, NULL));
}

static void
test_redact_without_secrets_keeps_the_text(void **state)
{
    (void)state;
    expect_redacted("https://host:6098/post?x=1", NULL, "https://host:6098/post?x=1");
    expect_redacted("https://host:6098/post?x=1", "", "https://host:6098/post?x=1");
}

/* ---- endpoint identity ------------------------------------------------- */

static void
test_endpoint_id_is_the_sha256_of_the_submission_url(void **state)
{
    char id[BTC_HTTP_ENDPOINT_ID_LEN + 1], want[BTC_SHA256_HEX_LEN + 1], *url = NULL;

    (void)state;
    assert_int_equal(btc_http_endpoint_id("https://host:6098", "abc123", id), 0);
    assert_int_equal(strlen(id), 64);
    assert_int_equal(strspn(id, "0123456789abcdef"), 64);
    assert_int_equal(btc_http_url("https://host:6098", "abc123", &url), 0);
    btc_sha256_hex(url, strlen(url), want);
    assert_string_equal(id, want);
    assert_null(strstr(id, "abc123"));
    free(url);
    /* submit.backtrace.io: the URL as given. */
    assert_int_equal(btc_http_endpoint_id("https://submit.backtrace.io/u/0123abcd/json", NULL, id),
                     0);
    btc_sha256_hex(LIT_URL, strlen(LIT_URL), want);
    assert_string_equal(id, want);
}

static void
test_endpoint_id_changes_with_the_token_and_the_endpoint(void **state)
{
    char a[BTC_HTTP_ENDPOINT_ID_LEN + 1], b[BTC_HTTP_ENDPOINT_ID_LEN + 1];

    (void)state;
    assert_int_equal(btc_http_endpoint_id("https://host", "token-a", a), 0);
    assert_int_equal(btc_http_endpoint_id("https://host", "token-a", b), 0);
    assert_string_equal(a, b);
    assert_int_equal(btc_http_endpoint_id("https://host", "token-b", b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(btc_http_endpoint_id("https://other", "token-a", b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(btc_http_endpoint_id("https://host", NULL, b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(btc_http_endpoint_id(NULL, "token-a", b), -EINVAL);
}

/* ---- classification and options (mocked transfer) ---------------------- */

static void
test_submit_200_is_sent_with_the_rxid(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    g_mock.status = 200;
    g_mock.body = "{\"response\":\"ok\",\"_rxid\":\"0a1b2c\"}";
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.rxid, "0a1b2c");
    assert_string_equal(res.error, "");
    assert_string_equal(res.note, "");
    assert_string_equal(g_mock.url, "http://host/post?token=0123abcd&format=json");
    assert_non_null(strstr(log.text, "rxid 0a1b2c"));
}

static void
test_submit_200_with_another_body_is_sent_without_rxid(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    g_mock.status = 200;
    g_mock.body = "<html>fine</html>";
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_string_equal(res.rxid, "");
}

static void
expect_outcome(long status, enum btc_http_outcome want)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};
    char text[32];

    setup(NULL);
    g_mock.status = status;
    g_mock.body = NULL; /* nothing said: the status alone */
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.outcome, want);
    assert_int_equal(res.status, status);
    assert_string_equal(res.rxid, "");
    snprintf(text, sizeof(text), "HTTP %ld", status);
    assert_string_equal(res.error, text);
}

/* The outcome of @status, and whether it says the endpoint is wrong, with
 * the guidance @hint (NULL: none) after "HTTP <status>". */
static void
expect_class(long status, enum btc_http_outcome want, bool endpoint_wrong, const char *hint)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};
    char text[256];

    g_mock.status = status;
    g_mock.body = NULL;
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.outcome, want);
    assert_int_equal(res.endpoint_wrong, endpoint_wrong);
    snprintf(text, sizeof(text), "HTTP %ld%s", status, hint ? hint : "");
    assert_string_equal(res.error, text);
}

static void
test_submit_only_400_413_422_reject_the_report(void **state)
{
    (void)state;
    expect_class(400, BTC_HTTP_REJECTED, false, NULL);
    expect_class(413, BTC_HTTP_REJECTED, false, NULL);
    expect_class(422, BTC_HTTP_REJECTED, false, NULL);
}

static void
test_submit_other_4xx_say_the_endpoint_or_token_is_wrong(void **state)
{
    (void)state;
    /* A configuration error is no verdict on the report: it stays
     * pending, and the error says what to fix. */
    expect_class(401, BTC_HTTP_RETRY, true,
                 " (the server refused the token: check BACKTRACE_TOKEN)");
    expect_class(403, BTC_HTTP_RETRY, true,
                 " (the server refused the token: check BACKTRACE_TOKEN)");
    expect_class(404, BTC_HTTP_RETRY, true,
                 " (no submission endpoint at this URL: check BACKTRACE_ENDPOINT)");
    expect_class(405, BTC_HTTP_RETRY, true, " (check BACKTRACE_ENDPOINT)");
    expect_class(499, BTC_HTTP_RETRY, true, " (check BACKTRACE_ENDPOINT)");
    expect_class(429, BTC_HTTP_RETRY, false, NULL);
}

static void
test_submit_takes_retry_after_from_429_and_503_only(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};
    static const long statuses[] = {429, 503, 500, 200};
    static const int64_t want[] = {120, 120, 0, 0};

    (void)state;
    g_mock.retry_after = 120;
    for (size_t i = 0; i < 4; i++) {
        g_mock.status = statuses[i];
        assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
        assert_int_equal(res.retry_after_s, want[i]);
    }
    g_mock.retry_after = 0;
    g_mock.status = 429;
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.retry_after_s, 0);
}

static void
test_submit_429_5xx_and_other_statuses_are_retried(void **state)
{
    (void)state;
    expect_outcome(429, BTC_HTTP_RETRY);
    expect_outcome(500, BTC_HTTP_RETRY);
    expect_outcome(502, BTC_HTTP_RETRY);
    expect_outcome(503, BTC_HTTP_RETRY);
    expect_outcome(201, BTC_HTTP_RETRY);
    expect_outcome(204, BTC_HTTP_RETRY);
    expect_outcome(302, BTC_HTTP_RETRY);
}

static void
test_submit_network_error_is_retried_with_curls_text(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    g_mock.rc = CURLE_COULDNT_CONNECT;
    g_mock.errtext = "Failed to connect to host port 80 after 0 ms: Connection refused";
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_RETRY);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.error, g_mock.errtext);
    assert_non_null(strstr(log.text, "Connection refused"));
}

static void
test_submit_error_without_curl_text_uses_curl_easy_strerror(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    g_mock.rc = CURLE_OPERATION_TIMEDOUT;
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_RETRY);
    assert_string_equal(res.error, curl_easy_strerror(CURLE_OPERATION_TIMEDOUT));
}

static void
test_submit_never_shows_the_token_in_logs_or_errors(void **state)
{
    struct btc_config cfg = config("http://host/", TOKEN);
    struct btc_http_attachment att = {.path = "/nonexistent/" TOKEN, .name = "x.log"};
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    g_mock.rc = CURLE_COULDNT_RESOLVE_HOST;
    /* As if curl echoed the URL: it must not reach anyone as it is. */
    g_mock.errtext = "bad http://host/post?token=" TOKEN_ENC " (" TOKEN ")";
    assert_int_equal(submit(&cfg, &att, 1, &log, &res), 0);
    assert_string_equal(g_mock.url, "http://host/post?token=" TOKEN_ENC "&format=json");
    assert_true(log.lines >= 3); /* skipped attachment, POST, failure */
    assert_non_null(strstr(log.text, "POST http://host/post?token=REDACTED&format=json"));
    assert_null(strstr(log.text, TOKEN));
    assert_null(strstr(log.text, TOKEN_ENC));
    assert_null(strstr(res.error, TOKEN));
    assert_null(strstr(res.error, TOKEN_ENC));
    assert_non_null(strstr(res.error, "REDACTED"));
    /* The note names the attachment's path, redacted too. */
    assert_non_null(strstr(res.note, "x.log skipped"));
    assert_null(strstr(res.note, TOKEN));
    assert_null(strstr(res.note, TOKEN_ENC));
}

static void
test_submit_sets_nosignal_timeouts_and_tls_verification(void **state)
{
    struct btc_config cfg = config("https://host", "0123abcd");
    struct btc_http_result res;
    int64_t before = now_ns();

    (void)state;
    g_mock.status = 200;
    assert_int_equal(btc_http_submit(&cfg, REPORT, strlen(REPORT), NULL, 0, before + 1500000000LL,
                                     NULL, NULL, &res),
                     0);
    assert_int_equal(g_mock.performs, 1);
    assert_int_equal(g_mock.nosignal, 1);
    assert_int_equal(g_mock.quick_exit, 1);
    /* The time left when the transfer starts, never more. */
    assert_true(g_mock.timeout_ms > 1000 && g_mock.timeout_ms <= 1500);
    assert_true(g_mock.connect_timeout_ms > 0 && g_mock.connect_timeout_ms <= g_mock.timeout_ms);
    assert_int_equal(g_mock.verify_peer, 1);
    assert_int_equal(g_mock.verify_host, 2);
}

static void
test_submit_ignore_ssl_certificate_turns_verification_off(void **state)
{
    struct btc_config cfg = config("https://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    cfg.ignore_ssl_certificate = true;
    g_mock.status = 200;
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(g_mock.verify_peer, 0);
    assert_int_equal(g_mock.verify_host, 0);
}

static void
test_submit_does_not_start_with_less_than_50_ms_left(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res = {.status = 12345};

    (void)state;
    assert_int_equal(btc_http_submit(&cfg, REPORT, strlen(REPORT), NULL, 0, now_ns() + 20000000LL,
                                     NULL, NULL, &res),
                     -ETIMEDOUT);
    assert_int_equal(
        btc_http_submit(&cfg, REPORT, strlen(REPORT), NULL, 0, now_ns() - 1, NULL, NULL, &res),
        -ETIMEDOUT);
    assert_int_equal(g_mock.performs, 0);
    assert_int_equal(res.status, 12345); /* untouched */
}

static void
test_submit_rejects_a_missing_endpoint(void **state)
{
    struct btc_config cfg = config(NULL, "t");
    struct btc_http_result res;

    (void)state;
    assert_int_equal(btc_http_submit(&cfg, REPORT, strlen(REPORT), NULL, 0, now_ns() + 1000000000LL,
                                     NULL, NULL, &res),
                     -EINVAL);
    assert_int_equal(g_mock.performs, 0);
}

static void
test_submit_sends_upload_file_then_each_attachment_once(void **state)
{
    char dir[] = "/tmp/btc-test-http-XXXXXX", a[64], b[64], c[64];
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(a, sizeof(a), "%s/a.log", dir);
    snprintf(b, sizeof(b), "%s/b.log", dir);
    snprintf(c, sizeof(c), "%s/missing.log", dir);
    assert_non_null(f = fopen(a, "w"));
    fputs("aaa", f);
    fclose(f);
    assert_non_null(f = fopen(b, "w"));
    fputs("bb", f);
    fclose(f);
    struct btc_http_attachment atts[] = {
        {.path = a, .name = "a.log"}, {.path = b, .name = "a.log"}, /* same name: skipped */
        {.path = c, .name = NULL},    /* unreadable: skipped; name from the path */
        {.path = b, .name = NULL},    /* name from the path: b.log */
        {.path = dir, .name = "dir"}, /* not a regular file: skipped */
    };
    g_mock.status = 200;
    assert_int_equal(submit(&cfg, atts, 5, &log, &res), 0);
    assert_int_equal(g_mock.nparts, 3);
    assert_string_equal(g_mock.parts[0], "upload_file");
    assert_string_equal(g_mock.parts[1], "attachment_a.log");
    assert_string_equal(g_mock.parts[2], "attachment_b.log");
    assert_non_null(strstr(log.text, "attachment a.log skipped"));
    assert_non_null(strstr(log.text, "attachment missing.log skipped: cannot open"));
    assert_non_null(strstr(log.text, "attachment dir skipped"));
    assert_non_null(strstr(log.text, ", 2 attachments (5 bytes)"));
    /* Whatever was left out is in the result's note too. */
    assert_non_null(strstr(res.note, "attachment a.log skipped"));
    assert_non_null(strstr(res.note, "attachment missing.log skipped: cannot open"));
    assert_non_null(strstr(res.note, "attachment dir skipped"));
    assert_null(strstr(res.note, "attachment b.log"));
    unlink(a);
    unlink(b);
    rmdir(dir);
}

static void
test_submit_minidump_sends_the_dump_the_fields_then_the_attachments(void **state)
{
    char path[] = "/tmp/btc-test-http-dmp-XXXXXX", att[] = "/tmp/btc-test-http-att-XXXXXX";
    struct btc_config cfg = config("http://host", "0123abcd");
    json_t *attrs = json_pack("{s:s, s:i, s:b, s:n, s:{}, s:[], s:s}", "app", "blue", "n", 3, "ok",
                              1, "null", "obj", "arr", "attachment_x", "clash");
    struct btc_http_attachment atts[1] = {{.path = att, .name = "a.log"}};
    struct btc_http_payload p = {.format = BTC_CFG_FORMAT_MINIDUMP, .uuid = "u-1"};
    struct btc_http_result res;
    struct logbuf log = {0};
    int afd;

    (void)state;
    assert_non_null(attrs);
    p.attributes = attrs;
    assert_true((p.minidump_fd = mkstemp(path)) >= 0);
    assert_int_equal(write(p.minidump_fd, "MDMP1234", 8), 8);
    assert_true((afd = mkstemp(att)) >= 0);
    assert_int_equal(write(afd, "aaa", 3), 3);
    close(afd);
    g_mock.status = 200;
    assert_int_equal(btc_http_submit_payload(&cfg, &p, atts, 1, now_ns() + 2000000000LL,
                                             collect_log, &log, &res),
                     0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_string_equal(g_mock.url, "http://host/post?token=0123abcd&format=minidump");
    assert_int_equal(g_mock.nparts, 5);
    assert_string_equal(g_mock.parts[0], "upload_file_minidump");
    assert_string_equal(g_mock.parts[1], "app");
    assert_string_equal(g_mock.parts[2], "n");
    assert_string_equal(g_mock.parts[3], "ok");
    assert_string_equal(g_mock.parts[4], "attachment_a.log");
    assert_non_null(strstr(log.text, "minidump u-1.dmp of 8 bytes, 3 attributes, 1 attachment"));
    assert_non_null(strstr(log.text, "attribute attachment_x not sent as a field"));
    assert_null(strstr(log.text, "0123abcd"));
    json_decref(attrs);
    close(p.minidump_fd);
    unlink(path);
    unlink(att);
}

static void
test_submit_minidump_refuses_what_is_no_dump(void **state)
{
    char dir[] = "/tmp/btc-test-http-XXXXXX", fifo[64];
    struct btc_config cfg = config("http://host", "t");
    struct btc_http_payload p = {.format = BTC_CFG_FORMAT_MINIDUMP, .minidump_fd = -1};
    struct btc_http_result res;
    json_t *list = json_array();
    int fd;

    (void)state;
    /* No descriptor; attributes that are not an object. */
    assert_int_equal(
        btc_http_submit_payload(&cfg, &p, NULL, 0, now_ns() + 2000000000LL, NULL, NULL, &res),
        -EINVAL);
    p.minidump_fd = 0;
    p.attributes = list;
    assert_int_equal(
        btc_http_submit_payload(&cfg, &p, NULL, 0, now_ns() + 2000000000LL, NULL, NULL, &res),
        -EINVAL);
    p.attributes = NULL;
    /* A closed descriptor. */
    assert_true((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
    close(fd);
    p.minidump_fd = fd;
    assert_int_equal(
        btc_http_submit_payload(&cfg, &p, NULL, 0, now_ns() + 2000000000LL, NULL, NULL, &res),
        -EBADF);
    /* A FIFO would block the upload, or never end. */
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_true((fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) >= 0);
    p.minidump_fd = fd;
    assert_int_equal(
        btc_http_submit_payload(&cfg, &p, NULL, 0, now_ns() + 2000000000LL, NULL, NULL, &res),
        -EINVAL);
    assert_int_equal(g_mock.performs, 0);
    close(fd);
    unlink(fifo);
    rmdir(dir);
    json_decref(list);
}

static void
test_submit_reads_an_attachment_from_its_descriptor(void **state)
{
    char dir[] = "/tmp/btc-test-http-XXXXXX", a[64], fifo[64];
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};
    int fd, pfd;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(a, sizeof(a), "%s/copy", dir);
    assert_non_null(f = fopen(a, "w"));
    fputs("four", f);
    fclose(f);
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    fd = open(a, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    pfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    assert_true(pfd >= 0);
    /* The path only names it: the descriptor is what is read. */
    struct btc_http_attachment atts[] = {
        {.path = "/nonexistent/app.log", .name = "app.log", .from_fd = true, .fd = fd},
        {.path = "pipe", .name = "pipe", .from_fd = true, .fd = pfd},
        {.path = "closed", .name = "closed", .from_fd = true, .fd = -1},
    };
    g_mock.status = 200;
    assert_int_equal(submit(&cfg, atts, 3, &log, &res), 0);
    assert_int_equal(g_mock.nparts, 2);
    assert_string_equal(g_mock.parts[1], "attachment_app.log");
    assert_non_null(strstr(log.text, ", 1 attachment (4 bytes)"));
    assert_non_null(strstr(res.note, "attachment pipe skipped"));
    assert_non_null(strstr(res.note, "not a regular file"));
    assert_non_null(strstr(res.note, "attachment closed skipped"));
    /* Borrowed: still the caller's to close. */
    assert_true(fcntl(fd, F_GETFD) >= 0);
    assert_true(fcntl(pfd, F_GETFD) >= 0);
    close(fd);
    close(pfd);
    unlink(a);
    unlink(fifo);
    rmdir(dir);
}

static void
test_submit_escapes_the_rxid(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    g_mock.status = 200;
    g_mock.body = "{\"response\":\"ok\",\"_rxid\":\"a\\u001b[31mb\\nc\"}";
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_string_equal(res.rxid, "a\\x1b[31mb\\x0ac");
    assert_null(strchr(log.text, '\x1b'));
}

static void
test_submit_cuts_a_long_rxid(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};
    char body[1100];
    size_t n;

    (void)state;
    n = (size_t)snprintf(body, sizeof(body), "{\"response\":\"ok\",\"_rxid\":\"");
    memset(body + n, 'r', 1000);
    snprintf(body + n + 1000, sizeof(body) - n - 1000, "\"}");
    g_mock.status = 200;
    g_mock.body = body;
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    n = strlen(res.rxid);
    assert_true(n > 100 && n < sizeof(res.rxid));
    assert_string_equal(res.rxid + n - 3, "...");
}

/* The error of a @status answer whose body is @body. */
static void
expect_error(long status, const char *body, const char *want)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};

    setup(NULL);
    g_mock.status = status;
    g_mock.body = body;
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.status, status);
    assert_string_equal(res.error, want);
}

static void
test_submit_error_quotes_what_the_server_said(void **state)
{
    (void)state;
    expect_error(400, "{\"message\":\"invalid object\"}", "HTTP 400: invalid object");
    expect_error(401, "{\"error\":\"unauthorized\"}",
                 "HTTP 401: unauthorized (the server refused the token: check BACKTRACE_TOKEN)");
    expect_error(403, "{\"error\":{\"message\":\"universe suspended\"}}",
                 "HTTP 403: universe suspended (the server refused the token: check "
                 "BACKTRACE_TOKEN)");
    /* "message" comes first. */
    expect_error(400, "{\"error\":\"e\",\"message\":\"m\"}", "HTTP 400: m");
    /* Not JSON: the first line. */
    expect_error(502, "Bad Gateway\r\n<html>nginx</html>\r\n", "HTTP 502: Bad Gateway");
    expect_error(500, "oops", "HTTP 500: oops");
}

static void
test_submit_error_escapes_and_cuts_what_the_server_said(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};
    char body[1100];
    size_t n;

    (void)state;
    expect_error(400, "{\"message\":\"x\\u001b]0;pwned\\u0007y\\u009b\"}",
                 "HTTP 400: x\\x1b]0;pwned\\x07y\\u009b");
    expect_error(500, "a\x1b[2Jb\xff\nsecond line", "HTTP 500: a\\x1b[2Jb\\xff");

    setup(NULL);
    n = (size_t)snprintf(body, sizeof(body), "{\"message\":\"");
    memset(body + n, 'A', 1000);
    snprintf(body + n + 1000, sizeof(body) - n - 1000, "\"}");
    g_mock.status = 400;
    g_mock.body = body;
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(strncmp(res.error, "HTTP 400: AAAA", 14), 0);
    n = strlen(res.error);
    assert_true(n - strlen("HTTP 400: ") <= BTC_TEXT_SERVER_MAX);
    assert_string_equal(res.error + n - 3, "...");
}

static void
test_submit_never_keeps_a_token_the_server_echoes(void **state)
{
    struct btc_config cfg = config("http://host", TOKEN);
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    setup(NULL);
    g_mock.status = 401;
    g_mock.body = "{\"message\":\"bad token " TOKEN " (" TOKEN_ENC ")\"}";
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_string_equal(res.error, "HTTP 401: bad token REDACTED (REDACTED) (the server refused "
                                   "the token: check BACKTRACE_TOKEN)");
    setup(NULL);
    g_mock.status = 200;
    g_mock.body = "{\"response\":\"ok\",\"_rxid\":\"rx-" TOKEN "\"}";
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_string_equal(res.rxid, "rx-REDACTED");
}

static void
test_submit_error_is_the_status_alone_for_json_without_a_message(void **state)
{
    (void)state;
    expect_error(400, "{\"response\":\"error\",\"status\":400}", "HTTP 400");
    expect_error(500, "", "HTTP 500");
}

/* The server answered "200 OK" and then its body never came: at the
 * deadline curl gives up with a time-out, but the server has the report.
 * Sent, without an rxid, and the note says why; not a retry that would
 * make a duplicate. */
static void
test_submit_200_whose_body_times_out_is_sent_without_rxid(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    g_mock.status = 200;
    g_mock.rc = CURLE_OPERATION_TIMEDOUT;
    g_mock.errtext = "Operation timed out after 900 milliseconds with 0 out of 38 bytes received";
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.rxid, "");
    assert_string_equal(res.error, "");
    assert_string_equal(res.note, "the server answered 200 but its reply did not arrive in time; "
                                  "counted as sent");
    assert_non_null(strstr(log.text, "HTTP 200 after"));
    assert_non_null(strstr(log.text, "0 out of 38 bytes received; counted as sent"));
}

/* Part of the body, then the connection closed: sent as well; an rxid is
 * taken only from a whole answer. */
static void
test_submit_200_whose_body_is_cut_short_is_sent_without_rxid(void **state)
{
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    g_mock.status = 200;
    g_mock.rc = CURLE_PARTIAL_FILE;
    g_mock.body = "{\"response\":\"ok\",\"_rx";
    assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
    assert_int_equal(res.outcome, BTC_HTTP_SENT);
    assert_string_equal(res.rxid, "");
    assert_string_equal(res.note, "the server answered 200 but its reply was cut short; counted "
                                  "as sent");
}

/* Only a 200 status line counts: a time-out after another status, or
 * before any, is a retry as ever. */
static void
test_submit_time_out_after_another_status_is_retried(void **state)
{
    static const long k_statuses[] = {0, 201, 500, 429};
    struct btc_config cfg = config("http://host", "0123abcd");
    struct btc_http_result res;
    struct logbuf log = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(k_statuses) / sizeof(k_statuses[0]); i++) {
        setup(NULL);
        g_mock.status = k_statuses[i];
        g_mock.rc = CURLE_OPERATION_TIMEDOUT;
        assert_int_equal(submit(&cfg, NULL, 0, &log, &res), 0);
        assert_int_equal(res.outcome, BTC_HTTP_RETRY);
        assert_string_equal(res.note, "");
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_appends_post_with_token_and_format),
        cmocka_unit_test(test_url_encodes_the_token),
        cmocka_unit_test(test_url_does_not_double_a_trailing_slash),
        cmocka_unit_test(test_url_keeps_submit_backtrace_io_even_with_a_token),
        cmocka_unit_test(test_url_without_a_token_is_the_endpoint),
        cmocka_unit_test(test_url_rejects_a_null_endpoint),
        cmocka_unit_test(test_url_for_a_minidump),
        cmocka_unit_test(test_url_appends_to_a_query_the_endpoint_has),
        cmocka_unit_test(test_redact_replaces_the_raw_and_the_encoded_token),
        cmocka_unit_test(test_redact_hides_the_token_segment_of_submit_backtrace_io),
        cmocka_unit_test(test_redact_hides_a_url_password),
        cmocka_unit_test(test_redact_hides_the_token_segment_of_a_minidump_url),
        cmocka_unit_test(test_redact_without_secrets_keeps_the_text),
        cmocka_unit_test(test_redact_hides_the_whole_userinfo),
        cmocka_unit_test(test_redact_hides_every_token_parameter),
        cmocka_unit_test(test_redact_covers_every_url_in_a_text),
        cmocka_unit_test(test_endpoint_id_is_the_sha256_of_the_submission_url),
        cmocka_unit_test(test_endpoint_id_changes_with_the_token_and_the_endpoint),
        cmocka_unit_test_setup(test_submit_200_is_sent_with_the_rxid, setup),
        cmocka_unit_test_setup(test_submit_200_with_another_body_is_sent_without_rxid, setup),
        cmocka_unit_test_setup(test_submit_only_400_413_422_reject_the_report, setup),
        cmocka_unit_test_setup(test_submit_other_4xx_say_the_endpoint_or_token_is_wrong, setup),
        cmocka_unit_test_setup(test_submit_429_5xx_and_other_statuses_are_retried, setup),
        cmocka_unit_test_setup(test_submit_takes_retry_after_from_429_and_503_only, setup),
        cmocka_unit_test_setup(test_submit_network_error_is_retried_with_curls_text, setup),
        cmocka_unit_test_setup(test_submit_error_without_curl_text_uses_curl_easy_strerror, setup),
        cmocka_unit_test_setup(test_submit_never_shows_the_token_in_logs_or_errors, setup),
        cmocka_unit_test_setup(test_submit_sets_nosignal_timeouts_and_tls_verification, setup),
        cmocka_unit_test_setup(test_submit_ignore_ssl_certificate_turns_verification_off, setup),
        cmocka_unit_test_setup(test_submit_does_not_start_with_less_than_50_ms_left, setup),
        cmocka_unit_test_setup(test_submit_rejects_a_missing_endpoint, setup),
        cmocka_unit_test_setup(test_submit_sends_upload_file_then_each_attachment_once, setup),
        cmocka_unit_test_setup(test_submit_reads_an_attachment_from_its_descriptor, setup),
        cmocka_unit_test_setup(test_submit_minidump_sends_the_dump_the_fields_then_the_attachments,
                               setup),
        cmocka_unit_test_setup(test_submit_minidump_refuses_what_is_no_dump, setup),
        cmocka_unit_test_setup(test_submit_escapes_the_rxid, setup),
        cmocka_unit_test_setup(test_submit_cuts_a_long_rxid, setup),
        cmocka_unit_test_setup(test_submit_error_quotes_what_the_server_said, setup),
        cmocka_unit_test_setup(test_submit_error_escapes_and_cuts_what_the_server_said, setup),
        cmocka_unit_test_setup(test_submit_never_keeps_a_token_the_server_echoes, setup),
        cmocka_unit_test_setup(test_submit_error_is_the_status_alone_for_json_without_a_message,
                               setup),
        cmocka_unit_test_setup(test_submit_200_whose_body_times_out_is_sent_without_rxid, setup),
        cmocka_unit_test_setup(test_submit_200_whose_body_is_cut_short_is_sent_without_rxid, setup),
        cmocka_unit_test_setup(test_submit_time_out_after_another_status_is_retried, setup),
    };

    btc_test_curl_linked();
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
