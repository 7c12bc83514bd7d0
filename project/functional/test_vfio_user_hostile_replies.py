#!/usr/bin/env python3
#
# Functional test: vfio-user-pci against a server whose replies are
# malformed or truncated.
#
# Copyright (c) 2026 QEMU arm64 WC project
#
# SPDX-License-Identifier: GPL-2.0-or-later
"""
device_add of a vfio-user-pci whose server answers one request the way a
broken or hostile server would (hostile_vfio_user_server.py, next to this
file): each reply is refused with an error that says what was wrong, no
device is left and QEMU keeps running.  They test the QEMU fix series'
"vfio-user: refuse a reply shorter than the answer it stands for", "bound
the argsz of a region info reply" and "check the capability chain of a
region info reply"; without them QEMU 10.2.2 takes each reply as a device,
crashes (argsz-huge) or spins under the BQL (cap-loop).

Needs only vfio-user-pci: it runs on a QEMU with or without the barN-wc
series.
"""

import json
import os
import subprocess
import sys
import time

from qemu_test import QemuSystemTest

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      'hostile_vfio_user_server.py')
GET_REGION_INFO_FAILED = 'failed to get region 0 info: Invalid argument'


class HostileServer:
    """hostile_vfio_user_server.py in @mode, stopped at the test's end.
    Its log goes to a file, so that a client asking fast never waits for
    the test to read it."""

    def __init__(self, test, mode):
        self.socket = os.path.join(test.socket_dir().name,
                                   f'{mode}-{time.monotonic_ns()}.sock')
        self.log = os.path.join(test.outputdir, f'{mode}-server.log')
        with open(self.log, 'w', encoding='utf-8') as log:
            self.proc = subprocess.Popen(
                [sys.executable, SERVER, self.socket, mode],
                stdin=subprocess.DEVNULL, stdout=log)
        self.requests = None
        test.addCleanup(self.stop)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            test.assertIsNone(self.proc.poll(), 'the server exited')
            test.assertLess(time.monotonic(), deadline,
                            'the server did not listen')
            time.sleep(0.05)

    def stop(self):
        """Stop the server, once: the requests it was sent."""
        if self.requests is None:
            self.proc.kill()
            self.proc.wait()
            with open(self.log, encoding='utf-8') as log:
                self.requests = log.read().splitlines()
        return self.requests

    def device(self, **props):
        return {'driver': 'vfio-user-pci', 'id': 'hostile', 'bus': 'rp0',
                'socket': {'type': 'unix', 'path': self.socket}, **props}


