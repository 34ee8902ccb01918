/* attrs: attribute flattening. Backtrace indexes attributes as flat
 * name/primitive pairs, so nesting is expressed with dots, as
 * backtrace-python's set_dict_attributes does. */
#include "attrs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "strbuf.h"

/* Long enough for a useful key or value, short enough for one line. */
#define WARN_VALUE_MAX 160

/* Everything quoted from the user (keys, the variable's value, jansson's
 * excerpt of it) goes through put_printable, so it cannot forge terminal
 * escapes or extra lines. */
static void
warn_refused(btc_cfg_warn_fn warn, void *warn_ctx, const char *origin, const char *name,
             const char *type)
{
    char line[512];
    struct btc_strbuf sb;

    if (!warn)
        return;
    btc_strbuf_init(&sb, line, sizeof(line));
    btc_strbuf_puts(&sb, "btcrash: ignoring attribute '");
    btc_strbuf_put_printable(&sb, name, WARN_VALUE_MAX);
    btc_strbuf_puts(&sb, "'");
    if (origin) {
        btc_strbuf_puts(&sb, " in ");
        btc_strbuf_puts(&sb, origin);
    }
    btc_strbuf_puts(&sb, ": ");
    btc_strbuf_puts(&sb, type);
    btc_strbuf_puts(&sb, " is not a string, number or boolean");
    btc_strbuf_finish_line(&sb);
    warn(line, sb.len, warn_ctx);
}

static void
warn_invalid(btc_cfg_warn_fn warn, void *warn_ctx, const char *text, const json_error_t *err)
{
    char line[512];
    struct btc_strbuf sb;

    if (!warn)
        return;
    btc_strbuf_init(&sb, line, sizeof(line));
    btc_strbuf_puts(&sb, "btcrash: ignoring BACKTRACE_ATTRIBUTES='");
    btc_strbuf_put_printable(&sb, text, WARN_VALUE_MAX);
    if (err) {
        btc_strbuf_puts(&sb, "': invalid JSON (");
        btc_strbuf_put_printable(&sb, err->text, 100);
        btc_strbuf_puts(&sb, " at line ");
        btc_strbuf_put_i64(&sb, err->line);
        btc_strbuf_puts(&sb, ", column ");
        btc_strbuf_put_i64(&sb, err->column);
        btc_strbuf_puts(&sb, ")");
    } else {
        btc_strbuf_puts(&sb, "': not a JSON object");
    }
    btc_strbuf_puts(&sb, "; sending no user attributes");
    btc_strbuf_finish_line(&sb);
    warn(line, sb.len, warn_ctx);
}

static const char *
type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_ARRAY:
        return "an array";
    case JSON_NULL:
        return "null";
    case JSON_OBJECT:
        return "an object";
    default:
        return "a value of unknown type";
    }
}

static int
flatten(json_t *dst, json_t *src, const char *prefix, const char *origin, btc_cfg_warn_fn warn,
        void *warn_ctx)
{
    const char *key;
    json_t *value;
    int refused = 0;

    json_object_foreach(src, key, value)
    {
        size_t plen = strlen(prefix);
        char *name;
        int r;

        if (plen && asprintf(&name, "%s.%s", prefix, key) < 0)
            return -ENOMEM;
        if (!plen && !(name = strdup(key)))
            return -ENOMEM;

        switch (json_typeof(value)) {
        case JSON_OBJECT:
            r = flatten(dst, value, name, origin, warn, warn_ctx);
            break;
        case JSON_STRING:
            r = btc_json_set(dst, name,
                             btc_json_strn(json_string_value(value), json_string_length(value)));
            break;
        case JSON_INTEGER:
        case JSON_REAL:
        case JSON_TRUE:
        case JSON_FALSE:
            r = btc_json_set(dst, name, json_incref(value));
            break;
        default:
            warn_refused(warn, warn_ctx, origin, name, type_name(value));
            r = 1;
            break;
        }
        free(name);
        if (r < 0)
            return r;
        refused += r;
    }
    return refused;
}

int
btc_attrs_flatten(json_t *dst, json_t *src, const char *origin, btc_cfg_warn_fn warn,
                  void *warn_ctx)
{
    if (!json_is_object(dst) || !json_is_object(src))
        return -EINVAL;
    return flatten(dst, src, "", origin, warn, warn_ctx);
}

int
btc_attrs_from_text(json_t *dst, const char *text, btc_cfg_warn_fn warn, void *warn_ctx)
{
    json_error_t err;
    json_t *root;
    int r;

    if (!text || !*text)
        return 0;
    /* JSON_REJECT_DUPLICATES: a repeated key is almost always a mistake in a
     * hand-written variable, better reported than silently resolved. */
    root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!root || !json_is_object(root)) {
        warn_invalid(warn, warn_ctx, text, root ? NULL : &err);
        json_decref(root);
        return -EINVAL;
    }
    r = flatten(dst, root, "", "BACKTRACE_ATTRIBUTES", warn, warn_ctx);
    json_decref(root);
    return r;
}
