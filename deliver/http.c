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

static int
dup_url(const char *url, char **ret_url)
{
    char *copy = strdup(url);

    if (!copy)
        return -ENOMEM;
    *ret_url = copy;
    return 0;
}

/* A submit.backtrace.io URL names its format as the last segment of its
 * path, .../{universe}/{token}/json: the minidump one ends in /minidump
 * instead. Its query and fragment, if any, stay. Any other form is the
 * user's own choice, used as given. */
static int
submit_minidump_url(const char *endpoint, char **ret_url)
{
    size_t path_end = strcspn(endpoint, "?#");
    char *url;

    if (path_end < 5 || strncmp(endpoint + path_end - 5, "/json", 5) != 0)
        return dup_url(endpoint, ret_url);
    if (asprintf(&url, "%.*s/minidump%s", (int)(path_end - 5), endpoint, endpoint + path_end) < 0)
        return -ENOMEM;
    *ret_url = url;
    return 0;
}

int
btc_http_url_for(const char *endpoint, const char *token, enum btc_cfg_format format,
                 char **ret_url)
{
    const char *name = format == BTC_CFG_FORMAT_MINIDUMP ? "minidump" : "json";
    char *url, *enc;
    size_t len;
    int n;

    if (!endpoint || (format != BTC_CFG_FORMAT_JSON && format != BTC_CFG_FORMAT_MINIDUMP))
        return -EINVAL;
    /* submit.backtrace.io URLs carry the token in their path already. */
    if (strstr(endpoint, "submit.backtrace.io"))
        return format == BTC_CFG_FORMAT_MINIDUMP ? submit_minidump_url(endpoint, ret_url)
                                                 : dup_url(endpoint, ret_url);
    /* Without a token the endpoint is a whole submission URL (a Sentry
     * minidump URL carries its key in its own query). */
    if (!token || !*token)
        return dup_url(endpoint, ret_url);
    enc = url_encode(token);
    if (!enc)
        return -ENOMEM;
    len = strlen(endpoint);
    if (strchr(endpoint, '?')) {
        /* A full submission URL with a query of its own: one more '?'
         * would make the token part of the last parameter's value. */
        char last = endpoint[len - 1];

        n = asprintf(&url, "%s%stoken=%s&format=%s", endpoint,
                     last == '?' || last == '&' ? "" : "&", enc, name);
    } else {
        n = asprintf(&url, "%s%spost?token=%s&format=%s", endpoint,
                     len > 0 && endpoint[len - 1] == '/' ? "" : "/", enc, name);
    }
    free(enc);
    if (n < 0)
        return -ENOMEM;
    *ret_url = url;
    return 0;
}

