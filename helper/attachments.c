/* attachments: see attachments.h. */
#include "attachments.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_util.h"
#include "path.h"

void
btc_helper_paths_free(struct btc_helper_paths *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

static int
paths_add(struct btc_helper_paths *p, const char *path, size_t len)
{
    char **v = realloc(p->v, (p->n + 1) * sizeof(*v));

    if (!v)
        return -ENOMEM;
    p->v = v;
    p->v[p->n] = strndup(path, len);
    if (!p->v[p->n])
        return -ENOMEM;
    p->n++;
    return 0;
}

/*
 * Add @path to @p unless it leads, through any link, into this helper's own
 * /proc entry ("/proc/<our pid>/environ" holds the token): that is never
 * the user's to attach, and @refused gets a note instead.
 */
static int
paths_add_checked(struct btc_helper_paths *p, const char *path, size_t len, json_t *refused)
{
    char *copy = strndup(path, len), *real, own[64], note[600];
    size_t olen;
    bool ours;

    if (!copy)
        return -ENOMEM;
    real = realpath(copy, NULL);
    olen = (size_t)snprintf(own, sizeof(own), "/proc/%d", (int)getpid());
    ours = real && strncmp(real, own, olen) == 0 && (real[olen] == '/' || real[olen] == '\0');
    free(real);
    if (ours) {
        snprintf(note, sizeof(note),
                 "attachment %.500s skipped: it is btcrash's own process, "
                 "not the crashed one",
                 copy);
        free(copy);
        return btc_json_append(refused, btc_json_str(note));
    }
    free(copy);
    return paths_add(p, path, len);
}

/*
 * Add @path (@len bytes) to @p as the crashed process means it: the user
 * wrote "/proc/self/..." or "/proc/thread-self/..." (or "/dev/fd/N", which
 * is /proc/self/fd/N) about their program, not about us, so these name the
 * process @pid (thread @tid). Left as they are, they would attach the
 * helper's own files: its environment holds the token.
 */
static int
paths_add_for(struct btc_helper_paths *p, const char *path, size_t len, int pid, int tid,
              json_t *refused)
{
    static const struct {
        const char *prefix;
        bool thread;
        const char *under;
    } k_self[] = {
        {"/proc/self/", false, ""},
        {"/proc/thread-self/", true, ""},
        {"/dev/fd/", false, "fd/"},
    };
    char *full;
    int r, n;

    for (size_t i = 0; i < sizeof(k_self) / sizeof(k_self[0]); i++) {
        size_t plen = strlen(k_self[i].prefix);

        if (len < plen || strncmp(path, k_self[i].prefix, plen) != 0)
            continue;
        if (k_self[i].thread)
            n = asprintf(&full, "/proc/%d/task/%d/%s%.*s", pid, tid, k_self[i].under,
                         (int)(len - plen), path + plen);
        else
            n = asprintf(&full, "/proc/%d/%s%.*s", pid, k_self[i].under, (int)(len - plen),
                         path + plen);
        if (n < 0)
            return -ENOMEM;
        r = paths_add_checked(p, full, (size_t)n, refused);
        free(full);
        return r;
    }
    return paths_add_checked(p, path, len, refused);
}

int
btc_helper_paths_collect(json_t *userdata, const char *config, int pid, int tid, json_t *refused,
                         struct btc_helper_paths *ret)
{
    struct btc_helper_paths p = {0};
    json_t *v;
    size_t i;

    json_array_foreach(json_object_get(userdata, "attachments"), i, v)
    {
        if (paths_add_for(&p, json_string_value(v), json_string_length(v), pid, tid, refused) < 0)
            goto fail;
    }
    /* Empty elements ("a::b", a trailing ':') name no file. */
    for (const char *s = config ? config : ""; *s;) {
        size_t len = strcspn(s, ":");

        if (len > 0 && paths_add_for(&p, s, len, pid, tid, refused) < 0)
            goto fail;
        s += len;
        s += *s == ':';
    }
    *ret = p;
    return 0;
fail:
    btc_helper_paths_free(&p);
    return -ENOMEM;
}

int
btc_helper_original_attachments(const struct btc_helper_paths *paths, json_t *problems,
                                struct btc_http_attachment **ret_atts, size_t *ret_n)
{
    struct btc_http_attachment *atts = NULL;
    size_t n = 0;

    atts = calloc(paths->n + 1, sizeof(*atts));
    if (!atts)
        return -ENOMEM;
    for (size_t k = 0; k < paths->n; k++) {
        const char *path = paths->v[k], *name = btc_basename(path);
        const char *why = NULL;
        struct stat st;
        char note[512];
        bool dup = false;
        int fd;

        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(atts[i].name, name) == 0;
        if (dup) {
            snprintf(note, sizeof(note), "attachment %s skipped: another attachment is named %s",
                     path, name);
            if (problems)
                (void)btc_json_append(problems, btc_json_str(note));
            continue;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0)
            why = strerror(errno);
        else if (!S_ISREG(st.st_mode))
            why = "not a regular file";
        if (why) {
            snprintf(note, sizeof(note), "attachment %s skipped: %s", path, why);
            if (problems)
                (void)btc_json_append(problems, btc_json_str(note));
            if (fd >= 0)
                close(fd);
            continue;
        }
        close(fd);
        atts[n].path = path;
        atts[n].name = name;
        n++;
    }
    *ret_atts = atts;
    *ret_n = n;
    return 0;
}
