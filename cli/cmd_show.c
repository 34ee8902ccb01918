/* cmd_show: `btcrash show ID|FILE`, one report rendered for people by
 * submit/print.c, followed by its delivery state. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "db.h"
#include "print.h"

static const char g_usage[] = "btcrash show ID|FILE";

static const char g_help[] =
    "usage: btcrash show ID|FILE\n"
    "\n"
    "Print one report readably: the error, every thread with its frames and\n"
    "file:line, the source lines around the fault, attributes and annotations;\n"
    "then its state (pending, sent or rejected, the HTTP status, the rxid the\n"
    "server gave, the last error) and its attachments.\n"
    "\n"
    "ID is a report's uuid as 'btcrash list' shows it, or any unique prefix of\n"
    "it. FILE is the path of a report's .json file (anything with a '/', or an\n"
    "existing file ending in .json).\n"
    "\n"
    "Colours are used when standard output is a terminal and NO_COLOR is not set.\n"
    "\n"
    "environment:\n"
    "  BACKTRACE_DATABASE_PATH  the crash database where ID is looked up (default:\n"
    "                           $XDG_STATE_HOME/btcrash, else\n"
    "                           $HOME/.local/state/btcrash, else /tmp/btcrash-$UID)\n"
    "  NO_COLOR                 set and not empty: no colours\n"
    "\n"
    "exit status: 0 when the report was shown; 1 when there is no such report,\n"
    "the prefix is ambiguous or the file cannot be read; 2 for bad arguments.\n";

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && !strcmp(s + n - m, suffix);
}

static bool
is_id_text(const char *s)
{
    size_t n = strspn(s, "0123456789abcdefABCDEF-");

    return n > 0 && n <= 36 && s[n] == '\0';
}

/* A report file given by path. O_NONBLOCK and the regular-file check: a
 * FIFO given by mistake must not hang the command. */
static int
load_report_file(const char *path, json_t **ret)
{
    json_error_t err;
    struct stat st;
    json_t *report;
    int fd, r;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        r = errno;
        fprintf(stderr, "btcrash show: %s: %s\n", path, strerror(r));
        return -r;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "btcrash show: %s: not a regular file\n", path);
        close(fd);
        return -EINVAL;
    }
    report = json_loadfd(fd, 0, &err);
    close(fd);
    if (!json_is_object(report)) {
        fprintf(stderr, "btcrash show: %s: not a report: %s (line %d)\n", path,
                report ? "not a JSON object" : err.text, err.line);
        json_decref(report);
        return -EBADMSG;
    }
    *ret = report;
    return 0;
}

/* The uuid of the one report in @dir whose uuid starts with @prefix, into
 * @ret_uuid (37 bytes). Prints why not, otherwise. */
static int
resolve_id(const char *dir, const char *prefix, char *ret_uuid)
{
    struct btc_db_entry *entries = NULL;
    char want[40];
    size_t n = 0, len = strlen(prefix), matches = 0, match = 0;
    int r;

    /* Reports are named with lowercase uuids; people may paste capitals. */
    for (size_t i = 0; i <= len; i++)
        want[i] = (char)tolower((unsigned char)prefix[i]);
    r = btc_db_list(dir, &entries, &n);
    if (r < 0 && r != -ENOENT) {
        btc_cli_db_error("show", dir, r);
        return r;
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(entries[i].uuid, want)) {
            matches = 1;
            match = i;
            break;
        }
        if (!strncmp(entries[i].uuid, want, len)) {
            matches++;
            match = i;
        }
    }
    if (matches == 1) {
        const struct btc_db_entry *e = &entries[match];

        memcpy(ret_uuid, e->uuid, sizeof(e->uuid));
        r = 0;
        /* In words, as list and flush say it: what was wrong with its
         * files, and what was done about it. */
        if (e->problem) {
            fprintf(stderr, "btcrash show: report %s: ", e->uuid);
            btc_cli_put_safe(stderr, e->problem, "");
            fputc('\n', stderr);
        }
        if (e->state && !strcmp(e->state, "corrupt"))
            r = -EBADMSG;
    } else if (matches == 0) {
        fprintf(stderr, "btcrash show: no report %s in the crash database %s\n", prefix, dir);
        r = -ENOENT;
    } else {
        fprintf(stderr, "btcrash show: %s is ambiguous: %zu reports start with it:\n", prefix,
                matches);
        for (size_t i = 0; i < n; i++)
            if (!strncmp(entries[i].uuid, want, len))
                fprintf(stderr, "  %s\n", entries[i].uuid);
        r = -EEXIST;
    }
    btc_db_entries_free(entries, n);
    return r;
}

