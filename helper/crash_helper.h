/* crash_helper: the helper's crash-time entry point, exec'ed by the signal
 * handler of a crashed process (or spawned by btcrash_report_send) with the
 * record on BTC_RECORD_FD. */
#ifndef BTCRASH_CLI_CRASH_HELPER_H
#define BTCRASH_CLI_CRASH_HELPER_H

/**
 * Capture, build, store and print the report for the crash on BTC_RECORD_FD,
 * then write BTC_NOTIFY_DONE on BTC_NOTIFY_FD. For a C API record
 * (BTC_RECORD_F_API) the user data comes from BTC_USERDATA_FD, nothing is
 * printed unless BACKTRACE_DEBUG_BACKTRACE is set, older pending reports are
 * left for `btcrash flush`, and the answer on BTC_NOTIFY_FD is the JSON
 * object of helper_api.h instead.
 *
 * @self is the path the helper was executed as (argv[0]), for the children
 * it spawns.
 *
 * Returns: the process exit status (0 when a report was stored, or sent
 *          although it could not be stored).
 */
int btc_helper_main(const char *self);

#endif
