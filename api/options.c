/* options: see options.h. btcrash_initialize validates every field first,
 * then builds a whole new helper environment (the constructor's copy with
 * BACKTRACE_X=value overrides) and publishes it into the crash plan with one
 * atomic pointer store, so a crash handler reading the plan at that moment
 * sees either the old environment or the new one, never a mix. */
#include "options.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attrs.h"
#include "config.h"
#include "crash.h"
#include "helper_env.h"
#include "strbuf.h"

static struct btc_crash_plan *g_plan;
/* Serialises btcrash_initialize calls, so the environment, timeout and debug
 * flag published last all come from the same call. */
static pthread_mutex_t g_initialize_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every environment block btc_api_options_initialize published, newest
 * first, under g_initialize_lock. They are never freed (see there); the
 * list keeps them reachable, so that a retained block is not a leak to
 * LeakSanitizer, nor lost when the plan's pointer is overwritten. */
struct published_env {
    struct published_env *next;
    char **env;
};
static struct published_env *g_published_envs;

enum kind {
    K_ENDPOINT,
    K_SECRET, /* never quoted in a message */
    K_TEXT,
    K_ATTRIBUTES,
    K_BOOL,
    K_TIMEOUT,
    K_CONTEXT_LINES,
    K_TAB_WIDTH,
    K_PATH,
};

struct field {
    size_t offset; /* of the const char * in btcrash_options */
    const char *name;
    const char *var;
    enum kind kind;
};

#define FIELD(f, var, kind)                                                                        \
    {                                                                                              \
        offsetof(btcrash_options, f), #f, var, kind                                                \
    }
static const struct field k_fields[] = {
    FIELD(endpoint, "BACKTRACE_ENDPOINT", K_ENDPOINT),
    FIELD(token, "BACKTRACE_TOKEN", K_SECRET),
    FIELD(attributes, "BACKTRACE_ATTRIBUTES", K_ATTRIBUTES),
    FIELD(attachments, "BACKTRACE_ATTACHMENTS", K_TEXT),
    FIELD(ignore_ssl_certificate, "BACKTRACE_IGNORE_SSL_CERTIFICATE", K_BOOL),
    FIELD(timeout, "BACKTRACE_TIMEOUT", K_TIMEOUT),
    FIELD(debug_backtrace, "BACKTRACE_DEBUG_BACKTRACE", K_BOOL),
    FIELD(context_line_count, "BACKTRACE_CONTEXT_LINE_COUNT", K_CONTEXT_LINES),
    FIELD(tab_width, "BACKTRACE_TAB_WIDTH", K_TAB_WIDTH),
    FIELD(collect_source_code, "BACKTRACE_COLLECT_SOURCE_CODE", K_BOOL),
    FIELD(database_path, "BACKTRACE_DATABASE_PATH", K_PATH),
};
#define NFIELDS (sizeof(k_fields) / sizeof(k_fields[0]))

int
btc_api_options_attach(struct btc_crash_plan *plan)
{
    if (!plan || !plan->env_base || !plan->envp)
        return -EINVAL;
    g_plan = plan;
    return 0;
}

const struct btc_crash_plan *
btc_api_options_plan(void)
{
    return g_plan;
}

char *const *
btc_api_options_env(void)
{
    return __atomic_load_n(&g_plan->envp, __ATOMIC_ACQUIRE);
}

uint32_t
btc_api_options_timeout_ms(void)
{
    return __atomic_load_n(&g_plan->timeout_ms, __ATOMIC_RELAXED);
}

bool
btc_api_options_debug(void)
{
    return __atomic_load_n(&g_plan->debug, __ATOMIC_RELAXED);
}

json_t *
btc_api_options_attributes(void)
{
    struct btc_helper_env env = {.vars = (char **)btc_api_options_env()};
    json_t *attrs = json_object();

    if (!attrs)
        return NULL;
    /* Warnings were printed at start-up (or by btcrash_initialize) and the
     * helper prints them again: none here. */
    if (btc_attrs_from_text(attrs, btc_helper_env_lookup("BACKTRACE_ATTRIBUTES", &env), NULL,
                            NULL) == -ENOMEM) {
        json_decref(attrs);
        return NULL;
    }
    return attrs;
}

/* One line on stderr naming the field; @value is quoted unless it may hold
 * the token (a submit.backtrace.io endpoint has it in its path). */
static void
say_rejected(const struct field *f, const char *value, const char *why)
{
    char line[512];
    struct btc_strbuf b;

    btc_strbuf_init(&b, line, sizeof(line));
    btc_strbuf_puts(&b, "btcrash: btcrash_initialize: options.");
    btc_strbuf_puts(&b, f->name);
    if (f->kind != K_SECRET && f->kind != K_ENDPOINT) {
        btc_strbuf_puts(&b, "='");
        btc_strbuf_put_printable(&b, value, 160);
        btc_strbuf_puts(&b, "'");
    }
    btc_strbuf_puts(&b, " (");
    btc_strbuf_puts(&b, f->var);
    btc_strbuf_puts(&b, "): ");
    btc_strbuf_puts(&b, why);
    btc_strbuf_puts(&b, "; no option of this call is applied");
    btc_strbuf_finish_line(&b);
    (void)!write(STDERR_FILENO, b.buf, b.len);
}

