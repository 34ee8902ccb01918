/* cmd_list: `btcrash list`, the reports of the crash database as a table,
 * oldest first. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "db.h"
#include "text.h"

static const char g_usage[] = "btcrash list";

static const char g_help[] =
    "usage: btcrash list\n"
    "\n"
    "List the reports in the crash database, oldest first: ID, state, time of the\n"
    "crash (local time), application, signal and the faulting thread's top frame.\n"
    "\n"
    "States: pending (stored, not accepted by a server yet: 'btcrash flush' sends\n"
    "it; \"pending (next TIME)\" when a failed attempt's backoff or the server's\n"
    "Retry-After puts its next attempt off until TIME), sent (accepted), rejected (the server "
    "refused it with the HTTP status\n"
    "shown, e.g. \"rejected (400)\"; it is never sent again), corrupt (its file\n"
    "could not be parsed and was moved aside to ID.json.corrupt; never sent, and\n"
    "the first to go when the database is full). A state file that could not be\n"
    "parsed is moved aside to ID.state.corrupt and the report is pending again;\n"
    "each such repair is named on stderr.\n"
    "\n"
    "environment:\n"
    "  BACKTRACE_DATABASE_PATH  the crash database (default: $XDG_STATE_HOME/btcrash,\n"
    "                           else $HOME/.local/state/btcrash, else\n"
    "                           /tmp/btcrash-$UID)\n"
    "\n"
    "exit status: 0, also for an empty database; 1 when the database cannot be\n"
    "read; 2 for bad arguments.\n";

enum { COL_ID, COL_STATE, COL_TIME, COL_APP, COL_SIGNAL, COL_FRAME, NCOLS };

static const char *const g_headers[NCOLS] = {"ID",          "STATE",  "TIME",
                                             "APPLICATION", "SIGNAL", "TOP FRAME"};

/* A cell: the table's text comes from the crashed program and must neither
 * drive the terminal nor break rows, so it is escaped (text.h) in full.
 * NULL when out of memory. */
static char *
cell(const char *s)
{
    size_t len = strlen(s), size = len * 4 + 4; /* \xNN for every byte at worst */
    char *out = malloc(size);

    if (out)
        btc_text_escape(out, size, s, len, 0);
    return out;
}

/* The width of @s in columns, counting each UTF-8 sequence as one. */
static size_t
display_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static void
put_cell(const char *s, size_t width, bool last)
{
    fputs(s, stdout);
    if (last)
        return;
    for (size_t w = display_width(s); w < width + 2; w++)
        fputc(' ', stdout);
}

/* When @e, pending, may be tried next: its backoff, or its endpoint's
 * Retry-After hold, whichever is later; 0 when it is due now. */
static int64_t
next_due(const char *dir, const struct btc_db_entry *e)
{
    int64_t now = (int64_t)time(NULL), due = e->next_attempt, until = 0;

    if (e->endpoint_id && btc_db_hold_get(dir, e->endpoint_id, &until, NULL) == 0 && until > due)
        due = until;
    return due > now ? due : 0;
}

int
btc_cli_list(int argc, char **argv)
{
    struct btc_db_entry *entries = NULL;
    struct btc_config cfg;
    char dir[4096];
    size_t n = 0, width[NCOLS];
    char *(*cells)[NCOLS] = NULL;
    int first, r, status = BTC_CLI_EXIT_FAIL;

    r = btc_cli_parse_options(argc, argv, g_help, g_usage, &first);
    if (r >= 0)
        return r;
    if (first < argc)
        return btc_cli_usage_error(argv[0], g_usage, "unexpected argument '%s'", argv[first]);
    btc_cli_load_config(&cfg);
    if (btc_cli_database_dir(&cfg, dir, sizeof(dir)) < 0)
        return BTC_CLI_EXIT_FAIL;

    r = btc_db_list(dir, &entries, &n);
    if (r == -ENOENT) {
        printf("No reports: the crash database %s does not exist yet.\n", dir);
        return BTC_CLI_EXIT_OK;
    }
    if (r < 0) {
        btc_cli_db_error("list", dir, r);
        return BTC_CLI_EXIT_FAIL;
    }
    if (n == 0) {
        printf("No reports in the crash database %s.\n", dir);
        return BTC_CLI_EXIT_OK;
    }

    cells = calloc(n, sizeof(*cells));
    if (!cells)
        goto oom;
    for (size_t c = 0; c < NCOLS; c++)
        width[c] = strlen(g_headers[c]);
    for (size_t i = 0; i < n; i++) {
        struct btc_db_entry *e = &entries[i];
        const char *state = e->state ? e->state : "pending";
        char when[64] = "-";
        time_t t = (time_t)e->timestamp;
        struct tm tm;
        char shown[64]; /* the state cell, when it says more than the state */

        if (e->timestamp > 0 && localtime_r(&t, &tm))
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        if (!strcmp(state, "rejected") && e->http_status > 0) {
            snprintf(shown, sizeof(shown), "rejected (%ld)", e->http_status);
            state = shown;
        } else if (!strcmp(state, "pending")) {
            int64_t due = next_due(dir, e);

            if (due > 0) {
                char at[32] = "?";

                t = (time_t)due;
                if (localtime_r(&t, &tm))
                    strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S", &tm);
                snprintf(shown, sizeof(shown), "pending (next %s)", at);
                state = shown;
            }
        }
        cells[i][COL_STATE] = cell(state);
        cells[i][COL_ID] = cell(e->uuid);
        cells[i][COL_TIME] = cell(when);
        cells[i][COL_APP] = cell(e->application ? e->application : "-");
        cells[i][COL_SIGNAL] = cell(e->classifier ? e->classifier : "-");
        cells[i][COL_FRAME] = cell(e->top_frame ? e->top_frame : "-");
        for (size_t c = 0; c < NCOLS; c++) {
            if (!cells[i][c])
                goto oom;
            if (display_width(cells[i][c]) > width[c])
                width[c] = display_width(cells[i][c]);
        }
    }
    for (size_t c = 0; c < NCOLS; c++)
        put_cell(g_headers[c], width[c], c == NCOLS - 1);
    fputc('\n', stdout);
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < NCOLS; c++)
            put_cell(cells[i][c], width[c], c == NCOLS - 1);
        fputc('\n', stdout);
    }
    /* Files that could not be parsed are named, with what was done. */
    for (size_t i = 0; i < n; i++) {
        if (!entries[i].problem)
            continue;
        fprintf(stderr, "btcrash list: report %s: ", entries[i].uuid);
        btc_cli_put_safe(stderr, entries[i].problem, "");
        fputc('\n', stderr);
    }
    status = BTC_CLI_EXIT_OK;
    goto done;
oom:
    fprintf(stderr, "btcrash list: out of memory\n");
done:
    if (cells) {
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < NCOLS; c++)
                free(cells[i][c]);
        free(cells);
    }
    btc_db_entries_free(entries, n);
    return status;
}
