#!/bin/bash
# What the demo and the tests need: the host's build dependencies, stock
# and patched QEMU 10.2.2 built (with the unit test and the upstream qtests
# the series touches), the vfio-user test server, the guest assets, and
# the nested KVM test bed (patched and stock Linux 7.1.8 L1 kernels, the
# KVM selftests, busybox, the static KVM-only L1 QEMU), then the project's
# own programs, which the top-level meson.build builds in build/meson (the
# guest program and its initramfs, L1's QMP client, the bare-metal
# workloads and test on the patched tree's tests/tcg).
set -euo pipefail
cd "$(dirname "$0")/../.."
project/scripts/install-host-deps.sh
project/scripts/build-qemu.sh --stock
project/scripts/build-qemu.sh tests/unit/test-vfio-bar-wc tests/qtest/qmp-cmd-test \
    tests/qtest/device-introspect-test tests/qtest/qom-test \
    tests/unit/check-qjson tests/vfio-user-wc-server
project/scripts/build-l1-qemu.sh
project/scripts/fetch-guest.sh
project/scripts/build-linux.sh
project/scripts/build-linux.sh --stock
project/scripts/build-kvm-selftest.sh
. project/scripts/lib.sh
if [ ! -f "$BUILD/meson/build.ninja" ]; then
    meson setup "$BUILD/meson" -Dqemu_src="$BUILD/qemu/patched/src" >/dev/null
fi
meson compile -C "$BUILD/meson"
note "the project's programs: $BUILD/meson"
