/* curl_lib: see curl_lib.h. */
#include "curl_lib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct btc_curl_lib btc_curl;

static bool g_loaded;

void
btc_curl_use(const struct btc_curl_lib *lib)
{
    btc_curl = *lib;
    g_loaded = true;
}

int
btc_curl_load(char *why, size_t size)
{
    /* Each entry's address in btc_curl, and the symbol that fills it. */
    static const struct {
        size_t offset;
        const char *name;
    } fns[] = {
#define FN(field, symbol) {offsetof(struct btc_curl_lib, field), #symbol}
        FN(global_init, curl_global_init),       FN(easy_init, curl_easy_init),
        FN(easy_setopt, curl_easy_setopt),       FN(easy_perform, curl_easy_perform),
        FN(easy_getinfo, curl_easy_getinfo),     FN(easy_cleanup, curl_easy_cleanup),
        FN(easy_strerror, curl_easy_strerror),   FN(mime_init, curl_mime_init),
        FN(mime_free, curl_mime_free),           FN(mime_addpart, curl_mime_addpart),
        FN(mime_name, curl_mime_name),           FN(mime_filename, curl_mime_filename),
        FN(mime_type, curl_mime_type),           FN(mime_data, curl_mime_data),
        FN(mime_data_cb, curl_mime_data_cb),     FN(slist_append, curl_slist_append),
        FN(slist_free_all, curl_slist_free_all),
#undef FN
    };
    struct btc_curl_lib lib;
    void *handle;
    const char *err;

    if (g_loaded)
        return 0;
    /* RTLD_NOW: a missing symbol shows here, not in the middle of a send.
     * The handle is never closed: curl's global state lives as long as we. */
    handle = dlopen(BTC_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        err = dlerror();
        snprintf(why, size, "%s", err ? err : "cannot load " BTC_CURL_SONAME);
        return -ELIBACC;
    }
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        void *sym = dlsym(handle, fns[i].name);

        if (!sym) {
            snprintf(why, size, "%s has no %s", BTC_CURL_SONAME, fns[i].name);
            dlclose(handle);
            return -ELIBACC;
        }
        /* POSIX guarantees a data pointer from dlsym converts to a
         * function pointer; memcpy says so without a cast warning. */
        memcpy((char *)&lib + fns[i].offset, &sym, sizeof(sym));
    }
    btc_curl_use(&lib);
    return 0;
}
