/* attrs: user attributes: BACKTRACE_ATTRIBUTES parsing and the flattening of
 * nested JSON objects into dotted primitive attributes. Helper process now;
 * the C API's btcrash_report_set_dict_attributes will reuse the flattening. */
#ifndef BTCRASH_ATTRS_H
#define BTCRASH_ATTRS_H

#include <jansson.h>

#include "config.h"

/**
 * Copy the members of the object @src into the object @dst as primitive
 * attributes: strings (repaired to UTF-8), integers, reals and booleans as
 * they are; nested objects flattened with dots, so {"a":{"b":1}} sets "a.b".
 * A member of @dst with the same name is replaced.
 *
 * Arrays and nulls are refused: each one produces one line through @warn
 * (may be NULL) naming the dotted key, and is skipped. @origin names where
 * the values came from in that line (e.g. "BACKTRACE_ATTRIBUTES"); may be
 * NULL.
 *
 * Returns: the number of refused values (>= 0), -EINVAL when @src or @dst is
 *          not an object, or -ENOMEM (@dst may then hold part of @src).
 * Borrows: @src. @dst receives new references.
 */
int btc_attrs_flatten(json_t *dst, json_t *src, const char *origin, btc_cfg_warn_fn warn,
                      void *warn_ctx);

/**
 * Parse the BACKTRACE_ATTRIBUTES text @text and flatten it into @dst. Text
 * that is not a JSON object gives one line through @warn naming the variable
 * and its (sanitised) value, and nothing is added: the report goes on
 * without user attributes. NULL or empty @text adds nothing.
 *
 * Returns: the number of refused values (>= 0), -EINVAL for text that is not
 *          a JSON object, or -ENOMEM.
 * Borrows: @text.
 */
int btc_attrs_from_text(json_t *dst, const char *text, btc_cfg_warn_fn warn, void *warn_ctx);

#endif
