/* http: submits one report to a Backtrace endpoint with libcurl, exactly as
 * DESIGN.md §4 says (URL rules, multipart body, TLS, outcome by status).
 * Helper process and btcrash command. */
#ifndef BTCRASH_HTTP_H
#define BTCRASH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"

enum btc_http_outcome {
    BTC_HTTP_SENT,     /* HTTP 200; also when the server's reply after its
                          200 status line did not arrive in time or whole
                          (a time-out, a closed connection): the server has
                          the report; rxid is then "" and note says so */
    BTC_HTTP_REJECTED, /* 400, 413, 422: a refusal of the report itself; keep
                          it, never retry it */
    BTC_HTTP_RETRY,    /* 429, 5xx, any other status, network error, time out;
                          and any other 4xx (endpoint_wrong) */
};

struct btc_http_result {
    enum btc_http_outcome outcome;
    long status;     /* the HTTP status; 0 when no response arrived */
    char rxid[128];  /* "_rxid" of a {"response":"ok"} body, or "" */
    char error[256]; /* why it was not sent (curl's text, "HTTP 500: what the
                        server said"), or "" */
    char note[512];  /* what was left out of the request (an attachment, and
                        why), or "" */
    /* A 4xx that says the endpoint or token is wrong (401, 403, 404...):
     * the report stays pending, and so should every other report to it. */
    bool endpoint_wrong;
    /* A 429 or 503's Retry-After, in seconds from now; 0 when none. */
    int64_t retry_after_s;
    /* When the report may be tried again (seconds since the epoch), set by
     * deliver.h for an attempt that failed or was not due; 0 otherwise. */
    int64_t next_attempt;
    /* All are escaped (text.h) and cut: what a server sends never reaches
     * a terminal raw. */
};

/* One attachment part, sent as "attachment_<name>": the file at @path, or,
 * when @from_fd, the open file @fd (borrowed; @path then only names it in
 * messages). The crash database hands its copies over by descriptor,
 * opened relative to its directory without following links. */
struct btc_http_attachment {
    const char *path;
    const char *name;
    bool from_fd;
    int fd;
};

/* Receives one line of debug output (no trailing newline). The token never
 * appears in it. */
typedef void (*btc_http_log_fn)(const char *line, void *ctx);

/**
 * Load libcurl (curl_lib.h) and curl_global_init(CURL_GLOBAL_DEFAULT) it,
 * once per process however often it is called (pthread_once).
 * btc_http_submit calls it itself; call it early from main() to keep the
 * loading and curl's one-time set-up out of a transfer's time.
 *
 * Returns: 0, -ELIBACC when libcurl could not be loaded, or -EIO when it
 *          could not initialise (then on every call).
 */
int btc_http_global_init(void);

/** Why btc_http_global_init failed ("libcurl.so.4: cannot open shared
 * object file..."), or NULL when it has not. */
const char *btc_http_init_error(void);

/**
 * The submission URL: @endpoint as given when it contains
 * "submit.backtrace.io" or @token is NULL/empty; otherwise
 * ENDPOINT/post?token=<url-encoded token>&format=json, without doubling a
 * trailing '/'. An endpoint that has a query already ("...?k=v") gets
 * "&token=<token>&format=json" instead: a second '?' would hide the token
 * in the last parameter's value.
 *
 * Returns: 0 and *ret_url (malloc'ed), -EINVAL for a NULL endpoint, -ENOMEM.
 */
int btc_http_url(const char *endpoint, const char *token, char **ret_url);

/**
 * The submission URL for @format: btc_http_url's for BTC_CFG_FORMAT_JSON;
 * for BTC_CFG_FORMAT_MINIDUMP the same with format=minidump, and a
 * submit.backtrace.io URL whose path ends in "/json" ends in "/minidump"
 * instead (its query stays). An endpoint without a token is used as given
 * whatever the format: a Sentry minidump URL carries its key itself.
 *
 * Returns: 0 and *ret_url (malloc'ed), -EINVAL for a NULL endpoint or an
 *          unknown format, -ENOMEM.
 */
