/* fuzz_dbfiles: the readers `btcrash list`, `show` and `flush` run on the
 * files of a crash database (db_list.c, db.c), on arbitrary bytes. The
 * input is a report file and a state file, split at the first NUL byte.
 * Both parsers are called directly, then the two files are written into a
 * database and listed twice. Checks the contract: every entry has a known
 * state, a corrupt file is moved aside and said so, a repaired state is
 * pending, and a second listing finds nothing new to repair. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "db_internal.h"
#include "fuzz.h"

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

static char g_dir[64];

static void
write_file(const char *name, const uint8_t *data, size_t len)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, len, f) == len || len == 0);
    FUZZ_CHECK(fclose(f) == 0);
}

static bool
known_state(const char *s)
{
    return s && (!strcmp(s, "pending") || !strcmp(s, "sent") || !strcmp(s, "rejected") ||
                 !strcmp(s, "corrupt"));
}

static void
check_entries(const struct btc_db_entry *e, size_t n)
{
    FUZZ_CHECK(n == 1);
    FUZZ_CHECK(!strcmp(e->uuid, UUID));
    FUZZ_CHECK(known_state(e->state));
    if (!strcmp(e->state, "corrupt"))
        FUZZ_CHECK(e->problem != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t rlen = nul ? (size_t)(nul - data) : size;
    const uint8_t *state = nul ? nul + 1 : data + size;
    size_t slen = nul ? size - rlen - 1 : 0;
    struct btc_db_entry e, *entries = NULL;
    json_t *parsed = NULL;
    size_t n = 0;
    int r;

    if (!g_dir[0]) {
        strcpy(g_dir, "/tmp/btc-fuzz-db-XXXXXX");
        FUZZ_CHECK(mkdtemp(g_dir) != NULL);
    }

    memset(&e, 0, sizeof(e));
    r = btc_db_entry_from_report((const char *)data, rlen, &e);
    FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
    r = btc_db_parse_state((const char *)state, slen, &parsed);
    FUZZ_CHECK(r == 0 || r == -EBADMSG);
    if (r == 0) {
        FUZZ_CHECK(json_is_object(parsed));
        FUZZ_CHECK(btc_db_entry_from_state(parsed, &e) == 0);
        FUZZ_CHECK(known_state(e.state));
        json_decref(parsed);
    }
    free(e.state);
    free(e.mode);
    free(e.endpoint_id);
    free(e.endpoint_url);
    free(e.application);
    free(e.classifier);
    free(e.top_frame);
    free(e.last_error);
    free(e.rxid);

    /* The same bytes as files of a database, as list, show and flush meet
     * them. */
    write_file(UUID ".json", data, rlen);
    if (nul)
        write_file(UUID ".state", state, slen);
    FUZZ_CHECK(btc_db_list(g_dir, &entries, &n) == 0);
    check_entries(entries, n);
    btc_db_entries_free(entries, n);
    /* Whatever was wrong has been dealt with: the second look repairs
     * nothing more (a corrupt report stays listed as corrupt). */
    FUZZ_CHECK(btc_db_list(g_dir, &entries, &n) == 0);
    check_entries(entries, n);
    FUZZ_CHECK(!strcmp(entries[0].state, "corrupt") || entries[0].problem == NULL);
    btc_db_entries_free(entries, n);
    FUZZ_CHECK(btc_db_remove(g_dir, UUID) == 0);
    return 0;
}