static void
print_attachments(json_t *state, const char *dir, const char *uuid)
{
    json_t *list = json_object_get(state, "attachments"), *item;
    size_t i;

    if (!json_array_size(list)) {
        fputs("  attachments: none\n", stdout);
        return;
    }
    fputs("  attachments:\n", stdout);
    json_array_foreach(list, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *source = json_string_value(json_object_get(item, "source"));
        /* Only the report's own copies are ever sent (db.h). */
        int fd = btc_db_open_attachment(dir, uuid, name);

        fputs("    ", stdout);
        btc_cli_put_safe(stdout, name, "?");
        if (source) {
            fputs(" (from ", stdout);
            btc_cli_put_safe(stdout, source, "?");
            fputc(')', stdout);
        }
        if (fd < 0)
            fputs(fd == -ENOENT ? " [copy missing]" : " [not a copy of the database: not sent]",
                  stdout);
        else
            close(fd);
        fputc('\n', stdout);
    }
}

/* Which endpoint the report goes to (DESIGN.md §6: only the one it was
 * made for). */
static void
print_endpoint(json_t *state)
{
    const char *mode = json_string_value(json_object_get(state, "mode"));
    const char *url = json_string_value(json_object_get(state, "endpoint_url"));

    fputs("  made for: ", stdout);
    if (mode && !strcmp(mode, "endpoint"))
        btc_cli_put_safe(stdout, url, "an endpoint (its URL was not recorded)");
    else if (mode && !strcmp(mode, "local"))
        fputs("local mode (no endpoint); 'btcrash flush --local' sends it", stdout);
    else
        fputs("no known endpoint; 'btcrash flush --local' sends it", stdout);
    fputc('\n', stdout);
}

/* The report's minidump (BACKTRACE_FORMAT=minidump), when its state names
 * one: what is sent instead of the JSON report, opened as a sender opens
 * it (db.h). */
static void
print_minidump(json_t *state, const char *dir, const char *uuid)
{
    const char *format = json_string_value(json_object_get(state, "format"));
    uint64_t size = 0;
    int fd = -1, r;

    if (!format || strcmp(format, "minidump") != 0)
        return;
    r = btc_db_open_minidump(dir, uuid, &fd, &size);
    printf("  minidump: %s%s%s.dmp", dir, ends_with(dir, "/") ? "" : "/", uuid);
    if (r == 0) {
        printf(" (%" PRIu64 " bytes; sent instead of the JSON report)\n", size);
        close(fd);
    } else {
        printf(" [%s: the JSON report is sent instead]\n", r == -ENOENT   ? "missing"
                                                           : r == -ELOOP  ? "a symbolic link"
                                                           : r == -EINVAL ? "not a regular file"
                                                                          : strerror(-r));
    }
}

/* The state lines after the report: where it is in its life (DESIGN.md §6). */
static void
print_state(const char *dir, const char *uuid)
{
    json_t *state = NULL;
    const char *name, *rxid, *error;
    json_int_t status, attempts;
    int r;

    r = btc_db_read_state(dir, uuid, &state);
    fputs("\nState\n", stdout);
    if (r < 0) {
        printf("  unknown: %s\n", r == -EBADMSG ? "the state file is corrupt" : strerror(-r));
        return;
    }
    name = json_string_value(json_object_get(state, "state"));
    status = json_integer_value(json_object_get(state, "http_status"));
    attempts = json_integer_value(json_object_get(state, "attempts"));
    rxid = json_string_value(json_object_get(state, "rxid"));
    error = json_string_value(json_object_get(state, "last_error"));
    fputs("  ", stdout);
    btc_cli_put_safe(stdout, name, "pending");
    if (status > 0)
        printf(" (HTTP %lld)", (long long)status);
    if (!name || !strcmp(name, "pending"))
        fputs(attempts > 0 ? ": not sent yet; 'btcrash flush' retries it"
                           : ": not sent yet; 'btcrash flush' sends it",
              stdout);
    else if (!strcmp(name, "rejected"))
        fputs(": refused by the server; it is not sent again", stdout);
    fputc('\n', stdout);
    if (attempts > 0)
        printf("  attempts: %lld\n", (long long)attempts);
    if (rxid && *rxid) {
        fputs("  rxid: ", stdout);
        btc_cli_put_safe(stdout, rxid, "");
        fputc('\n', stdout);
    }
    if (error && *error) {
        fputs("  last error: ", stdout);
        btc_cli_put_safe(stdout, error, "");
        fputc('\n', stdout);
    }
    print_endpoint(state);
    print_attachments(state, dir, uuid);
    print_minidump(state, dir, uuid);
    printf("  file: %s%s%s.json\n", dir, ends_with(dir, "/") ? "" : "/", uuid);
    json_decref(state);
}

