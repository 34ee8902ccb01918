/* send: hands an API report to the btcrash helper, as the crash path hands a
 * crash (protocol/crash_record.h: the record on BTC_RECORD_FD, the report's
 * own data on BTC_USERDATA_FD), and waits for its answer on BTC_NOTIFY_FD.
 * libbtcrash-api.so, in the sending thread. */
#ifndef BTCRASH_API_SEND_H
#define BTCRASH_API_SEND_H

#include "btcrash.h"

/**
 * btcrash_report_send: see include/btcrash.h. Captures the stack here when
 * none was captured.
 *
 * Context: any thread, not a signal handler. Starts a child process (which
 * sends the program a SIGCHLD when it ends) and reaps it before returning.
 */
int btc_api_report_send(btcrash_report *r);

/** btcrash_send_last_exception: see include/btcrash.h. */
int btc_api_send_last_exception(const char *message, const char *attributes_json,
                                const char *annotations_json);

#endif
