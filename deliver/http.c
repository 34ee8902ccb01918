/* http: see http.h. One blocking libcurl easy transfer per report; every
 * wait in it is bounded by the caller's deadline, because in the helper the
 * crashed process kills us when that deadline passes. */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "sha256.h"
#include "text.h"
#include "clock.h"
#include "curl_lib.h"
#include "path.h"

/* Below this much time left, a transfer cannot even connect: do not start. */
#define MIN_LEFT_NS (50 * 1000000LL)
/* We only need the small JSON answer; a larger body is cut. */
#define MAX_BODY 65536
#define REDACTED "REDACTED"

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static int g_init_result = -EIO;
static char g_init_error[256] = "not initialised";

static void
global_init_once(void)
{
    CURLcode rc;

    g_init_result = btc_curl_load(g_init_error, sizeof(g_init_error));
    if (g_init_result < 0)
        return;
    rc = btc_curl.global_init(CURL_GLOBAL_DEFAULT);
    g_init_result = rc == CURLE_OK ? 0 : -EIO;
    if (rc != CURLE_OK)
        snprintf(g_init_error, sizeof(g_init_error), "curl_global_init: %s",
                 btc_curl.easy_strerror(rc));
}

int
btc_http_global_init(void)
{
    pthread_once(&g_init_once, global_init_once);
    return g_init_result;
}

const char *
btc_http_init_error(void)
{
    return g_init_result == 0 ? NULL : g_init_error;
}

/* RFC 3986 percent-encoding of everything but the unreserved characters, as
 * curl_easy_escape does; ours needs no curl handle or global init. */
static char *
url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *p = out;

    if (!out)
        return NULL;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '.' || *c == '_' || *c == '~') {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p = '\0';
    return out;
}

int
btc_http_url(const char *endpoint, const char *token, char **ret_url)
{
    char *url, *enc;
    size_t len;
    int n;

    if (!endpoint)
        return -EINVAL;
    /* submit.backtrace.io URLs carry the token in their path already. */
    if (!token || !*token || strstr(endpoint, "submit.backtrace.io")) {
        url = strdup(endpoint);
        if (!url)
            return -ENOMEM;
        *ret_url = url;
        return 0;
    }
    enc = url_encode(token);
    if (!enc)
        return -ENOMEM;
    len = strlen(endpoint);
    if (strchr(endpoint, '?')) {
        /* A full submission URL with a query of its own: one more '?'
         * would make the token part of the last parameter's value. */
        char last = endpoint[len - 1];

        n = asprintf(&url, "%s%stoken=%s&format=json", endpoint,
                     last == '?' || last == '&' ? "" : "&", enc);
    } else {
        n = asprintf(&url, "%s%spost?token=%s&format=json", endpoint,
                     len > 0 && endpoint[len - 1] == '/' ? "" : "/", enc);
    }
    free(enc);
    if (n < 0)
        return -ENOMEM;
    *ret_url = url;
    return 0;
}

int
btc_http_endpoint_id(const char *endpoint, const char *token,
                     char ret[BTC_HTTP_ENDPOINT_ID_LEN + 1])
{
    char *url = NULL;
    int r = btc_http_url(endpoint, token, &url);

    if (r < 0)
        return r;
    btc_sha256_hex(url, strlen(url), ret);
    /* The URL holds the token: leave no copy of it behind in the heap. */
    explicit_bzero(url, strlen(url));
    free(url);
    return 0;
}

/* Replace every occurrence of @needle in the malloc'ed *@s by REDACTED. */
static int
replace_all(char **s, const char *needle)
{
    size_t nlen = strlen(needle), count = 0;
    char *out, *o;
    const char *p, *hit;

    if (nlen == 0)
        return 0;
    for (p = *s; (hit = strstr(p, needle)); p = hit + nlen)
        count++;
    if (count == 0)
        return 0;
    out = malloc(strlen(*s) + count * sizeof(REDACTED) + 1);
    if (!out)
        return -ENOMEM;
    o = out;
    for (p = *s; (hit = strstr(p, needle)); p = hit + nlen) {
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, REDACTED, sizeof(REDACTED) - 1);
        o += sizeof(REDACTED) - 1;
    }
    strcpy(o, p);
    free(*s);
    *s = out;
    return 0;
}

