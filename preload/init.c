/* init: the preloaded library's constructor. It reads the configuration once,
 * prepares everything the crash path needs, and installs the handlers. It
 * runs in every process that inherits LD_PRELOAD, so it stays small: no
 * file access, a handful of system calls. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "config.h"
#include "crash.h"
#include "handlers.h"
#include "helper_env.h"
#include "strbuf.h"
#include "sys.h"

#ifndef BTCRASH_HELPER_RELPATH
#define BTCRASH_HELPER_RELPATH "../bin/btcrash"
#endif

extern char **environ;

struct btc_crash_plan btc_crash_plan;

static void
warn_stderr(const char *line, size_t len, void *ctx)
{
    (void)ctx;
    (void)!btc_sys_write(STDERR_FILENO, line, len);
}

static void
say(const char *line)
{
    warn_stderr(line, strlen(line), NULL);
}

static void
add_helper(const char *dir, const char *rel)
{
    struct btc_strbuf b;
    char *slot;

    if (btc_crash_plan.nhelpers >= BTC_HELPER_CANDIDATES)
        return;
    slot = btc_crash_plan.helpers[btc_crash_plan.nhelpers];
    btc_strbuf_init(&b, slot, BTC_PATH_MAX);
    btc_strbuf_puts(&b, dir);
    if (rel) {
        btc_strbuf_putc(&b, '/');
        btc_strbuf_puts(&b, rel);
    }
    if (!b.overflow)
        btc_crash_plan.nhelpers++;
}

/* The helper sits at a fixed place relative to this library, in the build
 * tree (lib/ beside bin/) and in the install tree alike. Existence is checked
 * at crash time by execve itself, which costs nothing now. */
static void
plan_helpers(const struct btc_config *cfg)
{
    Dl_info info;
    char dir[BTC_PATH_MAX];
    struct btc_strbuf b;
    char *slash;

    if (cfg->helper_path) {
        add_helper(cfg->helper_path, NULL);
        return;
    }
    if (!dladdr((void *)plan_helpers, &info) || !info.dli_fname || !info.dli_fname[0])
        return;
    btc_strbuf_init(&b, dir, sizeof(dir));
    /* A relative LD_PRELOAD path would break as soon as the program chdirs. */
    if (info.dli_fname[0] != '/') {
        if (!getcwd(dir, sizeof(dir)))
            return;
        b.len = strlen(dir);
        btc_strbuf_putc(&b, '/');
    }
    btc_strbuf_puts(&b, info.dli_fname);
    slash = strrchr(dir, '/');
    if (b.overflow || !slash)
        return;
    *slash = '\0';
    add_helper(dir, "../bin/btcrash");
    if (strcmp(BTCRASH_HELPER_RELPATH, "../bin/btcrash") != 0)
        add_helper(dir, BTCRASH_HELPER_RELPATH);
    add_helper(dir, "btcrash");
}

__attribute__((constructor)) static void
btcrash_preload_init(void)
{
    static struct btc_helper_env env;
    struct btc_config cfg;
    int r;

    /* Inert in setuid/setgid programs: the environment is not to be trusted
     * there, and the helper would run with the caller's privileges. */
    if (getauxval(AT_SECURE))
        return;
    r = btc_helper_env_prepare(environ, &env);
    if (r < 0) {
        say("btcrash: out of memory at start-up; crash reporting is off\n");
        return;
    }
    if (env.in_helper)
        return;
    btc_cfg_load(btc_helper_env_lookup, &env, warn_stderr, NULL, &cfg);
    if (cfg.disable_global_handler)
        return;

    btc_crash_plan.timeout_ms = cfg.timeout_ms;
    btc_crash_plan.debug = cfg.debug;
    btc_crash_plan.envp = env.vars;
    plan_helpers(&cfg);
    r = btc_handlers_ensure_altstack();
    if (r < 0 && cfg.debug)
        say("btcrash: no alternate signal stack; a stack overflow will not be reported\n");
    r = btc_handlers_install();
    if (r < 0)
        say("btcrash: could not install signal handlers; crash reporting is off\n");
}
