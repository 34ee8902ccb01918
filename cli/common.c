/* common: what the btcrash subcommands share (see cli.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "text.h"

const char *
btc_cli_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

void
btc_cli_warn_stderr(const char *line, size_t len, void *ctx)
{
    (void)ctx;
    fwrite(line, 1, len, stderr);
}

void
btc_cli_load_config(struct btc_config *ret_cfg)
{
    btc_cfg_load(btc_cli_getenv, NULL, btc_cli_warn_stderr, NULL, ret_cfg);
}

int
btc_cli_database_dir(const struct btc_config *cfg, char *buf, size_t size)
{
    int r;

    if (cfg->database_path) {
        if (strlen(cfg->database_path) >= size) {
            fprintf(stderr, "btcrash: BACKTRACE_DATABASE_PATH is too long\n");
            return -ENAMETOOLONG;
        }
        strcpy(buf, cfg->database_path);
        return 0;
    }
    /* Named after the uid that must own it (db.h), as the helper does. */
    r = btc_cfg_default_database_path(btc_cli_getenv, NULL, geteuid(), buf, size);
    if (r < 0) {
        fprintf(stderr, "btcrash: the default database path is too long (from XDG_STATE_HOME or "
                        "HOME); set BACKTRACE_DATABASE_PATH\n");
        return r;
    }
    return 0;
}

int
btc_cli_usage_error(const char *name, const char *usage, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "btcrash %s: ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\nRun 'btcrash %s --help' for details.\n", usage, name);
    return BTC_CLI_EXIT_USAGE;
}

int
btc_cli_parse_options(int argc, char **argv, const char *help, const char *usage, int *ret_first)
{
    int i = 1;

    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return BTC_CLI_EXIT_OK;
        }
        return btc_cli_usage_error(argv[0], usage, "unknown option '%s'", argv[i]);
    }
    *ret_first = i;
    return -1;
}

void
btc_cli_put_safe(FILE *out, const char *s, const char *fallback)
{
    if (!s)
        fputs(fallback, out);
    else
        btc_text_put(out, s, strlen(s), BTC_TEXT_SERVER_MAX * 4, 0);
}

void
btc_cli_db_error(const char *name, const char *dir, int err)
{
    char why[512];

    fprintf(stderr, "btcrash %s: cannot use the crash database %s: %s\n", name, dir,
            btc_db_strerror(dir, err, why, sizeof(why)));
}
