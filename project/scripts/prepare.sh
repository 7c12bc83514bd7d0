#!/bin/bash
# What the default test run needs (and the demo, before its nested part):
# the host's build dependencies, stock and patched QEMU 10.2.2 built (with
# the unit test and the upstream qtests the series touches), the vfio-user
# test server, the guest kernel (downloaded while QEMU builds), then the
# project's own programs, which the top-level meson.build builds in
# build/meson (the guest program and its initramfs, L1's QMP client, the
# bare-metal workloads and test on the patched tree's tests/tcg).
#
# The nested KVM test bed (the L1 kernels, the KVM selftests, busybox, the
# L1 QEMU) is not built here: project/scripts/build-nested-bed.sh builds it,
# and the opt-in nested tests and demo.sh run that first.
set -euo pipefail
cd "$(dirname "$0")/../.."
. project/scripts/lib.sh
project/scripts/install-host-deps.sh
# QEMU's source first: the download of the guest kernel below runs beside
# the QEMU builds, and two downloads at once would both write the private
# apt configuration (lib.sh's private_apt_update).
project/scripts/fetch-qemu.sh >/dev/null
mkdir -p "$BUILD/guest"
guest_log=$BUILD/guest/fetch-guest.log
# In a session of its own, so that a failed QEMU build, which ends this
# script, stops the download and the apt-get or dpkg-deb it runs too.
setsid project/scripts/fetch-guest.sh >"$guest_log" 2>&1 &
guest_pid=$!
trap 'kill -- -"$guest_pid" 2>/dev/null || true' EXIT
project/scripts/build-qemu.sh --stock
project/scripts/build-qemu.sh tests/unit/test-vfio-bar-wc tests/qtest/qmp-cmd-test \
    tests/qtest/device-introspect-test tests/qtest/qom-test \
    tests/unit/check-qjson tests/vfio-user-wc-server
wait "$guest_pid" || { cat "$guest_log"; die "fetch-guest.sh failed (log: $guest_log)"; }
trap - EXIT
cat "$guest_log"
# meson reconfigures when a test file it read changes, but cannot see a
# new one: the list of test files decides too.
tests=$(cd project/tests && ls test_*.py)
if [ ! -f "$BUILD/meson/build.ninja" ]; then
    meson setup "$BUILD/meson" -Dqemu_src="$BUILD/qemu/patched/src" >/dev/null
elif [ "$tests" != "$(cat "$BUILD/meson/test-files" 2>/dev/null)" ]; then
    meson setup --reconfigure "$BUILD/meson" >/dev/null
fi
echo "$tests" >"$BUILD/meson/test-files"
meson compile -C "$BUILD/meson"
note "the project's programs: $BUILD/meson"
