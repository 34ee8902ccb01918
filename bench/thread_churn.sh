#!/usr/bin/env bash
# Thread churn under libbtcrash.so: a program that creates and joins 20,000
# threads one after the other (each doing nothing), without and with the
# preloaded library. btcrash interposes pthread_create to give every thread
# an alternate signal stack; this measures what that costs. Target: ratio
# btcrash/none <= 1.10.
#
# Two views, in one run:
#  1. hyperfine, side by side;
#  2. the two runs interleaved round by round (timing drift on a shared
#     machine hits both alike), ratio of the medians.
#
# usage: bench/thread_churn.sh [BUILD_DIR] [ROUNDS] [THREADS]
#        (defaults: ./build, 20, 20000)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-20}
threads=${3:-20000}
lib=$build/lib/libbtcrash.so
[ -f "$lib" ] || { echo "no $lib: build first" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/churn.c" <<'C'
#include <pthread.h>
#include <stdlib.h>
static void *nothing(void *arg) { return arg; }
int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, nothing, NULL) != 0)
            return 1;
        pthread_join(t, NULL);
    }
    return 0;
}
C
cc -O2 -pthread -o "$work/churn" "$work/churn.c"

echo "== hyperfine, $threads threads per run"
hyperfine -N --warmup 3 --runs "$rounds" \
  -n none    "$work/churn $threads" \
  -n btcrash "env LD_PRELOAD=$lib $work/churn $threads" 2>&1 | grep -E 'Benchmark|Time'

echo "== interleaved, $rounds rounds"
python3 - "$rounds" "$lib" "$work/churn" "$threads" <<'PY'
import os, statistics, subprocess, sys, time
rounds, lib, prog, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
variants = {"none": None, "btcrash": lib}
times = {k: [] for k in variants}
for _ in range(rounds):
    for name, pre in variants.items():
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if pre:
            env["LD_PRELOAD"] = pre
        t = time.perf_counter()
        subprocess.run([prog, n], env=env, check=True)
        times[name].append(time.perf_counter() - t)
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in med.items():
    print(f"{k:8s} median {v * 1000:7.1f} ms  ({v / int(n) * 1e6:5.2f} us per thread)")
print(f"ratio btcrash/none = {med['btcrash'] / med['none']:.3f}")
PY
