/* report: the C API's report object (struct btcrash_report), the native
 * BacktraceReport: attributes, annotations, log lines, attachments, the
 * error, and a captured stack. libbtcrash-api.so; each function follows
 * the contract of its public counterpart in include/btcrash.h, and may be
 * called from any thread (one mutex per report). */
#ifndef BTCRASH_API_REPORT_H
#define BTCRASH_API_REPORT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "btcrash.h"
#include "capture.h"

enum btc_api_send_state {
    BTC_API_UNSENT,
    BTC_API_SENDING, /* a thread is in btcrash_report_send */
    BTC_API_SENT,    /* a helper was started for it */
};

struct btcrash_report {
    /* Guards every field below. Locked by the const getters too, hence
     * mutable in spirit: they cast the const away. */
    pthread_mutex_t lock;
    json_t *attributes;  /* object of flat primitives: the report's own */
    json_t *annotations; /* object of any JSON values */
    json_t *log;         /* array of {"ts": seconds, "msg": text} */
    json_t *error;       /* {"type", "classifier"?, "message"?} */
    char **attachments;  /* the paths, in order; NULL-terminated */
    size_t nattachments;
    struct btc_api_stack stack; /* empty until captured */
    enum btc_api_send_state state;
};

btcrash_report *btc_api_report_new(void);
void btc_api_report_free(btcrash_report *r);

int btc_api_report_set_attribute(btcrash_report *r, const char *key, const char *value);
int btc_api_report_set_attribute_int(btcrash_report *r, const char *key, long long value);
int btc_api_report_set_attribute_double(btcrash_report *r, const char *key, double value);
int btc_api_report_set_attribute_bool(btcrash_report *r, const char *key, int value);
int btc_api_report_set_dict_attributes(btcrash_report *r, const char *text);
char *btc_api_report_get_attributes(const btcrash_report *r);
int btc_api_report_set_annotation(btcrash_report *r, const char *key, const char *json_value);
int btc_api_report_set_dict_annotations(btcrash_report *r, const char *text);
int btc_api_report_add_attachment(btcrash_report *r, const char *path);
size_t btc_api_report_get_attachments(const btcrash_report *r, const char *const **paths);
int btc_api_report_set_error(btcrash_report *r, const char *type, const char *message);
int btc_api_report_capture_stack(btcrash_report *r);
int btc_api_report_logv(btcrash_report *r, const char *fmt, va_list ap);

/**
 * Set error.message alone, keeping error.type and the classifier
 * (send_last_exception: an "Exception" with a message). @message NULL
 * removes it.
 *
 * Returns: 0, -EINVAL (NULL @r), BTCRASH_EUTF8, -ENOMEM.
 */
int btc_api_report_set_message(btcrash_report *r, const char *message);

/**
 * The JSON object the helper reads on BTC_USERDATA_FD (its format is in
 * protocol/crash_record.h). The caller holds @r's lock.
 *
 * Returns: a new reference, or NULL when out of memory.
 */
json_t *btc_api_report_userdata(const btcrash_report *r);

#endif
