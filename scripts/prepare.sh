#!/bin/bash
# What the demo and the tests need: the host's build dependencies, stock
# and patched QEMU 10.2.2 built (with the unit test and the upstream qtests
# the series touches), the vfio-user test server, the guest assets, and
# the nested KVM test bed (patched and stock Linux 7.1.8 L1 kernels, the
# KVM selftests, busybox, the static KVM-only L1 QEMU and its QMP client).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-host-deps.sh
scripts/build-qemu.sh --stock
scripts/build-qemu.sh tests/unit/test-vfio-bar-wc tests/qtest/qmp-cmd-test \
    tests/qtest/device-introspect-test tests/qtest/qom-test \
    tests/unit/check-qjson tests/vfio-user-wc-server
scripts/build-l1-qemu.sh
scripts/fetch-guest.sh
scripts/build-linux.sh
scripts/build-linux.sh --stock
scripts/build-kvm-selftest.sh
