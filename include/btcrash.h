/* btcrash: crash reporting for native Linux programs.
 *
 * Preloading libbtcrash.so (LD_PRELOAD) is the whole integration for crash
 * reports; see README.md. This header is the library's public C API, the
 * native counterpart of backtracepython's BacktraceReport and
 * send_last_exception: reports of handled errors, with their own
 * attributes, annotations, log lines, attachments and the stack where the
 * error was detected, stored and delivered exactly like crash reports.
 *
 * Use it linked (`pkg-config --cflags --libs btcrash`), or unlinked under
 * LD_PRELOAD: define BTCRASH_WEAK before including this header and every
 * function is declared weak, so the program also runs without btcrash, where
 * each function's address is NULL (test `if (btcrash_report_new)`).
 *
 * Threads: every function may be called from any thread at any time, also
 * on the same report from several threads. No function may be called from a
 * signal handler: they allocate, lock and start a process.
 *
 * Processes: sending starts the btcrash helper as a child process and reaps
 * it before returning, so the program gets a SIGCHLD for it; a SIGCHLD
 * handler that reaps every child (waitpid(-1, ...)) is harmless, the send
 * then just cannot see the helper's exit status.
 *
 * Errors: functions returning int return 0 (or a documented non-negative
 * value) on success and a negative value on failure: a negated errno
 * (-EINVAL for a NULL argument or invalid JSON, -ENOMEM, -ENOENT, ...) or
 * one of the BTCRASH_E* codes below. btcrash_strerror() explains any of
 * them. Codes are never renumbered or reused. Every int function returns
 * BTCRASH_ERUNTIME when libbtcrash-api.so cannot be loaded (one line on
 * stderr says why, once); btcrash_strerror and btcrash_version work
 * without it.
 *
 * Memory: strings passed in are copied; nothing passed in is kept. Strings
 * returned are either static (btcrash_strerror, btcrash_version) or owned by
 * the caller, as each function says.
 *
 * Heavy work (JSON, unwinding, HTTP) is not done in the library itself: the
 * first API call loads libbtcrash-api.so from the library's directory, and
 * sending runs the btcrash helper, as for a crash. Programs that never call
 * the API pay nothing for it. */
#ifndef BTCRASH_H
#define BTCRASH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(BTCRASH_BUILDING_LIBRARY)
#define BTCRASH_API __attribute__((visibility("default")))
#elif defined(BTCRASH_WEAK)
#define BTCRASH_API __attribute__((weak))
#else
#define BTCRASH_API
#endif

#if defined(__GNUC__)
#define BTCRASH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define BTCRASH_PRINTF(f, a)
#endif

/* Outcomes of btcrash_report_send and btcrash_send_last_exception. */
#define BTCRASH_SENT 0 /* the server accepted the report (HTTP 200) */
#define BTCRASH_PENDING                                                                            \
    1                    /* stored; not accepted yet: `btcrash flush` or the next crash sends it   \
                          */
#define BTCRASH_STORED 2 /* local mode (no BACKTRACE_ENDPOINT): stored only */

/* Error codes beyond errno values (negative, like them). */
#define BTCRASH_EREJECTED                                                                          \
    (-1001) /* the server refused the report (4xx); it is kept, not retried                        \
             */
#define BTCRASH_EHELPER       (-1002) /* the btcrash helper is missing or failed */
#define BTCRASH_ERUNTIME      (-1003) /* libbtcrash-api.so or libjansson could not be loaded */
#define BTCRASH_ENOTPRIMITIVE (-1004) /* an attribute value is an object, array or null */
#define BTCRASH_EUTF8         (-1005) /* a string is not valid UTF-8 */

/** Options of btcrash_initialize: the bt.initialize arguments. Every field
 * is a string in the syntax of its BACKTRACE_* variable (README); a NULL
 * field leaves that setting to the environment, then to the default.
 *
 * @size must be sizeof(btcrash_options) as the program was compiled: fields
 * are only ever appended, and the library reads only the fields a program
 * knows of, so programs built against an older header keep working. Start
 * from BTCRASH_OPTIONS_INIT, or set .size = sizeof(btcrash_options). */
typedef struct btcrash_options {
    size_t size;
    const char *endpoint;               /* BACKTRACE_ENDPOINT */
    const char *token;                  /* BACKTRACE_TOKEN */
    const char *attributes;             /* BACKTRACE_ATTRIBUTES: a JSON object */
    const char *attachments;            /* BACKTRACE_ATTACHMENTS: paths separated by ':' */
    const char *ignore_ssl_certificate; /* BACKTRACE_IGNORE_SSL_CERTIFICATE: "1", "false", ... */
    const char *timeout;                /* BACKTRACE_TIMEOUT: seconds, e.g. "2.5" */
    const char *debug_backtrace;        /* BACKTRACE_DEBUG_BACKTRACE */
    const char *context_line_count;     /* BACKTRACE_CONTEXT_LINE_COUNT */
    const char *tab_width;              /* BACKTRACE_TAB_WIDTH */
    const char *collect_source_code;    /* BACKTRACE_COLLECT_SOURCE_CODE */
    const char *database_path;          /* BACKTRACE_DATABASE_PATH */
} btcrash_options;

