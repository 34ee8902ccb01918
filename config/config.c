/* config: BACKTRACE_* parsing. No stdio and no allocation, because the
 * preloaded library runs this in every process that inherits LD_PRELOAD and
 * must stay cheap and libc-only. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "strbuf.h"
#include "str.h"

static int
lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static bool
equals_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b))
            return false;
    return *a == *b;
}

/* URL schemes are case-insensitive (RFC 3986 §3.1). */
static bool
has_prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (lower((unsigned char)*s) != lower((unsigned char)*prefix))
            return false;
    return true;
}

int
btc_cfg_parse_bool(const char *s, bool *ret_value)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (equals_nocase(s, yes[i])) {
            *ret_value = true;
            return 0;
        }
        if (equals_nocase(s, no[i])) {
            *ret_value = false;
            return 0;
        }
    }
    return -EINVAL;
}

int
btc_cfg_parse_count(const char *s, uint32_t min, uint32_t max, uint32_t *ret_value)
{
    uint64_t v = 0;

    if (!s || !*s)
        return -EINVAL;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return -ERANGE;
    }
    if (v < min || v > max)
        return -ERANGE;
    *ret_value = (uint32_t)v;
    return 0;
}

int
btc_cfg_parse_seconds(const char *s, uint32_t max_ms, uint32_t *ret_ms)
{
    uint64_t whole = 0, frac_ms = 0;
    unsigned frac_digits = 0;
    bool round_up = false, any_digit = false;
    const char *p = s;

    if (!s || !*s)
        return -EINVAL;
    if (*p == '-')
        return -ERANGE; /* a negative timeout is out of range, not garbage */
    for (; *p >= '0' && *p <= '9'; p++) {
        any_digit = true;
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > max_ms / 1000 + 1)
            return -ERANGE;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            any_digit = true;
            if (frac_digits < 3) {
                frac_ms = frac_ms * 10 + (uint64_t)(*p - '0');
                frac_digits++;
            } else if (*p != '0') {
                round_up = true;
            }
        }
    }
    if (*p || !any_digit)
        return -EINVAL;
    for (; frac_digits < 3; frac_digits++)
        frac_ms *= 10;
    uint64_t ms = whole * 1000 + frac_ms + (round_up ? 1 : 0);
    if (ms > max_ms)
        return -ERANGE;
    *ret_ms = (uint32_t)ms;
    return 0;
}

struct loader {
    btc_cfg_lookup_fn lookup;
    void *lookup_ctx;
    btc_cfg_warn_fn warn;
    void *warn_ctx;
    int rejected;
};

/* "btcrash: ignoring BACKTRACE_X='value': <what>; using <default>\n", with
 * at most @shown bytes of the value. */
static void
reject_shown(struct loader *l, const char *name, const char *value, size_t shown, const char *what,
             const char *dflt)
{
    char line[512];
    struct btc_strbuf b;

    l->rejected++;
    if (!l->warn)
        return;
    btc_strbuf_init(&b, line, sizeof(line));
    btc_strbuf_puts(&b, "btcrash: ignoring ");
    btc_strbuf_puts(&b, name);
    btc_strbuf_puts(&b, "='");
    btc_strbuf_put_printable(&b, value, shown);
    btc_strbuf_puts(&b, "': ");
    btc_strbuf_puts(&b, what);
    btc_strbuf_puts(&b, "; using ");
    btc_strbuf_puts(&b, dflt);
    btc_strbuf_finish_line(&b);
    l->warn(line, b.len, l->warn_ctx);
}

static void
reject(struct loader *l, const char *name, const char *value, const char *what, const char *dflt)
{
    reject_shown(l, name, value, 160, what, dflt);
}

/* A submit.backtrace.io endpoint carries the token in its path, and the
 * token must never reach stderr: show the scheme and host only. */
