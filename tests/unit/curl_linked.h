/* curl_linked: the unit tests' libcurl, linked in (see curl_linked.c). */
#ifndef BTCRASH_TESTS_CURL_LINKED_H
#define BTCRASH_TESTS_CURL_LINKED_H

/* Have deliver/curl_lib.h's btc_curl call the libcurl linked into the test. */
void btc_test_curl_linked(void);

#endif
