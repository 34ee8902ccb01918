/* libcurl linked into a unit test rather than loaded (curl_lib.h), so that
 * the test's -Wl,--wrap=curl_... options observe and replace its calls:
 * the references below are what the linker wraps. */
#include "curl_linked.h"

#include "curl_lib.h"

void
btc_test_curl_linked(void)
{
    static const struct btc_curl_lib lib = {
        .global_init = curl_global_init,
        .easy_init = curl_easy_init,
        .easy_setopt = curl_easy_setopt,
        .easy_perform = curl_easy_perform,
        .easy_getinfo = curl_easy_getinfo,
        .easy_cleanup = curl_easy_cleanup,
        .easy_strerror = curl_easy_strerror,
        .mime_init = curl_mime_init,
        .mime_free = curl_mime_free,
        .mime_addpart = curl_mime_addpart,
        .mime_name = curl_mime_name,
        .mime_filename = curl_mime_filename,
        .mime_type = curl_mime_type,
        .mime_data = curl_mime_data,
        .mime_data_cb = curl_mime_data_cb,
        .slist_append = curl_slist_append,
        .slist_free_all = curl_slist_free_all,
    };

    btc_curl_use(&lib);
}
