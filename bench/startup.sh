#!/usr/bin/env bash
# Start-up cost of preloading libbtcrash.so: a shell loop that fork+execs
# /bin/true 500 times, without and with LD_PRELOAD, side by side (hyperfine),
# plus the same loop preloading an empty shared object: the floor that any
# preloaded DSO pays. Prints each mean and the ratios.
#
# usage: bench/startup.sh [BUILD_DIR]     (default: ./build)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
lib=$build/lib/libbtcrash.so
[ -f "$lib" ] || { echo "no $lib: build first" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo 'void btcrash_bench_empty(void) {}' > "$work/empty.c"
cc -shared -fPIC -O2 -o "$work/libempty.so" "$work/empty.c"

loop='for i in $(seq 500); do /bin/true; done'
hyperfine -N --warmup 3 --runs 30 --export-json "$work/r.json" \
  -n none      "bash -c '$loop'" \
  -n empty-dso "env LD_PRELOAD=$work/libempty.so bash -c '$loop'" \
  -n btcrash   "env LD_PRELOAD=$lib bash -c '$loop'"
python3 - "$work/r.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
base = r["none"]
for k in ("empty-dso", "btcrash"):
    print(f"ratio {k}/none = {r[k] / base:.3f}")
print(f"ratio btcrash/empty-dso = {r['btcrash'] / r['empty-dso']:.3f}")
PY
