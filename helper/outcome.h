/* outcome: what became of a delivery attempt, in words: the line a user
 * sees, and the answer an API caller gets. The one place that words it.
 * Helper process. */
#ifndef BTCRASH_HELPER_OUTCOME_H
#define BTCRASH_HELPER_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "helper_api.h"
#include "http.h"

/**
 * Why attempt (@err, @res) did not end in "sent", in words, into @buf
 * (@size bytes); "" when it was sent.
 */
void btc_outcome_why(int err, const struct btc_http_result *res, char *buf, size_t size);

/**
 * The one line a user sees without debug output, on @out: what became of
 * report @uuid, which was @stored in the database or not; then the
 * server's note, if any.
 */
void btc_outcome_print(FILE *out, const char *uuid, int err, const struct btc_http_result *res,
                       bool stored);

/**
 * Fill the API answer with the outcome of a delivery attempt (@err, @res),
 * for a report that was @stored or not. A report neither stored nor sent
 * has failed; @store_error says why it was not stored.
 */
void btc_outcome_answer(struct btc_helper_answer *a, int err, const struct btc_http_result *res,
                        bool stored, const char *store_error);

#endif
