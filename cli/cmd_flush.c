/* cmd_flush: `btcrash flush`, every pending report of the crash database
 * submitted now, one line per report saying what happened. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "deliver.h"
#include "http.h"

static const char g_usage[] = "btcrash flush [--local] [--force] [--retry-rejected]";

static const char g_help[] =
    "usage: btcrash flush [--local] [--force] [--retry-rejected]\n"
    "\n"
    "Submit every pending report of the crash database that was made for\n"
    "BACKTRACE_ENDPOINT (the same URL and token) and is due, oldest first, each\n"
    "within BACKTRACE_TIMEOUT, and print one line per report:\n"
    "  ID sent (rxid RXID)            accepted by the server;\n"
    "  ID rejected (HTTP STATUS: ...) the server refused the report itself (400,\n"
    "                                 413, 422); kept, never sent again;\n"
    "  ID still pending: ERROR        a network error, a time-out, 429, 5xx, or a\n"
    "                                 wrong token or URL (401, 403, 404: the error\n"
    "                                 says what to fix; the other reports are then\n"
    "                                 not tried); kept, retried with backoff;\n"
    "  ID waiting: WHY                not due: the server asked to wait\n"
    "                                 (Retry-After), or its backoff is not over;\n"
    "  ID skipped: ...                made for another endpoint, or in local mode.\n"
    "A failed report is retried after 30 to 60 s, then twice as long each time,\n"
    "up to 3 to 6 hours; a 429 or 503 with Retry-After holds every btcrash\n"
    "process of this database back from the endpoint until then (a day at most).\n"
    "A crash loop's repeats (throttled, see BACKTRACE_CRASH_LOOP_WINDOW) go once\n"
    "their window has passed, as one report, the newest, whose crash.count\n"
    "attribute says how many crashes it stands for.\n"
    "Reports that were sent or rejected before are left alone. A report goes\n"
    "only to the endpoint it was made for: another program's reports, with its\n"
    "own endpoint and token, are never sent here. Then the database is tidied:\n"
    "files left by killed helpers are removed, and past 100 reports or 256 MiB\n"
    "the oldest reports go, sent ones first.\n"
    "\n"
    "options:\n"
    "  --local    also send the reports made in local mode (no endpoint set) or\n"
    "             for no known endpoint (an older btcrash, a repaired state file)\n"
    "             to BACKTRACE_ENDPOINT; from then on they belong to it\n"
    "  --force    try every report now, whatever its backoff or a Retry-After\n"
    "  --retry-rejected\n"
    "             send the rejected reports again too\n"
    "\n"
    "environment:\n"
    "  BACKTRACE_ENDPOINT       where to submit (required here)\n"
    "  BACKTRACE_TOKEN          the submission token, if the endpoint needs one\n"
    "  BACKTRACE_TIMEOUT        seconds allowed per report (default 4)\n"
    "  BACKTRACE_IGNORE_SSL_CERTIFICATE  skip TLS verification (default 0)\n"
    "  BACKTRACE_DEBUG_BACKTRACE         print every submission step to stderr\n"
    "  BACKTRACE_DATABASE_PATH  the crash database (default: $XDG_STATE_HOME/btcrash,\n"
    "                           else $HOME/.local/state/btcrash, else\n"
    "                           /tmp/btcrash-$UID)\n"
    "\n"
    "exit status: 0 when every report tried was sent or rejected (or there was\n"
    "nothing to send, or nothing due yet); 1 when a report tried is still\n"
    "pending, no endpoint is set or the database cannot be read; 2 for bad\n"
    "arguments.\n";

struct tally {
    int done;    /* sent or rejected */
    int pending; /* tried and still pending */
};

static void
debug_line(const char *line, void *ctx)
{
    (void)ctx;
    fputs("btcrash flush: ", stderr);
    btc_cli_put_safe(stderr, line, "");
    fputc('\n', stderr);
}

static void
report_done(const char *uuid, int err, const struct btc_http_result *res, void *ctx)
{
    struct tally *t = ctx;

    if (err == -EAGAIN && res) {
        printf("%s waiting: ", uuid);
        btc_cli_put_safe(stdout, res->error, "not due yet");
        fputc('\n', stdout);
    } else if (err == -EXDEV) {
        printf("%s skipped: made for another endpoint\n", uuid);
    } else if (err == -ENOTCONN) {
        printf("%s skipped: made in local mode or for no known endpoint; 'btcrash flush --local' "
               "sends it here\n",
               uuid);
    } else if (err < 0 || !res) {
        printf("%s still pending: %s\n", uuid, strerror(err < 0 ? -err : EIO));
        t->pending++;
    } else if (res->outcome == BTC_HTTP_SENT) {
        printf("%s sent", uuid);
        if (res->rxid[0]) {
            fputs(" (rxid ", stdout);
            btc_cli_put_safe(stdout, res->rxid, "");
            fputc(')', stdout);
        }
        fputc('\n', stdout);
        t->done++;
    } else if (res->outcome == BTC_HTTP_REJECTED) {
        printf("%s rejected (", uuid);
        btc_cli_put_safe(stdout, res->error, "HTTP ?");
        fputs(")\n", stdout);
        t->done++;
    } else {
        printf("%s still pending: ", uuid);
        btc_cli_put_safe(stdout, res->error[0] ? res->error : NULL, "not accepted");
        if (res->endpoint_wrong)
            fputs("; the other reports were not tried", stdout);
        fputc('\n', stdout);
        t->pending++;
    }
    if (res && res->note[0]) {
        printf("%s: ", uuid);
        btc_cli_put_safe(stdout, res->note, "");
        fputc('\n', stdout);
    }
    /* One line as each report finishes, even into a pipe. */
    fflush(stdout);
}