/* Replace the bytes [@start, @end) of the malloc'ed *@s by REDACTED. */
static int
replace_span(char **s, size_t start, size_t end)
{
    size_t len = strlen(*s);
    char *out = malloc(len - (end - start) + sizeof(REDACTED));

    if (!out)
        return -ENOMEM;
    memcpy(out, *s, start);
    memcpy(out + start, REDACTED, sizeof(REDACTED) - 1);
    strcpy(out + start + sizeof(REDACTED) - 1, *s + end);
    free(*s);
    *s = out;
    return 0;
}

/* Secrets a URL can hold without BACKTRACE_TOKEN, wherever a URL appears in
 * @s (an error message may quote one): the whole userinfo of
 * "user:password@host" (a token is often given as the user), the value of
 * every "token=" query parameter, and the token segment of
 * https://submit.backtrace.io/{universe}/{token}/json. */
static int
redact_url_secrets(char **s)
{
    size_t pos = 0;
    char *hit;
    int r;

    while ((hit = strstr(*s + pos, "://"))) {
        char *auth = hit + 3, *auth_end = auth + strcspn(auth, "/?#\" \t\r\n");
        char *at = NULL;

        for (char *p = auth; p < auth_end; p++)
            if (*p == '@')
                at = p; /* the last '@': a password may hold one too */
        pos = (size_t)(auth - *s);
        if (at && at > auth &&
            (at - auth != (ptrdiff_t)strlen(REDACTED) ||
             strncmp(auth, REDACTED, strlen(REDACTED)) != 0)) {
            r = replace_span(s, pos, (size_t)(at - *s));
            if (r < 0)
                return r;
        }
    }
    for (pos = 0; (hit = strstr(*s + pos, "token=")); pos = (size_t)(hit - *s) + 6) {
        size_t start = (size_t)(hit + 6 - *s), vlen = strcspn(hit + 6, "&#\" \t\r\n");

        /* Only a parameter: "?token=" or "&token=", not "mytoken=". */
        if (hit == *s || (hit[-1] != '?' && hit[-1] != '&') || vlen == 0 ||
            (vlen == strlen(REDACTED) && strncmp(hit + 6, REDACTED, vlen) == 0))
            continue;
        r = replace_span(s, start, start + vlen);
        if (r < 0)
            return r;
        hit = *s + start - 6;
    }
    for (pos = 0; (hit = strstr(*s + pos, "submit.backtrace.io/"));) {
        char *universe = hit + strlen("submit.backtrace.io/");
        char *slash = universe + strcspn(universe, "/?#\" \t\r\n");
        char *tok = slash + 1;
        size_t toklen = *slash == '/' ? strcspn(tok, "/?#\" \t\r\n") : 0;

        pos = (size_t)(universe - *s);
        if (toklen > 0 && (toklen != strlen(REDACTED) || strncmp(tok, REDACTED, toklen) != 0)) {
            r = replace_span(s, (size_t)(tok - *s), (size_t)(tok + toklen - *s));
            if (r < 0)
                return r;
        }
    }
    return 0;
}

char *
btc_http_redact(const char *url, const char *token)
{
    char *s, *enc = NULL;

    if (!url)
        return NULL;
    s = strdup(url);
    if (!s)
        return NULL;
    if (token && *token) {
        enc = url_encode(token);
        /* The raw form first: its encoding may contain it, never the
         * other way round once it is gone. */
        if (!enc || replace_all(&s, token) < 0 || replace_all(&s, enc) < 0)
            goto fail;
    }
    if (redact_url_secrets(&s) < 0)
        goto fail;
    free(enc);
    return s;
fail:
    free(enc);
    free(s);
    return NULL;
}

/* Everything one transfer needs, freed by submit_free(). */
struct submit {
    const struct btc_config *cfg;
    btc_http_log_fn log;
    void *log_ctx;
    CURL *curl;
    curl_mime *mime;
    struct curl_slist *headers;
    char *url;
    char *shown_url; /* the URL with its secrets redacted */
    char *body;
    size_t body_len;
    char errbuf[CURL_ERROR_SIZE];
    char note[sizeof(((struct btc_http_result *)0)->note)]; /* becomes the result's */
};

/* @fmt formatted with the token redacted whatever the text holds; NULL
 * when out of memory, and then nothing is said rather than risk printing
 * the token. */
