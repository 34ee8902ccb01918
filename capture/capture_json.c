/* capture_json: a capture written out as JSON and read back (capture.h).
 * Strings are repaired to UTF-8 on the way out, as everywhere in a report;
 * numbers that need 64 bits are hex strings. The record's header travels
 * as hex bytes: both ends are built from one crash_record.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "json_util.h"
#include "hex.h"

#define CAPTURE_FORMAT 1

static json_t *
bytes_hex(const void *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    json_t *j;

    if (!s)
        return NULL;
    btc_hex_encode(p, n, s);
    j = json_string(s);
    free(s);
    return j;
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int
hex_bytes(json_t *j, void *p, size_t n)
{
    const char *s = json_string_value(j);
    unsigned char *b = p;

    if (!s || strlen(s) != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int
set_opt_str(json_t *o, const char *key, const char *s)
{
    return s ? btc_json_set_str(o, key, s) : 0;
}

static json_t *
thread_to_json(const struct btc_raw_thread *t)
{
    json_t *o = json_object(), *frames = json_array();

    if (!o || !frames)
        goto fail;
    for (size_t i = 0; i < t->nframes; i++) {
        json_t *f = json_pack("[o,b,b]", btc_json_hex(t->frames[i].pc), t->frames[i].activation,
                              t->frames[i].guessed);

        if (btc_json_append(frames, f) < 0)
            goto fail;
    }
    if (btc_json_set_int(o, "tid", t->tid) < 0 || set_opt_str(o, "name", t->name) < 0 ||
        btc_json_set_bool(o, "fault", t->fault) < 0 ||
        btc_json_set_bool(o, "truncated", t->truncated) < 0 ||
        set_opt_str(o, "error", t->error) < 0 ||
        (t->omitted > 0 && (btc_json_set_int(o, "omitted", (long long)t->omitted) < 0 ||
                            btc_json_set_int(o, "omitted_at", (long long)t->omitted_at) < 0)) ||
        btc_json_set(o, "frames", frames) < 0) {
        frames = NULL;
        goto fail;
    }
    return o;
fail:
    json_decref(frames);
    json_decref(o);
    return NULL;
}

static json_t *
module_to_json(const struct btc_module *m)
{
    json_t *o = json_object();

    if (!o || btc_json_set_hex(o, "start", m->start) < 0 ||
        btc_json_set_hex(o, "size", m->size) < 0 || set_opt_str(o, "path", m->path) < 0 ||
        set_opt_str(o, "build_id", m->build_id) < 0 ||
        set_opt_str(o, "debug_file", m->debug_file) < 0 ||
        btc_json_set_bool(o, "debug_file_exists", m->debug_file_exists) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
btc_capture_to_json(const struct btc_capture *c)
{
    json_t *o = json_object(), *threads = json_array(), *modules = json_array();

    if (!o || !threads || !modules)
        goto fail;
    for (size_t i = 0; i < c->nthreads; i++)
        if (btc_json_append(threads, thread_to_json(&c->threads[i])) < 0)
            goto fail;
    for (size_t i = 0; i < c->nmodules; i++)
        if (btc_json_append(modules, module_to_json(&c->modules[i])) < 0)
            goto fail;
    if (btc_json_set_int(o, "format", CAPTURE_FORMAT) < 0 ||
        btc_json_set(o, "record", bytes_hex(&c->rec, sizeof(c->rec))) < 0 ||
        btc_json_set_str(o, "uuid", c->uuid) < 0 ||
        btc_json_set_bool(o, "ptrace_ok", c->ptrace_ok) < 0 ||
        set_opt_str(o, "ptrace_error", c->ptrace_error) < 0 ||
        set_opt_str(o, "exe_path", c->exe_path) < 0 ||
        set_opt_str(o, "lang_version", c->lang_version) < 0 ||
        btc_json_set_int(o, "fault_thread", (long long)c->fault_thread) < 0 ||
        (c->maps && btc_json_set(o, "maps", btc_json_strn(c->maps, c->maps_len)) < 0) ||
        set_opt_str(o, "abort_message", c->abort_message) < 0 ||
        set_opt_str(o, "cxx_type", c->cxx_type) < 0 ||
        set_opt_str(o, "cxx_what", c->cxx_what) < 0 ||
        btc_json_set(o, "facts", json_incref(c->facts)) < 0)
        goto fail;
    if (btc_json_set(o, "threads", threads) < 0) {
        threads = NULL;
        goto fail;
    }
    if (btc_json_set(o, "modules", modules) < 0) {
        modules = NULL;
        goto fail;
    }
    return o;
fail:
    json_decref(threads);
    json_decref(modules);
    json_decref(o);
    return NULL;
}

/* A copy of the string member @key of @o into *@ret; absent is NULL. */
static int
get_str(json_t *o, const char *key, char **ret)
{
    json_t *v = json_object_get(o, key);

    *ret = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v))
        return -EINVAL;
    *ret = strndup(json_string_value(v), json_string_length(v));
    return *ret ? 0 : -ENOMEM;
}

