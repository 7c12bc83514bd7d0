#!/usr/bin/env python3
#
# Functional test: the barN-wc properties of vfio-user-pci
#
# Copyright (c) 2026 QEMU arm64 WC project
#
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Each test starts tests/vfio-user-wc-server, a vfio-user device built on
the libvfio-user subproject (configure with --enable-vfio-user-server to
build it), and plugs a vfio-user-pci into a paused aarch64 virt machine:
what query-vfio-pci-bars and 'info vfio-bars' report for each BAR shape,
every bad barN-wc input (each refused with its message, QEMU alive, no
device left behind), hot-plug, and qtest accesses through a BAR reaching
the device's memory.  And a bare-metal guest program, in this file,
makes unaligned accesses and DC ZVA through Normal-NC and Device
mappings of a BAR with each barN-wc value.  Nothing is downloaded.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time

from qemu.machine.machine import VMLaunchFailure
from qemu.machine.qtest import QEMUQtestProtocol
from qemu_test import QemuSystemTest, wait_for_console_pattern

MIB = 1 << 20
# The virt machine's PCIe ECAM (VIRT_HIGH_PCIE_ECAM), 32-bit MMIO window
# and I/O window (VIRT_PCIE_PIO, where PCI I/O space appears in memory).
VIRT_ECAM = 0x4010000000
VIRT_PCI_MMIO = 0x10000000
VIRT_PCI_PIO = 0x3eff0000
# The 64-bit MMIO window (VIRT_HIGH_PCIE_MMIO), above 4 GiB.
VIRT_PCI_MMIO_HIGH = 0x8000000000
# Where the server keeps each memory BAR in its memfd.
MEMFD_OFFSET = {2: 0, 0: MIB, 4: MIB + 0x10000}

AUTO_REASON_TCG = ('auto: QEMU sets no memory type; the tcg accelerator '
                   "imposes none, so the guest's own mapping decides")
AUTO_REASON_QTEST = ('auto: QEMU sets no memory type; the QTest '
                     'accelerator applies its own choice')


