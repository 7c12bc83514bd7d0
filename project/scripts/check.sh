#!/bin/bash
# The README's test command: prepare everything (project/scripts/prepare.sh), then
# run the tests with meson test (meson.build declares each test of
# project/scripts/check.py, in the suites quick, guest, nested and slow), and end
# with "N passed, N failed".  Arguments go to meson test: test names, or
# --suite quick.  The build directory is build/meson; a failed test's
# output is printed, and every test's is in build/meson/meson-logs/.
set -euo pipefail
cd "$(dirname "$0")/../.."
project/scripts/prepare.sh
. project/scripts/lib.sh
mbuild=$BUILD/meson
log=$mbuild/check.log
set +e
meson test -C "$mbuild" --print-errorlogs "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
count() {
    local n
    n=$(sed -n "s/^$1: *\([0-9][0-9]*\).*/\1/p" "$log" | tail -1)
    echo "${n:-0}"
}
echo "$(count Ok) passed, $(( $(count Fail) + $(count Timeout) + $(count 'Unexpected Pass') )) failed"
exit "$status"