static int
get_hex(json_t *v, uint64_t *ret)
{
    const char *s = json_string_value(v);
    char *end;

    if (!s || strncmp(s, "0x", 2) != 0)
        return -EINVAL;
    errno = 0;
    *ret = strtoull(s + 2, &end, 16);
    return errno || *end || end == s + 2 ? -EINVAL : 0;
}

static int
thread_from_json(json_t *o, struct btc_raw_thread *t)
{
    json_t *frames = json_object_get(o, "frames"), *f, *v;
    size_t i;
    int r;

    if (!json_is_integer(json_object_get(o, "tid")) || !json_is_array(frames))
        return -EINVAL;
    t->tid = (int)json_integer_value(json_object_get(o, "tid"));
    t->fault = json_is_true(json_object_get(o, "fault"));
    t->truncated = json_is_true(json_object_get(o, "truncated"));
    if ((r = get_str(o, "name", &t->name)) < 0 || (r = get_str(o, "error", &t->error)) < 0)
        return r;
    t->frames = calloc(json_array_size(frames) + 1, sizeof(*t->frames));
    if (!t->frames)
        return -ENOMEM;
    json_array_foreach(frames, i, f)
    {
        if (!json_is_array(f) || get_hex(json_array_get(f, 0), &t->frames[i].pc) < 0 ||
            !json_is_boolean(json_array_get(f, 1)))
            return -EINVAL;
        t->frames[i].activation = json_is_true(json_array_get(f, 1));
        t->frames[i].guessed = json_is_true(json_array_get(f, 2));
        t->nframes = i + 1;
    }
    /* Frames left out lie between two kept ones. */
    v = json_object_get(o, "omitted");
    if (v) {
        json_t *at = json_object_get(o, "omitted_at");

        if (!json_is_integer(v) || !json_is_integer(at) || json_integer_value(v) <= 0 ||
            json_integer_value(at) <= 0 || (size_t)json_integer_value(at) >= t->nframes)
            return -EINVAL;
        t->omitted = (size_t)json_integer_value(v);
        t->omitted_at = (size_t)json_integer_value(at);
    }
    return 0;
}

static int
module_from_json(json_t *o, struct btc_module *m)
{
    int r;

    if (get_hex(json_object_get(o, "start"), &m->start) < 0 ||
        get_hex(json_object_get(o, "size"), &m->size) < 0)
        return -EINVAL;
    m->debug_file_exists = json_is_true(json_object_get(o, "debug_file_exists"));
    if ((r = get_str(o, "path", &m->path)) < 0 || (r = get_str(o, "build_id", &m->build_id)) < 0 ||
        (r = get_str(o, "debug_file", &m->debug_file)) < 0)
        return r;
    return m->path ? 0 : -EINVAL;
}

int
btc_capture_from_json(json_t *j, struct btc_capture **ret)
{
    json_t *threads = json_object_get(j, "threads"), *modules = json_object_get(j, "modules"), *v;
    const char *uuid = json_string_value(json_object_get(j, "uuid"));
    struct btc_capture *c;
    size_t i;
    int r = -EINVAL;

    if (json_integer_value(json_object_get(j, "format")) != CAPTURE_FORMAT ||
        !json_is_array(threads) || !json_is_array(modules) || !uuid ||
        strlen(uuid) >= sizeof(c->uuid) || !json_is_object(json_object_get(j, "facts")))
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    if (hex_bytes(json_object_get(j, "record"), &c->rec, sizeof(c->rec)) < 0)
        goto fail;
    memcpy(c->uuid, uuid, strlen(uuid) + 1);
    c->ptrace_ok = json_is_true(json_object_get(j, "ptrace_ok"));
    c->fault_thread = (size_t)json_integer_value(json_object_get(j, "fault_thread"));
    c->facts = json_incref(json_object_get(j, "facts"));
    if ((r = get_str(j, "ptrace_error", &c->ptrace_error)) < 0 ||
        (r = get_str(j, "exe_path", &c->exe_path)) < 0 ||
        (r = get_str(j, "lang_version", &c->lang_version)) < 0 ||
        (r = get_str(j, "maps", &c->maps)) < 0 ||
        (r = get_str(j, "abort_message", &c->abort_message)) < 0 ||
        (r = get_str(j, "cxx_type", &c->cxx_type)) < 0 ||
        (r = get_str(j, "cxx_what", &c->cxx_what)) < 0)
        goto fail;
    c->maps_len = c->maps ? strlen(c->maps) : 0;
    r = -ENOMEM;
    c->threads = calloc(json_array_size(threads) + 1, sizeof(*c->threads));
    c->modules = calloc(json_array_size(modules) + 1, sizeof(*c->modules));
    if (!c->threads || !c->modules)
        goto fail;
    json_array_foreach(threads, i, v)
    {
        c->nthreads = i + 1;
        if ((r = thread_from_json(v, &c->threads[i])) < 0)
            goto fail;
    }
    json_array_foreach(modules, i, v)
    {
        c->nmodules = i + 1;
        if ((r = module_from_json(v, &c->modules[i])) < 0)
            goto fail;
    }
    r = -EINVAL;
    if (c->fault_thread >= c->nthreads)
        goto fail;
    *ret = c;
    return 0;
fail:
    btc_capture_free(c);
    return r;
}
