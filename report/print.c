/* print: text renderings of a stored or fresh report. They read only the
 * JSON, never the capture, so `btcrash show` renders stored files the same
 * way. Every string from the report is escaped on output: thread names,
 * paths and source text are the crashed program's data and must not drive
 * the terminal. */
#include "print.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text.h"
#include "path.h"

#define SUMMARY_FRAMES 5
#define FAULT_CONTEXT  5 /* source lines shown above and below the fault */

struct style {
    const char *bold, *dim, *red, *reset;
};

static const struct style g_plain = {"", "", "", ""};
static const struct style g_color = {"\033[1m", "\033[2m", "\033[31m", "\033[0m"};

/* Report strings are the crashed program's data: escaped (text.h). Tabs
 * are kept when @keep_tab, for source lines. */
static void
put_safe_n(FILE *out, const char *s, size_t len, bool keep_tab)
{
    btc_text_put(out, s, len, 0, keep_tab ? BTC_TEXT_KEEP_TAB : 0);
}

static void
put_safe(FILE *out, const char *s)
{
    if (s)
        put_safe_n(out, s, strlen(s), false);
}

static const char *
str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_t *
fault_thread(json_t *report)
{
    const char *main_tid = str(report, "mainThread");

    return main_tid ? json_object_get(json_object_get(report, "threads"), main_tid) : NULL;
}

static const char *
frame_file(json_t *report, json_t *frame)
{
    const char *id = str(frame, "sourceCode");

    if (!id)
        return NULL;
    return str(json_object_get(json_object_get(report, "sourceCode"), id), "path");
}

static void
print_frame(FILE *out, json_t *report, json_t *frame, size_t i, bool with_address,
            const struct style *st)
{
    const char *func = str(frame, "funcName"), *file = frame_file(report, frame);
    const char *lib = str(frame, "library"), *addr = str(frame, "address");
    json_int_t line = json_integer_value(json_object_get(frame, "line"));

    fprintf(out, "  #%-2zu ", i);
    if (with_address || !func) {
        fprintf(out, "%s", st->dim);
        put_safe(out, addr ? addr : "?");
        fprintf(out, "%s ", st->reset);
    }
    fprintf(out, "%s", st->bold);
    put_safe(out, func ? func : "??");
    fprintf(out, "%s", st->reset);
    if (file) {
        fputs(" at ", out);
        put_safe(out, file);
        if (line > 0)
            fprintf(out, ":%lld", (long long)line);
    } else if (lib) {
        fputs(" in ", out);
        put_safe(out, btc_basename(lib));
    }
    if (json_is_true(json_object_get(frame, "inlined")))
        fputs(" (inlined)", out);
    if (json_is_true(json_object_get(frame, "guessed_frame")))
        fputs(" (guessed)", out);
    fputc('\n', out);
}

/* What happened, in words: " crashed: " for a crash, " crashed with
 * SIGABRT: " when glibc's abort message (annotations.Crash["abort.message"])
 * or an uncaught C++ exception ("exception.type", "exception.what") took
 * the signal's place in error.message, " reported an Exception: " for
 * an API report (error.type other than "Crash"). */
static void
put_what_happened(FILE *out, json_t *report)
{
    json_t *attrs = json_object_get(report, "attributes");
    json_t *crash = json_object_get(json_object_get(report, "annotations"), "Crash");
    const char *type = str(attrs, "error.type"), *msg = str(attrs, "error.message");

    if (!type || strcmp(type, "Crash") == 0) {
        if ((str(crash, "abort.message") || str(crash, "exception.type")) && str(crash, "signal")) {
            fputs(" crashed with ", out);
            put_safe(out, str(crash, "signal"));
            fputs(": ", out);
        } else {
            fputs(" crashed: ", out);
        }
        put_safe(out, msg ? msg : "unknown error");
        return;
    }
    fputs(" reported ", out);
    put_safe(out, type);
    fputs(msg ? ": " : "", out);
    put_safe(out, msg ? msg : "");
}

static bool
is_crash(json_t *report)
{
    const char *type = str(json_object_get(report, "attributes"), "error.type");

    return !type || strcmp(type, "Crash") == 0;
}

static const char *
program_name(json_t *report)
{
    json_t *argv =
        json_object_get(json_object_get(json_object_get(report, "annotations"), "Process"), "argv");
    const char *name = json_string_value(json_array_get(argv, 0));

    if (!name || !*name)
        name = str(json_object_get(report, "attributes"), "application");
    return name ? name : "the program";
}