static void
reject_endpoint(struct loader *l, const char *value)
{
    const char *host = btc_str_find(value, "://");
    const char *slash;

    host = host ? host + 3 : value;
    slash = btc_str_find(host, "/");
    reject_shown(l, "BACKTRACE_ENDPOINT", value, slash ? (size_t)(slash - value) + 1 : 160,
                 "expected an http:// or https:// URL", "local mode");
}

static const char *
get(struct loader *l, const char *name)
{
    const char *v = l->lookup(name, l->lookup_ctx);

    /* An empty value means "unset", as for most Unix tools: `FOO= cmd`. */
    return (v && *v) ? v : NULL;
}

static void
load_bool(struct loader *l, const char *name, bool *field)
{
    const char *v = get(l, name);

    if (v && btc_cfg_parse_bool(v, field) < 0)
        reject(l, name, v, "expected 1/0, true/false, yes/no or on/off", *field ? "true" : "false");
}

static void
load_count(struct loader *l, const char *name, uint32_t min, uint32_t max, uint32_t *field)
{
    const char *v = get(l, name);
    char what[96], dflt[16];
    struct btc_strbuf b;

    if (!v || btc_cfg_parse_count(v, min, max, field) == 0)
        return;
    btc_strbuf_init(&b, what, sizeof(what));
    btc_strbuf_puts(&b, "expected a whole number from ");
    btc_strbuf_put_u64(&b, min);
    btc_strbuf_puts(&b, " to ");
    btc_strbuf_put_u64(&b, max);
    btc_strbuf_init(&b, dflt, sizeof(dflt));
    btc_strbuf_put_u64(&b, *field);
    reject(l, name, v, what, dflt);
}

static void
load_timeout(struct loader *l, uint32_t *field)
{
    const char *v = get(l, "BACKTRACE_TIMEOUT");
    int r;

    if (!v)
        return;
    r = btc_cfg_parse_seconds(v, BTC_CFG_MAX_TIMEOUT_MS, field);
    if (r == 0 && *field == 0)
        r = -ERANGE; /* zero would kill the process before anything is captured */
    if (r == -EINVAL)
        reject(l, "BACKTRACE_TIMEOUT", v, "expected seconds such as 4 or 2.5", "4");
    else if (r == -ERANGE) {
        *field = BTC_CFG_DEFAULT_TIMEOUT_MS;
        reject(l, "BACKTRACE_TIMEOUT", v, "expected more than 0 and at most 3600 seconds", "4");
    }
}

/* Paths must be absolute: a relative database path would follow the crashed
 * program's working directory around. */
static void
load_path(struct loader *l, const char *name, const char **field)
{
    const char *v = get(l, name);

    if (!v)
        return;
    if (v[0] != '/') {
        reject(l, name, v, "expected an absolute path", "the default");
        return;
    }
    *field = v;
}

static void
load_format(struct loader *l, enum btc_cfg_format *field)
{
    const char *v = get(l, "BACKTRACE_FORMAT");

    if (!v)
        return;
    if (equals_nocase(v, "json"))
        *field = BTC_CFG_FORMAT_JSON;
    else if (equals_nocase(v, "minidump"))
        *field = BTC_CFG_FORMAT_MINIDUMP;
    else
        reject(l, "BACKTRACE_FORMAT", v, "expected json or minidump", "json");
}

static void
load_loop_window(struct loader *l, uint32_t *field)
{
    const char *v = get(l, "BACKTRACE_CRASH_LOOP_WINDOW");

    if (v && btc_cfg_parse_seconds(v, BTC_CFG_MAX_LOOP_WINDOW_MS, field) < 0)
        reject(l, "BACKTRACE_CRASH_LOOP_WINDOW", v,
               "expected seconds from 0 (off) to 86400, such as 60 or 2.5", "60");
}

