#!/bin/sh
# check_logs.sh DIR: fail when a sanitized btcrash left a report in DIR (see
# cli/sanitizer_options.c). The reports are printed, then moved to DIR/seen/
# so that the next run starts clean. Runs after every other test
# (DEPENDS), so with `ctest -j` a report still fails this test even when
# the test that caused it passed.
set -eu
dir=$1
found=0
for f in "$dir"/asan.* "$dir"/ubsan.* "$dir"/lsan.*; do
    [ -e "$f" ] || continue
    found=1
    echo "=== sanitizer report $f" >&2
    cat "$f" >&2
    mkdir -p "$dir/seen"
    mv "$f" "$dir/seen/"
done
[ "$found" -eq 0 ] || { echo "sanitizer reports found in $dir" >&2; exit 1; }
echo "no sanitizer reports in $dir"
