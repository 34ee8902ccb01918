/* helper_env: the environment the helper will be exec'ed with, built once in
 * the constructor so the signal handler needs neither getenv nor malloc.
 * The same single pass over the environment also serves the configuration
 * look-ups, because this runs in every process that inherits LD_PRELOAD. */
#ifndef BTCRASH_PRELOAD_HELPER_ENV_H
#define BTCRASH_PRELOAD_HELPER_ENV_H

#include <stdbool.h>

/* Set in the helper's environment; a library that finds it stays inert, so
 * the helper is never intercepted even via /etc/ld.so.preload. */
#define BTC_HELPER_MARKER "BTCRASH_HELPER_PROCESS"

struct btc_helper_env {
    char **vars;    /* NULL-terminated; kept for the process lifetime */
    bool in_helper; /* the marker was set: this process is the helper */
};

/**
 * Copy, from @env, the variables the helper needs (BACKTRACE_*, HOME,
 * XDG_STATE_HOME, TMPDIR, locale, TZ, proxies and TLS trust settings, TERM,
 * NO_COLOR) and add the marker. LD_PRELOAD and everything else is left out:
 * the copy must survive programs that later overwrite their original
 * environment block (setproctitle), and the helper must not be preloaded.
 *
 * Returns: 0 and *ret_env, or -ENOMEM (only for environments too large for
 *          the static store).
 */
int btc_helper_env_prepare(char **env, struct btc_helper_env *ret_env);

/**
 * Look @name up in the prepared copy: only the kept variables are there,
 * which covers every BACKTRACE_* setting. A btc_cfg_lookup_fn.
 */
const char *btc_helper_env_lookup(const char *name, void *env);

#endif
