#!/usr/bin/env bash
# Fleet simulation (issue 13): 50 processes crash 20 times each, the same
# crash (tests/integration/progs/timed_null), all at once into one crash
# database, against a local receiver (tests/integration/receiver.py), then
# one `btcrash flush` once the crash-loop window has passed. Three runs side
# by side:
#   off      BACKTRACE_CRASH_LOOP_WINDOW=0, the anchor: every crash is an upload;
#   loop     the default 60 s window;
#   429      the default window, and a receiver answering 429 with
#            Retry-After: 3600.
# For each: the requests the receiver got, the crashes they counted (the sum
# of crash.count; a report without it counts 1), the crashes still waiting
# in the database (pending reports' crash.count, plus the repeats counted in
# the loop records), the crashes whose report was lost ("report lost:
# timeout too short" on their stderr), the database's size (du -sb) and the
# wall time.
#
# usage: bench/fleet.sh [BUILD_DIR] [PROCS] [CRASHES]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
procs=${2:-50}
crashes=${3:-20}
lib=$build/lib/libbtcrash.so
prog=$build/tests/integration/progs/timed_null
cli=$build/bin/btcrash
for f in "$lib" "$prog" "$cli"; do
  [ -e "$f" ] || { echo "no $f: build first" >&2; exit 2; }
done

work=$(mktemp -d)
[ -n "${BENCH_KEEP:-}" ] && echo "work directory: $work"
rxpid=
cleanup() { [ -n "$rxpid" ] && kill "$rxpid" 2>/dev/null; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

start_receiver() { # MODE [RETRY_AFTER]
  : > "$work/rx.log"
  python3 -u "$here/tests/integration/receiver.py" --mode "$1" ${2:+--retry-after "$2"} \
    --log "$work/rx.log" > "$work/rx.out" 2>&1 &
  rxpid=$!
  for _ in $(seq 100); do grep -q '^PORT ' "$work/rx.out" 2>/dev/null && break; sleep 0.05; done
  port=$(sed -n 's/^PORT //p' "$work/rx.out")
  [ -n "$port" ] || { echo "the receiver did not start" >&2; exit 1; }
}

stop_receiver() { kill "$rxpid"; wait "$rxpid" 2>/dev/null || true; rxpid=; }

# The sum of crash.count over the receiver's log (a report without it: 1).
counted() {
  python3 -c 'import json,sys
n=0
for ln in open(sys.argv[1]):
    c=json.loads(ln).get("crash_count")
    n+=c if isinstance(c,int) else 1
print(n)' "$work/rx.log"
}

# Crashes the database still holds for later: pending reports' crash.count,
# and the repeats counted in the loop records.
waiting() {
  python3 -c 'import json,os,sys
d=sys.argv[1]; n=0
for f in os.listdir(d):
    p=os.path.join(d,f)
    if f.endswith(".loop"):
        n+=json.load(open(p)).get("throttled",0)
    elif f.endswith(".state"):
        rp=p[:-6]+".json"
        if json.load(open(p)).get("state")=="pending" and os.path.exists(rp):
            n+=json.load(open(rp)).get("attributes",{}).get("crash.count",1)
print(n)' "$1"
}

run() { # NAME WINDOW MODE [RETRY_AFTER]
  local name=$1 window=$2 db=$work/db-$1
  start_receiver "$3" "${4:-}"
  local t0; t0=$(date +%s.%N)
  for p in $(seq "$procs"); do
    (
      for _ in $(seq "$crashes"); do
        BACKTRACE_DATABASE_PATH=$db BACKTRACE_ENDPOINT=http://127.0.0.1:$port \
          BACKTRACE_TOKEN=bench BACKTRACE_CRASH_LOOP_WINDOW=$window \
          LD_PRELOAD="$lib" "$prog" > /dev/null 2>> "$work/err-$name-$p.log" || true
      done
    ) 2> /dev/null & # the shell's "Segmentation fault" lines
  done
  wait $(jobs -p | grep -v "^$rxpid$") 2>/dev/null || true
  local t1; t1=$(date +%s.%N)
  local during; during=$(wc -l < "$work/rx.log")
  # After the window: the loops' repeats go as one report each.
  BACKTRACE_DATABASE_PATH=$db BACKTRACE_ENDPOINT=http://127.0.0.1:$port BACKTRACE_TOKEN=bench \
    BACKTRACE_CRASH_LOOP_WINDOW=0 "$cli" flush > "$work/flush-$name.out" 2>&1 || true
  # Crashes whose report the helper had not kept by the deadline.
  local lost; lost=$(cat "$work"/err-"$name"-*.log | grep -c "report lost" || true)
  printf '%-5s %8d %6d %10d %9d %8d %5d %10d %7.1f\n' "$name" $((procs * crashes)) "$during" \
    "$(wc -l < "$work/rx.log")" "$(counted)" "$(waiting "$db")" "$lost" \
    "$(du -sb "$db" | cut -f1)" "$(echo "$t1 - $t0" | bc)"
  stop_receiver
}

echo "$procs processes x $crashes identical crashes, one database, one receiver"
printf '%-5s %8s %6s %10s %9s %8s %5s %10s %7s\n' run crashes during "+flush" counted waiting \
  lost db_bytes wall_s
[ -n "${BENCH_ONLY:-}" ] || run off 0 ok
run loop 60 ok
[ -n "${BENCH_ONLY:-}" ] || run 429 60 429 3600
