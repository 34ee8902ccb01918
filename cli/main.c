/* main: the btcrash command. Its subcommands are for people; the
 * "__crash-helper" mode is exec'ed by libbtcrash.so on a crash. */
#include <stdio.h>
#include <string.h>

#include "crash_helper.h"

static void
usage(FILE *out)
{
    fputs("usage: btcrash COMMAND [ARGS...]\n"
          "\n"
          "btcrash reports crashes of native programs; preload libbtcrash.so to use it:\n"
          "  LD_PRELOAD=/path/to/libbtcrash.so ./program\n"
          "\n"
          "commands:\n"
          "  --version    print the version\n"
          "  --help       print this help\n",
          out);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "__crash-helper") == 0)
        return btc_helper_main();
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("btcrash %s\n", BTCRASH_VERSION);
        return 0;
    }
    fprintf(stderr, "btcrash: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
