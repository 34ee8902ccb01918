/* crash_helper: the helper's crash-time entry point, exec'ed by the signal
 * handler of a crashed process with the record on BTC_RECORD_FD. */
#ifndef BTCRASH_CLI_CRASH_HELPER_H
#define BTCRASH_CLI_CRASH_HELPER_H

/**
 * Capture, build, store and print the report for the crash on BTC_RECORD_FD.
 *
 * Returns: the process exit status (0 when a report was stored).
 */
int btc_helper_main(void);

#endif
