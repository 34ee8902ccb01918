/* api_demo: a tour of btcrash's C API (include/btcrash.h), one call of every
 * function, for a handled error: a settings file that cannot be loaded.
 *
 * Linked:    build/bin/api-demo
 * Unlinked:  LD_PRELOAD=build/lib/libbtcrash.so build/bin/api-demo-weak
 *            (api-demo-weak also runs without btcrash, and says so)
 *
 * With BACKTRACE_ENDPOINT set the report is sent there; without it, it is
 * only stored (see `btcrash list`). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "btcrash.h"

/* Built with -DBTCRASH_WEAK the program does not need libbtcrash.so: every
 * API function is a weak symbol, NULL when the library is not loaded. Test
 * an API function rather than btcrash_version, which a library from before
 * the API also has. */
static int
btcrash_loaded(void)
{
#ifdef BTCRASH_WEAK
    return btcrash_report_new != NULL;
#else
    return 1;
#endif
}

/* Print a call's outcome, so the demo shows what each function returns;
 * btcrash_strerror explains a failure. */
static void
show(const char *what, int rc)
{
    if (rc == 0)
        printf("  %-30s ok\n", what);
    else
        printf("  %-30s %d: %s\n", what, rc, btcrash_strerror(rc));
}

/* The attachment: a small file the report carries, as a real program would
 * attach its configuration or a log. */
static int
write_attachment(char *path, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    FILE *f;
    int fd;

    snprintf(path, size, "%s/api-demo-settingsXXXXXX", tmp && *tmp ? tmp : "/tmp");
    fd = mkstemp(path);
    if (fd < 0)
        return -errno;
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -ENOMEM;
    }
    fputs("# settings\nname = demo\n# port is missing\n", f);
    fclose(f);
    return 0;
}

/* The function where the error is detected: the report's stack starts here,
 * not inside btcrash. noinline keeps it a frame of its own. */
__attribute__((noinline)) static int
load_settings(btcrash_report *r, const char *path)
{
    btcrash_report_log(r, "reading %s", path);
    btcrash_report_log(r, "key '%s' not found", "port");
    btcrash_report_set_error(r, "ConfigError", "settings: key 'port' is missing");
    return btcrash_report_capture_stack(r);
}

int
main(void)
{
    const char *const *paths = NULL;
    char attachment[256];
    btcrash_report *r;
    char *attrs;
    size_t n;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!btcrash_loaded()) {
        /* Not an error: the program works without crash reporting. */
        printf("api-demo: btcrash is not loaded; nothing to report\n");
        return 0;
    }
    printf("api-demo: btcrash %s\n", btcrash_version());

    /* Options override the environment field by field; NULL fields keep
     * what BACKTRACE_* says. The attributes go into every report. */
    btcrash_options opts = {
        .size = sizeof(opts),
        .attributes = "{\"application.version\": \"1.2.3\", \"demo\": true}",
        .timeout = "10",
    };
    show("btcrash_initialize", btcrash_initialize(&opts));

    r = btcrash_report_new();
    if (r == NULL) {
        /* Out of memory or libbtcrash-api.so missing: carry on unreported. */
        fprintf(stderr, "api-demo: btcrash_report_new failed\n");
        return 1;
    }

    /* Attributes are indexed and searchable, so each keeps its JSON type. */
    show("set_attribute", btcrash_report_set_attribute(r, "settings.format", "ini"));
    show("set_attribute_int", btcrash_report_set_attribute_int(r, "settings.size", 42));
    show("set_attribute_double", btcrash_report_set_attribute_double(r, "load.seconds", 0.25));
    show("set_attribute_bool", btcrash_report_set_attribute_bool(r, "settings.default", 0));
    /* Nested objects become dotted names: "user.name", "user.id". */
    show("set_dict_attributes",
         btcrash_report_set_dict_attributes(r, "{\"user\": {\"name\": \"ada\", \"id\": 7}}"));

    attrs = btcrash_report_get_attributes(r);
    printf("  attributes: %s\n", attrs ? attrs : "(none)");
    free(attrs); /* the caller owns the string */

    /* Annotations are not indexed: any JSON, for context. */
    show("set_annotation",
         btcrash_report_set_annotation(r, "Settings search path", "[\"/etc/demo\", \"~/.demo\"]"));
    show("set_dict_annotations", btcrash_report_set_dict_annotations(
                                     r, "{\"Request\": {\"id\": 17, \"retries\": [1, 2]}}"));

    if (write_attachment(attachment, sizeof(attachment)) == 0)
        show("add_attachment", btcrash_report_add_attachment(r, attachment));
    else
        attachment[0] = '\0'; /* a demo without an attachment is still a demo */
    n = btcrash_report_get_attachments(r, &paths);
    for (size_t i = 0; i < n; i++)
        printf("  attachment %zu: %s\n", i, paths[i]);

    show("load_settings (capture_stack)", load_settings(r, "/etc/demo/settings.ini"));

    /* Sending blocks at most BACKTRACE_TIMEOUT; the report is stored first,
     * so a failed send is still in the database for `btcrash flush`. */
    rc = btcrash_report_send(r);
    printf("api-demo: report: %s\n", btcrash_strerror(rc));
    btcrash_report_free(r);
    if (attachment[0])
        unlink(attachment);

    /* The one-call form: a message, attributes and annotations, the stack
     * from here. */
    rc = btcrash_send_last_exception("api-demo: retry failed too", "{\"attempt\": 2}",
                                     "{\"Retry\": {\"delay.ms\": 500}}");
    printf("api-demo: send_last_exception: %s\n", btcrash_strerror(rc));
    return rc < 0 ? 1 : 0;
}
