/* api_shim: the exported btcrash_* functions of include/btcrash.h. Each is a
 * thin forwarder into libbtcrash-api.so, which the first call loads from
 * this library's directory: the report object needs jansson, and nothing
 * but libc may be loaded into every process that inherits LD_PRELOAD
 * (DESIGN.md §1). Nothing here runs at start-up, and nothing here may be
 * called from a signal handler (dlopen, locks, malloc in the module).
 * btcrash_strerror and btcrash_version need no module. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <unistd.h>

#include "api_table.h"
#include "btcrash.h"
#include "crash.h"
#include "strbuf.h"
#include "sys.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
/* glibc's strerrordesc_np, looked up on first use: every import is bound at
 * load time (-z now) in every process that inherits LD_PRELOAD, and these
 * two are needed only when something has gone wrong. */
static const char *(*g_strerrordesc)(int);
static bool g_strerrordesc_tried;
/* Set at most once, inside pthread_once, which orders it before every
 * reader that passed the same pthread_once. NULL: the runtime is missing. */
static const struct btc_api_table *g_api;

static void
say_unavailable(const char *path, const char *why)
{
    char line[512];
    struct btc_strbuf b;

    btc_strbuf_init(&b, line, sizeof(line));
    btc_strbuf_puts(&b, "btcrash: the C API is unavailable: ");
    if (path) {
        btc_strbuf_put_printable(&b, path, 300);
        btc_strbuf_puts(&b, ": ");
    }
    btc_strbuf_put_printable(&b, why ? why : "unknown error", 300);
    btc_strbuf_finish_line(&b);
    /* Nothing useful can be done if stderr is gone. */
    (void)!btc_sys_write(STDERR_FILENO, b.buf, b.len);
}

static void
load_runtime(void)
{
    const struct btc_crash_plan *p = &btc_crash_plan;
    char path[BTC_PATH_MAX];
    struct btc_strbuf b;
    const struct btc_api_table *t;
    char *(*error)(void);
    void *h;

    /* No directory: the constructor left the library inert (setuid
     * program, the helper itself, no memory); so is the API, silently. */
    if (!p->lib_dir)
        return;
    btc_strbuf_init(&b, path, sizeof(path));
    btc_strbuf_putn(&b, p->lib_dir, p->lib_dir_len);
    btc_strbuf_puts(&b, "/" BTC_API_MODULE_NAME);
    if (b.overflow)
        return;
    /* dlerror, looked up rather than imported (see g_strerrordesc), and
     * before dlopen: a successful dlsym clears dlopen's error. */
    error = (char *(*)(void))dlsym(RTLD_DEFAULT, "dlerror");
    /* RTLD_LOCAL: the module's symbols (and jansson's) stay out of the
     * program's global scope. */
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        /* dlerror's text names the file itself. */
        const char *why = error ? error() : NULL;
        say_unavailable(why ? NULL : path, why);
        return;
    }
    t = dlsym(h, BTC_API_TABLE_SYMBOL);
    if (!t || t->abi != BTC_API_ABI || t->size != sizeof(*t)) {
        /* Kept loaded: unloading a library whose constructors ran buys
         * nothing in a process that will not try again. */
        say_unavailable(path, "not the runtime of this libbtcrash.so (another build?)");
        return;
    }
    if (t->attach(&btc_crash_plan) < 0) {
        say_unavailable(path, "could not attach to libbtcrash.so");
        return;
    }
    g_api = t;
}

/* The runtime's table, loading it on first use; NULL when it is missing. */
static const struct btc_api_table *
api(void)
{
    pthread_once(&g_once, load_runtime);
    return g_api;
}

int
btcrash_initialize(const btcrash_options *opts)
{
    const struct btc_api_table *t = api();

    return t ? t->initialize(opts) : BTCRASH_ERUNTIME;
}

btcrash_report *
btcrash_report_new(void)
{
    const struct btc_api_table *t = api();

    return t ? t->report_new() : NULL;
}

int
btcrash_report_set_attribute(btcrash_report *r, const char *key, const char *value)
{
    const struct btc_api_table *t = api();

    return t ? t->set_attribute(r, key, value) : BTCRASH_ERUNTIME;
}

int
btcrash_report_set_attribute_int(btcrash_report *r, const char *key, long long value)
{
    const struct btc_api_table *t = api();

    return t ? t->set_attribute_int(r, key, value) : BTCRASH_ERUNTIME;
}

int
btcrash_report_set_attribute_double(btcrash_report *r, const char *key, double value)
{
    const struct btc_api_table *t = api();

    return t ? t->set_attribute_double(r, key, value) : BTCRASH_ERUNTIME;
}

int
btcrash_report_set_attribute_bool(btcrash_report *r, const char *key, int value)
{
    const struct btc_api_table *t = api();

    return t ? t->set_attribute_bool(r, key, value) : BTCRASH_ERUNTIME;
}

int
btcrash_report_set_dict_attributes(btcrash_report *r, const char *json_object)
{
    const struct btc_api_table *t = api();

    return t ? t->set_dict_attributes(r, json_object) : BTCRASH_ERUNTIME;
}