# A bare-metal program for EL1h of the virt machine (without EL2 or EL3:
# no virtualization=on or secure=on), which hw/arm/boot.c loads from a
# raw -kernel image at 0x40080000, with the DTB out of its way, and
# enters with the MMU off.  It maps BAR 2, which the test places at
# 0x10000000, twice: at its own address as Device-nGnRE at stage 1 (what
# Linux's ioremap and resourceN mmap give) and at 0x90000000 as
# Normal-NC (what ioremap_wc and resourceN_wc give).  Then it makes the
# accesses of GUEST_CASES, one line each: the case's letter, then "+" if
# the access completed, or " ESR_EL1 FAR_EL1!" in hex if it faulted; "."
# ends the run.  Its 111 instructions are here encoded, with their
# assembly, as tests/qtest/boot-serial-test.c has its programs.
GUEST_BAR2_NC = 0x90000000
GUEST_BAR2_DEVICE = VIRT_PCI_MMIO
GUEST_PATTERN = 0x0807060504030201
GUEST_CASES = {
    'a': 'aligned 8-byte store, BAR offset 0x0, Normal-NC',
    'u': 'unaligned 8-byte store, 0x11, Normal-NC',
    'p': 'unaligned STP of 16 bytes, 0x23, Normal-NC',
    'l': 'unaligned 8-byte load, 0x11, Normal-NC, what it read stored at 0x88',
    'z': 'DC ZVA at 0x48: the 64-byte block at 0x40 (all ones before), '
         'Normal-NC',
    'd': 'unaligned 8-byte store, 0x91, Device-nGnRE',
}
# The guest's CPU: one whose DC ZVA block (DCZID_EL0) is 64 bytes.
GUEST_CPU = 'cortex-a57'
GUEST_MAIN = [
    # _start:
    # x19: the PL011's data register; x20: BAR 2 through the Normal-NC
    # alias; the UART enabled (UARTCR: UARTEN, TXE)
    0xd2a12013,  # movz x19, #0x0900, lsl #16
    0xd2b20014,  # movz x20, #0x9000, lsl #16
    0x52802021,  # mov w1, #0x101
    0x79006261,  # strh w1, [x19, #0x30]
    0x10ffff80,  # adr x0, _start
    0xd518c000,  # msr vbar_el1, x0
    0x91404001,  # add x1, x0, #0x10, lsl #12
    # Level 1 table at _start + 64 KiB: [0, 1G) Device-nGnRE, [1G, 2G)
    # Normal write-back, VA [2G, 3G) onto [0, 1G) as Normal-NC
    0xd2808122,  # mov x2, #0x409
    0xf9000022,  # str x2, [x1]
    0xd2a80002,  # mov x2, #0x40000000
    0xf280e022,  # movk x2, #0x701
    0xf9000422,  # str x2, [x1, #8]
    0xd28080a2,  # mov x2, #0x405
    0xf9000822,  # str x2, [x1, #16]
    0xf9000c3f,  # str xzr, [x1, #24]
    0xd5182001,  # msr ttbr0_el1, x1
    # MAIR_EL1: attr0 Normal write-back, attr1 Normal-NC, attr2 Device-nGnRE
    0xd2889fe2,  # mov x2, #0x44ff
    0xf2a00082,  # movk x2, #0x04, lsl #16
    0xd518a202,  # msr mair_el1, x2
    # TCR_EL1: T0SZ 32, non-cacheable walks, TTBR1 walks disabled
    0xd2800402,  # movz x2, #0x20
    0xf2a01002,  # movk x2, #0x80, lsl #16
    0xd5182042,  # msr tcr_el1, x2
    0xd5033fdf,  # isb
    0xd508871f,  # tlbi vmalle1
    0xd503379f,  # dsb nsh
    0xd5033fdf,  # isb
    # SCTLR_EL1: M, C and I set, A clear: unaligned accesses to Normal
    # memory do not fault at stage 1
    0xd5381002,  # mrs x2, sctlr_el1
    0xd28200a3,  # mov x3, #0x1005
    0xaa030042,  # orr x2, x2, x3
    0x927ef842,  # bic x2, x2, #2
    0xd5181002,  # msr sctlr_el1, x2
    0xd5033fdf,  # isb
    # x3 = 0x0807060504030201, x4 = ~x3; BAR offsets 0x40-0x7f all ones
    0xd2804023,  # movz x3, #0x0201
    0xf2a08063,  # movk x3, #0x0403, lsl #16
    0xf2c0c0a3,  # movk x3, #0x0605, lsl #32
    0xf2e100e3,  # movk x3, #0x0807, lsl #48
    0xaa2303e4,  # mvn x4, x3
    0x92800007,  # mov x7, #-1
    0xa9041e87,  # stp x7, x7, [x20, #0x40]
    0xa9051e87,  # stp x7, x7, [x20, #0x50]
    0xa9061e87,  # stp x7, x7, [x20, #0x60]
    0xa9071e87,  # stp x7, x7, [x20, #0x70]
    # The cases, each printed as its letter, then '+' or the handler's report
    0x52800c21,  # mov w1, #'a'
    0x94000022,  # bl start_case
    0xf9000283,  # str x3, [x20]
    0x94000023,  # bl end_case
    0x52800ea1,  # mov w1, #'u'
    0x9400001e,  # bl start_case
    0xf8011283,  # stur x3, [x20, #0x11]
    0x9400001f,  # bl end_case
    0x52800e01,  # mov w1, #'p'
    0x9400001a,  # bl start_case
    0x91008e85,  # add x5, x20, #0x23
    0xa90010a3,  # stp x3, x4, [x5]
    0x9400001a,  # bl end_case
    0xd2800006,  # mov x6, #0
    0x52800d81,  # mov w1, #'l'
    0x94000014,  # bl start_case
    0xf8411286,  # ldur x6, [x20, #0x11]
    0x94000015,  # bl end_case
    # What the load read (0 if it faulted), for the test to check
    0xf9004686,  # str x6, [x20, #0x88]
    0x52800f41,  # mov w1, #'z'
    0x9400000f,  # bl start_case
    0x91012285,  # add x5, x20, #0x48
    0xd50b7425,  # dc zva, x5
    0x9400000f,  # bl end_case
    0x52800c81,  # mov w1, #'d'
    0x9400000a,  # bl start_case
    # BAR 2 through the stage 1 Device mapping
    0xd2a20016,  # movz x22, #0x1000, lsl #16
    0xf80912c3,  # stur x3, [x22, #0x91]
    0x9400000a,  # bl end_case
    0x528005c1,  # mov w1, #'.'
    0x39000261,  # strb w1, [x19]
    0x52800141,  # mov w1, #'\n'
    0x39000261,  # strb w1, [x19]
    0xd503207f,  # 1: wfi
    0x17ffffff,  # b 1b
    # start_case:
    0x39000261,  # strb w1, [x19]
    0xd2800015,  # mov x21, #0
    0xd65f03c0,  # ret
    # end_case:
    0x52800561,  # mov w1, #'+'
    0xb4000055,  # cbz x21, 1f
    0x52800421,  # mov w1, #'!'
    0x39000261,  # 1: strb w1, [x19]
    0x52800141,  # mov w1, #'\n'
    0x39000261,  # strb w1, [x19]
    0xd65f03c0,  # ret
]
GUEST_SYNC_HANDLER = [
    # At VBAR_EL1 + 0x200, synchronous exceptions from EL1h: print
    # ' ESR_EL1 FAR_EL1!' in hex and return past the access.  It clobbers
    # x0, x9-x12 and x30, which no case has live
    0xd2800035,  # mov x21, #1
    0x52800409,  # mov w9, #' '
    0x39000269,  # strb w9, [x19]
    0xd5385200,  # mrs x0, esr_el1
    0x94000009,  # bl puthex
    0x52800409,  # mov w9, #' '
    0x39000269,  # strb w9, [x19]
    0xd5386000,  # mrs x0, far_el1
    0x94000005,  # bl puthex
    0xd5384029,  # mrs x9, elr_el1
    0x91001129,  # add x9, x9, #4
    0xd5184029,  # msr elr_el1, x9
    0xd69f03e0,  # eret
    # puthex:
    0xd280078a,  # mov x10, #60
    0x9aca2409,  # 1: lsr x9, x0, x10
    0x92400d29,  # and x9, x9, #0xf
    0x9100c12b,  # add x11, x9, #'0'
    0x91015d2c,  # add x12, x9, #('a' - 10)
    0xf100293f,  # cmp x9, #10
    0x9a8c3169,  # csel x9, x11, x12, lo
    0x39000269,  # strb w9, [x19]
    0xf100114a,  # subs x10, x10, #4
    0x54ffff0a,  # b.ge 1b
    0xd65f03c0,  # ret
]


def guest_image():
    """GUEST_MAIN, and GUEST_SYNC_HANDLER at its vector, VBAR_EL1 + 0x200."""
    def encode(words):
        return b''.join(w.to_bytes(4, 'little') for w in words)
    return encode(GUEST_MAIN).ljust(0x200, b'\0') + encode(GUEST_SYNC_HANDLER)


def alignment_fault(is_write, address):
    """What the guest's handler reports for a Data Abort taken to EL1 from
    EL1 (EC 0x25, IL) with DFSC 0x21, Alignment fault, and no valid
    instruction syndrome: (ESR_EL1, FAR_EL1)."""
    return (0x96000021 | (is_write << 6), address)


def bar(index, kind, size, prefetchable, reason, effective=None,
        mechanism=None, mmapped=(), trapped=(), requested='auto'):
    """One BAR as query-vfio-pci-bars reports it (no reason for on and
    off)."""
    info = {'index': index, 'kind': kind, 'size': size,
            'prefetchable': prefetchable, 'requested': requested,
            'mmapped': [{'offset': o, 'size': n} for o, n in mmapped],
            'trapped': [{'offset': o, 'size': n} for o, n in trapped]}
    if reason:
        info['reason'] = reason
    if effective:
        info['effective'] = effective
    if mechanism:
        info['mechanism'] = mechanism
    return info


def unimplemented(index):
    return bar(index, 'unimplemented', 0, False,
               f'auto: BAR {index} is not implemented')


