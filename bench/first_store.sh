#!/usr/bin/env bash
# Fault to first stored report (issue 10): the helper stores a valid report
# as soon as the crashing thread's raw frames are known, then improves it.
# For a 3-frame program (timed_null) and for one 3000 functions large and
# 3000 frames deep (deep3000), N runs each (default 10) in local mode, side
# by side: the median time from the fault to the first stored report, and
# to the last improvement, as the helper's debug output gives them
# (CLOCK_MONOTONIC, the clock of the record's fault time).
#
# usage: bench/first_store.sh [BUILD_DIR] [N] [BACKTRACE_TIMEOUT]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
timeout=${3:-4}
lib=$build/lib/libbtcrash.so
progs=$build/tests/integration/progs
for f in "$lib" "$progs/timed_null" "$progs/deep3000"; do
    [ -e "$f" ] || { echo "no $f: build first" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "n/a"}'; }

for prog in timed_null deep3000; do
    : > "$work/first" && : > "$work/last"
    for _ in $(seq "$runs"); do
        rm -rf "$work/db"
        # The group's 2> takes the shell's own "Segmentation fault" line.
        { env LD_PRELOAD="$lib" BACKTRACE_DATABASE_PATH="$work/db" BACKTRACE_DEBUG_BACKTRACE=1 \
            BACKTRACE_TIMEOUT="$timeout" "$progs/$prog" 2> "$work/err"; } 2> /dev/null || true
        sed -n 's/.*report stored as .*, \([0-9.]*\) ms after the fault/\1/p' "$work/err" \
            >> "$work/first"
        sed -n 's/.*improved with .*, \([0-9.]*\) ms after the fault/\1/p' "$work/err" \
            | tail -1 >> "$work/last"
    done
    printf '%-10s first stored report: median %6s ms; last improvement: median %6s ms (%d runs, BACKTRACE_TIMEOUT=%s)\n' \
        "$prog" "$(median < "$work/first")" "$(median < "$work/last")" "$runs" "$timeout"
done