char *
btcrash_report_get_attributes(const btcrash_report *r)
{
    const struct btc_api_table *t = api();

    return t ? t->get_attributes(r) : NULL;
}

int
btcrash_report_set_annotation(btcrash_report *r, const char *key, const char *json_value)
{
    const struct btc_api_table *t = api();

    return t ? t->set_annotation(r, key, json_value) : BTCRASH_ERUNTIME;
}

int
btcrash_report_set_dict_annotations(btcrash_report *r, const char *json_object)
{
    const struct btc_api_table *t = api();

    return t ? t->set_dict_annotations(r, json_object) : BTCRASH_ERUNTIME;
}

int
btcrash_report_add_attachment(btcrash_report *r, const char *path)
{
    const struct btc_api_table *t = api();

    return t ? t->add_attachment(r, path) : BTCRASH_ERUNTIME;
}

size_t
btcrash_report_get_attachments(const btcrash_report *r, const char *const **paths)
{
    const struct btc_api_table *t = api();

    if (t)
        return t->get_attachments(r, paths);
    if (paths)
        *paths = NULL;
    return 0;
}

int
btcrash_report_set_error(btcrash_report *r, const char *type, const char *message)
{
    const struct btc_api_table *t = api();

    return t ? t->set_error(r, type, message) : BTCRASH_ERUNTIME;
}

/* The stack is recorded inside the module; this frame (if the compiler
 * keeps one: it is usually a tail call) is in libbtcrash.so, and the helper
 * drops it with the module's. */
int
btcrash_report_capture_stack(btcrash_report *r)
{
    const struct btc_api_table *t = api();

    return t ? t->capture_stack(r) : BTCRASH_ERUNTIME;
}

int
btcrash_report_log(btcrash_report *r, const char *fmt, ...)
{
    const struct btc_api_table *t = api();
    va_list ap;
    int ret;

    if (!t)
        return BTCRASH_ERUNTIME;
    va_start(ap, fmt);
    ret = t->logv(r, fmt, ap);
    va_end(ap);
    return ret;
}

int
btcrash_report_send(btcrash_report *r)
{
    const struct btc_api_table *t = api();

    return t ? t->send(r) : BTCRASH_ERUNTIME;
}

void
btcrash_report_free(btcrash_report *r)
{
    const struct btc_api_table *t;

    /* A report exists only if the runtime loaded; NULL needs no loading. */
    if (!r)
        return;
    t = api();
    if (t)
        t->report_free(r);
}

int
btcrash_send_last_exception(const char *message, const char *attributes_json,
                            const char *annotations_json)
{
    const struct btc_api_table *t = api();

    return t ? t->send_last_exception(message, attributes_json, annotations_json)
             : BTCRASH_ERUNTIME;
}

/* Here, not in the module: it must explain BTCRASH_ERUNTIME too. */
const char *
btcrash_strerror(int err)
{
    const char *desc;

    switch (err) {
    case BTCRASH_SENT:
        return "success (for a send: the server accepted the report)";
    case BTCRASH_PENDING:
        return "the report is stored but not accepted yet; `btcrash flush` or the next crash "
               "sends it";
    case BTCRASH_STORED:
        return "the report is stored (local mode: no BACKTRACE_ENDPOINT)";
    case BTCRASH_EREJECTED:
        return "the server rejected the report (HTTP 4xx); it is kept and not retried";
    case BTCRASH_EHELPER:
        return "the btcrash helper is missing or failed";
    case BTCRASH_ERUNTIME:
        return "libbtcrash-api.so or libjansson could not be loaded";
    case BTCRASH_ENOTPRIMITIVE:
        return "an attribute value is an object, array or null, not a string, number or boolean";
    case BTCRASH_EUTF8:
        return "a string is not valid UTF-8";
    /* errno values with the meaning the API gives them. */
    case -EINVAL:
        return "invalid argument (NULL, empty, invalid JSON or a value that cannot be parsed)";
    case -ENOMEM:
        return "out of memory";
    case -EALREADY:
        return "the report was sent already";
    case -ETIMEDOUT:
        return "the helper did not finish within BACKTRACE_TIMEOUT; the report may still have "
               "been stored";
    }
    /* Any other errno: glibc's text, a static string (unlike strerror's
     * for unknown values). Racing first calls look it up twice, alike. */
    if (err < 0 && err > -4096) {
        if (!__atomic_load_n(&g_strerrordesc_tried, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&g_strerrordesc,
                             (const char *(*)(int))dlsym(RTLD_DEFAULT, "strerrordesc_np"),
                             __ATOMIC_RELAXED);
            __atomic_store_n(&g_strerrordesc_tried, true, __ATOMIC_RELEASE);
        }
        const char *(*describe)(int) = __atomic_load_n(&g_strerrordesc, __ATOMIC_RELAXED);
        if (describe && (desc = describe(-err)) != NULL)
            return desc;
    }
    return "unknown btcrash error code";
}
