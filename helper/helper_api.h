/* helper_api: the C API side of the crash helper: reading the user data of
 * a btcrash_report_send call (BTC_USERDATA_FD) and writing the answer the
 * calling thread waits for (BTC_NOTIFY_FD). Helper process only. */
#ifndef BTCRASH_CLI_HELPER_API_H
#define BTCRASH_CLI_HELPER_API_H

#include <stddef.h>

#include <jansson.h>

/* What became of an API report: the answer on BTC_NOTIFY_FD. */
struct btc_helper_answer {
    /* "sent": the server accepted it (HTTP 200);
     * "pending": stored, not accepted yet (network, server, time);
     * "stored": local mode (no endpoint), stored only;
     * "rejected": stored, and the server refused it (4xx but 429);
     * "failed": neither stored nor sent, or not even built. */
    const char *outcome;
    char uuid[40];    /* "" when no report was built */
    char rxid[128];   /* of a sent report; "" otherwise */
    long http_status; /* of the last response; 0 when none arrived */
    char error[8192]; /* why it was not sent (or not stored); "" when sent or stored */
};

/**
 * Read the user data from @fd (a memfd, read from offset 0; a pipe is read
 * to its end), at most BTC_REPORT_USERDATA_MAX bytes, parse it and check it
 * with btc_report_userdata_check.
 *
 * Returns: 0 and *ret_userdata (a new reference), or -errno (-EFBIG when too
 *          large, -EINVAL when not valid user data) with one line saying
 *          why in @why.
 */
int btc_helper_api_read_userdata(int fd, json_t **ret_userdata, char *why, size_t size);

/**
 * Write @a on @fd as one JSON object, {"outcome", "uuid", "rxid",
 * "http_status", "error"} (members that are empty or 0 left out), then
 * close @fd: the caller reads the object up to EOF.
 *
 * Returns: 0 or -errno (the caller may have given up: EPIPE).
 */
int btc_helper_api_answer(int fd, const struct btc_helper_answer *a);

#endif
