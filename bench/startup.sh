#!/usr/bin/env bash
# Start-up cost of preloading libbtcrash.so: a shell loop that fork+execs
# /bin/true 500 times, with no preload, with an empty preloaded DSO (the
# floor any preloaded library pays) and with libbtcrash.so.
#
# Three views, in one run:
#  1. hyperfine, side by side;
#  2. the same three loops interleaved round by round (timing drift on a
#     shared machine hits all three alike), ratios of the medians;
#  3. callgrind's instruction count for one exec of /bin/true: exact and
#     repeatable, though it ignores page faults and cache misses.
#
# usage: bench/startup.sh [BUILD_DIR] [ROUNDS]     (defaults: ./build, 30)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-30}
lib=$build/lib/libbtcrash.so
[ -f "$lib" ] || { echo "no $lib: build first" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo 'void btcrash_bench_empty(void) {}' > "$work/empty.c"
cc -shared -fPIC -O2 -o "$work/libempty.so" "$work/empty.c"

loop='for i in $(seq 500); do /bin/true; done'
echo "== hyperfine"
hyperfine -N --warmup 3 --runs "$rounds" \
  -n none      "bash -c '$loop'" \
  -n empty-dso "env LD_PRELOAD=$work/libempty.so bash -c '$loop'" \
  -n btcrash   "env LD_PRELOAD=$lib bash -c '$loop'" 2>&1 | grep -E 'Benchmark|Time'

echo "== interleaved, $rounds rounds"
python3 - "$rounds" "$work/libempty.so" "$lib" <<'PY'
import os, statistics, subprocess, sys, time
rounds, empty, lib = int(sys.argv[1]), sys.argv[2], sys.argv[3]
loop = "for i in $(seq 500); do /bin/true; done"
variants = {"none": None, "empty-dso": empty, "btcrash": lib}
times = {k: [] for k in variants}
for _ in range(rounds):
    for name, pre in variants.items():
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if pre:
            env["LD_PRELOAD"] = pre
        t = time.perf_counter()
        subprocess.run(["bash", "-c", loop], env=env, check=True)
        times[name].append(time.perf_counter() - t)
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in med.items():
    print(f"{k:10s} median {v * 1000:7.1f} ms  ({v / 500 * 1e6:6.1f} us per exec)")
print(f"ratio empty-dso/none = {med['empty-dso'] / med['none']:.3f}")
print(f"ratio btcrash/none   = {med['btcrash'] / med['none']:.3f}")
print(f"ratio btcrash/empty  = {med['btcrash'] / med['empty-dso']:.3f}")
PY

if command -v valgrind >/dev/null; then
  echo "== instructions for one exec of /bin/true (callgrind)"
  count() {
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$work/cg.%p" \
      env ${1:+LD_PRELOAD=$1} /bin/true 2>&1 | sed -n 's/.*Collected : //p' | tail -1
  }
  n0=$(count ""); n1=$(count "$work/libempty.so"); n2=$(count "$lib")
  echo "none $n0, empty-dso $n1, btcrash $n2 (btcrash adds $((n2 - n1)) over the empty DSO)"
fi
