#!/usr/bin/env bash
# `cmake --install` into a temporary prefix gives a working tree: the library,
# the helper, btcrash.h and btcrash.pc. A program built with
# `pkg-config --cflags --libs btcrash` links and runs, and a crash under the
# installed library (with the build tree out of reach) is reported by the
# installed helper.
# usage: check_install.sh BUILD_DIR CRASHING_PROGRAM
set -euo pipefail
build=$1
prog=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > /dev/null
for f in bin/btcrash include/btcrash.h lib/libbtcrash.so lib/pkgconfig/btcrash.pc; do
  [ -e "$work/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done

export PKG_CONFIG_PATH=$work/prefix/lib/pkgconfig
cat > "$work/use.c" <<'C'
#include <btcrash.h>
#include <stdio.h>
int main(void) { printf("%s\n", btcrash_version()); return 0; }
C
# shellcheck disable=SC2046
cc -o "$work/use" "$work/use.c" $(pkg-config --cflags --libs btcrash)
LD_LIBRARY_PATH=$work/prefix/lib "$work/use" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$' ||
  { echo "FAIL: program built with pkg-config did not print the version"; exit 1; }

# A copy of the program outside the build tree, so nothing can find the
# build tree's helper by accident.
cp "$prog" "$work/crasher"
status=0
BACKTRACE_DATABASE_PATH=$work/db LD_PRELOAD=$work/prefix/lib/libbtcrash.so "$work/crasher" \
  2> "$work/stderr" || status=$?
[ "$status" -eq 139 ] || { echo "FAIL: crasher exited $status, expected 139"; cat "$work/stderr"; exit 1; }
ls "$work/db/"*.json > /dev/null 2>&1 || { echo "FAIL: no report"; cat "$work/stderr"; exit 1; }
grep -q "report stored in $work/db/" "$work/stderr" ||
  { echo "FAIL: no summary"; cat "$work/stderr"; exit 1; }
echo "ok: installed tree works (pkg-config, library, helper)"