class VfioUserHostileReplies(QemuSystemTest):
    """Each malformed or truncated reply, refused."""

    timeout = 60

    def setUp(self):
        super().setUp()
        self.set_machine('virt')
        self.require_device('vfio-user-pci')
        self.require_accelerator('tcg')

    def launch(self, *args):
        self.vm.add_args('-accel', 'tcg', '-nic', 'none', '-S', *args)
        self.vm.launch()

    def plugged(self):
        return 'hostile' in [p['name'] for p in self.vm.cmd(
            'qom-list', path='/machine/peripheral')]

    def assert_refused(self, mode, error, reason=None):
        """device_add on a server in @mode: refused with @error, nothing
        left, QEMU running; @reason in QEMU's log when it is not in
        @error (an int-returning vfio-user call reports it there)."""
        server = HostileServer(self, mode)
        self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        resp = self.vm.qmp('device_add', server.device())
        self.assertEqual(resp.get('error', {}).get('desc'),
                         f'vfio vfio-user:{server.socket}: {error}')
        self.assertFalse(self.plugged())
        self.assertEqual(self.vm.cmd('query-status')['status'], 'prelaunch')
        if reason:
            self.vm.shutdown()
            self.assertIn(reason, self.vm.get_log())

    def test_short_device_info(self):
        """A GET_INFO reply that is only a header."""
        self.assert_refused('short-device-info',
                            'reply to command 4 has 16 bytes, it needs 32')

    def test_short_region_info(self):
        """A GET_REGION_INFO reply that is only a header."""
        self.assert_refused('short-region-info', GET_REGION_INFO_FAILED,
                            'vfio_user_get_region_info: reply to command 5 '
                            'has 16 bytes, it needs 48')

    def test_short_config_read(self):
        """A REGION_READ reply of config space with a count and no data."""
        self.assert_refused('short-config-read',
                            'failed to read device config space: '
                            'Invalid argument',
                            'vfio_user_device_io_region_read: reply to '
                            'command 9 has 32 bytes, it needs 288')

    def test_argsz_huge(self):
        """argsz 0xfffffff0: 10.2.2 wraps its buffer size to 0 and dies."""
        self.assert_refused('argsz-huge', GET_REGION_INFO_FAILED,
                            'vfio_user_get_region_info: region 0 info has '
                            'argsz 4294967280, not within 32..1048576')

    def test_argsz_small(self):
        """argsz 8, less than the fixed part of the answer."""
        self.assert_refused('argsz-small', GET_REGION_INFO_FAILED,
                            'vfio_user_get_region_info: region 0 info has '
                            'argsz 8, not within 32..1048576')

    def test_argsz_past_reply(self):
        """argsz 48 that fits the buffer, in a reply of 32 bytes."""
        self.assert_refused('argsz-past-reply', GET_REGION_INFO_FAILED,
                            'vfio_user_get_region_info: reply to command 5 '
                            'has 48 bytes, it needs 64')

    def test_cap_loop(self):
        """A capability whose 'next' is itself: 10.2.2 spins forever."""
        self.assert_refused('cap-loop', GET_REGION_INFO_FAILED,
                            'vfio_user_device_io_get_region_info: region 0 '
                            'info: capability at 32 overlaps what precedes '
                            'it, up to 40')

    def test_cap_past_argsz(self):
        """A capability header that straddles argsz."""
        self.assert_refused('cap-past-argsz', GET_REGION_INFO_FAILED,
                            'vfio_user_device_io_get_region_info: region 0 '
                            'info: capability at 32 runs past argsz 36')

    def test_sparse_areas_past_argsz(self):
        """A sparse mmap capability with 4096 areas in 48 bytes."""
        self.assert_refused('sparse-areas-past-argsz', GET_REGION_INFO_FAILED,
                            'vfio_user_device_io_get_region_info: region 0 '
                            'info: capability 1 at 32 has 4096 areas, past '
                            'argsz 48')

    def test_short_irq_info(self):
        """A GET_IRQ_INFO reply of MSI-X that is only a header (10.2.2
        reads its own request back and plugs the device)."""
        self.assert_refused('short-irq-info',
                            'failed to get MSI-X irq info: Invalid argument',
                            'vfio_user_device_io_get_irq_info: reply to '
                            'command 7 has 16 bytes, it needs 32')

    def test_argsz_grows(self):
        """An argsz one more than each buffer: 10.2.2 asks again until
        the size wraps."""
        self.assert_refused('argsz-grows', GET_REGION_INFO_FAILED,
                            'vfio_user_device_io_get_region_info: region 0 '
                            'info grew from 33 to 34 bytes when asked again')

    def test_error_not_errno(self):
        """An error reply to REGION_READ whose error is 0xffffff00: 10.2.2
        negates it into 256, takes it for the 256 bytes of config space it
        asked for, and goes on with config space it never read until an
        assertion aborts it."""
        self.assert_refused('error-not-errno',
                            'failed to read device config space: '
                            'Invalid argument',
                            'error reply 0xffffff00 to command 9 is not an '
                            'errno, taken as EINVAL')

    def test_good_caps(self):
        """Regression guard (10.2.2 passes): a type and a sparse mmap
        capability, sent as libvfio-user sends them (the size first, then
        the capabilities), are taken."""
        server = HostileServer(self, 'good-caps')
        self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        self.vm.cmd('device_add', server.device())
        self.assertTrue(self.plugged())
        self.vm.shutdown()
        self.assertNotIn('vfio_user_', self.vm.get_log())

    def test_bar_shrinks_between_reads(self):
        """Regression guard (10.2.2 passes), for issue 27's list of
        hostile servers: a server whose BAR2 is 8 KiB when first asked and
        4 KiB after.  hw/vfio asks once per region and keeps the answer,
        so the BAR is 8 KiB and never changes."""
        server = HostileServer(self, 'bar-shrinks')
        # On the root bus, which query-pci lists without firmware.
        self.launch('-device', json.dumps(server.device(bus='pcie.0',
                                                        addr='0x3')))
        self.vm.cmd('system_reset')
        device = [d for d in self.vm.cmd('query-pci')[0]['devices']
                  if d['qdev_id'] == 'hostile'][0]
        self.assertEqual([(r['bar'], r['size']) for r in device['regions']],
                         [(2, 0x2000)])
        self.assertEqual(server.stop().count('GET_REGION_INFO 2'), 1)

if __name__ == '__main__':
    QemuSystemTest.main()
