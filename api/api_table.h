/* api_table: the interface between libbtcrash.so's exported btcrash_*
 * shims (preload/api_shim.c) and libbtcrash-api.so, which implements them.
 * The shim dlopens the module on the first API call and looks up the one
 * symbol BTC_API_TABLE_SYMBOL; everything else in the module is hidden, so
 * it never clashes with libbtcrash.so's btcrash_* exports. Both libraries
 * are built from the same tree: abi and size only catch a module from
 * another build installed next to the library. */
#ifndef BTCRASH_API_TABLE_H
#define BTCRASH_API_TABLE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "btcrash.h"

struct btc_crash_plan;

#define BTC_API_MODULE_NAME  "libbtcrash-api.so"
#define BTC_API_TABLE_SYMBOL "btc_api_table"
#define BTC_API_ABI          1u

/* One entry per public function, with the public function's contract
 * (include/btcrash.h), except where noted. */
struct btc_api_table {
    uint32_t abi;  /* BTC_API_ABI */
    uint32_t size; /* sizeof(struct btc_api_table) */

    /* Called once, by the shim, before any other entry: @plan is
     * libbtcrash.so's crash plan, which the module reads (helper paths,
     * environment, timeout) and btcrash_initialize publishes into. It is
     * borrowed for the process lifetime. Returns 0 or -errno. */
    int (*attach)(struct btc_crash_plan *plan);

    int (*initialize)(const btcrash_options *opts);
    btcrash_report *(*report_new)(void);
    int (*set_attribute)(btcrash_report *r, const char *key, const char *value);
    int (*set_attribute_int)(btcrash_report *r, const char *key, long long value);
    int (*set_attribute_double)(btcrash_report *r, const char *key, double value);
    int (*set_attribute_bool)(btcrash_report *r, const char *key, int value);
    int (*set_dict_attributes)(btcrash_report *r, const char *json_object);
    char *(*get_attributes)(const btcrash_report *r);
    int (*set_annotation)(btcrash_report *r, const char *key, const char *json_value);
    int (*set_dict_annotations)(btcrash_report *r, const char *json_object);
    int (*add_attachment)(btcrash_report *r, const char *path);
    size_t (*get_attachments)(const btcrash_report *r, const char *const **paths);
    int (*set_error)(btcrash_report *r, const char *type, const char *message);
    /* The caller's stack is recorded from inside this entry; the helper
     * drops the frames of both libraries. */
    int (*capture_stack)(btcrash_report *r);
    /* btcrash_report_log with the arguments as a va_list. */
    int (*logv)(btcrash_report *r, const char *fmt, va_list ap);
    int (*send)(btcrash_report *r);
    void (*report_free)(btcrash_report *r);
    int (*send_last_exception)(const char *message, const char *attributes_json,
                               const char *annotations_json);
};

/* The module's one export (api/table.c). */
extern const struct btc_api_table btc_api_table;

#endif
