/* options: btcrash_initialize, and the configuration the C API runtime
 * reads from libbtcrash.so's crash plan (helper paths, the helper's
 * environment with the overrides applied, the timeout). libbtcrash-api.so;
 * any thread. */
#ifndef BTCRASH_API_OPTIONS_H
#define BTCRASH_API_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "btcrash.h"

struct btc_crash_plan;

/**
 * Remember @plan, libbtcrash.so's crash plan, for the process lifetime.
 * Called once, before anything else here (unit tests pass their own).
 *
 * Returns: 0, or -EINVAL for NULL or a plan without an environment.
 */
int btc_api_options_attach(struct btc_crash_plan *plan);

/** btcrash_initialize: see include/btcrash.h. */
int btc_api_options_initialize(const btcrash_options *opts);

/** The attached plan (helper paths). Borrowed; lives as long as the process. */
const struct btc_crash_plan *btc_api_options_plan(void);

/** The helper's environment for reports sent now. Never freed. */
char *const *btc_api_options_env(void);

/** BACKTRACE_TIMEOUT for reports sent now, in ms. */
uint32_t btc_api_options_timeout_ms(void);

/** BACKTRACE_DEBUG_BACKTRACE for reports sent now. */
bool btc_api_options_debug(void);

/**
 * The flattened attributes of the BACKTRACE_ATTRIBUTES that reports sent
 * now get. Text that is not a JSON object, and values that are not
 * primitives, are left out, as the helper leaves them out.
 *
 * Returns: a new reference, or NULL when out of memory.
 */
json_t *btc_api_options_attributes(void);

#endif
