/* cmd_run: `btcrash run [--] PROGRAM [ARGS...]`, PROGRAM exec'ed with
 * libbtcrash.so first in LD_PRELOAD. Exec, not fork: PROGRAM's exit status,
 * terminating signal and core dump are exactly what they would have been,
 * and there is no parent in between to forward signals or the terminal. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Where the library is installed, relative to where btcrash is: set by
 * cli/CMakeLists.txt from GNUInstallDirs ("../lib", or
 * "../lib/x86_64-linux-gnu" for a /usr install on Debian). */
#ifndef BTCRASH_LIBDIR_FROM_BINDIR
#define BTCRASH_LIBDIR_FROM_BINDIR "../lib"
#endif

#define LIBRARY_NAME "libbtcrash.so"

/* Exit statuses of a command that runs another, as env(1) and timeout(1)
 * use them, so scripts can tell btcrash's failures from PROGRAM's. */
#define EXIT_RUN_FAILED  125 /* btcrash itself failed (no library) */
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND   127

static const char g_usage[] = "btcrash run [--] PROGRAM [ARGS...]";

static const char g_help[] =
    "usage: btcrash run [--] PROGRAM [ARGS...]\n"
    "\n"
    "Run PROGRAM with the btcrash library (libbtcrash.so) preloaded, placed before\n"
    "anything LD_PRELOAD already holds. If PROGRAM crashes (fatal signal, abort,\n"
    "failed assert), a report is written to the crash database and, when\n"
    "BACKTRACE_ENDPOINT is set, submitted. See 'btcrash list' and 'btcrash show'.\n"
    "\n"
    "btcrash replaces itself with PROGRAM (exec): PROGRAM keeps btcrash's process\n"
    "id, and its exit status and terminating signal are PROGRAM's own.\n"
    "\n"
    "The library is looked for relative to this command's directory, in\n"
    "" BTCRASH_LIBDIR_FROM_BINDIR "/ (the install's library directory) and in ../lib/ (the build\n"
    "tree, and installs with --prefix); BACKTRACE_LIBRARY_PATH overrides both.\n"
    "\n"
    "environment:\n"
    "  BACKTRACE_LIBRARY_PATH  the library to preload (an absolute path), instead\n"
    "                          of looking next to btcrash\n"
    "  BACKTRACE_*             read by the library in PROGRAM: BACKTRACE_ENDPOINT,\n"
    "                          BACKTRACE_TOKEN, BACKTRACE_DATABASE_PATH,\n"
    "                          BACKTRACE_TIMEOUT, ... (see the README)\n"
    "  LD_PRELOAD              kept, after the btcrash library\n"
    "\n"
    "exit status:\n"
    "  PROGRAM's own: its exit status, or death by its signal (which shells\n"
    "       show as 128+N);\n"
    "  2    bad arguments;\n"
    "  125  the btcrash library could not be found;\n"
    "  126  PROGRAM exists but cannot be executed;\n"
    "  127  PROGRAM was not found.\n";

/* Configuration warnings are the library's to print, in PROGRAM: printing
 * them here too would show each one twice. They are kept for the case where
 * PROGRAM never starts. */
struct warnings {
    char text[2048];
    size_t len;
};

static void
keep_warning(const char *line, size_t len, void *ctx)
{
    struct warnings *w = ctx;

    if (len < sizeof(w->text) - w->len) {
        memcpy(w->text + w->len, line, len);
        w->len += len;
    }
}

static bool
is_regular_readable(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

/* The library next to the executable, as an absolute path in @buf. */
static int
find_library(char *buf, size_t size)
{
    const char *subdirs[] = {BTCRASH_LIBDIR_FROM_BINDIR, "../lib"};
    char exe[PATH_MAX], candidate[PATH_MAX + 64], resolved[PATH_MAX];
    ssize_t n;
    char *slash;

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0)
        return -errno;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (!slash)
        return -ENOENT;
    *slash = '\0';
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        if (i > 0 && !strcmp(subdirs[i], subdirs[0]))
            continue;
        snprintf(candidate, sizeof(candidate), "%s/%s/" LIBRARY_NAME, exe, subdirs[i]);
        if (!is_regular_readable(candidate))
            continue;
        /* A tidy directory in LD_PRELOAD, without "bin/../"; the file keeps
         * its unversioned name rather than the one its symlinks lead to. */
        candidate[strlen(candidate) - strlen("/" LIBRARY_NAME)] = '\0';
        if (!realpath(candidate, resolved))
            return -errno;
        if (strlen(resolved) + strlen("/" LIBRARY_NAME) >= size)
            return -ENAMETOOLONG;
        snprintf(buf, size, "%s/" LIBRARY_NAME, resolved);
        return 0;
    }
    return -ENOENT;
}

int
btc_cli_run(int argc, char **argv)
{
    static char lib[PATH_MAX];
    struct warnings w = {.len = 0};
    struct btc_config cfg;
    const char *old;
    char *preload;
    int first, r;

    r = btc_cli_parse_options(argc, argv, g_help, g_usage, &first);
    if (r >= 0)
        return r;
    if (first >= argc)
        return btc_cli_usage_error(argv[0], g_usage, "no PROGRAM to run");

    btc_cfg_load(btc_cli_getenv, NULL, keep_warning, &w, &cfg);
    if (cfg.library_path) {
        if (!is_regular_readable(cfg.library_path)) {
            fprintf(stderr, "btcrash run: BACKTRACE_LIBRARY_PATH=%s: %s\n", cfg.library_path,
                    access(cfg.library_path, R_OK) < 0 ? strerror(errno) : "not a regular file");
            return EXIT_RUN_FAILED;
        }
        snprintf(lib, sizeof(lib), "%s", cfg.library_path);
    } else {
        r = find_library(lib, sizeof(lib));
        if (r < 0) {
            fwrite(w.text, 1, w.len, stderr);
            fprintf(stderr,
                    "btcrash run: cannot find " LIBRARY_NAME " next to btcrash (in "
                    "%s or ../lib from its directory): %s; set BACKTRACE_LIBRARY_PATH\n",
                    BTCRASH_LIBDIR_FROM_BINDIR, strerror(-r));
            return EXIT_RUN_FAILED;
        }
    }
    /* LD_PRELOAD separates entries with ':' and spaces: a path holding one
     * would be split into other, wrong, names. */
    if (strpbrk(lib, ": \t")) {
        fprintf(stderr,
                "btcrash run: cannot preload %s: LD_PRELOAD cannot hold a path with ':' "
                "or spaces\n",
                lib);
        return EXIT_RUN_FAILED;
    }
    old = getenv("LD_PRELOAD");
    if (old && *old)
        r = asprintf(&preload, "%s:%s", lib, old);
    else
        r = asprintf(&preload, "%s", lib);
    if (r < 0 || setenv("LD_PRELOAD", preload, 1) < 0) {
        fprintf(stderr, "btcrash run: out of memory\n");
        return EXIT_RUN_FAILED;
    }
    free(preload);

    execvp(argv[first], argv + first);
    /* Only reached when PROGRAM did not start: say why, as shells do. */
    r = errno;
    fwrite(w.text, 1, w.len, stderr);
    if (r == ENOENT && !strchr(argv[first], '/'))
        fprintf(stderr, "btcrash run: %s: command not found\n", argv[first]);
    else
        fprintf(stderr, "btcrash run: %s: %s\n", argv[first], strerror(r));
    return r == ENOENT || r == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
}