/* FILE given: its database and uuid, when it is a report in one. */
static bool
file_in_database(const char *path, char *dir, size_t size, char *uuid)
{
    char resolved[PATH_MAX], *slash;
    size_t len;

    if (!realpath(path, resolved))
        return false;
    slash = strrchr(resolved, '/');
    len = strlen(slash + 1);
    /* Only a full uuid: any other x.json is not known to be a report of a
     * database, and "pending" would be a guess. */
    if (len != 36 + 5 || !ends_with(slash + 1, ".json"))
        return false;
    memcpy(uuid, slash + 1, len - 5);
    uuid[len - 5] = '\0';
    if (!is_id_text(uuid))
        return false;
    *slash = '\0';
    if (strlen(resolved) + 1 > size)
        return false;
    strcpy(dir, *resolved ? resolved : "/");
    return true;
}

static bool
use_color(void)
{
    const char *no_color = getenv("NO_COLOR");

    /* no-color.org: present and not empty disables colour. */
    return isatty(STDOUT_FILENO) && !(no_color && *no_color);
}

int
btc_cli_show(int argc, char **argv)
{
    struct btc_config cfg;
    char dir[4096], uuid[40];
    const char *arg;
    json_t *report = NULL;
    bool in_db = false;
    int first, r;

    r = btc_cli_parse_options(argc, argv, g_help, g_usage, &first);
    if (r >= 0)
        return r;
    if (first >= argc)
        return btc_cli_usage_error(argv[0], g_usage, "which report? give an ID or a FILE");
    if (first + 1 < argc)
        return btc_cli_usage_error(argv[0], g_usage, "one report at a time ('%s' is extra)",
                                   argv[first + 1]);
    arg = argv[first];
    btc_cli_load_config(&cfg);

    if (strchr(arg, '/') || (ends_with(arg, ".json") && access(arg, F_OK) == 0)) {
        if (load_report_file(arg, &report) < 0)
            return BTC_CLI_EXIT_FAIL;
        in_db = file_in_database(arg, dir, sizeof(dir), uuid);
    } else {
        char *text = NULL;
        size_t len = 0;
        json_error_t err;

        if (!is_id_text(arg)) {
            fprintf(stderr,
                    "btcrash show: '%s' is neither a report ID (hex digits and '-') nor "
                    "a .json file\n",
                    arg);
            return BTC_CLI_EXIT_FAIL;
        }
        if (btc_cli_database_dir(&cfg, dir, sizeof(dir)) < 0 || resolve_id(dir, arg, uuid) < 0)
            return BTC_CLI_EXIT_FAIL;
        r = btc_db_read_report(dir, uuid, &text, &len);
        if (r < 0) {
            fprintf(stderr, "btcrash show: %s: %s\n", uuid, strerror(-r));
            return BTC_CLI_EXIT_FAIL;
        }
        report = json_loadb(text, len, 0, &err);
        free(text);
        if (!json_is_object(report)) {
            fprintf(stderr, "btcrash show: %s: not a report: %s\n", uuid,
                    report ? "not a JSON object" : err.text);
            json_decref(report);
            return BTC_CLI_EXIT_FAIL;
        }
        in_db = true;
    }

    btc_print_report(stdout, report, use_color());
    if (in_db)
        print_state(dir, uuid);
    json_decref(report);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "btcrash show: writing the report: %s\n", strerror(errno));
        return BTC_CLI_EXIT_FAIL;
    }
    return BTC_CLI_EXIT_OK;
}
