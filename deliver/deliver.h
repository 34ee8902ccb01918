/* deliver: sends reports stored in the crash database and records each
 * outcome in the report's state file (pending, sent, rejected).
 * Helper process and btcrash command. */
#ifndef BTCRASH_DELIVER_H
#define BTCRASH_DELIVER_H

#include <stdint.h>

#include "config.h"
#include "http.h"

/* Flags of btc_deliver_report and btc_deliver_pending. */
#define BTC_DELIVER_LOCAL                                                                          \
    1u /* also reports made in local mode or for no known                                          \
          endpoint (`btcrash flush --local`); they are                                             \
          bound to this endpoint from then on */

#define BTC_DELIVER_FORCE                                                                          \
    2u /* ignore the endpoint's Retry-After hold and the report's backoff                          \
          (`btcrash flush --force`) */
#define BTC_DELIVER_RETRY_REJECTED                                                                 \
    4u /* send rejected reports again, as if pending (`btcrash flush                               \
          --retry-rejected`) */

/**
 * Send DIR/<uuid>.json with the attachment copies its state lists (only
 * files of DIR/<uuid>.d/: btc_db_open_attachment; others are left out and
 * noted in ret->note), before @deadline_mono_ns, and rewrite DIR/<uuid>.state:
 * "sent" (with the rxid), "rejected" (with the HTTP status; never
 * retried), or "pending" (attempts counted, last error kept, and
 * "next_attempt": when the backoff lets it be tried again, no sooner than
 * a Retry-After). Only a report made for @cfg's endpoint is sent (its
 * state's endpoint_id is btc_http_endpoint_id of it), or with
 * BTC_DELIVER_LOCAL one made in local mode or for no known endpoint. A
 * 429 or 503 with Retry-After holds the endpoint back for every process
 * of the database (btc_db_hold_set). Unless BTC_DELIVER_FORCE, a report is
 * not tried while its endpoint is held back or before its next attempt.
 *
 * Returns: 0 and *ret when an attempt was made (also when the new state
 *          could not be written: that is logged, and the report stays
 *          pending), -ENOENT when there is no such report, -EALREADY when it
 *          is not pending, -EBUSY when another process is sending it
 *          (btc_db_claim), -EXDEV when it was made for another endpoint,
 *          -ENOTCONN when it was made in local mode or for no known
 *          endpoint (without BTC_DELIVER_LOCAL), -EAGAIN when it is not
 *          due yet (*ret then has the reason in error and the time in
 *          next_attempt), -ETIMEDOUT when too little time is left to
 *          start, other -errno.
 * Borrows: everything. The state's other members (attachments) are kept.
 */
int btc_deliver_report(const char *dir, const char *uuid, const struct btc_config *cfg,
                       unsigned flags, int64_t deadline_mono_ns, btc_http_log_fn log, void *log_ctx,
                       struct btc_http_result *ret);

/**
 * As btc_deliver_report, for a report the caller has claimed already (the
 * claim btc_db_store returned): its maker sends it without ever letting it
 * go.
 */
int btc_deliver_claimed(const char *dir, const char *uuid, const struct btc_config *cfg,
                        unsigned flags, int64_t deadline_mono_ns, btc_http_log_fn log,
                        void *log_ctx, struct btc_http_result *ret);

/* Called once per pending report that btc_deliver_pending tried (@err as
 * btc_deliver_report returned, @res NULL when < 0), once per pending
 * report it left alone as made for another endpoint (-EXDEV) or in local
 * mode (-ENOTCONN), and once per report not due yet (-EAGAIN, with @res
 * saying why). After a result whose endpoint_wrong is set, the others are
 * not tried. */
typedef void (*btc_deliver_each_fn)(const char *uuid, int err, const struct btc_http_result *res,
                                    void *ctx);

/**
 * Try every pending report in DIR except @skip_uuid (may be NULL) that was
 * made for @cfg's endpoint (and with BTC_DELIVER_LOCAL, those made in local
 * mode or for no known endpoint), oldest first, each within
 * min(@per_report_ms from its start, @deadline_mono_ns); stops when the
 * deadline has passed. @each may be NULL.
 *
 * Returns: the number of reports tried (>= 0), or -errno when DIR cannot be
 *          read.
 */
int btc_deliver_pending(const char *dir, const char *skip_uuid, const struct btc_config *cfg,
                        unsigned flags, uint32_t per_report_ms, int64_t deadline_mono_ns,
                        btc_http_log_fn log, void *log_ctx, btc_deliver_each_fn each,
                        void *each_ctx);

#endif
