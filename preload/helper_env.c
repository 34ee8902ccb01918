/* helper_env: see helper_env.h. Runs in the constructor of every process
 * that inherits LD_PRELOAD, so it is tuned: one pass over the environment,
 * rules indexed by first byte, and a static store for the copy (no malloc,
 * hence no heap set-up, in the common case). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "helper_env.h"
#include "str.h"

/* Sorted by first byte. A whole name ends in '='; anything else is a prefix. */
static const char *const k_kept[] = {
    "ALL_PROXY=",  "BACKTRACE_",   BTC_HELPER_MARKER "=", "CURL_CA_BUNDLE=", "DEBUGINFOD_",
    "HOME=",       "HTTP_PROXY=",  "HTTPS_PROXY=",        "LANG=",           "LC_",
    "NO_COLOR=",   "NO_PROXY=",    "SSL_CERT_FILE=",      "SSL_CERT_DIR=",   "TERM=",
    "TMPDIR=",     "TZ=",          "XDG_CACHE_HOME=",     "XDG_STATE_HOME=", "all_proxy=",
    "http_proxy=", "https_proxy=", "no_proxy=",
};
#define NKEPT (sizeof(k_kept) / sizeof(k_kept[0]))

/* Room for the usual handful of variables; a larger set falls back to malloc. */
#define STORE_VARS  48
#define STORE_BYTES 4096
static char *g_store_vars[STORE_VARS + 1];
static char g_store_bytes[STORE_BYTES];

struct index {
    uint8_t start[128]; /* first rule with that first byte, plus one; 0: none */
    uint8_t end[128];
};

static void
index_rules(struct index *ix)
{
    for (size_t i = 0; i < 128; i++)
        ix->start[i] = ix->end[i] = 0;
    for (size_t i = NKEPT; i-- > 0;) {
        unsigned char c = (unsigned char)k_kept[i][0];
        if (!ix->end[c])
            ix->end[c] = (uint8_t)(i + 1);
        ix->start[c] = (uint8_t)(i + 1);
    }
}

/* The matching rule's index, or -1. */
static int
match(const struct index *ix, const char *var)
{
    unsigned char c = (unsigned char)var[0];

    if (c >= 128 || !ix->start[c])
        return -1;
    for (size_t i = ix->start[c] - 1u; i < ix->end[c]; i++)
        if (btc_str_has_prefix(var, k_kept[i]))
            return (int)i;
    return -1;
}

static bool
is_marker(int rule)
{
    return rule >= 0 && k_kept[rule][0] == 'B' && k_kept[rule][1] == 'T';
}

int
btc_helper_env_prepare(char **env, struct btc_helper_env *ret_env)
{
    static const char marker[] = BTC_HELPER_MARKER "=1";
    /* Remember the first pass's matches, so the copy needs no second round
     * of matching; past this many, the copy matches again. */
    enum { REMEMBERED = 64 };
    const char *found[REMEMBERED];
    size_t count = 0, bytes = sizeof(marker), n = 0, i;
    struct index ix;
    bool in_helper = false;
    char **vars, *p;

    index_rules(&ix);
    for (i = 0; env && env[i]; i++) {
        int r = match(&ix, env[i]);
        if (r < 0)
            continue;
        if (is_marker(r)) {
            in_helper = true;
            continue;
        }
        if (count < REMEMBERED)
            found[count] = env[i];
        count++;
        bytes += btc_str_len(env[i]) + 1;
    }
    if (count + 1 <= STORE_VARS && bytes <= STORE_BYTES) {
        vars = g_store_vars;
        p = g_store_bytes;
    } else {
        vars = malloc((count + 2) * sizeof(char *) + bytes);
        if (!vars)
            return -ENOMEM;
        p = (char *)(vars + count + 2);
    }
    for (i = 0; count <= REMEMBERED ? i < count : env[i] != NULL; i++) {
        const char *var = count <= REMEMBERED ? found[i] : env[i];
        if (count > REMEMBERED) {
            int r = match(&ix, var);
            if (r < 0 || is_marker(r))
                continue;
        }
        size_t len = btc_str_len(var) + 1;
        btc_str_copy(p, var, len);
        vars[n++] = p;
        p += len;
    }
    btc_str_copy(p, marker, sizeof(marker));
    vars[n++] = p;
    vars[n] = NULL;
    ret_env->vars = vars;
    ret_env->in_helper = in_helper;
    return 0;
}

const char *
btc_helper_env_lookup(const char *name, void *ctx)
{
    const struct btc_helper_env *env = ctx;
    size_t len = btc_str_len(name);

    for (char **v = env->vars; *v; v++)
        if (btc_str_has_prefix(*v, name) && (*v)[len] == '=')
            return *v + len + 1;
    return NULL;
}
