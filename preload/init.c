/* init: the preloaded library's constructor. It reads the configuration once,
 * prepares everything the crash path needs, and installs the handlers. It
 * runs in every process that inherits LD_PRELOAD, so it stays small: no
 * file access, a handful of system calls. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "config.h"
#include "crash.h"
#include "handlers.h"
#include "helper_env.h"
#include "str.h"
#include "strbuf.h"
#include "sys.h"
#include "threads.h"

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
    warn_stderr(line, btc_str_len(line), NULL);
}

/* The helper sits at a fixed place relative to this library, in the build
 * tree (lib/ beside bin/) and in the install tree alike. Only the library's
 * directory is noted here; execve tries the candidates at crash time. The
 * directory is noted even when BACKTRACE_HELPER_PATH names the helper: the
 * C API loads libbtcrash-api.so from it. */
static void
plan_helpers(const struct btc_config *cfg)
{
    Dl_info info;
    const char *slash;
    char cwd[BTC_PATH_MAX];

    btc_crash_plan.helper_path = cfg->helper_path;
    if (!dladdr((void *)plan_helpers, &info) || !info.dli_fname || !info.dli_fname[0])
        return;
    slash = btc_str_rchr(info.dli_fname, '/');
    if (!slash)
        return;
    if (info.dli_fname[0] == '/') {
        btc_crash_plan.lib_dir = info.dli_fname;
        btc_crash_plan.lib_dir_len = (size_t)(slash - info.dli_fname);
        return;
    }
    /* A relative LD_PRELOAD path would break as soon as the program chdirs:
     * anchor it to the current directory now (rare, so the copy is fine). */
    if (!getcwd(cwd, sizeof(cwd)))
        return;
    size_t cwd_len = btc_str_len(cwd), dir_len = (size_t)(slash - info.dli_fname);
    char *dir = malloc(cwd_len + 1 + dir_len + 1);
    if (!dir)
        return;
    btc_str_copy(dir, cwd, cwd_len);
    dir[cwd_len] = '/';
    btc_str_copy(dir + cwd_len + 1, info.dli_fname, dir_len);
    dir[cwd_len + 1 + dir_len] = '\0';
    btc_crash_plan.lib_dir = dir;
    btc_crash_plan.lib_dir_len = cwd_len + 1 + dir_len;
}

__attribute__((constructor)) static void
btcrash_preload_init(void)
{
    static struct btc_helper_env env;
    struct btc_config cfg;
    int r;

    btc_handlers_resolve();
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

    /* Planned even without handlers: the C API sends through the same
     * helper, with the same environment, and finds its runtime by the
     * library's directory. */
    btc_crash_plan.timeout_ms = cfg.timeout_ms;
    btc_crash_plan.debug = cfg.debug;
    btc_crash_plan.envp = env.vars;
    btc_crash_plan.env_base = env.vars;
    plan_helpers(&cfg);
    if (cfg.disable_global_handler)
        return;

    r = btc_handlers_ensure_altstack();
    if (r < 0 && cfg.debug)
        say("btcrash: no alternate signal stack; a stack overflow will not be reported\n");
    /* A forked child's memory is its own, a vfork child's is not: the crash
     * path tells them apart by this pid (crash_handler.c). fork() runs
     * atfork handlers, vfork() does not. */
    btc_crash_note_own_memory();
    (void)pthread_atfork(NULL, NULL, btc_crash_note_own_memory);
    r = btc_handlers_install();
    if (r < 0)
        say("btcrash: could not install signal handlers; crash reporting is off\n");
    else
        btc_threads_enable();
}