static char *
redacted_line(const struct submit *s, const char *fmt, va_list ap)
{
    char *line = NULL, *safe;

    if (vasprintf(&line, fmt, ap) < 0)
        return NULL;
    safe = btc_http_redact(line, s->cfg->token);
    free(line);
    return safe;
}

/* One debug line. */
__attribute__((format(printf, 2, 3))) static void
say(struct submit *s, const char *fmt, ...)
{
    char *safe;
    va_list ap;

    if (!s->log)
        return;
    va_start(ap, fmt);
    safe = redacted_line(s, fmt, ap);
    va_end(ap);
    if (safe)
        s->log(safe, s->log_ctx);
    free(safe);
}

/* An attachment left out of the request: a debug line, and a note in the
 * result (redacted, escaped, "; "-separated, cut when full). */
__attribute__((format(printf, 2, 3))) static void
left_out(struct submit *s, const char *fmt, ...)
{
    size_t used = strlen(s->note);
    char *safe;
    va_list ap;

    va_start(ap, fmt);
    safe = redacted_line(s, fmt, ap);
    va_end(ap);
    if (safe) {
        if (s->log)
            s->log(safe, s->log_ctx);
        if (used > 0 && used + 2 < sizeof(s->note))
            used += (size_t)snprintf(s->note + used, sizeof(s->note) - used, "; ");
        if (used + 4 < sizeof(s->note))
            btc_text_escape(s->note + used, sizeof(s->note) - used, safe, strlen(safe), 0);
    }
    free(safe);
}

/* Copy @text into @buf with the token redacted and control bytes replaced. */
static void
set_text(const struct submit *s, char *buf, size_t size, const char *text)
{
    char *safe = btc_http_redact(text, s->cfg->token);

    snprintf(buf, size, "%s", safe ? safe : "(error text withheld: out of memory)");
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    free(safe);
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct submit *s = ctx;
    size_t n = size * nmemb, take = n;
    char *grown;

    if (s->body_len + take > MAX_BODY)
        take = MAX_BODY - s->body_len;
    if (take > 0) {
        grown = realloc(s->body, s->body_len + take + 1);
        if (!grown)
            return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
        s->body = grown;
        memcpy(s->body + s->body_len, data, take);
        s->body_len += take;
        s->body[s->body_len] = '\0';
    }
    return n;
}

/* An attachment read through our own descriptor (close-on-exec, unlike the
 * FILE curl_mime_filedata would fopen), checked before the request starts. */
struct attachment_src {
    struct submit *s;
    const char *name;
    int fd;
    curl_off_t size; /* at open time: the part's announced length */
    curl_off_t pos;
    bool padded;
};

static size_t
attachment_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct attachment_src *a = arg;
    size_t want = size * nitems, got = 0;

    if ((curl_off_t)want > a->size - a->pos)
        want = (size_t)(a->size - a->pos);
    while (got < want) {
        ssize_t n = pread(a->fd, buf + got, want - got, (off_t)(a->pos + (curl_off_t)got));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < want) {
        /* The file shrank after we announced its length: a short part
         * would leave the server waiting for bytes that never come. */
        memset(buf + got, 0, want - got);
        if (!a->padded)
            say(a->s, "attachment %s shrank while being sent; padded with zero bytes", a->name);
        a->padded = true;
        got = want;
    }
    a->pos += (curl_off_t)got;
    return got;
}

static int
attachment_seek(void *arg, curl_off_t offset, int origin)
{
    struct attachment_src *a = arg;

    if (origin != SEEK_SET || offset < 0 || offset > a->size)
        return CURL_SEEKFUNC_CANTSEEK;
    a->pos = offset;
    return CURL_SEEKFUNC_OK;
}

static void
attachment_free(void *arg)
{
    struct attachment_src *a = arg;

    if (a->fd >= 0)
        close(a->fd);
    free(a);
}

/* Add @att as a part, or log why it is skipped. Returns 1 when added, 0
 * when skipped, -ENOMEM. */
