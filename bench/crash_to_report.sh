#!/usr/bin/env bash
# Crash-to-report time: from the fault to the report file in the crash
# database, for a NULL write three calls deep and for a program with 8
# threads, median of N runs (default 20). The programs print CLOCK_REALTIME
# just before they fault; the report file's mtime is when the helper wrote it.
# Then hyperfine runs each program with and without LD_PRELOAD side by side:
# the whole run, from exec to death, as a ratio.
#
# usage: bench/crash_to_report.sh [BUILD_DIR] [N]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-20}
lib=$build/lib/libbtcrash.so
[ -f "$lib" ] || { echo "no $lib: build first" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/prog.c" <<'C'
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static void stamp(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(stderr, "FAULT_NS %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}
__attribute__((noinline)) static void c(int *p) { stamp(); *p = 1; }
__attribute__((noinline)) static void b(int *p) { c(p); }
__attribute__((noinline)) static void a(int *p) { b(p); }
static void *park(void *arg) { (void)arg; for (;;) pause(); return NULL; }
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "threads") == 0)
        for (int i = 0; i < 8; i++) { pthread_t t; pthread_create(&t, NULL, park, NULL); }
    usleep(1000);
    a(NULL);
    return 0;
}
C
cc -g -O0 -pthread -o "$work/prog" "$work/prog.c"

for mode in null_write threads; do
  arg=$([ "$mode" = threads ] && echo threads || echo one)
  for i in $(seq "$runs"); do
    db="$work/db-$mode-$i"
    fault=$(BACKTRACE_DATABASE_PATH=$db LD_PRELOAD=$lib "$work/prog" "$arg" 2>&1 >/dev/null |
            sed -n 's/^FAULT_NS //p' || true)
    report=$(ls "$db"/*.json)
    echo "$fault $(stat -c %.9Y "$report")"
  done > "$work/$mode.times"
  python3 - "$mode" "$work/$mode.times" <<'PY'
import statistics, sys
ms = [(float(r) - int(f) / 1e9) * 1000 for f, r in (l.split() for l in open(sys.argv[2]))]
print(f"{sys.argv[1]}: fault -> report file: median {statistics.median(ms):.1f} ms, "
      f"min {min(ms):.1f} ms, max {max(ms):.1f} ms over {len(ms)} runs")
PY
done

export BACKTRACE_DATABASE_PATH=$work/db-hyperfine
hyperfine -N -i --warmup 2 --runs "$runs" \
  -n plain "$work/prog one" -n btcrash "env LD_PRELOAD=$lib $work/prog one" \
  -n plain-threads "$work/prog threads" -n btcrash-threads "env LD_PRELOAD=$lib $work/prog threads" \
  --export-json "$work/h.json" 2>&1 | grep -E 'Benchmark|Time'
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(f"whole crashing run, btcrash/plain: {r['btcrash'] / r['plain']:.1f}x "
      f"({r['plain'] * 1000:.1f} ms -> {r['btcrash'] * 1000:.1f} ms)")
print(f"8 threads, btcrash/plain: {r['btcrash-threads'] / r['plain-threads']:.1f}x "
      f"({r['plain-threads'] * 1000:.1f} ms -> {r['btcrash-threads'] * 1000:.1f} ms)")
PY
