/* common: what the btcrash subcommands share (see cli.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

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
    r = btc_cfg_default_database_path(btc_cli_getenv, NULL, getuid(), buf, size);
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
    if (!s) {
        fputs(fallback, out);
        return;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        /* C0 and DEL; a C1 control (U+0080..U+009F, 0xC2 0x80..0x9F in
         * UTF-8) can start an escape sequence too. */
        if (c < 0x20 || c == 0x7f) {
            fputc('?', out);
        } else if (c == 0xc2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9f) {
            fputc('?', out);
            s++;
        } else {
            fputc(c, out);
        }
    }
}
