/* db_prune: the bound on the database, BTC_DB_MAX_REPORTS and
 * BTC_DB_MAX_BYTES (see db.h). */
#include "db.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "db_internal.h"

/* Deletion order of the bound: corrupt reports can never be sent, sent
 * ones are safe on the server, rejected ones will never be sent, pending
 * ones are what is left to lose. */
static int
prune_tier(const char *state)
{
    if (!strcmp(state, "corrupt"))
        return 0;
    if (!strcmp(state, "sent"))
        return 1;
    if (!strcmp(state, "rejected"))
        return 2;
    return 3;
}

int
btc_db_prune(const char *dir, const char *keep_uuid)
{
    struct btc_db_entry *entries = NULL;
    uint64_t bytes = 0;
    size_t n = 0, count;
    int dirfd, deleted = 0, first_error = 0, r;

    if (keep_uuid && !btc_db_uuid_is_safe(keep_uuid))
        return -EINVAL;
    r = btc_db_list(dir, &entries, &n);
    if (r < 0)
        return r;
    dirfd = btc_db_open_dir(dir, false);
    if (dirfd < 0) {
        btc_db_entries_free(entries, n);
        return dirfd;
    }
    count = n;
    for (size_t i = 0; i < n; i++)
        bytes += entries[i].bytes;
    /* Entries are oldest first already: one pass per tier keeps that order
     * within each state. */
    for (int tier = 0; tier < 4; tier++) {
        for (size_t i = 0; i < n; i++) {
            struct btc_db_entry *e = &entries[i];

            if (count <= BTC_DB_MAX_REPORTS && bytes <= BTC_DB_MAX_BYTES)
                goto done;
            if (prune_tier(e->state) != tier || (keep_uuid && !strcmp(e->uuid, keep_uuid)))
                continue;
            /* A report being sent right now is not ours to delete. */
            int claim = -1;
            if (btc_db_claim_at(dirfd, e->uuid, &claim) == -EBUSY)
                continue;
            r = btc_db_remove_at(dirfd, e->uuid);
            btc_db_unclaim(claim);
            if (r < 0 && r != -ENOENT) {
                if (!first_error)
                    first_error = r;
                continue;
            }
            count--;
            bytes -= e->bytes;
            deleted++;
        }
    }
done:
    close(dirfd);
    btc_db_entries_free(entries, n);
    /* Report a failure only when it left nothing done to report. */
    return deleted == 0 && first_error ? first_error : deleted;
}
