/* report: see report.h. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attrs.h"
#include "options.h"
#include "utf8.h"

/* The getters take a const report but lock it: the lock is the one field
 * that is not part of the report's value. */
static pthread_mutex_t *
lock_of(const btcrash_report *r)
{
    return (pthread_mutex_t *)&r->lock;
}

static bool
is_utf8(const char *s)
{
    return btc_utf8_is_valid(s, strlen(s));
}

btcrash_report *
btc_api_report_new(void)
{
    btcrash_report *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return NULL;
    }
    r->attributes = json_object();
    r->annotations = json_object();
    r->log = json_array();
    /* As backtracepython: a report is an "Exception" until set_error says
     * otherwise. */
    r->error = json_pack("{s:s}", "type", "Exception");
    if (!r->attributes || !r->annotations || !r->log || !r->error)
        goto fail;
    return r;
fail:
    btc_api_report_free(r);
    return NULL;
}

void
btc_api_report_free(btcrash_report *r)
{
    if (!r)
        return;
    json_decref(r->attributes);
    json_decref(r->annotations);
    json_decref(r->log);
    json_decref(r->error);
    for (size_t i = 0; i < r->nattachments; i++)
        free(r->attachments[i]);
    free(r->attachments);
    btc_api_stack_clear(&r->stack);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* Set one attribute; steals @value (NULL: out of memory). */
static int
set_attribute(btcrash_report *r, const char *key, json_t *value)
{
    int ret;

    if (!r || !key || !*key) {
        json_decref(value);
        return -EINVAL;
    }
    if (!is_utf8(key)) {
        json_decref(value);
        return BTCRASH_EUTF8;
    }
    if (!value)
        return -ENOMEM;
    pthread_mutex_lock(&r->lock);
    ret = json_object_set_new_nocheck(r->attributes, key, value) < 0 ? -ENOMEM : 0;
    pthread_mutex_unlock(&r->lock);
    return ret;
}

int
btc_api_report_set_attribute(btcrash_report *r, const char *key, const char *value)
{
    if (!value)
        return -EINVAL;
    if (!is_utf8(value))
        return BTCRASH_EUTF8;
    return set_attribute(r, key, json_string_nocheck(value));
}

int
btc_api_report_set_attribute_int(btcrash_report *r, const char *key, long long value)
{
    return set_attribute(r, key, json_integer(value));
}

int
btc_api_report_set_attribute_double(btcrash_report *r, const char *key, double value)
{
    /* JSON has no NaN or infinity. */
    if (!isfinite(value))
        return -EINVAL;
    return set_attribute(r, key, json_real(value));
}

int
btc_api_report_set_attribute_bool(btcrash_report *r, const char *key, int value)
{
    return set_attribute(r, key, json_boolean(value != 0));
}

/* Parse @text as a JSON object. jansson refuses invalid UTF-8, so every
 * string of a parsed document is valid. */
static int
parse_object(const char *text, json_t **ret_obj)
{
    json_t *obj = json_loads(text, 0, NULL);

    if (!json_is_object(obj)) {
        json_decref(obj);
        return -EINVAL;
    }
    *ret_obj = obj;
    return 0;
}

int
btc_api_report_set_dict_attributes(btcrash_report *r, const char *text)
{
    json_t *src = NULL, *flat = NULL;
    int ret;

    if (!r || !text)
        return -EINVAL;
    ret = parse_object(text, &src);
    if (ret < 0)
        return ret;
    /* Flattened aside first, so that a refused value leaves the report as
     * it was. */
    flat = json_object();
    if (!flat) {
        ret = -ENOMEM;
        goto out;
    }
    ret = btc_attrs_flatten(flat, src, NULL, NULL, NULL);
    if (ret < 0)
        goto out;
    if (ret > 0) {
        ret = BTCRASH_ENOTPRIMITIVE;
        goto out;
    }
    pthread_mutex_lock(&r->lock);
    ret = json_object_update(r->attributes, flat) < 0 ? -ENOMEM : 0;
    pthread_mutex_unlock(&r->lock);
out:
    json_decref(flat);
    json_decref(src);
    return ret;
}

char *
btc_api_report_get_attributes(const btcrash_report *r)
{
    json_t *all;
    char *text = NULL;

    if (!r)
        return NULL;
    all = btc_api_options_attributes();
    if (!all)
        return NULL;
    pthread_mutex_lock(lock_of(r));
    if (json_object_update(all, r->attributes) == 0)
        text = json_dumps(all, JSON_COMPACT);
    pthread_mutex_unlock(lock_of(r));
    json_decref(all);
    return text;
}

int
btc_api_report_set_annotation(btcrash_report *r, const char *key, const char *json_value)
{
    json_t *value;
    int ret;

    if (!r || !key || !*key || !json_value)
        return -EINVAL;
    if (!is_utf8(key))
        return BTCRASH_EUTF8;
    value = json_loads(json_value, JSON_DECODE_ANY, NULL);
    if (!value)
        return -EINVAL;
    pthread_mutex_lock(&r->lock);
    ret = json_object_set_new_nocheck(r->annotations, key, value) < 0 ? -ENOMEM : 0;
    pthread_mutex_unlock(&r->lock);
    return ret;
}

int
btc_api_report_set_dict_annotations(btcrash_report *r, const char *text)
{
    json_t *src;
    int ret;

    if (!r || !text)
        return -EINVAL;
    ret = parse_object(text, &src);
    if (ret < 0)
        return ret;
    pthread_mutex_lock(&r->lock);
    ret = json_object_update(r->annotations, src) < 0 ? -ENOMEM : 0;
    pthread_mutex_unlock(&r->lock);
    json_decref(src);
    return ret;
}

int
btc_api_report_add_attachment(btcrash_report *r, const char *path)
{
    char **grown, *copy;

    if (!r || !path || !*path)
        return -EINVAL;
    /* The path travels to the helper in JSON, which holds only UTF-8. */
    if (!is_utf8(path))
        return BTCRASH_EUTF8;
    copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    pthread_mutex_lock(&r->lock);
    /* One more slot for the NULL that ends the array. */
    grown = realloc(r->attachments, (r->nattachments + 2) * sizeof(*grown));
    if (!grown) {
        pthread_mutex_unlock(&r->lock);
        free(copy);
        return -ENOMEM;
    }
    grown[r->nattachments++] = copy;
    grown[r->nattachments] = NULL;
    r->attachments = grown;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

size_t
btc_api_report_get_attachments(const btcrash_report *r, const char *const **paths)
{
    size_t n;

    if (!r) {
        if (paths)
            *paths = NULL;
        return 0;
    }
    pthread_mutex_lock(lock_of(r));
    n = r->nattachments;
    if (paths)
        *paths = (const char *const *)r->attachments;
    pthread_mutex_unlock(lock_of(r));
    return n;
}

/* Set or remove @obj[@key]; @s must be valid UTF-8. */
static int
set_or_remove(json_t *obj, const char *key, const char *s)
{
    if (!s) {
        json_object_del(obj, key);
        return 0;
    }
    return json_object_set_new_nocheck(obj, key, json_string_nocheck(s)) < 0 ? -ENOMEM : 0;
}

int
btc_api_report_set_error(btcrash_report *r, const char *type, const char *message)
{
    json_t *error;
    int ret;

    if (!r || (!type && !message))
        return -EINVAL;
    if ((type && !is_utf8(type)) || (message && !is_utf8(message)))
        return BTCRASH_EUTF8;
    /* Built aside, then swapped in: a failure leaves the old error. */
    error = json_pack("{s:s}", "type", type ? "Exception" : "Message");
    if (!error)
        return -ENOMEM;
    ret = set_or_remove(error, "classifier", type);
    if (ret == 0)
        ret = set_or_remove(error, "message", message);
    if (ret < 0) {
        json_decref(error);
        return ret;
    }
    pthread_mutex_lock(&r->lock);
    json_decref(r->error);
    r->error = error;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

int
btc_api_report_set_message(btcrash_report *r, const char *message)
{
    int ret;

    if (!r)
        return -EINVAL;
    if (message && !is_utf8(message))
        return BTCRASH_EUTF8;
    pthread_mutex_lock(&r->lock);
    ret = set_or_remove(r->error, "message", message);
    pthread_mutex_unlock(&r->lock);
    return ret;
}

/* noinline, and not a tail call (the result is used after the capture):
 * the helper drops this frame with btc_api_capture's. */
__attribute__((noinline)) int
btc_api_report_capture_stack(btcrash_report *r)
{
    struct btc_api_stack stack;
    int ret;

    if (!r)
        return -EINVAL;
    ret = btc_api_capture(&stack);
    if (ret < 0)
        return ret;
    pthread_mutex_lock(&r->lock);
    btc_api_stack_clear(&r->stack);
    r->stack = stack;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

/* Seconds since the epoch with a fraction, like Python's time.time(),
 * which backtracepython's report.log stores. */
static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
btc_api_report_logv(btcrash_report *r, const char *fmt, va_list ap)
{
    json_t *line;
    char *msg;
    int ret;

    if (!r || !fmt)
        return -EINVAL;
    if (vasprintf(&msg, fmt, ap) < 0)
        return -ENOMEM;
    if (!is_utf8(msg)) {
        free(msg);
        return BTCRASH_EUTF8;
    }
    line = json_pack("{s:f,s:s}", "ts", now_seconds(), "msg", msg);
    free(msg);
    if (!line)
        return -ENOMEM;
    pthread_mutex_lock(&r->lock);
    ret = json_array_append_new(r->log, line) < 0 ? -ENOMEM : 0;
    pthread_mutex_unlock(&r->lock);
    return ret;
}

json_t *
btc_api_report_userdata(const btcrash_report *r)
{
    json_t *files = json_array();

    if (!files)
        return NULL;
    for (size_t i = 0; i < r->nattachments; i++) {
        if (json_array_append_new(files, json_string_nocheck(r->attachments[i])) < 0) {
            json_decref(files);
            return NULL;
        }
    }
    /* "O": new references to the report's own objects; "o" steals files. */
    return json_pack("{s:O,s:O,s:O,s:o,s:O}", "attributes", r->attributes, "annotations",
                     r->annotations, "log", r->log, "attachments", files, "error", r->error);
}