int btc_http_url_for(const char *endpoint, const char *token, enum btc_cfg_format format,
                     char **ret_url);

/* 64 hex digits: SHA-256 of the submission URL. */
#define BTC_HTTP_ENDPOINT_ID_LEN 64

/**
 * The identity of the endpoint a report is made for, as its state records
 * it (DESIGN.md §6: a report goes only to the endpoint it was made for):
 * the SHA-256 of btc_http_url(@endpoint, @token), in hex, so that it
 * changes with the token too and never holds it in clear.
 *
 * Returns: 0 and @ret (BTC_HTTP_ENDPOINT_ID_LEN digits and a NUL), -EINVAL,
 *          -ENOMEM.
 */
int btc_http_endpoint_id(const char *endpoint, const char *token,
                         char ret[BTC_HTTP_ENDPOINT_ID_LEN + 1]);

/**
 * @url with every occurrence of @token, raw or URL-encoded, replaced by
 * "REDACTED": for logs and messages. Secrets that a URL holds without a
 * token are redacted too, in every URL the text holds: the userinfo of
 * "user:password@host" (user and password), the value of each "token="
 * query parameter, and the token segment of
 * https://submit.backtrace.io/{universe}/{token}/json. @token may be NULL.
 * Any text (an error message) may be passed as @url.
 *
 * Returns: a malloc'ed string, or NULL when out of memory.
 */
char *btc_http_redact(const char *url, const char *token);

/**
 * POST @json (@len bytes) as the "upload_file" part, then each readable
 * attachment as "attachment_<name>" (application/octet-stream); a second
 * attachment with the same name, and one that cannot be read, is skipped and
 * logged. TLS is verified unless cfg->ignore_ssl_certificate. Never waits
 * past @deadline_mono_ns (CLOCK_MONOTONIC, ns); CURLOPT_NOSIGNAL is set.
 *
 * Returns: 0 and *ret (whatever the outcome), or -errno when the request
 *          could not even be built (-ENOMEM, -EINVAL, -ETIMEDOUT when the
 *          deadline has passed already).
 * Borrows: everything. Thread-safe once curl_global_init has run.
 */
int btc_http_submit(const struct btc_config *cfg, const char *json, size_t len,
                    const struct btc_http_attachment *attachments, size_t nattachments,
                    int64_t deadline_mono_ns, btc_http_log_fn log, void *log_ctx,
                    struct btc_http_result *ret);

/* What one request carries first, before the attachments. */
struct btc_http_payload {
    enum btc_cfg_format format;
    /* BTC_CFG_FORMAT_JSON: the report, sent as the "upload_file" part. */
    const char *json;
    size_t len;
    /* BTC_CFG_FORMAT_MINIDUMP: the dump, a regular file open for reading
     * (borrowed; read with pread, its offset does not matter), sent as
     * "upload_file_minidump" with the file name "<uuid>.dmp"; and the
     * report's attributes (a JSON object, or NULL), each a form field. */
    int minidump_fd;
    const char *uuid;
    json_t *attributes;
};

/**
 * btc_http_submit for any payload. For a minidump, the URL is
 * btc_http_url_for's; each attribute becomes a form field named after it,
 * a string as it is and a number or boolean in its JSON text (null, an
 * object, an array, and a name that a part of the body uses are left out,
 * and a name of a part is logged); the attachments follow as for a report.
 *
 * Returns: as btc_http_submit; -EINVAL for a payload that is not one
 *          (a minidump without a descriptor, attributes that are not an
 *          object), -EBADF for a closed descriptor, and -EINVAL for one
 *          that is not a regular file.
 * Borrows: everything.
 */
int btc_http_submit_payload(const struct btc_config *cfg, const struct btc_http_payload *payload,
                            const struct btc_http_attachment *attachments, size_t nattachments,
                            int64_t deadline_mono_ns, btc_http_log_fn log, void *log_ctx,
                            struct btc_http_result *ret);

#endif
