/* outcome: see outcome.h. */
#include "outcome.h"

#include <errno.h>
#include <string.h>

void
btc_outcome_why(int err, const struct btc_http_result *res, char *buf, size_t size)
{
    if (err == -ETIMEDOUT)
        snprintf(buf, size, "no time left to send it");
    else if (err == -EAGAIN && res && res->error[0])
        snprintf(buf, size, "not sent yet: %s; 'btcrash flush' sends it then", res->error);
    else if (err == -EBUSY)
        snprintf(buf, size, "it is being sent by another process (btcrash flush)");
    else if (err < 0)
        snprintf(buf, size, "%s", strerror(-err));
    else if (res->outcome != BTC_HTTP_SENT)
        snprintf(buf, size, "%s", res->error[0] ? res->error : "not accepted");
    else
        snprintf(buf, size, "%s", "");
}

void
btc_outcome_print(FILE *out, const char *uuid, int err, const struct btc_http_result *res,
                  bool stored)
{
    const char *keep = stored ? "kept for retry" : "lost (it could not be stored)";
    char why[600];

    btc_outcome_why(err, res, why, sizeof(why));
    /* The rxid, error and note are escaped and cut already (http.h). */
    if (err == -EBUSY)
        fprintf(out, "btcrash: report %s is being sent by another process (btcrash flush)\n", uuid);
    else if (err == 0 && res->outcome == BTC_HTTP_SENT)
        fprintf(out, "btcrash: report %s sent (rxid %s)\n", uuid,
                res->rxid[0] ? res->rxid : "unknown");
    else if (err == 0 && res->outcome == BTC_HTTP_REJECTED)
        fprintf(out, "btcrash: report %s rejected by the server: %s\n", uuid, why);
    else
        fprintf(out, "btcrash: report %s %s: %s\n", uuid, keep, why);
    if (err == 0 && res->note[0])
        fprintf(out, "btcrash: report %s: %s\n", uuid, res->note);
}

void
btc_outcome_answer(struct btc_helper_answer *a, int err, const struct btc_http_result *res,
                   bool stored, const char *store_error)
{
    char why[600];

    btc_outcome_why(err, res, why, sizeof(why));
    if (err == 0) {
        a->http_status = res->status;
        snprintf(a->rxid, sizeof(a->rxid), "%s", res->rxid);
    }
    if (err == 0 && res->outcome == BTC_HTTP_SENT)
        a->outcome = "sent";
    else if (!stored)
        a->outcome = "failed";
    else if (err == 0 && res->outcome == BTC_HTTP_REJECTED)
        a->outcome = "rejected";
    else
        a->outcome = "pending";
    if (strcmp(a->outcome, "sent") == 0)
        a->error[0] = '\0';
    else if (!stored)
        snprintf(a->error, sizeof(a->error), "%s; sending it failed: %s", store_error, why);
    else
        snprintf(a->error, sizeof(a->error), "%s", why);
}
