/* api_common.h: what the C API test programs share. They print one line per
 * checked call, "RC <name> <value>", and test_api.py judges the values, so
 * the expectations live in one place (the test) and a wrong value never
 * stops a program: it goes on to the next call. */
#ifndef API_COMMON_H
#define API_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "btcrash.h"

/* -DBTCRASH_WEAK builds run without libbtcrash.so too: the API functions'
 * addresses are then NULL. */
static inline int
api_loaded(void)
{
#ifdef BTCRASH_WEAK
    return btcrash_report_new != NULL;
#else
    return 1;
#endif
}

/* Exits 0 after saying so when btcrash is not loaded, as a program using
 * the weak API would carry on without reporting. */
static inline void
api_require_loaded(const char *prog)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!api_loaded()) {
        printf("%s: btcrash is not loaded\n", prog);
        exit(0);
    }
}

static inline void
rc_line(const char *name, long long rc)
{
    printf("RC %s %lld\n", name, rc);
    fflush(stdout);
}

#endif
