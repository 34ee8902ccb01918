/* path: the one basename. */
#ifndef BTCRASH_COMMON_PATH_H
#define BTCRASH_COMMON_PATH_H

#include <string.h>

/* The part of @path after its last '/' (all of it when there is none);
 * unlike basename(3) it never modifies @path nor strips a trailing '/'. */
static inline const char *
btc_basename(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

#endif
