#!/usr/bin/env bash
# bench/fuzz.sh [SECONDS] [BUILD_DIR]: build the libFuzzer targets of
# tests/fuzz with clang (BTCRASH_FUZZ=ON) and run each for SECONDS (default
# 60), one after the other, then print executions, executions per second
# and what each one found. The corpus grows in BUILD_DIR/fuzz-corpus/<target>
# (seeded from tests/fuzz/corpus/), crashing inputs land in
# BUILD_DIR/fuzz-artifacts/<target>/: copy each into
# tests/fuzz/regressions/<target>/ once fixed, so ctest replays it.
# Needs clang and libclang-rt-14-dev (libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
build=${2:-build-fuzz}
targets=(config utf8 attrs userdata record dbfiles text)

CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S . -B "$build" -DBTCRASH_FUZZ=ON > /dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" > /dev/null

status=0
printf '%-10s %12s %10s %8s  %s\n' target execs execs/s cov result
for t in "${targets[@]}"; do
    corpus=$build/fuzz-corpus/$t
    artifacts=$build/fuzz-artifacts/$t
    log=$build/fuzz-$t.log
    mkdir -p "$corpus" "$artifacts"
    rc=0
    # The first error stops the run; -print_final_stats gives the counts.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$build/bin/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" -max_len=65536 \
        "$corpus" "tests/fuzz/corpus/$t" > "$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        result="FAILED (status $rc): $(ls "$artifacts" | head -3 | tr '\n' ' ')see $log"
        status=1
    fi
    printf '%-10s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$result"
done
exit $status