#define BTCRASH_OPTIONS_INIT                                                                       \
    {                                                                                              \
        .size = sizeof(btcrash_options)                                                            \
    }

/** A report under construction (BacktraceReport). Opaque. */
typedef struct btcrash_report btcrash_report;

/**
 * The library's version, e.g. "0.1.0".
 *
 * Returns: a static string; never NULL.
 */
BTCRASH_API const char *btcrash_version(void);

/**
 * Override the environment's configuration, field by field, for reports
 * sent from now on (API reports and crashes alike). May be called again;
 * each call starts again from the environment. @opts NULL: the environment
 * alone. An empty string unsets that variable, so its default applies (as
 * `BACKTRACE_X=` does). Checked as the environment is, but strictly: the
 * endpoint must be http:// or https://, the attributes a JSON object whose
 * values (flattened) are primitives, the database path absolute. It does
 * not install or remove crash handlers: that is decided at start-up by
 * BACKTRACE_DISABLE_GLOBAL_HANDLER.
 *
 * Memory: each call with options keeps a new copy of the helper's
 * environment (a few hundred bytes) for the rest of the process, because a
 * crash handler may be using the previous one at any moment.
 *
 * Returns: 0; -EINVAL when @opts->size is too small for any field (0: not
 *          set) or a field cannot be parsed (the message names it on
 *          stderr, never quoting the endpoint or token, and no field of this
 *          call is applied); -ENOMEM.
 */
BTCRASH_API int btcrash_initialize(const btcrash_options *opts);

/**
 * A new, empty report: error.type "Exception" (as backtracepython), no
 * stack until btcrash_report_capture_stack. Its main thread is the thread
 * whose stack is captured (by btcrash_report_capture_stack, or else by
 * btcrash_report_send).
 *
 * Returns: the report (free with btcrash_report_free), or NULL when out of
 *          memory or when libbtcrash-api.so cannot be loaded.
 */
BTCRASH_API btcrash_report *btcrash_report_new(void);

/**
 * Set attribute @key to a string, integer, double or boolean (any non-zero
 * @value is true). Attributes are indexed and searchable; they override the
 * automatic ones (hostname, ...) and BACKTRACE_ATTRIBUTES.
 *
 * Returns: 0, -EINVAL (NULL @r, @key or @value, empty @key, or a double
 *          that is NaN or infinite), BTCRASH_EUTF8, -ENOMEM.
 */
BTCRASH_API int btcrash_report_set_attribute(btcrash_report *r, const char *key, const char *value);
BTCRASH_API int btcrash_report_set_attribute_int(btcrash_report *r, const char *key,
                                                 long long value);
BTCRASH_API int btcrash_report_set_attribute_double(btcrash_report *r, const char *key,
                                                    double value);
BTCRASH_API int btcrash_report_set_attribute_bool(btcrash_report *r, const char *key, int value);

/**
 * Set every member of the JSON object @json_object as an attribute; nested
 * objects are flattened with dots ({"a":{"b":1}} sets "a.b" to 1).
 *
 * Returns: 0; -EINVAL for NULL arguments, invalid JSON or a value that is not
 *          an object; BTCRASH_ENOTPRIMITIVE when a value (at any depth) is an
 *          array or null. On error nothing is set.
 */
BTCRASH_API int btcrash_report_set_dict_attributes(btcrash_report *r, const char *json_object);

/**
 * The report's attributes as a JSON object text: those set on it, over
 * BACKTRACE_ATTRIBUTES (the automatic attributes are added when it is sent).
 *
 * Returns: a malloc'ed string the caller frees with free(), or NULL (NULL
 *          @r, out of memory).
 */
BTCRASH_API char *btcrash_report_get_attributes(const btcrash_report *r);

/**
 * Set annotation @key to @json_value, any JSON text ("[1,2]", "\"text\"",
 * "{...}"). Annotations are shown with the report but not indexed.
 *
 * Returns: 0; -EINVAL for NULL arguments, an empty @key or invalid JSON;
 *          BTCRASH_EUTF8 (@key); -ENOMEM.
 */
BTCRASH_API int btcrash_report_set_annotation(btcrash_report *r, const char *key,
                                              const char *json_value);

