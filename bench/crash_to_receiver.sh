#!/usr/bin/env bash
# Crash-to-receiver time: from the fault to a local receiver holding the whole
# report, for the NULL write three calls deep (tests/integration/progs/
# timed_null, which prints CLOCK_REALTIME just before it faults), median of N
# runs (default 20). The receiver (tests/integration/receiver.py, on
# 127.0.0.1, answering 200 with an rxid) logs CLOCK_REALTIME when it has read
# the request's body.
#
# usage: bench/crash_to_receiver.sh [BUILD_DIR] [N]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-20}
lib=$build/lib/libbtcrash.so
prog=$build/tests/integration/progs/timed_null
for f in "$lib" "$prog" "$build/bin/btcrash"; do
  [ -e "$f" ] || { echo "no $f: build first" >&2; exit 2; }
done

work=$(mktemp -d)
rxpid=
cleanup() { [ -n "$rxpid" ] && kill "$rxpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

python3 -u "$here/tests/integration/receiver.py" --log "$work/rx.log" > "$work/rx.out" 2>&1 &
rxpid=$!
for _ in $(seq 100); do grep -q '^PORT ' "$work/rx.out" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/^PORT //p' "$work/rx.out")
[ -n "$port" ] || { echo "the receiver did not start:" >&2; cat "$work/rx.out" >&2; exit 1; }
: > "$work/rx.log"

for i in $(seq "$runs"); do
  fault=$(cd "$work" && BACKTRACE_DATABASE_PATH=$work/db-$i BACKTRACE_ENDPOINT=http://127.0.0.1:$port \
          BACKTRACE_TOKEN=bench timeout 30 env LD_PRELOAD="$lib" "$prog" 2>&1 >/dev/null |
          sed -n 's/^FAULT_REAL_NS //p' || true)
  # The helper may still be sending after the process died: wait for it.
  for _ in $(seq 200); do [ "$(wc -l < "$work/rx.log")" -ge "$i" ] && break; sleep 0.025; done
  got=$(wc -l < "$work/rx.log")
  [ "$got" -ge "$i" ] || { echo "run $i: the receiver got no report within 5 s" >&2; exit 1; }
  echo "$fault $(sed -n "${i}p" "$work/rx.log")"
done > "$work/times"

python3 - "$work/times" <<'PY'
import json, statistics, sys
ms = []
for line in open(sys.argv[1]):
    fault, rec = line.split(" ", 1)
    ms.append((json.loads(rec)["real"] - int(fault) / 1e9) * 1000)
print(f"null_write: fault -> report at the receiver: median {statistics.median(ms):.1f} ms, "
      f"min {min(ms):.1f} ms, max {max(ms):.1f} ms over {len(ms)} runs")
PY
