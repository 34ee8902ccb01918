/* helper_env: see helper_env.h. Runs in the constructor, so the scan is a
 * first-byte dispatch rather than a strncmp per rule and per variable: it is
 * the largest cost the library adds to every exec. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helper_env.h"

struct rule {
    const char *text; /* a whole name ends in '=', anything else is a prefix */
    unsigned char len;
};

#define RULE(s)                                                                                    \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
static const struct rule k_kept[] = {
    RULE("BACKTRACE_"),
    RULE("HOME="),
    RULE("XDG_STATE_HOME="),
    RULE("TMPDIR="),
    RULE("TZ="),
    RULE("LANG="),
    RULE("LC_"),
    RULE("TERM="),
    RULE("NO_COLOR="),
    RULE("http_proxy="),
    RULE("https_proxy="),
    RULE("HTTP_PROXY="),
    RULE("HTTPS_PROXY="),
    RULE("all_proxy="),
    RULE("ALL_PROXY="),
    RULE("no_proxy="),
    RULE("NO_PROXY="),
    RULE("SSL_CERT_FILE="),
    RULE("SSL_CERT_DIR="),
    RULE("CURL_CA_BUNDLE="),
    RULE(BTC_HELPER_MARKER "="),
};
#undef RULE

/* First bytes of the rules: most variables (PATH, PWD, USER, SHELL...) are
 * rejected by this one look-up. */
static const unsigned char k_first[128] = {
    ['B'] = 1, ['H'] = 1, ['X'] = 1, ['T'] = 1, ['L'] = 1, ['N'] = 1,
    ['h'] = 1, ['A'] = 1, ['a'] = 1, ['n'] = 1, ['S'] = 1, ['C'] = 1,
};

static const struct rule *
match(const char *var)
{
    unsigned char c = (unsigned char)var[0];

    if (c >= 128 || !k_first[c])
        return NULL;
    for (size_t i = 0; i < sizeof(k_kept) / sizeof(k_kept[0]); i++) {
        const struct rule *r = &k_kept[i];
        if (var[0] == r->text[0] && strncmp(var, r->text, r->len) == 0)
            return r;
    }
    return NULL;
}

static bool
is_marker(const struct rule *r)
{
    return r == &k_kept[sizeof(k_kept) / sizeof(k_kept[0]) - 1];
}

int
btc_helper_env_prepare(char **env, struct btc_helper_env *ret_env)
{
    static const char marker[] = BTC_HELPER_MARKER "=1";
    /* Remember the matches of the first pass, so the copy needs no second
     * round of matching; past this many, the copy matches again. */
    enum { REMEMBERED = 64 };
    const char *found[REMEMBERED];
    size_t count = 0, bytes = sizeof(marker), n = 0, i;
    bool in_helper = false;
    char **vars, *p;

    for (i = 0; env && env[i]; i++) {
        const struct rule *r = match(env[i]);
        if (!r)
            continue;
        if (is_marker(r)) {
            in_helper = true;
            continue;
        }
        if (count < REMEMBERED)
            found[count] = env[i];
        count++;
        bytes += strlen(env[i]) + 1;
    }
    vars = malloc((count + 2) * sizeof(char *) + bytes);
    if (!vars)
        return -ENOMEM;
    p = (char *)(vars + count + 2);
    for (i = 0; count <= REMEMBERED ? i < count : env[i] != NULL; i++) {
        const char *var = count <= REMEMBERED ? found[i] : env[i];
        if (count > REMEMBERED) {
            const struct rule *r = match(var);
            if (!r || is_marker(r))
                continue;
        }
        size_t len = strlen(var) + 1;
        memcpy(p, var, len);
        vars[n++] = p;
        p += len;
    }
    memcpy(p, marker, sizeof(marker));
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
    size_t len = strlen(name);

    for (char **v = env->vars; *v; v++)
        if (strncmp(*v, name, len) == 0 && (*v)[len] == '=')
            return *v + len + 1;
    return NULL;
}