static bool
has_prefix_nocase(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* An attributes object must flatten to primitives only, as
 * BACKTRACE_ATTRIBUTES must. */
static const char *
check_attributes(const char *text)
{
    json_t *flat = json_object();
    int r;

    if (!flat)
        return "out of memory";
    r = btc_attrs_from_text(flat, text, NULL, NULL);
    json_decref(flat);
    if (r == -EINVAL)
        return "expected a JSON object";
    if (r == -ENOMEM)
        return "out of memory";
    if (r > 0)
        return "a value is an array or null; expected strings, numbers, booleans and objects";
    return NULL;
}

/* NULL when @value is acceptable for @f, else why not. */
static const char *
check(const struct field *f, const char *value)
{
    uint32_t u;
    bool b;

    /* Empty, as in the environment, means unset: the default applies. */
    if (!*value)
        return NULL;
    switch (f->kind) {
    case K_ENDPOINT:
        if (!has_prefix_nocase(value, "http://") && !has_prefix_nocase(value, "https://"))
            return "expected an http:// or https:// URL";
        return NULL;
    case K_SECRET:
    case K_TEXT:
        return NULL;
    case K_ATTRIBUTES:
        return check_attributes(value);
    case K_BOOL:
        return btc_cfg_parse_bool(value, &b) < 0 ? "expected 1/0, true/false, yes/no or on/off"
                                                 : NULL;
    case K_TIMEOUT:
        if (btc_cfg_parse_seconds(value, BTC_CFG_MAX_TIMEOUT_MS, &u) < 0 || u == 0)
            return "expected seconds such as 4 or 2.5, more than 0 and at most 3600";
        return NULL;
    case K_CONTEXT_LINES:
        return btc_cfg_parse_count(value, 0, BTC_CFG_MAX_CONTEXT_LINES, &u) < 0
                   ? "expected a whole number from 0 to 100000"
                   : NULL;
    case K_TAB_WIDTH:
        return btc_cfg_parse_count(value, 1, BTC_CFG_MAX_TAB_WIDTH, &u) < 0
                   ? "expected a whole number from 1 to 64"
                   : NULL;
    case K_PATH:
        return value[0] == '/' ? NULL : "expected an absolute path";
    }
    return "unknown option";
}

/* A field the program's header did not have (opts->size ends before it) is
 * NULL: left to the environment. */
static const char *
option_value(const btcrash_options *opts, const struct field *f)
{
    if (f->offset + sizeof(const char *) > opts->size)
        return NULL;
    return *(const char *const *)((const char *)opts + f->offset);
}

/* Whether @var ("NAME=value") is the variable of an overridden field. */
static bool
is_overridden(const btcrash_options *opts, const char *var)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        size_t len = strlen(k_fields[i].var);
        if (option_value(opts, &k_fields[i]) && strncmp(var, k_fields[i].var, len) == 0 &&
            var[len] == '=')
            return true;
    }
    return false;
}

/* The constructor's environment with @opts applied, in one block (array and
 * strings), as the crash path needs it. */
static int
build_env(char *const *base, const btcrash_options *opts, char ***ret_env)
{
    size_t nvars = 0, bytes = 0;
    char **env, *p;

    for (char *const *v = base; *v; v++) {
        if (!is_overridden(opts, *v)) {
            nvars++;
            bytes += strlen(*v) + 1;
        }
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *value = option_value(opts, &k_fields[i]);
        if (value) {
            nvars++;
            bytes += strlen(k_fields[i].var) + 1 + strlen(value) + 1;
        }
    }
    env = malloc((nvars + 1) * sizeof(char *) + bytes);
    if (!env)
        return -ENOMEM;
    p = (char *)(env + nvars + 1);
    nvars = 0;
    for (char *const *v = base; *v; v++) {
        if (!is_overridden(opts, *v)) {
            env[nvars++] = p;
            p = stpcpy(p, *v) + 1;
        }
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *value = option_value(opts, &k_fields[i]);
        if (value) {
            env[nvars++] = p;
            p = stpcpy(p, k_fields[i].var);
            *p++ = '=';
            p = stpcpy(p, value) + 1;
        }
    }
    env[nvars] = NULL;
    *ret_env = env;
    return 0;
}

int
btc_api_options_initialize(const btcrash_options *opts)
{
    char *const *base = g_plan->env_base;
    char **env = NULL;
    struct btc_helper_env lookup = {0};
    struct btc_config cfg;
    int r;

    if (opts) {
        if (opts->size < offsetof(btcrash_options, endpoint) + sizeof(opts->endpoint)) {
            fprintf(stderr,
                    "btcrash: btcrash_initialize: options.size is %zu; set it to "
                    "sizeof(btcrash_options) (%zu)\n",
                    opts->size, sizeof(btcrash_options));
            return -EINVAL;
        }
        for (size_t i = 0; i < NFIELDS; i++) {
            const char *value = option_value(opts, &k_fields[i]);
            const char *why = value ? check(&k_fields[i], value) : NULL;
            if (why) {
                say_rejected(&k_fields[i], value, why);
                return -EINVAL;
            }
        }
        r = build_env(base, opts, &env);
        if (r < 0)
            return r;
    }
    /* The effective settings, exactly as the constructor derives them; its
     * warnings about the environment's own values were printed then. */
    lookup.vars = env ? env : (char **)base;
    btc_cfg_load(btc_helper_env_lookup, &lookup, NULL, NULL, &cfg);

    pthread_mutex_lock(&g_initialize_lock);
    if (env) {
        struct published_env *pe = malloc(sizeof(*pe));

        /* Out of memory: the block is published all the same, and only
         * its bookkeeping is missing. */
        if (pe) {
            pe->env = env;
            pe->next = g_published_envs;
            g_published_envs = pe;
        }
    }
    /* The previous block is not freed: a crash handler may be exec'ing the
     * helper with it right now, and nothing tells when it is done. Each
     * call with options leaks one environment, a few hundred bytes. */
    __atomic_store_n(&g_plan->envp, lookup.vars, __ATOMIC_RELEASE);
    __atomic_store_n(&g_plan->timeout_ms, cfg.timeout_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&g_plan->debug, cfg.debug, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&g_initialize_lock);
    return 0;
}
