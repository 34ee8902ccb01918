/* cli: the people-facing subcommands of the btcrash command (DESIGN.md §7)
 * and what they share: configuration, the database directory, argument
 * checks and safe terminal output. btcrash command process only. */
#ifndef BTCRASH_CLI_H
#define BTCRASH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

/* Exit statuses shared by the subcommands. */
#define BTC_CLI_EXIT_OK    0
#define BTC_CLI_EXIT_FAIL  1 /* the command ran and failed, or found nothing */
#define BTC_CLI_EXIT_USAGE 2 /* bad arguments: a usage message on stderr */

/*
 * The subcommands. @argv[0] is the subcommand's name ("list"); @argv is
 * NULL-terminated. Each returns the process's exit status, except
 * btc_cli_run, which only returns when PROGRAM could not be started.
 */
int btc_cli_run(int argc, char **argv);
int btc_cli_list(int argc, char **argv);
int btc_cli_show(int argc, char **argv);
int btc_cli_flush(int argc, char **argv);

/*
 * Callbacks for btc_cfg_load, btc_cfg_default_database_path and
 * btc_report_build, shared with the crash helper: look @name up with getenv;
 * write a warning line to stderr as it is. @ctx is unused.
 */
const char *btc_cli_getenv(const char *name, void *ctx);
void btc_cli_warn_stderr(const char *line, size_t len, void *ctx);

/**
 * Fill @ret_cfg from the environment (getenv), printing each rejected value
 * as one line on stderr. Call once per process so warnings appear once.
 * Borrows: the environment; @ret_cfg points into it.
 */
void btc_cli_load_config(struct btc_config *ret_cfg);

/**
 * The crash database directory: @cfg->database_path, else the default of
 * DESIGN.md §2, into @buf.
 *
 * Returns: 0, or -ENAMETOOLONG (a message is printed).
 */
int btc_cli_database_dir(const struct btc_config *cfg, char *buf, size_t size);

/**
 * Leading options of a subcommand: "--help"/"-h" prints @help to stdout;
 * "--" ends the options; anything else starting with '-' is an unknown
 * option (usage on stderr). *ret_first is the index of the first operand.
 *
 * Returns: -1 to go on, or the exit status to return now.
 */
int btc_cli_parse_options(int argc, char **argv, const char *help, const char *usage,
                          int *ret_first);

/**
 * "btcrash NAME: cannot use the crash database DIR: why" on stderr, for an
 * error @err of the db module (btc_db_strerror: a directory that is not the
 * user's own says whose it is, or which mode lets others in).
 */
void btc_cli_db_error(const char *name, const char *dir, int err);

/** "btcrash NAME: usage: ..." and a hint, on stderr; returns BTC_CLI_EXIT_USAGE. */
int btc_cli_usage_error(const char *name, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Print @s (may be NULL: prints @fallback) escaped as btc_text_put does, at
 * most 800 bytes of it: report and state fields are the crashed program's
 * or a server's data and must neither drive nor flood the terminal.
 */
void btc_cli_put_safe(FILE *out, const char *s, const char *fallback);

#endif
