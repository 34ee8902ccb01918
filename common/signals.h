/* signals: names for signals and si_code values, and the one-line
 * description of a crash ("SIGSEGV (SEGV_MAPERR) at 0x0"). Helper process
 * and btcrash command. */
#ifndef BTCRASH_SIGNALS_H
#define BTCRASH_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>

#include "crash_record.h"

/** "SIGSEGV" for SIGSEGV; NULL for a number that is no signal. */
const char *btc_sig_name(int signo);

/**
 * The name of @code for @signo: "SEGV_MAPERR", "BUS_ADRERR", "SI_USER",
 * "SI_TKILL"...; NULL when unknown.
 */
const char *btc_sig_code_name(int signo, int code);

/** Whether a process sent the signal (kill, tgkill, sigqueue), so that
 * si_pid and si_uid name the sender. */
bool btc_sig_is_sent(int code);

/** Whether si_addr holds the faulting address (SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE and SIGTRAP raised by the kernel for an instruction). */
bool btc_sig_has_address(int signo, int code);

/**
 * Describe the signal of @rec in one line: "SIGSEGV (SEGV_MAPERR) at 0x0",
 * "SIGTERM (SI_USER) sent by pid 42, uid 1000", "SIGABRT (SI_TKILL) raised
 * by the process itself". Unknown names are shown as numbers.
 *
 * Returns: the length it needed, as snprintf does (the text is cut to fit
 *          @size, and always NUL-terminated when @size > 0).
 */
int btc_sig_describe(const struct btc_crash_record *rec, char *buf, size_t size);

#endif
