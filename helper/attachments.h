/* attachments: which files a report attaches, as the crashed process
 * means them, and the originals as upload parts for a report that could
 * not be stored. Helper process. */
#ifndef BTCRASH_HELPER_ATTACHMENTS_H
#define BTCRASH_HELPER_ATTACHMENTS_H

#include <stddef.h>

#include <jansson.h>

#include "http.h"

/* The attachment files of a report, in the order they are taken: an API
 * report's own (which may contain ':'), then BACKTRACE_ATTACHMENTS. */
struct btc_helper_paths {
    char **v;
    size_t n;
};

/**
 * The paths of @userdata's "attachments" (may be NULL) and of the
 * ':'-separated @config (BACKTRACE_ATTACHMENTS, may be NULL), as the process
 * @pid (thread @tid) means them: "/proc/self/...", "/proc/thread-self/..."
 * and "/dev/fd/N" name that process, not the helper. A path that leads,
 * through any link, into the helper's own /proc entry (its environment
 * holds the token) is refused with a note in @refused.
 *
 * Returns: 0 and *ret (btc_helper_paths_free it), or -ENOMEM.
 */
int btc_helper_paths_collect(json_t *userdata, const char *config, int pid, int tid,
                             json_t *refused, struct btc_helper_paths *ret);

void btc_helper_paths_free(struct btc_helper_paths *p);

/**
 * The original files of @paths as parts, for a report that could not be
 * stored; @problems (may be NULL) gets a note for each one btc_http_submit
 * will skip. The parts point into @paths.
 *
 * Returns: 0 and *ret_atts (free it) and *ret_n, or -ENOMEM.
 */
int btc_helper_original_attachments(const struct btc_helper_paths *paths, json_t *problems,
                                    struct btc_http_attachment **ret_atts, size_t *ret_n);

#endif
