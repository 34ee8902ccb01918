/* main: the btcrash command. Its subcommands are for people; the
 * "__crash-helper" mode is exec'ed by libbtcrash.so on a crash, and the
 * helper spawns itself in "__debuginfod-fetch" mode for each debug file it
 * fetches. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "crash_helper.h"
#include "crash_record.h"
#include "debuginfod.h"

static void
usage(FILE *out)
{
    fputs("usage: btcrash COMMAND [ARGS...]\n"
          "\n"
          "btcrash reports crashes of native Linux programs without changing them: the\n"
          "preloaded library libbtcrash.so writes a Backtrace crash report when a program\n"
          "dies of a fatal signal, stores it in the crash database and submits it to\n"
          "BACKTRACE_ENDPOINT when one is set.\n"
          "\n"
          "commands:\n"
          "  run [--] PROGRAM [ARGS...]  run PROGRAM with libbtcrash.so preloaded\n"
          "  list                        list the reports in the crash database\n"
          "  show ID|FILE                print one report readably, with its state\n"
          "  flush                       submit every pending report now\n"
          "  --help                      print this help\n"
          "  --version                   print the version\n"
          "\n"
          "'btcrash COMMAND --help' describes a command, its environment variables and\n"
          "exit statuses. Configuration comes from BACKTRACE_* environment variables\n"
          "(BACKTRACE_ENDPOINT, BACKTRACE_TOKEN, BACKTRACE_DATABASE_PATH,\n"
          "BACKTRACE_TIMEOUT, ...); see the README.\n"
          "\n"
          "Without btcrash run:  LD_PRELOAD=/path/to/libbtcrash.so ./program\n",
          out);
}

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
} g_commands[] = {
    {"run", btc_cli_run},
    {"list", btc_cli_list},
    {"show", btc_cli_show},
    {"flush", btc_cli_flush},
};

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return BTC_CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], BTC_HELPER_MODE) == 0)
        return btc_helper_main(argv[0]);
    if (strcmp(argv[1], BTC_DEBUGINFOD_FETCH_MODE) == 0)
        return btc_debuginfod_child_main(argc, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return BTC_CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("btcrash %s\n", BTCRASH_VERSION);
        return BTC_CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(g_commands) / sizeof(g_commands[0]); i++)
        if (strcmp(argv[1], g_commands[i].name) == 0)
            return g_commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "btcrash: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return BTC_CLI_EXIT_USAGE;
}