def server_bars(reason, decoded=False):
    """The server's default BARs with barN-wc=auto: QEMU sets no type.
    The guest reaches them only where it decodes them (@decoded: all
    three, as map_bar() places them)."""
    return [
        bar(0, 'mem32', 0x10000, False, reason, 'host-default',
            mmapped=[(0, 0x10000)] if decoded else ()),
        bar(1, 'io', 0x100, False, 'auto: BAR 1 is an I/O BAR',
            trapped=[(0, 0x100)] if decoded else ()),
        bar(2, 'mem32', MIB, True, reason, 'host-default',
            mmapped=[(0, MIB)] if decoded else ()),
        unimplemented(3), unimplemented(4), unimplemented(5),
    ]


def server_binary(test):
    """tests/vfio-user-wc-server: as meson test passes it, or in the build
    tree when the test runs by hand."""
    return os.environ.get('QEMU_TEST_VFIO_USER_WC_SERVER',
                          test.build_file('tests', 'vfio-user-wc-server'))


class VfioUserWcServer:
    """tests/vfio-user-wc-server on a socket of its own."""

    def __init__(self, test, *options):
        self.test = test
        self.options = options
        self.socket = os.path.join(test.socket_dir().name,
                                   f'vfio-user-{time.monotonic_ns()}.sock')
        test.addCleanup(self.stop)
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [server_binary(self.test), *self.options, self.socket],
            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            self.test.assertIsNone(self.proc.poll(), 'the server exited')
            self.test.assertLess(time.monotonic(), deadline,
                                 'no server socket after 10 s')
            time.sleep(0.02)

    def kill(self):
        """Kill the server as a crash would: it removes no socket."""
        self.proc.kill()
        self.proc.communicate(timeout=10)
        os.unlink(self.socket)

    def stop(self):
        if self.proc.returncode is None:
            self.proc.terminate()
            _, stderr = self.proc.communicate(timeout=10)
            self.test.assertEqual(self.proc.returncode, 0, stderr)

    def device(self, **props):
        """device_add or -device arguments of a vfio-user-pci on it."""
        return {'driver': 'vfio-user-pci',
                'socket': {'type': 'unix', 'path': self.socket}, **props}

    def error(self, tail):
        """An error of vfio about this server's device."""
        return f'vfio vfio-user:{self.socket}: {tail}'

    def memory(self, offset, length):
        """The device's own view of its BARs: the server's memfd."""
        fds = f'/proc/{self.proc.pid}/fd'
        for fd in os.listdir(fds):
            path = os.path.join(fds, fd)
            if os.readlink(path).startswith('/memfd:vfio-user-wc-bars'):
                with open(path, 'rb') as memfd:
                    memfd.seek(offset)
                    return memfd.read(length)
        self.test.fail('the server has no BAR memfd')


