#!/bin/bash
# The README's test command: prepare what the default suites need
# (project/scripts/prepare.sh), then run the tests with meson test
# (meson.build declares each pytest node of project/tests, in the suites
# quick, guest and slow, and the opt-in ones), and end with "N passed, N
# failed", where a skipped test counts as failed.  Arguments go to meson
# test: test names, --suite quick, or --setup full (the opt-in suites build
# what they need).  The build directory is build/meson; a failed test's
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
failed=$(( $(count Fail) + $(count Timeout) + $(count 'Unexpected Pass') + $(count Skipped) ))
echo "$(count Ok) passed, $failed failed"
[ "$failed" = 0 ] || [ "$status" != 0 ] || status=1
exit "$status"