static int
add_attachment(struct submit *s, const struct btc_http_attachment *att, const char *name,
               uint64_t *bytes)
{
    struct attachment_src *a;
    curl_mimepart *part;
    struct stat st;
    char *partname = NULL;
    int r;

    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->s = s;
    a->name = name;
    if (att->from_fd)
        a->fd = fcntl(att->fd, F_DUPFD_CLOEXEC, 3);
    else
        a->fd = open(att->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (a->fd < 0) {
        left_out(s, "attachment %s skipped: cannot open %s: %s", name, att->path, strerror(errno));
        r = 0;
        goto fail;
    }
    if (fstat(a->fd, &st) < 0) {
        left_out(s, "attachment %s skipped: cannot stat %s: %s", name, att->path, strerror(errno));
        r = 0;
        goto fail;
    }
    /* A FIFO or device could block the upload, or never end. */
    if (!S_ISREG(st.st_mode)) {
        left_out(s, "attachment %s skipped: %s is not a regular file", name, att->path);
        r = 0;
        goto fail;
    }
    a->size = (curl_off_t)st.st_size;
    if (asprintf(&partname, "attachment_%s", name) < 0) {
        partname = NULL;
        r = -ENOMEM;
        goto fail;
    }
    part = btc_curl.mime_addpart(s->mime);
    if (!part || btc_curl.mime_name(part, partname) != CURLE_OK ||
        btc_curl.mime_filename(part, name) != CURLE_OK ||
        btc_curl.mime_type(part, "application/octet-stream") != CURLE_OK) {
        r = -ENOMEM;
        goto fail;
    }
    if (btc_curl.mime_data_cb(part, a->size, attachment_read, attachment_seek, attachment_free,
                              a) != CURLE_OK) {
        r = -ENOMEM;
        goto fail;
    }
    /* The part owns @a from here on. */
    free(partname);
    *bytes += (uint64_t)st.st_size;
    say(s, "attachment %s: %s, %" PRIu64 " bytes", name, att->path, (uint64_t)st.st_size);
    return 1;
fail:
    free(partname);
    attachment_free(a);
    return r;
}

static int
build_body(struct submit *s, const char *json, size_t len,
           const struct btc_http_attachment *attachments, size_t nattachments, size_t *ret_added,
           uint64_t *ret_bytes)
{
    const char **names = NULL;
    curl_mimepart *part;
    size_t added = 0;
    uint64_t bytes = 0;
    int r = 0;

    s->mime = btc_curl.mime_init(s->curl);
    if (!s->mime)
        return -ENOMEM;
    part = btc_curl.mime_addpart(s->mime);
    if (!part || btc_curl.mime_name(part, "upload_file") != CURLE_OK ||
        btc_curl.mime_filename(part, "upload_file") != CURLE_OK ||
        btc_curl.mime_type(part, "application/json") != CURLE_OK ||
        btc_curl.mime_data(part, json, len) != CURLE_OK)
        return -ENOMEM;
    if (nattachments > 0) {
        names = calloc(nattachments, sizeof(*names));
        if (!names)
            return -ENOMEM;
    }
    for (size_t i = 0; i < nattachments; i++) {
        const struct btc_http_attachment *att = &attachments[i];
        const char *name;
        bool dup = false;

        if (!att->path || !*att->path) {
            left_out(s, "attachment %zu skipped: no path", i + 1);
            continue;
        }
        name = att->name && *att->name ? att->name : btc_basename(att->path);
        if (!*name) {
            left_out(s, "attachment %s skipped: no file name", att->path);
            continue;
        }
        for (size_t j = 0; j < added && !dup; j++)
            dup = strcmp(names[j], name) == 0;
        if (dup) {
            left_out(s, "attachment %s skipped: %s has the same name as an earlier one", name,
                     att->path);
            continue;
        }
        r = add_attachment(s, att, name, &bytes);
        if (r < 0)
            break;
        if (r > 0)
            names[added++] = name;
        r = 0;
    }
    free(names);
    if (r < 0)
        return r;
    *ret_added = added;
    *ret_bytes = bytes;
    return 0;
}

static void
submit_free(struct submit *s)
{
    /* The mime structure must go before the handle that uses it. */
    btc_curl.mime_free(s->mime);
    if (s->curl)
        btc_curl.easy_cleanup(s->curl);
    btc_curl.slist_free_all(s->headers);
    free(s->url);
    free(s->shown_url);
    free(s->body);
}

#define SETOPT(s, opt, val)                                                                        \
    do {                                                                                           \
        if (btc_curl.easy_setopt((s)->curl, (opt), (val)) != CURLE_OK)                             \
            return -EINVAL;                                                                        \
    } while (0)

static int
set_options(struct submit *s, long timeout_ms)
{
    SETOPT(s, CURLOPT_URL, s->url);
    SETOPT(s, CURLOPT_MIMEPOST, s->mime);
    /* No SIGALRM for DNS time-outs (the threaded resolver needs none), and
     * no signal handlers changed under the caller. */
    SETOPT(s, CURLOPT_NOSIGNAL, 1L);
    SETOPT(s, CURLOPT_TIMEOUT_MS, timeout_ms);
    /* Resolving and connecting may use all of it, but not more. */
    SETOPT(s, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
#if LIBCURL_VERSION_NUM >= 0x075700
    /* When the time-out strikes during a name look-up, do not wait for the
     * resolver thread's getaddrinfo() to return (it can take resolv.conf's
     * timeout x attempts): leave it behind instead. */
    SETOPT(s, CURLOPT_QUICK_EXIT, 1L);
#endif
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(s, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SETOPT(s, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SETOPT(s, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(s, CURLOPT_USERAGENT, "btcrash/" BTCRASH_VERSION);
    /* curl would send "Expect: 100-continue" with a large body and wait up
     * to a second for an answer many servers never give: time we lack. */
    s->headers = btc_curl.slist_append(NULL, "Expect:");
    if (!s->headers)
        return -ENOMEM;
    SETOPT(s, CURLOPT_HTTPHEADER, s->headers);
    SETOPT(s, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(s, CURLOPT_WRITEDATA, s);
    SETOPT(s, CURLOPT_ERRORBUFFER, s->errbuf);
    if (s->cfg->ignore_ssl_certificate) {
        SETOPT(s, CURLOPT_SSL_VERIFYPEER, 0L);
        SETOPT(s, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        SETOPT(s, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(s, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    return 0;
}

/* Text a server sent, into @buf: redacted (a server may echo the token
 * back), escaped and cut (text.h), since it is printed on the crashed
 * program's stderr and kept in the state file. */
static void
server_text(const struct submit *s, char *buf, size_t size, const char *text, size_t len)
{
    char *raw = strndup(text, len), *safe = raw ? btc_http_redact(raw, s->cfg->token) : NULL;

    if (safe)
        btc_text_escape(buf, size, safe, strlen(safe), 0);
    else
        snprintf(buf, size, "(withheld: out of memory)");
    free(safe);
    free(raw);
}

/* The rxid of a {"response":"ok","_rxid":"..."} body into @buf, or "". */
static void
parse_rxid(const struct submit *s, char *buf, size_t size)
{
    json_t *root = s->body ? json_loadb(s->body, s->body_len, 0, NULL) : NULL;
    const char *response = json_string_value(json_object_get(root, "response"));
    json_t *rxid = json_object_get(root, "_rxid");

    buf[0] = '\0';
    if (response && strcmp(response, "ok") == 0 && json_is_string(rxid))
        server_text(s, buf, size, json_string_value(rxid), json_string_length(rxid));
    json_decref(root);
}

/* What a server said about a failure into @buf: the "message" (or
 * "error", or error.message) of a JSON body, else the first line of a body
 * that is not JSON; "" when it said nothing of the kind. */
static void
server_message(const struct submit *s, char *buf, size_t size)
{
    json_t *root = s->body ? json_loadb(s->body, s->body_len, 0, NULL) : NULL;
    json_t *err = json_object_get(root, "error");
    json_t *msg = json_object_get(root, "message");

    buf[0] = '\0';
    if (!json_is_string(msg))
        msg = json_is_string(err) ? err : json_object_get(err, "message");
    if (json_is_string(msg))
        server_text(s, buf, size, json_string_value(msg), json_string_length(msg));
    else if (!root && s->body)
        server_text(s, buf, size, s->body, strcspn(s->body, "\r\n"));
    json_decref(root);
}

/* Append @text to the note of @s ("; "-separated, cut when full). */
static void
add_note(struct submit *s, const char *text)
{
    size_t used = strlen(s->note);

    snprintf(s->note + used, sizeof(s->note) - used, "%s%s", used ? "; " : "", text);
}

static void
classify(struct submit *s, CURLcode rc, long status, struct btc_http_result *res)
{
    char said[BTC_TEXT_SERVER_MAX];

    res->status = status;
    if (rc != CURLE_OK && status == 200) {
        /* The status line came, then the body did not (in time, or whole):
         * the server has the report already. Counted as a failure, it
         * would be sent again by the next flush, a duplicate on the
         * server; counted as sent, only the rxid is missing. */
        res->outcome = BTC_HTTP_SENT;
        parse_rxid(s, res->rxid, sizeof(res->rxid));
        add_note(s, rc == CURLE_OPERATION_TIMEDOUT
                        ? "the server answered 200 but its reply did not arrive in time; "
                          "counted as sent"
                        : "the server answered 200 but its reply was cut short; counted as sent");
        return;
    }
    if (rc != CURLE_OK) {
        res->outcome = BTC_HTTP_RETRY;
        set_text(s, res->error, sizeof(res->error),
                 s->errbuf[0] ? s->errbuf : btc_curl.easy_strerror(rc));
        return;
    }
    if (status == 200) {
        res->outcome = BTC_HTTP_SENT;
        parse_rxid(s, res->rxid, sizeof(res->rxid));
        return;
    }
    res->outcome =
        status >= 400 && status < 500 && status != 429 ? BTC_HTTP_REJECTED : BTC_HTTP_RETRY;
    server_message(s, said, sizeof(said));
    snprintf(res->error, sizeof(res->error), "HTTP %ld%s%s", status, said[0] ? ": " : "", said);
}

int
btc_http_submit(const struct btc_config *cfg, const char *json, size_t len,
                const struct btc_http_attachment *attachments, size_t nattachments,
                int64_t deadline_mono_ns, btc_http_log_fn log, void *log_ctx,
                struct btc_http_result *ret)
{
    struct submit s = {.cfg = cfg, .log = log, .log_ctx = log_ctx};
    struct btc_http_result res = {0};
    int64_t left = deadline_mono_ns - btc_clock_now_ns(), started;
    size_t added = 0;
    uint64_t bytes = 0;
    long status = 0, ms;
    CURLcode rc;
    int r;

    if (!cfg || !cfg->endpoint || (!json && len > 0) || (!attachments && nattachments > 0) || !ret)
        return -EINVAL;
    if (left < MIN_LEFT_NS)
        return -ETIMEDOUT;
    r = btc_http_global_init();
    if (r < 0)
        return r;
    r = btc_http_url(cfg->endpoint, cfg->token, &s.url);
    if (r < 0)
        goto out;
    s.shown_url = btc_http_redact(s.url, cfg->token);
    s.curl = btc_curl.easy_init();
    if (!s.shown_url || !s.curl) {
        r = -ENOMEM;
        goto out;
    }
    r = build_body(&s, json ? json : "", len, attachments, nattachments, &added, &bytes);
    if (r < 0)
        goto out;
    /* Opening the attachments took time too. */
    left = deadline_mono_ns - btc_clock_now_ns();
    if (left < MIN_LEFT_NS) {
        r = -ETIMEDOUT;
        goto out;
    }
    r = set_options(&s, (long)(left / 1000000));
    if (r < 0)
        goto out;

    say(&s, "POST %s, %zu bytes, %zu attachment%s (%" PRIu64 " bytes)", s.shown_url, len, added,
        added == 1 ? "" : "s", bytes);
    started = btc_clock_now_ns();
    rc = btc_curl.easy_perform(s.curl);
    if (btc_curl.easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    classify(&s, rc, status, &res);
    ms = (long)((btc_clock_now_ns() - started) / 1000000);
    if (res.outcome == BTC_HTTP_SENT && rc != CURLE_OK)
        say(&s, "HTTP 200 after %ld ms, then: %s; counted as sent, without rxid", ms,
            s.errbuf[0] ? s.errbuf : btc_curl.easy_strerror(rc));
    else if (res.outcome == BTC_HTTP_SENT)
        say(&s, "HTTP 200 after %ld ms, rxid %s", ms, res.rxid[0] ? res.rxid : "(none in answer)");
    else if (rc == CURLE_OK)
        say(&s, "HTTP %ld after %ld ms: %s", status, ms,
            res.outcome == BTC_HTTP_REJECTED ? "rejected, will not retry" : "will retry");
    else
        say(&s, "failed after %ld ms: %s", ms, res.error);
    snprintf(res.note, sizeof(res.note), "%s", s.note);
    *ret = res;
    r = 0;
out:
    submit_free(&s);
    return r;
}
