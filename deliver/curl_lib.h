/* curl_lib: the libcurl functions http.c calls, loaded with dlopen the
 * first time a report is to be sent, not linked: a crash in local mode
 * then never maps libcurl and the thirty libraries it needs, which cost
 * every helper's start ~14 ms, and a machine without libcurl still stores
 * its reports. Helper and CLI processes. */
#ifndef BTCRASH_DELIVER_CURL_LIB_H
#define BTCRASH_DELIVER_CURL_LIB_H

#include <curl/curl.h>

struct btc_curl_lib {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *curl);
    CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *curl);
    const char *(*easy_strerror)(CURLcode code);
    curl_mime *(*mime_init)(CURL *curl);
    void (*mime_free)(curl_mime *mime);
    curl_mimepart *(*mime_addpart)(curl_mime *mime);
    CURLcode (*mime_name)(curl_mimepart *part, const char *name);
    CURLcode (*mime_filename)(curl_mimepart *part, const char *filename);
    CURLcode (*mime_type)(curl_mimepart *part, const char *mimetype);
    CURLcode (*mime_data)(curl_mimepart *part, const char *data, size_t datasize);
    CURLcode (*mime_data_cb)(curl_mimepart *part, curl_off_t datasize, curl_read_callback readfunc,
                             curl_seek_callback seekfunc, curl_free_callback freefunc, void *arg);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *string);
    void (*slist_free_all)(struct curl_slist *list);
};

/* The functions, once btc_curl_load succeeded (or btc_curl_use set them). */
extern struct btc_curl_lib btc_curl;

/* The library dlopen'd: the soname of Debian's libcurl4 (OpenSSL), which
 * the build's curl headers belong to. */
#define BTC_CURL_SONAME "libcurl.so.4"

/**
 * Load BTC_CURL_SONAME and every function of btc_curl from it, once; not
 * thread-safe (http.c calls it under pthread_once).
 * Returns: 0, or -ELIBACC with @why (@size bytes) saying what is missing.
 */
int btc_curl_load(char *why, size_t size);

/** Use @lib's functions instead of loading the library (unit tests). */
void btc_curl_use(const struct btc_curl_lib *lib);

#endif