/* A count in @obj's member @key: 0 unless a positive integer (a stored
 * report may say anything). */
static size_t
count(json_t *obj, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(obj, key));

    return v > 0 ? (size_t)v : 0;
}

void
btc_print_summary(FILE *out, json_t *report, const char *stored_path)
{
    json_t *stack = json_object_get(fault_thread(report), "stack");
    size_t n = json_array_size(stack), more;
    size_t omitted = count(fault_thread(report), "frames_omitted");

    fputs("btcrash: ", out);
    put_safe(out, program_name(report));
    put_what_happened(out, report);
    fputc('\n', out);
    for (size_t i = 0; i < n && i < SUMMARY_FRAMES; i++)
        print_frame(out, report, json_array_get(stack, i), i, false, &g_plain);
    more = n > SUMMARY_FRAMES ? n - SUMMARY_FRAMES + omitted : 0;
    if (more > 0 && omitted > 0)
        fprintf(out, "  ... %zu more frames, %zu of them left out of the report\n", more, omitted);
    else if (more > 0)
        fprintf(out, "  ... %zu more frame%s\n", more, more == 1 ? "" : "s");
    if (stored_path) {
        fputs("btcrash: report stored in ", out);
        put_safe(out, stored_path);
        fputc('\n', out);
    } else {
        fputs("btcrash: the report could not be stored\n", out);
    }
}

static void
print_value(FILE *out, json_t *v)
{
    char *text;

    if (json_is_string(v)) {
        put_safe_n(out, json_string_value(v), json_string_length(v), false);
        return;
    }
    text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    put_safe(out, text ? text : "?");
    free(text);
}

static int
compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of @obj, sorted; NULL when empty or out of memory. */
static const char **
sorted_keys(json_t *obj, size_t *ret_n)
{
    size_t n = json_object_size(obj), i = 0;
    const char **keys, *key;
    json_t *v;

    *ret_n = 0;
    if (!n || !(keys = malloc(n * sizeof(*keys))))
        return NULL;
    json_object_foreach(obj, key, v) keys[i++] = key;
    qsort(keys, n, sizeof(*keys), compare_keys);
    *ret_n = n;
    return keys;
}

static void
print_thread(FILE *out, json_t *report, const char *tid, json_t *thread, const struct style *st)
{
    json_t *stack = json_object_get(thread, "stack"), *regs;
    bool fault = json_is_true(json_object_get(thread, "fault"));
    size_t omitted, at;

    fprintf(out, "\n%sThread %s", st->bold, tid);
    if (str(thread, "name")) {
        fputs(" \"", out);
        put_safe(out, str(thread, "name"));
        fputc('"', out);
    }
    fprintf(out, "%s%s%s%s\n", fault ? st->red : "",
            !fault             ? ""
            : is_crash(report) ? " (crashed)"
                               : " (reported)",
            st->reset, json_array_size(stack) ? "" : ": no frames");
    omitted = count(thread, "frames_omitted");
    at = count(thread, "frames_omitted_at");
    for (size_t i = 0; i < json_array_size(stack); i++) {
        /* Past the frames left out, frames keep their depth's number. */
        if (omitted > 0 && i == at)
            fprintf(out, "  %s... %zu frame%s left out ...%s\n", st->dim, omitted,
                    omitted == 1 ? "" : "s", st->reset);
        print_frame(out, report, json_array_get(stack, i), omitted > 0 && i >= at ? i + omitted : i,
                    true, st);
    }
    regs = json_object_get(json_array_get(stack, 0), "registers");
    if (fault && json_is_object(regs)) {
        const char *name;
        json_t *v;
        int col = 0;

        fputs("  registers:\n", out);
        json_object_foreach(regs, name, v)
        {
            fputs(col ? "  " : "    ", out);
            fprintf(out, "%-6s ", name);
            /* Registers are ours (hex strings), safe to pad for columns. */
            if (json_is_string(v))
                fprintf(out, "%-18s", json_string_value(v));
            else
                print_value(out, v);
            if (++col == 4) {
                fputc('\n', out);
                col = 0;
            }
        }
        if (col)
            fputc('\n', out);
    }
}

/* The innermost frame of the faulting thread that has source text, with
 * its line and a few lines around it, the line itself marked '>'. */
