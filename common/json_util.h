/* json_util: jansson setters that repair every string to UTF-8 and turn
 * allocation failures into -ENOMEM, so report code can chain them. Helper
 * process and btcrash command. */
#ifndef BTCRASH_JSON_UTIL_H
#define BTCRASH_JSON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/**
 * A JSON string holding @s[0..@len) repaired to UTF-8 (see btc_utf8_repair).
 *
 * Returns: a new reference, or NULL when out of memory.
 */
json_t *btc_json_strn(const char *s, size_t len);

/** As btc_json_strn() for a NUL-terminated @s; NULL gives "". */
json_t *btc_json_str(const char *s);

/** "0x" and lowercase hex digits, the way the report spells addresses. */
json_t *btc_json_hex(uint64_t v);

/**
 * Set @obj[@key] = @value, with @key repaired to UTF-8.
 *
 * Returns: 0, or -ENOMEM (also when @value is NULL, so the result of a
 *          failed constructor can be passed straight in).
 * Steals: @value, in every case.
 */
int btc_json_set(json_t *obj, const char *key, json_t *value);

/* Shorthands for btc_json_set() with a new string, integer, hex string or
 * boolean; same returns. */
int btc_json_set_str(json_t *obj, const char *key, const char *s);
int btc_json_set_int(json_t *obj, const char *key, long long v);
int btc_json_set_hex(json_t *obj, const char *key, uint64_t v);
int btc_json_set_bool(json_t *obj, const char *key, bool v);

/**
 * Append @value to the array @arr.
 *
 * Returns: 0 or -ENOMEM (also when @value is NULL).
 * Steals: @value, in every case.
 */
int btc_json_append(json_t *arr, json_t *value);

#endif