int
btc_http_url(const char *endpoint, const char *token, char **ret_url)
{
    return btc_http_url_for(endpoint, token, BTC_CFG_FORMAT_JSON, ret_url);
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
    char minidump_name[80];                                 /* "<uuid>.dmp" */
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

/* An attachment or a minidump read through our own descriptor (close-on-exec,
 * unlike the FILE curl_mime_filedata would fopen; pread, so the caller's
 * file offset neither matters nor moves), checked before the request
 * starts. */
struct attachment_src {
    struct submit *s;
    const char *what; /* "attachment" or "minidump", for messages */
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
            say(a->s, "%s %s shrank while being sent; padded with zero bytes", a->what, a->name);
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

/* Add the part @partname, with @filename, whose data @a reads from its
 * regular file of @a->size bytes. Returns 0, the part then owning @a, or
 * -ENOMEM, @a still the caller's. */
static int
add_file_part(struct submit *s, struct attachment_src *a, const char *partname,
              const char *filename)
{
    curl_mimepart *part = btc_curl.mime_addpart(s->mime);

    if (!part || btc_curl.mime_name(part, partname) != CURLE_OK ||
        btc_curl.mime_filename(part, filename) != CURLE_OK ||
        btc_curl.mime_type(part, "application/octet-stream") != CURLE_OK)
        return -ENOMEM;
    if (btc_curl.mime_data_cb(part, a->size, attachment_read, attachment_seek, attachment_free,
                              a) != CURLE_OK)
        return -ENOMEM;
    return 0;
}

/* Add @att as a part, or log why it is skipped. Returns 1 when added, 0
 * when skipped, -ENOMEM. */
static int
add_attachment(struct submit *s, const struct btc_http_attachment *att, const char *name,
               uint64_t *bytes)
{
    struct attachment_src *a;
    struct stat st;
    char *partname = NULL;
    int r;

    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->s = s;
    a->what = "attachment";
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
    r = add_file_part(s, a, partname, name);
    if (r < 0)
        goto fail;
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

/* The part "upload_file_minidump": the dump @p->minidump_fd, named
 * "<uuid>.dmp". Returns 0 and its size in *@ret_bytes, -EBADF for a closed
 * descriptor, -EINVAL for one that is no regular file (a FIFO or device
 * could block the upload, or never end), -ENOMEM. */
static int
add_minidump(struct submit *s, const struct btc_http_payload *p, uint64_t *ret_bytes)
{
    struct attachment_src *a = calloc(1, sizeof(*a));
    struct stat st;
    int r;

    if (!a)
        return -ENOMEM;
    a->s = s;
    a->what = "minidump";
    /* Our own descriptor: the part may outlive nothing of the caller's. */
    a->fd = fcntl(p->minidump_fd, F_DUPFD_CLOEXEC, 3);
    if (a->fd < 0 || fstat(a->fd, &st) < 0) {
        r = -errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        goto fail;
    }
    a->size = (curl_off_t)st.st_size;
    if (snprintf(s->minidump_name, sizeof(s->minidump_name), "%s.dmp",
                 p->uuid && *p->uuid ? p->uuid : "crash") >= (int)sizeof(s->minidump_name)) {
        r = -EINVAL;
        goto fail;
    }
    a->name = s->minidump_name;
    r = add_file_part(s, a, "upload_file_minidump", s->minidump_name);
    if (r < 0)
        goto fail;
    *ret_bytes = (uint64_t)st.st_size;
    return 0;
fail:
    attachment_free(a);
    return r;
}

/* Each member of the report's "attributes" object @attributes as a form
 * field, as Backtrace's minidump endpoint takes them: a string as it is,
 * a number or boolean in its JSON text. null, objects and arrays have no
 * form a field can hold, and are left out; so is a name that the body's
 * own parts use, which the server would take for one of them. Returns 0
 * and the number of fields in *@ret_n, or -ENOMEM. */
static int
add_attribute_fields(struct submit *s, json_t *attributes, size_t *ret_n)
{
    const char *key;
    size_t n = 0;
    json_t *v;

    json_object_foreach(attributes, key, v)
    {
        curl_mimepart *part;
        const char *value;
        char *text = NULL;
        size_t vlen;

        if (json_is_string(v)) {
            value = json_string_value(v);
            vlen = json_string_length(v);
        } else if (json_is_number(v) || json_is_boolean(v)) {
            text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            if (!text)
                return -ENOMEM;
            value = text;
            vlen = strlen(text);
        } else {
            continue;
        }
        if (!*key || !strcmp(key, "upload_file_minidump") ||
            !strncmp(key, "attachment_", strlen("attachment_"))) {
            char shown[256];

            /* The name is the program's or the user's: escaped for the
             * terminal the debug line reaches. */
            btc_text_escape(shown, sizeof(shown), key, strlen(key), 0);
            say(s, "attribute %s not sent as a field: its name is that of a part", shown);
            free(text);
            continue;
        }
        part = btc_curl.mime_addpart(s->mime);
        if (!part || btc_curl.mime_name(part, key) != CURLE_OK ||
            btc_curl.mime_data(part, value, vlen) != CURLE_OK) {
            free(text);
            return -ENOMEM;
        }
        free(text);
        n++;
    }
    *ret_n = n;
    return 0;
}

/* The first parts: the report as "upload_file", or the minidump and the
 * attribute fields. *@ret_bytes is the report's or the dump's size. */
static int
add_main_parts(struct submit *s, const struct btc_http_payload *p, uint64_t *ret_bytes,
               size_t *ret_fields)
{
    curl_mimepart *part;
    int r;

    *ret_fields = 0;
    if (p->format == BTC_CFG_FORMAT_MINIDUMP) {
        r = add_minidump(s, p, ret_bytes);
        return r < 0 ? r : add_attribute_fields(s, p->attributes, ret_fields);
    }
    part = btc_curl.mime_addpart(s->mime);
    if (!part || btc_curl.mime_name(part, "upload_file") != CURLE_OK ||
        btc_curl.mime_filename(part, "upload_file") != CURLE_OK ||
        btc_curl.mime_type(part, "application/json") != CURLE_OK ||
        btc_curl.mime_data(part, p->json ? p->json : "", p->len) != CURLE_OK)
        return -ENOMEM;
    *ret_bytes = p->len;
    return 0;
}

static int
build_body(struct submit *s, const struct btc_http_payload *p,
           const struct btc_http_attachment *attachments, size_t nattachments, uint64_t *ret_main,
           size_t *ret_fields, size_t *ret_added, uint64_t *ret_bytes)
{
    const char **names = NULL;
    size_t added = 0;
    uint64_t bytes = 0;
    int r = 0;

    s->mime = btc_curl.mime_init(s->curl);
    if (!s->mime)
        return -ENOMEM;
    r = add_main_parts(s, p, ret_main, ret_fields);
    if (r < 0)
        return r;
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
    server_message(s, said, sizeof(said));
    /* Only a refusal of the report itself is a verdict on it (DESIGN.md
     * §4). Any other 4xx but 429 says the endpoint or token is wrong: the
     * report stays pending for when that is fixed, and so does every
     * other, untried (endpoint_wrong). */
    if (status == 400 || status == 413 || status == 422) {
        res->outcome = BTC_HTTP_REJECTED;
    } else if (status >= 400 && status < 500 && status != 429) {
        res->outcome = BTC_HTTP_RETRY;
        res->endpoint_wrong = true;
    } else {
        res->outcome = BTC_HTTP_RETRY;
    }
    snprintf(res->error, sizeof(res->error), "HTTP %ld%s%s%s", status, said[0] ? ": " : "", said,
             !res->endpoint_wrong             ? ""
             : status == 401 || status == 403 ? " (the server refused the token: check "
                                                "BACKTRACE_TOKEN)"
             : status == 404 ? " (no submission endpoint at this URL: check BACKTRACE_ENDPOINT)"
                             : " (check BACKTRACE_ENDPOINT)");
}

/* Whether @p is a payload btc_http_submit_payload can send. */
static bool
payload_is_valid(const struct btc_http_payload *p)
{
    if (!p)
        return false;
    if (p->format == BTC_CFG_FORMAT_JSON)
        return p->json || p->len == 0;
    return p->format == BTC_CFG_FORMAT_MINIDUMP && p->minidump_fd >= 0 &&
           (!p->attributes || json_is_object(p->attributes));
}

int
btc_http_submit_payload(const struct btc_config *cfg, const struct btc_http_payload *payload,
                        const struct btc_http_attachment *attachments, size_t nattachments,
                        int64_t deadline_mono_ns, btc_http_log_fn log, void *log_ctx,
                        struct btc_http_result *ret)
{
    struct submit s = {.cfg = cfg, .log = log, .log_ctx = log_ctx};
    struct btc_http_result res = {0};
    int64_t left = deadline_mono_ns - btc_clock_now_ns(), started;
    size_t added = 0, fields = 0;
    uint64_t bytes = 0, main_bytes = 0;
    long status = 0, ms;
    CURLcode rc;
    int r;

    if (!cfg || !cfg->endpoint || !payload_is_valid(payload) ||
        (!attachments && nattachments > 0) || !ret)
        return -EINVAL;
    if (left < MIN_LEFT_NS)
        return -ETIMEDOUT;
    r = btc_http_global_init();
    if (r < 0)
        return r;
    r = btc_http_url_for(cfg->endpoint, cfg->token, payload->format, &s.url);
    if (r < 0)
        goto out;
    s.shown_url = btc_http_redact(s.url, cfg->token);
    s.curl = btc_curl.easy_init();
    if (!s.shown_url || !s.curl) {
        r = -ENOMEM;
        goto out;
    }
    r = build_body(&s, payload, attachments, nattachments, &main_bytes, &fields, &added, &bytes);
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

    if (payload->format == BTC_CFG_FORMAT_MINIDUMP)
        say(&s,
            "POST %s, minidump %s of %" PRIu64 " bytes, %zu attribute%s, %zu attachment%s (%" PRIu64
            " bytes)",
            s.shown_url, s.minidump_name, main_bytes, fields, fields == 1 ? "" : "s", added,
            added == 1 ? "" : "s", bytes);
    else
        say(&s, "POST %s, %" PRIu64 " bytes, %zu attachment%s (%" PRIu64 " bytes)", s.shown_url,
            main_bytes, added, added == 1 ? "" : "s", bytes);
    started = btc_clock_now_ns();
    rc = btc_curl.easy_perform(s.curl);
    if (btc_curl.easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    classify(&s, rc, status, &res);
    /* curl parses Retry-After, in seconds or as an HTTP date, into seconds
     * from now (0: none, or a date past). Only a 429 or 503 asks us to
     * hold back with it. */
    if (status == 429 || status == 503) {
        curl_off_t after = 0;

        if (btc_curl.easy_getinfo(s.curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
            res.retry_after_s = (int64_t)after;
    }
    ms = (long)((btc_clock_now_ns() - started) / 1000000);
    if (res.outcome == BTC_HTTP_SENT && rc != CURLE_OK)
        say(&s, "HTTP 200 after %ld ms, then: %s; counted as sent, without rxid", ms,
            s.errbuf[0] ? s.errbuf : btc_curl.easy_strerror(rc));
    else if (res.outcome == BTC_HTTP_SENT)
        say(&s, "HTTP 200 after %ld ms, rxid %s", ms, res.rxid[0] ? res.rxid : "(none in answer)");
    else if (rc == CURLE_OK)
        say(&s, "HTTP %ld after %ld ms: %s", status, ms,
            res.outcome == BTC_HTTP_REJECTED ? "rejected, will not retry"
            : res.endpoint_wrong             ? "the endpoint or token is wrong, will retry"
                                             : "will retry");
    else
        say(&s, "failed after %ld ms: %s", ms, res.error);
    snprintf(res.note, sizeof(res.note), "%s", s.note);
    *ret = res;
    r = 0;
out:
    submit_free(&s);
    return r;
}

int
btc_http_submit(const struct btc_config *cfg, const char *json, size_t len,
                const struct btc_http_attachment *attachments, size_t nattachments,
                int64_t deadline_mono_ns, btc_http_log_fn log, void *log_ctx,
                struct btc_http_result *ret)
{
    const struct btc_http_payload payload = {
        .format = BTC_CFG_FORMAT_JSON, .json = json, .len = len, .minidump_fd = -1};

    return btc_http_submit_payload(cfg, &payload, attachments, nattachments, deadline_mono_ns, log,
                                   log_ctx, ret);
}
