#!/usr/bin/env python3
#
# Functional test: what an aarch64 Linux guest sees through the BARs of a
# vfio-user-pci device, for each barN-wc mode, under arm TCG.
#
# Copyright (c) 2026 QEMU arm64 WC project
#
# SPDX-License-Identifier: GPL-2.0-or-later
"""
arm TCG applies a BAR's host memory type as the outer stage 2 that an
arm64 KVM host would give it, so a guest must fault, or not, exactly as on
such a host.  Each test starts the vfio-user test device server, boots a
guest whose /init (bar-access) maps one BAR through sysfs twice, as
resourceN (the guest kernel maps it Device-nGnRE) and resourceN_wc
(Normal-NC), and runs each access case in a child process, printing

    bar-access: <mapping> <case> OK | SIGBUS/BUS_ADRALN | ...

The test checks those lines against what hardware does, checks that the
guest's stores are in the server's memory, and that query-vfio-pci-bars
reports the stage 2 type the guest observed.  With barN-wc=auto QEMU sets
no type: under TCG the guest's own mapping decides, as under a stage 2
Normal-NC.

Everything is local; nothing is downloaded:

    QEMU_TEST_BAR_WC_KERNEL        an arm64 Linux kernel, 6.5 or later
                                   for the MOPS cases (Debian's
                                   linux-image-arm64 6.12 works)
    QEMU_TEST_BAR_WC_INITRD        an initramfs with bar-access as /init

and the series' tests/vfio-user-wc-server from QEMU_BUILD_ROOT's build
(with the series' tests/functional/aarch64 on PYTHONPATH, for its
helper, and project/scripts, for the guest's table), whichever
QEMU_TEST_QEMU_BINARY is.
"""

import json
import os
from unittest import skipUnless

from qemu_test import QemuSystemTest, wait_for_console_pattern
# The series' own test, for its server (which QEMU_BUILD_ROOT's build
# has); a module, so that its test class is not collected here.
import test_vfio_user_bar_wc as series_test
# The guest program's cases and what the architecture gives each on a
# stage 2 type: the project's one table (project/scripts/guest.py).
from guest import CASES, OUTCOME

KERNEL = os.getenv('QEMU_TEST_BAR_WC_KERNEL')
INITRD = os.getenv('QEMU_TEST_BAR_WC_INITRD')

# tests/vfio-user-wc-server's PCI ID.
DEVICE_ID = '1b36:0015'
# Where the guest's 'store8-aligned' case writes, and what.
STORE_OFFSET = 0x100
STORE_VALUE = 0x1122334455667788

# No host type under TCG: the guest's mapping decides, as under Normal-NC.
STAGE2_OUTCOME = {**OUTCOME, 'host-default': OUTCOME['normal-nc']}
AUTO_REASON = ("auto: QEMU sets no memory type; the tcg accelerator "
               "imposes none, so the guest's own mapping decides")


@skipUnless(KERNEL and INITRD,
            'needs QEMU_TEST_BAR_WC_KERNEL and QEMU_TEST_BAR_WC_INITRD')
class VfioUserBarWcGuest(QemuSystemTest):

    timeout = 120
    # A failure's report is the whole table's diff, case by case.
    maxDiff = None

    def run_guest(self, bar, **props):
        """Boot the guest on BAR @bar of a vfio-user-pci with @props; return
        what the guest printed, as {(mapping, case): result}, and the 8
        bytes its 'store8-aligned' case left in the device's memory."""
        self.set_machine('virt')
        self.require_accelerator('tcg')
        self.require_device('vfio-user-pci')
        server = series_test.VfioUserWcServer(self)
        device = server.device(id='wc0', **props)
        self.vm.set_console()
        self.vm.add_args('-accel', 'tcg', '-cpu', 'max', '-m', '512',
                         '-nic', 'none', '-no-shutdown',
                         '-kernel', KERNEL, '-initrd', INITRD,
                         '-append', 'console=ttyAMA0 quiet panic=-1 '
                                    f'BAR_ACCESS_DEVICE={DEVICE_ID} '
                                    f'BAR_ACCESS_BAR={bar}',
                         '-device', json.dumps(device))
        self.vm.launch()
        console = wait_for_console_pattern(self, 'bar-access: done',
                                           'Kernel panic').decode()
        results = {}
        for line in console.splitlines():
            words = line.split()
            if len(words) == 4 and words[0] == 'bar-access:' \
                    and words[2] in CASES:
                results[(words[1], words[2])] = words[3]

        stored = server.memory(series_test.MEMFD_OFFSET[bar] + STORE_OFFSET, 8)
        return results, int.from_bytes(stored, 'little')

    def bar_report(self, bar):
        """BAR @bar of the device in query-vfio-pci-bars."""
        devices = self.vm.cmd('query-vfio-pci-bars')
        self.assertEqual([d['device-id'] for d in devices], ['wc0'])
        report = devices[0]['bars'][bar]
        self.assertEqual(report['index'], bar)
        return report

    def assert_guest_saw(self, results, mapping, stage2_type):
        self.assertEqual({c: results.get((mapping, c), 'nothing')
                          for c in CASES}, STAGE2_OUTCOME[stage2_type],
                         f'{mapping} as with a stage 2 {stage2_type}')

    def check_report(self, bar, requested, effective, mechanism, reason):
        report = self.bar_report(bar)
        self.assertEqual((report['requested'], report.get('effective'),
                          report.get('mechanism'), report.get('reason')),
                         (requested, effective, mechanism, reason))
        return report

    def check_prefetchable_bar(self, mode, effective, mechanism, reason):
        results, stored = self.run_guest(2, **{'bar2-wc': mode})

        # The guest's own Device mapping is honoured whatever the host's.
        self.assert_guest_saw(results, 'resource2', 'device-ngnre')
        self.assertEqual(stored, STORE_VALUE,
                         "the guest's store is not in the device's memory")
        # Through its Normal-NC mapping, the host's type decides: the one
        # the report gives.
        report = self.check_report(2, mode, effective, mechanism, reason)
        self.assert_guest_saw(results, 'resource2_wc', report['effective'])

    def test_bar2_wc_on(self):
        self.check_prefetchable_bar('on', 'normal-nc', 'accel', None)

    def test_bar2_wc_auto(self):
        self.check_prefetchable_bar('auto', 'host-default', None,
                                    AUTO_REASON)

    def test_bar2_wc_off(self):
        self.check_prefetchable_bar('off', 'device-ngnre', 'accel', None)

    def test_bar0_default_auto(self):
        """A non-prefetchable BAR with the default (auto): no host type,
        and Linux gives userspace no Normal-NC mapping of such a BAR (no
        resource0_wc), so the guest's Device mapping decides."""
        results, stored = self.run_guest(0)

        self.assert_guest_saw(results, 'resource0', 'device-ngnre')
        self.assertNotIn(('resource0_wc', 'store8-aligned'), results)
        self.assertEqual(stored, STORE_VALUE,
                         "the guest's store is not in the device's memory")
        self.check_report(0, 'auto', 'host-default', None, AUTO_REASON)


if __name__ == '__main__':
    QemuSystemTest.main()