void
btc_cfg_defaults(struct btc_config *ret_cfg)
{
    memset(ret_cfg, 0, sizeof(*ret_cfg));
    ret_cfg->timeout_ms = BTC_CFG_DEFAULT_TIMEOUT_MS;
    ret_cfg->context_line_count = BTC_CFG_DEFAULT_CONTEXT_LINES;
    ret_cfg->tab_width = BTC_CFG_DEFAULT_TAB_WIDTH;
    ret_cfg->collect_source_code = true;
    ret_cfg->format = BTC_CFG_FORMAT_JSON;
    ret_cfg->minidump_environment = false;
    ret_cfg->crash_loop_window_ms = BTC_CFG_DEFAULT_LOOP_WINDOW_MS;
    ret_cfg->wait_for_upload = true;
}

int
btc_cfg_load(btc_cfg_lookup_fn lookup, void *lookup_ctx, btc_cfg_warn_fn warn, void *warn_ctx,
             struct btc_config *ret_cfg)
{
    struct loader l = {lookup, lookup_ctx, warn, warn_ctx, 0};
    struct btc_config c;

    btc_cfg_defaults(&c);
    c.endpoint = get(&l, "BACKTRACE_ENDPOINT");
    if (c.endpoint && !has_prefix_nocase(c.endpoint, "http://") &&
        !has_prefix_nocase(c.endpoint, "https://")) {
        reject_endpoint(&l, c.endpoint);
        c.endpoint = NULL;
    }
    c.token = get(&l, "BACKTRACE_TOKEN");
    c.attributes_json = get(&l, "BACKTRACE_ATTRIBUTES");
    c.attachments = get(&l, "BACKTRACE_ATTACHMENTS");
    load_bool(&l, "BACKTRACE_IGNORE_SSL_CERTIFICATE", &c.ignore_ssl_certificate);
    load_timeout(&l, &c.timeout_ms);
    load_bool(&l, "BACKTRACE_DEBUG_BACKTRACE", &c.debug);
    load_bool(&l, "BACKTRACE_DISABLE_GLOBAL_HANDLER", &c.disable_global_handler);
    load_count(&l, "BACKTRACE_CONTEXT_LINE_COUNT", 0, BTC_CFG_MAX_CONTEXT_LINES,
               &c.context_line_count);
    load_count(&l, "BACKTRACE_TAB_WIDTH", 1, BTC_CFG_MAX_TAB_WIDTH, &c.tab_width);
    load_bool(&l, "BACKTRACE_COLLECT_SOURCE_CODE", &c.collect_source_code);
    load_format(&l, &c.format);
    load_bool(&l, "BACKTRACE_MINIDUMP_ENVIRONMENT", &c.minidump_environment);
    load_loop_window(&l, &c.crash_loop_window_ms);
    load_bool(&l, "BACKTRACE_WAIT_FOR_UPLOAD", &c.wait_for_upload);
    load_path(&l, "BACKTRACE_DATABASE_PATH", &c.database_path);
    load_path(&l, "BACKTRACE_HELPER_PATH", &c.helper_path);
    load_path(&l, "BACKTRACE_LIBRARY_PATH", &c.library_path);
    *ret_cfg = c;
    return l.rejected;
}

int
btc_cfg_default_database_path(btc_cfg_lookup_fn lookup, void *lookup_ctx, unsigned uid, char *buf,
                              size_t size)
{
    const char *xdg = lookup("XDG_STATE_HOME", lookup_ctx);
    const char *home = lookup("HOME", lookup_ctx);
    struct btc_strbuf b;

    btc_strbuf_init(&b, buf, size);
    if (xdg && xdg[0] == '/') {
        btc_strbuf_puts(&b, xdg);
        btc_strbuf_puts(&b, "/btcrash");
    } else if (home && home[0] == '/') {
        btc_strbuf_puts(&b, home);
        btc_strbuf_puts(&b, "/.local/state/btcrash");
    } else {
        btc_strbuf_puts(&b, "/tmp/btcrash-");
        btc_strbuf_put_u64(&b, uid);
    }
    if (b.overflow)
        return -ENAMETOOLONG;
    return (int)b.len;
}