static void
print_fault_source(FILE *out, json_t *report, const struct style *st)
{
    json_t *stack = json_object_get(fault_thread(report), "stack");
    json_t *sources = json_object_get(report, "sourceCode");

    for (size_t i = 0; i < json_array_size(stack); i++) {
        json_t *frame = json_array_get(stack, i);
        const char *id = str(frame, "sourceCode");
        json_t *src = id ? json_object_get(sources, id) : NULL;
        json_int_t line = json_integer_value(json_object_get(frame, "line"));
        json_int_t start = json_integer_value(json_object_get(src, "startLine"));
        const char *text = str(src, "text");
        size_t len;

        if (!text || line <= 0 || start <= 0 || line < start)
            continue;
        len = json_string_length(json_object_get(src, "text"));
        fprintf(out, "\n%sSource%s (frame #%zu, ", st->bold, st->reset, i);
        put_safe(out, str(src, "path"));
        fprintf(out, ":%lld):\n", (long long)line);
        for (json_int_t n = start; len; n++) {
            const char *nl = memchr(text, '\n', len);
            size_t l = nl ? (size_t)(nl - text) : len;

            if (n >= line - FAULT_CONTEXT && n <= line + FAULT_CONTEXT) {
                bool here = n == line;

                fprintf(out, "%s%c %6lld  ", here ? st->red : "", here ? '>' : ' ', (long long)n);
                put_safe_n(out, text, l, true);
                fprintf(out, "%s\n", here ? st->reset : "");
            }
            if (n > line + FAULT_CONTEXT || !nl)
                break;
            len -= l + 1;
            text = nl + 1;
        }
        return;
    }
}

static void
print_object_sorted(FILE *out, const char *title, json_t *obj, const struct style *st)
{
    size_t n;
    const char **keys = sorted_keys(obj, &n);

    if (!keys)
        return;
    fprintf(out, "\n%s%s%s\n", st->bold, title, st->reset);
    for (size_t i = 0; i < n; i++) {
        fputs("  ", out);
        put_safe(out, keys[i]);
        fputs(" = ", out);
        print_value(out, json_object_get(obj, keys[i]));
        fputc('\n', out);
    }
    free(keys);
}

static void
print_annotations(FILE *out, json_t *annotations, const struct style *st)
{
    const char *name;
    json_t *value;

    json_object_foreach(annotations, name, value)
    {
        fprintf(out, "\n%sAnnotation: ", st->bold);
        put_safe(out, name);
        fprintf(out, "%s\n", st->reset);
        if (json_is_object(value)) {
            const char *k;
            json_t *v;

            json_object_foreach(value, k, v)
            {
                fputs("  ", out);
                put_safe(out, k);
                fputs(": ", out);
                print_value(out, v);
                fputc('\n', out);
            }
        } else if (json_is_array(value)) {
            for (size_t i = 0; i < json_array_size(value); i++) {
                fputs("  ", out);
                print_value(out, json_array_get(value, i));
                fputc('\n', out);
            }
        } else {
            fputs("  ", out);
            print_value(out, value);
            fputc('\n', out);
        }
    }
}

static int
compare_tids(const void *a, const void *b)
{
    long x = strtol(*(const char *const *)a, NULL, 10),
         y = strtol(*(const char *const *)b, NULL, 10);

    return x < y ? -1 : x > y;
}

void
btc_print_report(FILE *out, json_t *report, bool color)
{
    const struct style *st = color ? &g_color : &g_plain;
    json_t *attrs = json_object_get(report, "attributes");
    json_t *threads = json_object_get(report, "threads");
    json_int_t ts = json_integer_value(json_object_get(report, "timestamp"));
    const char *main_tid = str(report, "mainThread");
    const char **tids;
    char when[64] = "?";
    time_t t = (time_t)ts;
    struct tm tm;
    size_t n;

    if (gmtime_r(&t, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    fprintf(out, "%sbtcrash report ", st->bold);
    put_safe(out, str(report, "uuid"));
    fprintf(out, "%s\n", st->reset);
    fputs("  ", out);
    put_safe(out, program_name(report));
    put_what_happened(out, report);
    fprintf(out, "\n  at %s\n", when);

    /* The faulting thread first, then the others by tid. */
    if (main_tid && json_object_get(threads, main_tid))
        print_thread(out, report, main_tid, json_object_get(threads, main_tid), st);
    tids = sorted_keys(threads, &n);
    if (tids) {
        qsort(tids, n, sizeof(*tids), compare_tids);
        for (size_t i = 0; i < n; i++)
            if (!main_tid || strcmp(tids[i], main_tid) != 0)
                print_thread(out, report, tids[i], json_object_get(threads, tids[i]), st);
        free(tids);
    }
    print_fault_source(out, report, st);
    print_object_sorted(out, "Attributes", attrs, st);
    print_annotations(out, json_object_get(report, "annotations"), st);
}
