#!/bin/bash
# What the demo and the tests need: the host's build dependencies, stock
# and patched QEMU 10.2.2 built (with the unit test and the upstream qtests
# the series touches), the vfio-user test server, and the guest assets.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-host-deps.sh
scripts/build-qemu.sh --stock
scripts/build-qemu.sh tests/unit/test-vfio-bar-wc tests/qtest/qmp-cmd-test \
    tests/qtest/device-introspect-test tests/qtest/qom-test
scripts/build-server.sh
scripts/fetch-guest.sh