/**
 * Set every member of the JSON object @json_object as an annotation.
 *
 * Returns: 0; -EINVAL for NULL arguments, invalid JSON, or not an object.
 */
BTCRASH_API int btcrash_report_set_dict_annotations(btcrash_report *r, const char *json_object);

/**
 * Send the file at @path with this report (a part "attachment_<basename>"),
 * besides BACKTRACE_ATTACHMENTS. The file is read when the report is sent.
 *
 * Returns: 0; -EINVAL for NULL arguments or an empty path; BTCRASH_EUTF8
 *          (the path reaches the helper as JSON text); -ENOMEM.
 */
BTCRASH_API int btcrash_report_add_attachment(btcrash_report *r, const char *path);

/**
 * The attachment paths added with btcrash_report_add_attachment, in order.
 * *@paths is set to an array owned by the report, valid until the next
 * add_attachment or free of @r; it is NULL when there are none. @paths
 * may be NULL.
 *
 * Returns: the number of paths (0 for a NULL @r).
 */
BTCRASH_API size_t btcrash_report_get_attachments(const btcrash_report *r,
                                                  const char *const **paths);

/**
 * set_exception: the error this report is about. @type (e.g.
 * "std::runtime_error", "ConfigError") becomes the classifier and keeps
 * error.type "Exception"; @type NULL makes it a message report (error.type
 * "Message"). @message becomes error.message (may be NULL).
 *
 * Returns: 0; -EINVAL when both are NULL or @r is NULL; BTCRASH_EUTF8.
 */
BTCRASH_API int btcrash_report_set_error(btcrash_report *r, const char *type, const char *message);

/**
 * capture_last_exception: record the calling thread's stack, starting at the
 * function that calls this one (no btcrash frames). It is symbolicated when
 * the report is sent; the other threads' stacks are captured then, too.
 * Calling it again replaces the stack. Up to 256 KiB of the stack is
 * copied now; the helper unwinds the live thread (ptrace) when it can, else
 * this copy.
 *
 * Returns: 0; -EINVAL for NULL @r; -ENOMEM.
 */
BTCRASH_API int btcrash_report_capture_stack(btcrash_report *r);

/**
 * report.log: append a timestamped line, printf-style, to the report's "Log"
 * annotation ([{"ts": seconds, "msg": text}]).
 *
 * Returns: 0; -EINVAL for NULL arguments; BTCRASH_EUTF8; -ENOMEM.
 */
BTCRASH_API int btcrash_report_log(btcrash_report *r, const char *fmt, ...) BTCRASH_PRINTF(2, 3);

/**
 * Store the report in the crash database and send it, as a crash report is:
 * blocks at most BACKTRACE_TIMEOUT, and half a second more for the helper
 * to answer (the bound a crash has too). Without a prior
 * btcrash_report_capture_stack, the stack is captured here. A report may be
 * sent once: once a helper has been started for it, later calls return
 * -EALREADY (also while another thread is sending it); when none could be
 * started (BTCRASH_EHELPER, nothing stored) it may be sent again.
 *
 * Several threads sending at once: each send names its helper as the
 * process's ptracer (PR_SET_PTRACER, for Yama ptrace_scope 1), and a
 * process has only one; a helper that loses that race reports the sending
 * thread from its stack copy, without the other threads.
 *
 * Returns: BTCRASH_SENT, BTCRASH_PENDING (stored, not accepted yet: the
 *          server or network failed, or time ran out), BTCRASH_STORED (local
 *          mode), BTCRASH_EREJECTED (the server refused it), BTCRASH_EHELPER
 *          (no helper could be started, or it failed or gave no answer),
 *          -EALREADY, -EINVAL (NULL @r), -ENOMEM, -ETIMEDOUT (the helper did
 *          not finish in time and was killed: the report may still have been
 *          stored).
 */
BTCRASH_API int btcrash_report_send(btcrash_report *r);

/** Free @r (sent or not). NULL is ignored. */
BTCRASH_API void btcrash_report_free(btcrash_report *r);

/**
 * send_last_exception: a new report (error.type "Exception") with @message
 * as error.message, the attributes of the JSON object @attributes_json and
 * the annotations of @annotations_json (each of the three may be NULL), the
 * calling thread's stack from the caller on, sent at once.
 *
 * Returns: as btcrash_report_send, or the error of a bad argument (then
 *          nothing is sent).
 */
BTCRASH_API int btcrash_send_last_exception(const char *message, const char *attributes_json,
                                            const char *annotations_json);

/**
 * A one-line explanation of any value these functions return, e.g.
 * "the server rejected the report (HTTP 4xx); it is kept and not retried".
 *
 * Returns: a static string; never NULL (unknown codes get a generic text).
 */
BTCRASH_API const char *btcrash_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
