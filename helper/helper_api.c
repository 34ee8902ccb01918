/* helper_api: see helper_api.h. */
#include "helper_api.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "json_util.h"
#include "report.h"

/* Read all of @fd, from offset 0 when it is seekable, up to @max bytes. */
static int
read_fd(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
    size_t len = 0, cap = 64 * 1024;
    char *buf = malloc(cap);
    bool seekable = true;
    int r;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n;

        if (len == cap) {
            char *nb;

            if (cap > max) {
                r = -EFBIG;
                goto fail;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            nb = realloc(buf, cap);
            if (!nb) {
                r = -ENOMEM;
                goto fail;
            }
            buf = nb;
        }
        /* pread: the library may have left the offset at the end. */
        n = seekable ? pread(fd, buf + len, cap - len, (off_t)len) : read(fd, buf + len, cap - len);
        if (n < 0 && errno == ESPIPE && seekable) {
            seekable = false;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            r = -EFBIG;
            goto fail;
        }
    }
    *ret_buf = buf;
    *ret_len = len;
    return 0;
fail:
    free(buf);
    return r;
}

int
btc_helper_api_read_userdata(int fd, json_t **ret_userdata, char *why, size_t size)
{
    json_error_t err;
    json_t *ud;
    char *buf = NULL;
    size_t len = 0;
    int r;

    r = read_fd(fd, BTC_REPORT_USERDATA_MAX, &buf, &len);
    if (r == -EFBIG) {
        snprintf(why, size, "the user data is larger than %u bytes", BTC_REPORT_USERDATA_MAX);
        return r;
    }
    if (r < 0) {
        snprintf(why, size, "could not read the user data on descriptor %d: %s", fd, strerror(-r));
        return r;
    }
    /* jansson refuses invalid UTF-8 and NUL bytes in strings: everything in
     * the user data can go into the report as it is. */
    ud = json_loadb(buf, len, 0, &err);
    free(buf);
    if (!ud) {
        snprintf(why, size, "invalid user data: %s at line %d, column %d", err.text, err.line,
                 err.column);
        return -EINVAL;
    }
    r = btc_report_userdata_check(ud, why, size);
    if (r < 0) {
        json_decref(ud);
        return r;
    }
    *ret_userdata = ud;
    return 0;
}

int
btc_helper_api_answer(int fd, const struct btc_helper_answer *a)
{
    json_t *o = json_object();
    char *text = NULL;
    int r = -ENOMEM;

    if (!o || btc_json_set_str(o, "outcome", a->outcome ? a->outcome : "failed") < 0 ||
        (a->uuid[0] && btc_json_set_str(o, "uuid", a->uuid) < 0) ||
        (a->rxid[0] && btc_json_set_str(o, "rxid", a->rxid) < 0) ||
        (a->http_status && btc_json_set_int(o, "http_status", a->http_status) < 0) ||
        (a->error[0] && btc_json_set_str(o, "error", a->error) < 0))
        goto out;
    text = json_dumps(o, JSON_COMPACT);
    if (!text)
        goto out;
    r = btc_file_write_all(fd, text, strlen(text));
out:
    close(fd);
    free(text);
    json_decref(o);
    return r;
}
