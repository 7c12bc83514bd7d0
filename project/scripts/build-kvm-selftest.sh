#!/bin/bash
# What the nested KVM test bed (project/scripts/nested_kvm.py) needs besides the
# kernels (project/scripts/build-linux.sh):
#   build/linux/selftests/{kvm,vfio}/<test>  the KVM and vfio selftests
#       that project/nested/selftests lists by their
#       paths under tools/testing/selftests (upstream's and the series'
#       own), cross-built static against the patched tree's uAPI headers
#   build/nested/deb/x/bin/busybox  Debian bookworm's busybox-static
#       (arm64), downloaded as a .deb through the private apt
#       configuration and unpacked, never installed
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$BUILD/linux/patched/src
[ -d "$tree/.git" ] || "$TOP/project/scripts/series.py" --project linux stage
make -s -C "$tree" ARCH=arm64 O="$BUILD/linux/headers-build" headers
for suite in kvm vfio; do
    out=$BUILD/linux/selftests/$suite
    tests=$(grep -v '^#' "$TOP/project/nested/selftests" |
            awk -v suite="$suite/" -v out="$out/" \
                'index($1, suite) == 1 { print out substr($1, length(suite) + 1) }')
    [ -n "$tests" ] || continue
    # shellcheck disable=SC2086 # one word a test
    make -s -j"$(nproc)" -C "$tree/tools/testing/selftests/$suite" ARCH=arm64 \
        CROSS_COMPILE=aarch64-linux-gnu- OUTPUT="$out" \
        KHDR_INCLUDES="-isystem $BUILD/linux/headers-build/usr/include" \
        USERLDFLAGS=-static $tests
    note "built $(echo "$tests" | wc -l) $suite selftests in $out"
done

deb=$BUILD/nested/deb
if [ ! -x "$deb/x/bin/busybox" ]; then
    note "downloading Debian's busybox-static (bookworm, arm64)"
    rm -rf "$deb"
    dpkg-deb -x "$(download_deb bookworm busybox-static "$deb")" "$deb/x"
fi
note "busybox: $deb/x/bin/busybox"
