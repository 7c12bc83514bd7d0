#!/bin/bash
# What the demo and the tests need: the host's build dependencies, stock
# and patched QEMU 10.2.2 built, and the guest assets.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-host-deps.sh
scripts/build-qemu.sh --stock
scripts/build-qemu.sh
scripts/fetch-guest.sh