/* After a flush, what the bound and killed helpers call for (btc_db_prune):
 * orphaned files go, and reports past the bound, sent ones first. Sent
 * reports can make room only now. */
static void
tidy(const char *dir, bool debug)
{
    int r = btc_db_prune(dir, NULL);

    if (r > 0)
        printf("%d old report%s deleted: the database keeps at most %d reports and %llu MiB\n", r,
               r == 1 ? "" : "s", BTC_DB_MAX_REPORTS,
               (unsigned long long)(BTC_DB_MAX_BYTES / (1024 * 1024)));
    else if (r < 0 && debug)
        fprintf(stderr, "btcrash flush: could not prune %s: %s\n", dir, strerror(-r));
}

int
btc_cli_flush(int argc, char **argv)
{
    struct btc_db_entry *entries = NULL;
    struct tally t = {0, 0};
    struct btc_config cfg;
    char dir[4096];
    size_t n = 0, pending = 0;
    unsigned flags = 0;
    bool options_done = false;
    int first, kept = 1, r;

    /* flush's own options; btc_cli_parse_options sees the rest. */
    for (int i = 1; i < argc; i++) {
        unsigned flag = options_done                           ? 0
                        : !strcmp(argv[i], "--local")          ? BTC_DELIVER_LOCAL
                        : !strcmp(argv[i], "--force")          ? BTC_DELIVER_FORCE
                        : !strcmp(argv[i], "--retry-rejected") ? BTC_DELIVER_RETRY_REJECTED
                                                               : 0;

        if (flag) {
            flags |= flag;
            continue;
        }
        options_done = options_done || !strcmp(argv[i], "--");
        argv[kept++] = argv[i];
    }
    argv[kept] = NULL;
    argc = kept;
    r = btc_cli_parse_options(argc, argv, g_help, g_usage, &first);
    if (r >= 0)
        return r;
    if (first < argc)
        return btc_cli_usage_error(argv[0], g_usage, "unexpected argument '%s'", argv[first]);
    btc_cli_load_config(&cfg);
    if (btc_cli_database_dir(&cfg, dir, sizeof(dir)) < 0)
        return BTC_CLI_EXIT_FAIL;
    if (!cfg.endpoint) {
        fprintf(stderr, "btcrash flush: no endpoint configured: set BACKTRACE_ENDPOINT "
                        "(and BACKTRACE_TOKEN if it needs one); nothing was sent\n");
        return BTC_CLI_EXIT_FAIL;
    }

    r = btc_db_list(dir, &entries, &n);
    if (r == -ENOENT) {
        printf("No pending reports: the crash database %s does not exist yet.\n", dir);
        return BTC_CLI_EXIT_OK;
    }
    if (r < 0) {
        btc_cli_db_error("flush", dir, r);
        return BTC_CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        /* A throttled crash may be due to go with its loop's count. */
        if (!entries[i].state || !strcmp(entries[i].state, "pending") ||
            !strcmp(entries[i].state, "throttled") ||
            (!strcmp(entries[i].state, "rejected") && (flags & BTC_DELIVER_RETRY_REJECTED)))
            pending++;
        if (entries[i].problem) {
            fprintf(stderr, "btcrash flush: report %s: ", entries[i].uuid);
            btc_cli_put_safe(stderr, entries[i].problem, "");
            fputc('\n', stderr);
        }
    }
    btc_db_entries_free(entries, n);
    if (pending == 0) {
        printf("No pending reports in %s.\n", dir);
        tidy(dir, cfg.debug);
        return BTC_CLI_EXIT_OK;
    }

    r = btc_http_global_init();
    if (r < 0) {
        fprintf(stderr, "btcrash flush: libcurl is not usable: %s\n", btc_http_init_error());
        return BTC_CLI_EXIT_FAIL;
    }
    /* No overall deadline: a person asked for every report, and each one
     * is bounded by BACKTRACE_TIMEOUT on its own. */
    r = btc_deliver_pending(dir, NULL, &cfg, flags, cfg.timeout_ms, INT64_MAX,
                            cfg.debug ? debug_line : NULL, NULL, report_done, &t);
    if (r < 0) {
        btc_cli_db_error("flush", dir, r);
        return BTC_CLI_EXIT_FAIL;
    }
    tidy(dir, cfg.debug);
    return t.pending > 0 ? BTC_CLI_EXIT_FAIL : BTC_CLI_EXIT_OK;
}
