/* version: the library's exported version query. */
#include "btcrash.h"

const char *
btcrash_version(void)
{
    return BTCRASH_VERSION;
}
