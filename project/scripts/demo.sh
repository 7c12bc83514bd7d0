#!/bin/bash
# The README's demo command: prepare everything (project/scripts/prepare.sh,
# then the nested KVM bed: build-nested-bed.sh), boot
# the aarch64 guest program on stock and patched QEMU, print what the guest
# saw, case by case, then what QEMU reports for a vfio-user-pci device.
set -euo pipefail
cd "$(dirname "$0")/../.."
project/scripts/prepare.sh
project/scripts/build-nested-bed.sh
cat <<MSG

An aarch64 Linux guest maps ivshmem's prefetchable BAR2 through sysfs as
resource2 (Device-nGnRE) and resource2_wc (Normal-NC), and runs each case:

MSG
project/scripts/guest.py --compare
cat <<MSG

Hardware takes an alignment fault for DC ZVA on Device memory, and so does
glibc's aligned memset(0), which uses it; stock QEMU let both through.
SVE's element accesses need alignment on Device memory too, and its
non-fault loads must not touch it (SUPPRESSED: the FFR says the load did
not happen); stock QEMU kept both rules only for MMIO, not for a Device
mapping of RAM such as this BAR.

MSG

cat <<MSG

The same guest with each barN-wc mode, two ways, side by side: under arm
TCG on a vfio-user-pci device (the project's libvfio-user test server,
whose BAR2 is prefetchable), where on and off give the BAR the host memory
type an arm64 KVM host's stage 2 would and auto sets none, so the guest's
own mapping decides; and under nested KVM, as L2 of an arm64 KVM host (L1,
the Linux series' kernel, under TCG), on the ivshmem BAR that L1 QEMU
passes through with -accel kvm -device vfio-pci,bar2-wc=..., where QEMU
sets the memory attribute of its vfio-pci mmap of the BAR, KVM's stage 2
follows it, and auto leaves vfio-pci's default (Normal-NC at stage 2).

MSG
project/scripts/nested_kvm.py --l2
cat <<MSG

The guest's bandwidth mode: MB/s through resource2 (Device) and
resource2_wc (Normal-NC) and their ratio, over a scratch range of the BAR.
Under TCG they show QEMU's costs, not the hardware's; run the program in
your own VM on a real device (see project/guest/bar-access.c) for those.

MSG
project/scripts/guest.py --bandwidth
cat <<MSG

A vfio-user-pci device on the project's libvfio-user test server
(tests-qtest/tests/vfio-user-wc-server.c) with bar0-wc=off and
bar2-wc=on, as 'info vfio-bars' shows it under arm TCG, which enforces the
host memory types:

MSG
project/scripts/vfio_user.py bar0-wc=off bar2-wc=on
cat <<MSG

The KVM side: the Linux series' selftest, in an arm64 KVM host (L1) that
runs under QEMU's TCG (L0) and maps an ivshmem-plain BAR, bound to
vfio-pci, into its guest with each vfio-pci memory attribute.  Columns:
the patched QEMU and the patched kernel; the patched QEMU and unpatched
Linux 7.1.8 (no attribute to set: Normal-NC); stock QEMU 10.2.2 as L0,
which lets DC ZVA through on Device memory.

MSG
project/scripts/nested_kvm.py
