#!/bin/bash
# The nested KVM test bed (project/scripts/nested_kvm.py), which
# project/scripts/prepare.sh leaves out: the patched and the stock Linux 7.1.8
# L1 kernels (build-linux.sh), the KVM and vfio selftests and busybox
# (build-kvm-selftest.sh), and the static KVM-only L1 QEMU
# (build-l1-qemu.sh).  L1's initramfs, which nested_kvm.py packs as it
# boots L1, holds programs of build/meson too: prepare.sh builds those.
# The nested tests (project/tests/nested_bed.py) and demo.sh run this; each
# step is idempotent, so on a built machine it restages the Linux series
# and rebuilds nothing (about 15 s).
#
#   build-nested-bed.sh             both L1 kernels
#   build-nested-bed.sh --no-stock  the patched one only (L2's kernel too)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

stock=1
case "${1:-}" in
"") ;;
--no-stock) stock= ;;
*) die "unknown argument $1 (--no-stock or nothing)" ;;
esac
# The patched kernel first: it stages the Linux series, whose tree the stock
# kernel (a worktree of it) and the selftests (its uAPI headers) build from.
"$TOP/project/scripts/build-linux.sh"
[ -z "$stock" ] || "$TOP/project/scripts/build-linux.sh" --stock
"$TOP/project/scripts/build-kvm-selftest.sh"
"$TOP/project/scripts/build-l1-qemu.sh"
