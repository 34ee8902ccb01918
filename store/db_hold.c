/* db_hold: an endpoint's "wait until" (HTTP 429 or 503 with Retry-After),
 * DIR/<endpoint_id>.hold, which every btcrash process that shares the
 * database honours (see db.h). */
#include "db.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "db_internal.h"

int
btc_db_hold_set(const char *dir, const char *endpoint_id, int64_t until, long http_status)
{
    int64_t now = (int64_t)time(NULL);
    char name[128];
    json_t *hold;
    int dirfd, r;

    if (!btc_db_hex_id_is_safe(endpoint_id))
        return -EINVAL;
    /* What a server asks for is input: a day at most (db.h). */
    if (until > now + BTC_DB_HOLD_MAX_S)
        until = now + BTC_DB_HOLD_MAX_S;
    if (until <= now)
        return 0;
    hold = json_pack("{s:I, s:I, s:I}", "until", (json_int_t)until, "http_status",
                     (json_int_t)http_status, "set", (json_int_t)now);
    if (!hold)
        return -ENOMEM;
    dirfd = btc_db_open_dir(dir, true);
    if (dirfd < 0) {
        json_decref(hold);
        return dirfd;
    }
    snprintf(name, sizeof(name), "%s.hold", endpoint_id);
    r = btc_db_store_json_at(dirfd, name, hold);
    close(dirfd);
    json_decref(hold);
    return r;
}

int
btc_db_hold_get(const char *dir, const char *endpoint_id, int64_t *ret_until, long *ret_status)
{
    int64_t now = (int64_t)time(NULL), until;
    char name[128], *text = NULL;
    json_t *hold, *v;
    size_t len;
    int dirfd, r;

    if (!btc_db_hex_id_is_safe(endpoint_id) || !ret_until)
        return -EINVAL;
    dirfd = btc_db_open_dir(dir, false);
    if (dirfd < 0)
        return dirfd;
    snprintf(name, sizeof(name), "%s.hold", endpoint_id);
    /* A regular file only, never through a link (btc_db_read_at). */
    r = btc_db_read_at(dirfd, name, &text, &len);
    close(dirfd);
    if (r < 0)
        return r;
    hold = json_loadb(text, len, 0, NULL);
    free(text);
    v = json_object_get(hold, "until");
    if (!json_is_integer(v)) {
        /* Unreadable: as if there were none; the next 429 writes it anew. */
        json_decref(hold);
        return -EBADMSG;
    }
    until = (int64_t)json_integer_value(v);
    if (ret_status)
        *ret_status = (long)json_integer_value(json_object_get(hold, "http_status"));
    json_decref(hold);
    if (until <= now)
        return -ENOENT;
    /* A file planted with a far future would stop delivery for good. */
    *ret_until = until > now + BTC_DB_HOLD_MAX_S ? now + BTC_DB_HOLD_MAX_S : until;
    return 0;
}
