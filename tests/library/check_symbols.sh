#!/usr/bin/env bash
# Static checks of libbtcrash.so:
#  - it needs only libc (DESIGN.md §1);
#  - it exports only btcrash_* symbols (STYLE.md: a preloaded library's
#    exports override same-named symbols in the whole host process);
#  - the crash-path objects call nothing outside an allowlist of
#    async-signal-safe functions (and the project's own crash-path code).
# usage: check_symbols.sh LIBRARY CRASH_PATH_OBJECT...
set -euo pipefail
lib=$1
shift
fail=0

needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u | tr '\n' ' ')
if [ "$needed" != "libc.so.6 " ]; then
  echo "FAIL: $lib needs [$needed], expected only libc.so.6"
  fail=1
fi

# Interposed on purpose, and nothing else (preload/libbtcrash.map):
# pthread_create gives every new thread an alternate signal stack, and
# sigaction/signal keep btcrash's handler in front of the program's own for
# the fatal signals (README, "Programs with their own signal handlers");
# __cxa_throw notes each thread's last C++ exception so that a report for an
# uncaught one names its type and what() (README, "C++ exceptions").
interposed='^(pthread_create|sigaction|signal|__cxa_throw)$'
bad_exports=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^btcrash_' |
  grep -Ev "$interposed" || true)
if [ -n "$bad_exports" ]; then
  echo "FAIL: exported symbols without the btcrash_ prefix:"
  echo "$bad_exports"
  fail=1
fi
nexports=$(nm -D --defined-only "$lib" | grep -c ' btcrash_' || true)

# Async-signal-safe per POSIX (clock_gettime, sigaction) or bare system call
# entry points (syscall, clone); memset/memcpy are pure; __errno_location only
# returns a thread-local address. btc_* are the project's crash-path helpers
# (helper_path.c is string building only). __sigaction is libc's sigaction
# under its other exported name: the library's own exported sigaction
# interposes the plain name, even for the library's own calls.
allowed='^(syscall|clone|clock_gettime|sigaction|__sigaction|memset|memcpy|__errno_location|__stack_chk_fail|_GLOBAL_OFFSET_TABLE_|btc_strbuf_[a-z0-9_]+|btc_handlers_restore|btc_helper_path_candidate|btc_crash_[a-z_]+)$'
calls=$(nm -u "$@" | awk 'NF {print $NF}' | grep -v ':$' | sort -u)
bad_calls=$(echo "$calls" | grep -Ev "$allowed" || true)
if [ -n "$bad_calls" ]; then
  echo "FAIL: the crash path calls functions outside the async-signal-safe allowlist:"
  echo "$bad_calls"
  fail=1
fi

if [ "$fail" -eq 0 ]; then
  echo "ok: needs only libc; $nexports exported symbol(s), all btcrash_* but the interposed;" \
       "crash path calls: $(echo $calls)"
fi
exit $fail
