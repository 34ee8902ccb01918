/* json_util: UTF-8-safe, error-returning wrappers over jansson setters. */
#include "json_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

json_t *
btc_json_strn(const char *s, size_t len)
{
    json_t *j;
    char *fixed;
    size_t n;

    if (btc_utf8_is_valid(s, len))
        return json_stringn_nocheck(s, len);
    if (btc_utf8_repair(s, len, &fixed, &n) < 0)
        return NULL;
    j = json_stringn_nocheck(fixed, n);
    free(fixed);
    return j;
}

json_t *
btc_json_str(const char *s)
{
    return s ? btc_json_strn(s, strlen(s)) : json_string("");
}

json_t *
btc_json_hex(uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    return json_string(buf);
}

int
btc_json_set(json_t *obj, const char *key, json_t *value)
{
    size_t len = strlen(key);
    char *fixed;
    int r;

    if (!value)
        return -ENOMEM;
    if (btc_utf8_is_valid(key, len))
        return json_object_set_new_nocheck(obj, key, value) < 0 ? -ENOMEM : 0;
    r = btc_utf8_repair(key, len, &fixed, NULL);
    if (r < 0) {
        json_decref(value);
        return r;
    }
    r = json_object_set_new_nocheck(obj, fixed, value) < 0 ? -ENOMEM : 0;
    free(fixed);
    return r;
}

int
btc_json_set_str(json_t *obj, const char *key, const char *s)
{
    return btc_json_set(obj, key, btc_json_str(s));
}

int
btc_json_set_int(json_t *obj, const char *key, long long v)
{
    return btc_json_set(obj, key, json_integer(v));
}

int
btc_json_set_hex(json_t *obj, const char *key, uint64_t v)
{
    return btc_json_set(obj, key, btc_json_hex(v));
}

int
btc_json_set_bool(json_t *obj, const char *key, bool v)
{
    return btc_json_set(obj, key, json_boolean(v));
}

int
btc_json_append(json_t *arr, json_t *value)
{
    if (!value)
        return -ENOMEM;
    return json_array_append_new(arr, value) < 0 ? -ENOMEM : 0;
}