class VfioUserBarWc(QemuSystemTest):

    timeout = 180
    maxDiff = None

    def setUp(self):
        super().setUp()
        self.set_machine('virt')
        self.require_device('vfio-user-pci')
        if not os.path.exists(server_binary(self)):
            self.skipTest('tests/vfio-user-wc-server is not built: configure '
                          'with --enable-vfio-user-server')

    def launch(self, *args, accel='tcg', qtest=False, console=False):
        """A paused virt machine with @args; with @qtest, its qtest
        protocol is vm.qtest, to program BARs as firmware would (there is
        none: with TCG too); with @console, its serial port is the
        framework's console."""
        if accel != 'qtest':
            self.require_accelerator(accel)
        vm = self.get_vm('-accel', accel, '-nic', 'none', '-S', *args)
        if console:
            vm.set_console()
        if qtest:
            path = os.path.join(self.socket_dir().name, 'qtest.sock')
            vm.add_args('-chardev', f'socket,id=qtest,path={path},server=on,'
                        'wait=off', '-qtest', 'chardev:qtest')
        vm.launch()
        if qtest:
            protocol = QEMUQtestProtocol(path)
            protocol.connect()
            self.addCleanup(protocol.close)
            vm.qtest = protocol.cmd
        return vm

    def launch_fails(self, *args):
        """QEMU with @args, which must refuse them: its output."""
        vm = self.get_vm('-accel', 'tcg', '-nic', 'none', '-S', *args,
                         name=f'fails-{time.monotonic_ns()}')
        with self.assertRaises(VMLaunchFailure) as launch:
            vm.launch()
        self.assertEqual(launch.exception.exitcode, 1)
        return launch.exception.output

    @staticmethod
    def bars(vm):
        devices = vm.cmd('query-vfio-pci-bars')
        return devices[0]['bars'] if devices else None

    @staticmethod
    def hmp(vm, command):
        return vm.cmd('human-monitor-command', command_line=command)

    @staticmethod
    def map_bar(vm, slot, index, address):
        """Program a 32-bit BAR of the device in @slot of bus 0 (an I/O
        address is relative to VIRT_PCI_PIO) and enable decoding."""
        ecam = VIRT_ECAM | (slot << 15)
        vm.qtest(f'writel {ecam + 0x10 + 4 * index:#x} {address:#x}')
        vm.qtest(f'writew {ecam + 0x04:#x} 0x3')

    def assert_refused(self, vm, server, cases, then_plugs=True):
        """device_add of a vfio-user-pci on @server with each (props,
        message) of @cases: refused with exactly that message, no device
        left, QEMU alive; then, if @then_plugs, a good device plugs."""
        for props, message in cases:
            resp = vm.qmp('device_add', server.device(id='bad', bus='rp0',
                                                       **props))
            self.assertEqual(resp.get('error', {}).get('desc'), message,
                             f'device_add with {props}')
            self.assertEqual(vm.cmd('query-vfio-pci-bars'), [], props)
            self.assertNotIn('bad', [p['name'] for p in vm.cmd(
                'qom-list', path='/machine/peripheral')], props)
            self.assertEqual(vm.cmd('query-status')['status'], 'prelaunch',
                             props)
        if then_plugs:
            vm.cmd('device_add', server.device(id='good', bus='rp0'))
            self.assertEqual([d['device-id'] for d in
                              vm.cmd('query-vfio-pci-bars')], ['good'])

    def assert_on_off_refused(self, server_option, nr, why):
        """bar@nr-wc=on and off, on a server started with @server_option:
        both refused, BAR @nr @why."""
        server = VfioUserWcServer(self, server_option)
        vm = self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        self.assert_refused(vm, server, [
            ({f'bar{nr}-wc': mode},
             server.error(f'bar{nr}-wc={mode}: BAR {nr} {why}'))
            for mode in ('on', 'off')])

    def check_report(self, vm, server, want, hmp_line):
        [device] = vm.cmd('query-vfio-pci-bars')
        self.assertEqual((device['device-id'], device['qom-path'],
                          device['name']),
                         ('wc0', '/machine/peripheral/wc0',
                          f'vfio-user:{server.socket}'))
        self.assertEqual(device['bars'], want)
        self.assertIn(hmp_line, self.hmp(vm, 'info vfio-bars'))

    def test_report_auto_tcg(self):
        server = VfioUserWcServer(self)
        vm = self.launch('-device', json.dumps(server.device(id='wc0')))
        self.check_report(vm, server, server_bars(AUTO_REASON_TCG),
                          'BAR 2: mem32 prefetchable, 0x100000 bytes, '
                          f'bar2-wc=auto -> host-default ({AUTO_REASON_TCG})')

    def test_report_auto_qtest(self):
        server = VfioUserWcServer(self)
        vm = self.launch('-device', json.dumps(server.device(id='wc0')),
                         accel='qtest')
        self.check_report(vm, server, server_bars(AUTO_REASON_QTEST),
                          'BAR 1: io, 0x100 bytes, bar1-wc=auto -> no memory '
                          'type (auto: BAR 1 is an I/O BAR)')

    def test_auto_sets_nothing(self):
        """The default sets no host memory type on any region.  A
        regression guard: stock QEMU has none to set."""
        server = VfioUserWcServer(self)
        vm = self.launch('-device', json.dumps(server.device(addr='0x3')),
                         qtest=True)
        self.map_bar(vm, 3, 0, VIRT_PCI_MMIO + MIB)
        self.map_bar(vm, 3, 2, VIRT_PCI_MMIO)
        mtree = self.hmp(vm, 'info mtree') + self.hmp(vm, 'info mtree -f')
        self.assertIn('BAR 2 mmaps[0]', mtree)
        self.assertNotIn('host-mem-type', mtree)

    def test_on_off_tcg(self):
        """The report, and info mtree marks the regions and the flat view's
        ranges, which memory listeners get."""
        server = VfioUserWcServer(self)
        vm = self.launch('-device', json.dumps(server.device(
            id='wc0', addr='0x3', **{'bar0-wc': 'off', 'bar2-wc': 'on'})),
            qtest=True)
        want = server_bars(AUTO_REASON_TCG)
        for nr, mode, effective in ((0, 'off', 'device-ngnre'),
                                    (2, 'on', 'normal-nc')):
            del want[nr]['reason']
            want[nr].update(requested=mode, effective=effective,
                            mechanism='accel')
        self.check_report(vm, server, want,
                          'BAR 0: mem32, 0x10000 bytes, bar0-wc=off -> '
                          'device-ngnre by accel\r\n')
        self.assertEqual([vm.cmd('qom-get', path='/machine/peripheral/wc0',
                                 property=f'bar{n}-wc') for n in range(6)],
                         ['off', 'auto', 'on', 'auto', 'auto', 'auto'])

        self.map_bar(vm, 3, 0, VIRT_PCI_MMIO + MIB)
        self.map_bar(vm, 3, 1, 0x1000)
        self.map_bar(vm, 3, 2, VIRT_PCI_MMIO)
        # Decoded now: the ranges are where the guest reaches the BARs.
        want = server_bars(AUTO_REASON_TCG, decoded=True)
        for nr, mode, effective in ((0, 'off', 'device-ngnre'),
                                    (2, 'on', 'normal-nc')):
            del want[nr]['reason']
            want[nr].update(requested=mode, effective=effective,
                            mechanism='accel')
        self.assertEqual(self.bars(vm), want)
        mtree = self.hmp(vm, 'info mtree')
        self.assertIn('BAR 0 mmaps[0] [host-mem-type device]', mtree)
        self.assertIn('BAR 2 mmaps[0] [host-mem-type normal-nc]', mtree)
        flat = self.hmp(vm, 'info mtree -f')
        for start, size, name, kind in (
                (VIRT_PCI_MMIO + MIB, 0x10000, 'BAR 0', 'device'),
                (VIRT_PCI_MMIO, MIB, 'BAR 2', 'normal-nc')):
            end = start + size - 1
            self.assertRegex(flat, rf'(?m)^\s*0*{start:x}-0*{end:x} \(prio '
                             rf'\d+, ramd\): .*{name} mmaps\[0\] '
                             rf'\[host-mem-type {kind}\]')

    def test_on_non_prefetchable_warns(self):
        server = VfioUserWcServer(self)
        vm = self.launch('-device', json.dumps(server.device(
            **{'bar0-wc': 'on'})))
        self.assertEqual(self.bars(vm)[0]['effective'], 'normal-nc')
        vm.shutdown()
        self.assertIn(f'warning: vfio-user:{server.socket}: bar0-wc=on: BAR 0 '
                      'is not prefetchable; Normal-NC lets the CPU read it '
                      'speculatively and gather writes, which is wrong for '
                      'registers with side effects', vm.get_log())

    def test_msix_hole(self):
        """vfio traps the host pages of the MSI-X table (4 vectors at
        0x1000) and mmaps the rest of the BAR."""
        server = VfioUserWcServer(self, '--msix')
        vm = self.launch('-device', json.dumps(server.device(
            addr='0x3', **{'bar2-wc': 'on'})), qtest=True)
        self.map_bar(vm, 3, 2, VIRT_PCI_MMIO)
        page = os.sysconf('SC_PAGE_SIZE')
        start = 0x1000 // page * page
        end = -(-(0x1000 + 4 * 16) // page) * page
        self.assertEqual(self.bars(vm)[2], bar(
            2, 'mem32', MIB, True, None, 'normal-nc', 'accel',
            mmapped=[(o, n) for o, n in ((0, start), (end, MIB - end)) if n],
            trapped=[(start, end - start)], requested='on'))

    def test_mem64_bar(self):
        server = VfioUserWcServer(self, '--bar4-mem64')
        vm = self.launch('-device', json.dumps(server.device(
            **{'bar4-wc': 'on'})))
        bars = self.bars(vm)
        self.assertEqual(bars[4], bar(
            4, 'mem64', 0x10000, True, None, 'normal-nc',
            'accel', requested='on'))
        self.assertEqual(bars[5], bar(
            5, 'unimplemented', 0, False,
            'auto: BAR 5 is the upper half of 64-bit BAR 4'))

    def test_mem64_bar_above_4g(self):
        """BAR 4, 64-bit, placed above 4 GiB: its mmap is in the flat view
        there with its type, and accesses reach the device's memory."""
        server = VfioUserWcServer(self, '--bar4-mem64')
        vm = self.launch('-device', json.dumps(server.device(
            addr='0x3', **{'bar4-wc': 'off'})), qtest=True)
        ecam = VIRT_ECAM | (3 << 15)
        low, high = VIRT_PCI_MMIO_HIGH & 0xffffffff, VIRT_PCI_MMIO_HIGH >> 32
        vm.qtest(f'writel {ecam + 0x20:#x} {low:#x}')
        vm.qtest(f'writel {ecam + 0x24:#x} {high:#x}')
        vm.qtest(f'writew {ecam + 0x04:#x} 0x2')
        end = VIRT_PCI_MMIO_HIGH + 0x10000 - 1
        self.assertRegex(self.hmp(vm, 'info mtree -f'),
                         rf'(?m)^\s*0*{VIRT_PCI_MMIO_HIGH:x}-0*{end:x} '
                         r'\(prio \d+, ramd\): .*BAR 4 mmaps\[0\] '
                         r'\[host-mem-type device\]')
        vm.qtest(f'writeq {VIRT_PCI_MMIO_HIGH + 0x18:#x} 0x1122334455667788')
        self.assertEqual(server.memory(MEMFD_OFFSET[4] + 0x18, 8),
                         (0x1122334455667788).to_bytes(8, 'little'))
        self.assertEqual(self.bars(vm)[4], bar(
            4, 'mem64', 0x10000, True, None, 'device-ngnre', 'accel',
            mmapped=[(0, 0x10000)], requested='off'))

    def test_sub_page_bar_auto(self):
        """A 256-byte BAR that the guest places at the start of a page:
        vfio then maps the whole host page of the device for it, which
        is what the guest reaches."""
        server = VfioUserWcServer(self, '--bar3-sub-page')
        vm = self.launch('-device', json.dumps(server.device(addr='0x3')),
                         qtest=True)
        self.map_bar(vm, 3, 3, VIRT_PCI_MMIO + 2 * MIB)
        self.assertEqual(self.bars(vm)[3], bar(
            3, 'mem32', 0x100, True, 'auto: BAR 3 is smaller than a host '
            'page, so whether the guest maps it directly depends on where '
            'the guest places it', mmapped=[(0, os.sysconf('SC_PAGE_SIZE'))]))

    def test_sub_page_bar_refused(self):
        self.assert_on_off_refused(
            '--bar3-sub-page', 3, 'is smaller than a host page, so whether '
            'the guest maps it directly depends on where the guest places it')

    def test_unmappable_bar_auto(self):
        server = VfioUserWcServer(self, '--bar2-unmappable')
        vm = self.launch('-device', json.dumps(server.device(addr='0x3')),
                         qtest=True)
        self.map_bar(vm, 3, 2, VIRT_PCI_MMIO)
        self.assertEqual(self.bars(vm)[2], bar(
            2, 'mem32', MIB, True, 'auto: BAR 2 could not be mmapped',
            trapped=[(0, MIB)]))
        vm.shutdown()
        self.assertIn(f'Failed to mmap vfio-user:{server.socket} BAR 2. '
                      'Performance may be slow', vm.get_log())

    def test_bar_shapes_refused(self):
        """on and off where no memory type can apply."""
        server = VfioUserWcServer(self)
        vm = self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        self.assert_refused(vm, server, [
            ({'bar1-wc': 'on'}, server.error('bar1-wc=on: BAR 1 is an I/O '
                                             'BAR')),
            ({'bar1-wc': 'off'}, server.error('bar1-wc=off: BAR 1 is an I/O '
                                              'BAR')),
            ({'bar3-wc': 'on'}, server.error('bar3-wc=on: BAR 3 is not '
                                             'implemented')),
            ({'bar5-wc': 'off'}, server.error('bar5-wc=off: BAR 5 is not '
                                              'implemented')),
        ])

    def test_upper_half_refused(self):
        self.assert_on_off_refused('--bar4-mem64', 5,
                                   'is the upper half of 64-bit BAR 4')

    def test_unmappable_bar_refused(self):
        # The server passes a pipe's read end for BAR2: a shared writable
        # mmap of it fails with EACCES.
        self.assert_on_off_refused(
            '--bar2-unmappable', 2, 'could not be mmapped, so no memory type '
            'applies: Permission denied')

    def test_config_only_bar_refused(self):
        """Config space says BAR 3 is memory, but the server has no region
        for it: the region decides, and BAR 3 is not implemented."""
        self.assert_on_off_refused('--bar3-config-only', 3,
                                   'is not implemented')

    def test_mmap_past_file(self):
        """A server whose BAR 0 mmap lies past the end of its file: QEMU
        traps the BAR instead of mmapping it (an access through such an
        mmap would kill QEMU with SIGBUS), so accesses reach the device
        through the server, and on or off are refused."""
        server = VfioUserWcServer(self, '--bar0-mmap-past-file')
        vm = self.launch('-device', json.dumps(server.device(addr='0x3')),
                         qtest=True)
        self.map_bar(vm, 3, 0, VIRT_PCI_MMIO + MIB)
        self.assertEqual(self.bars(vm)[0], bar(
            0, 'mem32', 0x10000, False, 'auto: BAR 0 could not be mmapped',
            trapped=[(0, 0x10000)]))
        vm.qtest(f'writel {VIRT_PCI_MMIO + MIB + 0x10:#x} 0x5a5aa5a5')
        self.assertEqual(vm.qtest(f'readl {VIRT_PCI_MMIO + MIB + 0x10:#x}'),
                         'OK 0x000000005a5aa5a5\n')
        self.assertEqual(server.memory(MEMFD_OFFSET[0] + 0x10, 4),
                         (0x5a5aa5a5).to_bytes(4, 'little'))
        self.assertEqual(vm.cmd('query-status')['status'], 'prelaunch')
        vm.shutdown()
        self.assertIn(f'Failed to mmap vfio-user:{server.socket} BAR 0. '
                      'Performance may be slow', vm.get_log())

        server = VfioUserWcServer(self, '--bar0-mmap-past-file')
        vm = self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        self.assert_refused(vm, server, [
            ({'bar0-wc': mode},
             server.error(f'bar0-wc={mode}: BAR 0 could not be mmapped, so '
                          'no memory type applies: Invalid argument'))
            for mode in ('on', 'off')])

    def test_bad_bar_size_refused(self):
        """A server that reports a BAR size no PCI BAR can have."""
        server = VfioUserWcServer(self, '--bar2-size=0x3000')
        vm = self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        self.assert_refused(vm, server, [
            ({}, server.error('BAR 2: the device reports a size of 0x3000, '
                              'which is not a power of two')),
        ], then_plugs=False)

    def test_bad_rom_size_refused(self):
        """A server whose ROM BAR reads back a size no PCI BAR can have
        (0xffffe800: 0x1800 bytes)."""
        server = VfioUserWcServer(self, '--rom-readback=0xffffe800')
        vm = self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        self.assert_refused(vm, server, [
            ({}, server.error('ROM BAR: the device reports a size of 0x1800, '
                              'which is not a power of two')),
        ], then_plugs=False)

    def test_io_space_memory_region_refused(self):
        """A server whose config space calls BAR2 I/O while its region is
        memory: config space decides, as it does for the guest."""
        self.assert_on_off_refused('--bar2-io-space', 2, 'is an I/O BAR')

    def test_qtest_accelerator_refused(self):
        """The qtest accelerator enforces no host memory type."""
        server = VfioUserWcServer(self)
        vm = self.launch('-device', 'pcie-root-port,id=rp0,chassis=1',
                         accel='qtest')
        self.assert_refused(vm, server, [
            ({'bar2-wc': 'on'}, server.error(
                'bar2-wc=on: BAR 2 needs the Normal-NC host memory type, '
                'which the QTest accelerator cannot enforce')),
            ({'bar0-wc': 'off'}, server.error(
                'bar0-wc=off: BAR 0 needs the Device-nGnRE host memory '
                'type, which the QTest accelerator cannot enforce')),
        ])

    def test_realize_time_only(self):
        """qom-set of barN-wc on a realized device is refused; HMP's
        info vfio-bars takes no argument."""
        server = VfioUserWcServer(self)
        vm = self.launch('-device', json.dumps(server.device(
            id='wc0', **{'bar2-wc': 'on'})))
        for value in ('off', 'maybe', 1):
            resp = vm.qmp('qom-set', path='/machine/peripheral/wc0',
                          property='bar2-wc', value=value)
            self.assertEqual(resp['error']['desc'],
                             "Attempt to set property 'bar2-wc' on device "
                             "'wc0' (type 'vfio-user-pci') after it was "
                             "realized", value)
        self.assertEqual((self.bars(vm)[2]['requested'],
                          self.bars(vm)[2]['effective']), ('on', 'normal-nc'))
        for argument in ('wc0', '2', '-x'):
            self.assertIn('vfio-bars: extraneous characters at the end of '
                          'line', self.hmp(vm, f'info vfio-bars {argument}'))

    def test_command_lines_refused(self):
        server = VfioUserWcServer(self)
        device = json.dumps(server.device(id='wc0'))
        cases = {
            'repeated key': (('-device', device[:-1] + ', "bar2-wc": "on", '
                              '"bar2-wc": "off"}'),
                             'JSON parse error, duplicate key'),
            'bad global': (('-global', 'vfio-user-pci.bar2-wc=maybe',
                            '-device', device),
                           "can't apply global vfio-user-pci.bar2-wc=maybe: "
                           "Parameter 'bar2-wc' does not accept value "
                           "'maybe'"),
            'other device': (('-device', 'pcie-root-port,id=rp0,chassis=1,'
                              'bar2-wc=on'),
                             "Property 'pcie-root-port.bar2-wc' not found"),
            'I/O BAR': (('-device', json.dumps(server.device(
                **{'bar1-wc': 'on'}))),
                        server.error('bar1-wc=on: BAR 1 is an I/O BAR') +
                        '\nOnly memory BARs have a memory type: drop the '
                        'property or set it to auto.'),
        }
        for name, (args, message) in cases.items():
            self.assertIn(message, self.launch_fails(*args), name)

    def test_global_applies(self):
        """A good -global applies, and -device overrides it."""
        # A server serves one client at a time.
        servers = (VfioUserWcServer(self), VfioUserWcServer(self))
        vm = self.launch('-global', 'vfio-user-pci.bar2-wc=off',
                         '-device', json.dumps(servers[0].device(id='wc0')),
                         '-device', json.dumps(servers[1].device(
                             id='wc1', **{'bar2-wc': 'on'})))
        self.assertEqual([(d['device-id'], d['bars'][2]['effective'])
                          for d in vm.cmd('query-vfio-pci-bars')],
                         [('wc0', 'device-ngnre'), ('wc1', 'normal-nc')])

    def test_hotplug_cycles(self):
        server = VfioUserWcServer(self)
        vm = self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        vm.cmd('cont')
        modes = {'on': 'normal-nc', 'off': 'device-ngnre',
                 'auto': 'host-default'}
        for i in range(30):
            mode = list(modes)[i % 3]
            vm.cmd('device_add', server.device(id='wc0', bus='rp0',
                                               **{'bar2-wc': mode}))
            [device] = vm.cmd('query-vfio-pci-bars')
            self.assertEqual(device['bars'][2]['effective'], modes[mode])
            vm.cmd('device_del', id='wc0')
            vm.event_wait('DEVICE_DELETED', timeout=30,
                          match={'data': {'device': 'wc0'}})
            self.assertEqual(vm.cmd('query-vfio-pci-bars'), [])

    def test_bar2_accesses_reach_the_device(self):
        """qtest writes through BAR 2 are in the device's memory, and read
        back.  A regression guard: the series mmaps the BARs before it
        registers them, and accesses must still reach the device."""
        server = VfioUserWcServer(self)
        vm = self.launch('-device', json.dumps(server.device(addr='0x3')),
                         accel='qtest', qtest=True)
        self.map_bar(vm, 3, 2, VIRT_PCI_MMIO)
        patterns = {0x0: 0x11223344, 0x1000: 0xa5a5a5a5, 0xffffc: 0xcafef00d}
        for offset, value in patterns.items():
            vm.qtest(f'writel {VIRT_PCI_MMIO + offset:#x} {value:#x}')
        for offset, value in patterns.items():
            self.assertEqual(int.from_bytes(server.memory(
                MEMFD_OFFSET[2] + offset, 4), 'little'), value)
        self.assertEqual(vm.qtest(f'readl {VIRT_PCI_MMIO + 0x1000:#x}'),
                         'OK 0x00000000a5a5a5a5\n')

    def test_intx_traps_the_mmaps(self):
        """While INTx is pending vfio traps the BARs' mmaps: the report's
        ranges say so, BAR 2's mmap leaves the flat view, and the report
        keeps its type.  After the EOI they come back with their type."""
        server = VfioUserWcServer(self, '--intx')
        vm = self.launch('-device', json.dumps(server.device(
            addr='0x3', **{'bar2-wc': 'on'})), qtest=True)
        self.map_bar(vm, 3, 0, VIRT_PCI_MMIO + MIB)
        self.map_bar(vm, 3, 1, 0x1000)
        self.map_bar(vm, 3, 2, VIRT_PCI_MMIO)
        flat_mmap = (rf'(?m)^\s*0*{VIRT_PCI_MMIO:x}-0*'
                     rf'{VIRT_PCI_MMIO + MIB - 1:x} \(prio \d+, ramd\): .*'
                     r'BAR 2 mmaps\[0\] \[host-mem-type normal-nc\]')
        self.assertRegex(self.hmp(vm, 'info mtree -f'), flat_mmap)
        # The server raises INTx on a write to BAR1 offset 0; QEMU
        # disables the mmaps until the guest's EOI.
        vm.qtest(f'writel {VIRT_PCI_PIO + 0x1000:#x} 0x1')
        deadline = time.monotonic() + 10
        while self.bars(vm)[2]['mmapped']:
            self.assertLess(time.monotonic(), deadline,
                            "BAR2's mmaps are still enabled")
            time.sleep(0.02)
        bars = self.bars(vm)
        self.assertEqual((bars[0]['trapped'], bars[0]['effective']),
                         ([{'offset': 0, 'size': 0x10000}], 'host-default'))
        self.assertEqual((bars[2]['trapped'], bars[2]['effective']),
                         ([{'offset': 0, 'size': MIB}], 'normal-nc'))
        self.assertNotRegex(self.hmp(vm, 'info mtree -f'), flat_mmap)
        # A trapped access is the EOI (no irqfd under TCG); vfio maps the
        # BARs again on a timer of virtual time, which runs only while the
        # machine does (its CPU has no code, and no access to the BARs).
        vm.qtest(f'readl {VIRT_PCI_MMIO:#x}')
        vm.cmd('cont')
        deadline = time.monotonic() + 10
        while not self.bars(vm)[2]['mmapped']:
            self.assertLess(time.monotonic(), deadline,
                            "BAR2's mmaps did not come back")
            time.sleep(0.02)
        vm.cmd('stop')
        bars = self.bars(vm)
        self.assertEqual((bars[2]['trapped'], bars[2]['effective']),
                         ([], 'normal-nc'))
        self.assertRegex(self.hmp(vm, 'info mtree -f'), flat_mmap)

    def test_server_killed(self):
        """The server dies under a mapped device: what it had is in its
        memory, QEMU reports it and runs on, trapped reads get all ones."""
        server = VfioUserWcServer(self)
        vm = self.launch('-device', json.dumps(server.device(addr='0x3')),
                         qtest=True)
        self.map_bar(vm, 3, 1, 0x1000)
        self.map_bar(vm, 3, 2, VIRT_PCI_MMIO)
        vm.qtest(f'writeq {VIRT_PCI_MMIO + 0x100:#x} 0x1122334455667788')
        vm.qtest(f'writeb {VIRT_PCI_PIO + 0x1000:#x} 0x5a')
        self.assertEqual(vm.qtest(f'readb {VIRT_PCI_PIO + 0x1000:#x}'),
                         'OK 0x000000000000005a\n')
        self.assertEqual(server.memory(MEMFD_OFFSET[2] + 0x100, 8),
                         (0x1122334455667788).to_bytes(8, 'little'))
        server.kill()

        vm.qtest(f'writeb {VIRT_PCI_PIO + 0x1000:#x} 0x1')
        self.assertEqual(vm.qtest(f'readb {VIRT_PCI_PIO + 0x1000:#x}'),
                         'OK 0x00000000000000ff\n')
        # The mmapped BAR is QEMU's mapping of the device's memory.
        self.assertEqual(vm.qtest(f'readq {VIRT_PCI_MMIO + 0x100:#x}'),
                         'OK 0x1122334455667788\n')
        self.assertEqual(vm.cmd('query-status')['status'], 'prelaunch')
        self.assertEqual(len(self.bars(vm)), 6)
        vm.shutdown()
        log = vm.get_log()
        # Which of vfio-user's paths sees the death first is a race: the
        # proxy's reader in its iothread (EOF), or the I/O BAR write (EPIPE).
        self.assertRegex(log, 'failed to read header: EOF|vfio_user_device_'
                         'io_region_write: Unable to write to socket: Broken '
                         'pipe')
        self.assertIn(f'vfio_region_read(vfio-user:{server.socket}:region1'
                      '+0x0, 1) failed', log)

    def test_server_killed_during_device_add(self):
        """The server dies while device_add waits for its reply: the
        device_add fails as soon as the connection is lost, not when the
        reply times out; nothing is left, and a server restarted on the
        same socket serves the next device_add."""
        server = VfioUserWcServer(self)
        vm = self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        os.kill(server.proc.pid, signal.SIGSTOP)
        killer = threading.Timer(1, server.kill)
        killer.start()
        self.addCleanup(killer.cancel)
        start = time.monotonic()
        resp = vm.qmp('device_add', server.device(
            id='wc0', bus='rp0', **{'x-msg-timeout': 60000}))
        elapsed = time.monotonic() - start
        killer.join()
        self.assertRegex(resp.get('error', {}).get('desc'),
                         re.escape(server.error('')) + '.*lost the connection '
                         'to the server while waiting for its reply: '
                         'Connection reset by peer')
        self.assertLess(elapsed, 30, 'device_add waited for the timeout')
        self.assertEqual(vm.cmd('query-vfio-pci-bars'), [])
        self.assertNotIn('wc0', [p['name'] for p in vm.cmd(
            'qom-list', path='/machine/peripheral')])

        server.start()
        vm.cmd('device_add', server.device(id='wc0', bus='rp0',
                                           **{'bar2-wc': 'on'}))
        self.assertEqual(self.bars(vm)[2]['effective'], 'normal-nc')

    def test_server_never_answers(self):
        """A server that stops answering: device_add fails when
        x-msg-timeout runs out, with nothing left and QEMU running.  A
        regression guard: stock QEMU does the same."""
        server = VfioUserWcServer(self)
        vm = self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        os.kill(server.proc.pid, signal.SIGSTOP)
        # A stopped server is killed, as it cannot exit by itself.
        self.addCleanup(server.proc.communicate, timeout=10)
        self.addCleanup(server.proc.kill)
        resp = vm.qmp('device_add', server.device(
            id='wc0', bus='rp0', **{'x-msg-timeout': 500}))
        self.assertRegex(resp.get('error', {}).get('desc'),
                         re.escape(server.error('')) + '.*timed out waiting '
                         'for reply: Connection timed out')
        self.assertEqual(vm.cmd('query-vfio-pci-bars'), [])
        self.assertEqual(vm.cmd('query-status')['status'], 'prelaunch')

    def run_guest(self, mode, *server_options):
        """GUEST_MAIN on a device whose BAR 2 is at 0x10000000 with
        bar2-wc=@mode: {case: None if it completed, else its fault as
        alignment_fault() gives it}, and the first 0xa0 bytes of BAR 2 in
        the device's memory."""
        server = VfioUserWcServer(self, *server_options)
        image = self.scratch_file('bar-access.bin')
        with open(image, 'wb') as f:
            f.write(guest_image())
        vm = self.launch('-cpu', GUEST_CPU, '-kernel', image,
                         '-device', json.dumps(server.device(
                             addr='0x3', **{'bar2-wc': mode})),
                         qtest=True, console=True)
        self.map_bar(vm, 3, 0, VIRT_PCI_MMIO + MIB)
        self.map_bar(vm, 3, 2, VIRT_PCI_MMIO)
        vm.cmd('cont')
        output = wait_for_console_pattern(self, '.', vm=vm).decode(
            errors='replace')
        results = {}
        for line in output.splitlines()[:-1]:
            match = re.fullmatch(r'([a-z])(?:\+| ([0-9a-f]{16}) '
                                 r'([0-9a-f]{16})!)', line)
            self.assertIsNotNone(match, f'the guest printed {output!r}')
            case, esr, far = match.groups()
            results[case] = (int(esr, 16), int(far, 16)) if esr else None
        self.assertEqual(list(results), list(GUEST_CASES), output)
        return results, server.memory(MEMFD_OFFSET[2], 0xa0)

    @staticmethod
    def bar2_after(normal_nc):
        """BAR 2's first 0xa0 bytes after the guest, if only the aligned
        stores went through (or, with @normal_nc, all Normal-NC cases)."""
        pattern = GUEST_PATTERN.to_bytes(8, 'little')
        want = bytearray(0xa0)
        want[0:8] = pattern
        if normal_nc:
            want[0x11:0x19] = pattern
            want[0x23:0x33] = pattern + (~GUEST_PATTERN & (2**64 - 1)) \
                .to_bytes(8, 'little')
            want[0x88:0x90] = pattern
        else:
            want[0x40:0x80] = b'\xff' * 0x40
        return bytes(want)

    def check_guest_normal_nc(self, mode, *server_options):
        """With @mode the guest's Normal-NC mapping stays Normal-NC: what
        it does completes; its Device mapping still faults."""
        results, memory = self.run_guest(mode, *server_options)
        self.assertEqual(results, {
            'a': None, 'u': None, 'p': None, 'l': None, 'z': None,
            'd': alignment_fault(True, GUEST_BAR2_DEVICE + 0x91)})
        self.assertEqual(memory, self.bar2_after(normal_nc=True))

    def test_guest_on(self):
        self.check_guest_normal_nc('on')

    def test_guest_auto(self):
        """TCG imposes no type: the guest's mapping decides.  A regression
        guard: auto sets nothing, so stock QEMU, which has no barN-wc,
        runs the same guest the same way."""
        self.check_guest_normal_nc('auto')

    def test_guest_off_page_shared_with_trapped_part(self):
        """Only BAR 2's first 0x800 bytes are mmapped, and QEMU traps the
        rest of its first page: QEMU serves that page, so no host memory
        type applies to it (as on KVM, which maps only whole pages into
        the guest and traps this one), and with bar2-wc=off the guest's
        Normal-NC accesses in it complete."""
        self.check_guest_normal_nc('off', '--bar2-mmap-size=0x800')

    def test_guest_off(self):
        """A Device stage 2 makes the guest's Normal-NC mapping Device:
        unaligned accesses and DC ZVA take an Alignment fault, and reach
        nothing."""
        results, memory = self.run_guest('off')
        self.assertEqual(results, {
            'a': None,
            'u': alignment_fault(True, GUEST_BAR2_NC + 0x11),
            'p': alignment_fault(True, GUEST_BAR2_NC + 0x23),
            'l': alignment_fault(False, GUEST_BAR2_NC + 0x11),
            'z': alignment_fault(True, GUEST_BAR2_NC + 0x48),
            'd': alignment_fault(True, GUEST_BAR2_DEVICE + 0x91)})
        self.assertEqual(memory, self.bar2_after(normal_nc=False))


if __name__ == '__main__':
    QemuSystemTest.main()
