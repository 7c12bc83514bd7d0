#!/usr/bin/env python3
#
# A vfio-user server that answers one request the way a broken or hostile
# server would.
#
# Copyright (c) 2026 QEMU arm64 WC project
#
# SPDX-License-Identifier: GPL-2.0-or-later
"""
hostile_vfio_user_server.py SOCKET MODE

Speaks vfio-user on a UNIX socket for one client, well enough to take a
vfio-user-pci device through realize (VERSION, GET_INFO, GET_REGION_INFO,
GET_IRQ_INFO, REGION_READ of config space), and answers one request as
MODE says.  libvfio-user builds its replies itself and cannot send these,
hence a server of its own.  The modes are in MODES.
"""

import os
import socket
import struct
import sys

HDR = struct.Struct('<HHIII')           # id, command, size, flags, error
REGION_INFO = struct.Struct('<IIIIQQ')  # argsz, flags, index, cap_offset,
                                        # size, offset
CAP_HEADER = struct.Struct('<HHI')      # id, version, next
SPARSE_MMAP = struct.Struct('<HHIII')   # header, nr_areas, reserved
SPARSE_AREA = struct.Struct('<QQ')      # offset, size
CAP_TYPE = struct.Struct('<HHIII')      # header, type, subtype

VERSION, DMA_MAP, DMA_UNMAP, GET_INFO, GET_REGION_INFO = 1, 2, 3, 4, 5
GET_IRQ_INFO, SET_IRQS, REGION_READ = 7, 8, 9
FLAG_REPLY, FLAG_NO_REPLY, FLAG_ERROR = 0x1, 0x10, 0x20
REGION_READ_FLAG, REGION_WRITE_FLAG, REGION_MMAP, REGION_CAPS = 0x1, 0x2, 0x4, 0x8
CONFIG_REGION = 7
CAP_SPARSE_MMAP, CAP_TYPE_ID = 1, 2

# Each mode: what the server does wrong.  Region 0 is BAR0.
MODES = {
    'short-device-info': 'GET_INFO: a reply that is only a header',
    'short-region-info': 'GET_REGION_INFO of BAR0: a reply that is only a header',
    'short-irq-info': 'GET_IRQ_INFO of MSI-X: a reply that is only a header',
    'short-config-read': 'REGION_READ of config space: a count, no data',
    'argsz-huge': 'GET_REGION_INFO of BAR0: argsz 0xfffffff0',
    'argsz-small': 'GET_REGION_INFO of BAR0: argsz 8',
    'argsz-past-reply': 'GET_REGION_INFO of BAR0: argsz 48 in a 32-byte reply',
    'cap-loop': "GET_REGION_INFO of BAR0: a capability whose 'next' is itself",
    'cap-past-argsz': 'GET_REGION_INFO of BAR0: a capability header across argsz',
    'sparse-areas-past-argsz': 'GET_REGION_INFO of BAR0: nr_areas 4096 in 48 bytes',
    'bar-shrinks': 'GET_REGION_INFO of BAR2: 8 KiB, then 4 KiB when asked again',
    'argsz-grows': 'GET_REGION_INFO of BAR0: argsz one more than each buffer',
    'error-not-errno': 'REGION_READ of config space: an error reply whose '
                       'error is 0xffffff00, -256 as an int',
    'good-caps': 'none: BAR0 with a type and a sparse mmap capability, '
                 'as libvfio-user sends them',
}


def config_space(msix):
    """A PCI header for 1b36:0015 with no BARs; with @msix, an MSI-X
    capability of one vector, its table and PBA in BAR0."""
    cfg = bytearray(256)
    struct.pack_into('<HH', cfg, 0, 0x1b36, 0x0015)
    if msix:
        cfg[0x06] = 0x10                # status: capability list
        cfg[0x34] = 0x40                # capability pointer
        # MSI-X: id, next, control (1 vector), table BIR 0 at 0, PBA at 0x800
        struct.pack_into('<BBHII', cfg, 0x40, 0x11, 0, 0, 0, 0x800)
    return bytes(cfg)


class Server:
    def __init__(self, conn, mode):
        self.conn = conn
        self.mode = mode
        self.config = config_space(mode == 'short-irq-info')
        self.bar2_answers = 0

    def recv_exact(self, n):
        data = b''
        while len(data) < n:
            chunk = self.conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def reply(self, msg_id, cmd, payload=b'', error=None):
        flags = FLAG_REPLY if error is None else FLAG_REPLY | FLAG_ERROR
        self.conn.sendall(HDR.pack(msg_id, cmd, HDR.size + len(payload),
                                   flags, error or 0) + payload)

    def region_info(self, argsz, index):
        """The reply to GET_REGION_INFO: BAR0 is the hostile one."""
        if index == CONFIG_REGION:
            return REGION_INFO.pack(REGION_INFO.size, REGION_READ_FLAG |
                                    REGION_WRITE_FLAG, index, 0, 256, 0)
        if index == 2 and self.mode == 'bar-shrinks':
            self.bar2_answers += 1
            size = 0x2000 if self.bar2_answers == 1 else 0x1000
            return REGION_INFO.pack(REGION_INFO.size, REGION_READ_FLAG |
                                    REGION_WRITE_FLAG, index, 0, size, 0)
        if index == 0 and self.mode == 'short-irq-info':
            return REGION_INFO.pack(REGION_INFO.size, REGION_READ_FLAG |
                                    REGION_WRITE_FLAG, index, 0, 0x1000, 0)
        if index != 0 or self.mode in ('short-device-info', 'short-irq-info',
                                       'short-config-read', 'bar-shrinks',
                                       'error-not-errno'):
            return REGION_INFO.pack(REGION_INFO.size, 0, index, 0, 0, 0)
        # mmappable, so that hw/vfio reads the sparse mmap capability
        caps = REGION_READ_FLAG | REGION_MMAP | REGION_CAPS
        if self.mode == 'short-region-info':
            return b''
        if self.mode == 'argsz-huge':
            return REGION_INFO.pack(0xfffffff0, 0, index, 0, 0, 0)
        if self.mode == 'argsz-small':
            return REGION_INFO.pack(8, 0, index, 0, 0, 0)
        if self.mode == 'argsz-past-reply':
            return REGION_INFO.pack(48, caps, index, 32, 0x1000, 0)
        if self.mode == 'cap-loop':
            info = REGION_INFO.pack(40, caps, index, 32, 0x1000, 0)
            return info + CAP_HEADER.pack(CAP_SPARSE_MMAP + 100, 1, 32) \
                if argsz >= 40 else info
        if self.mode == 'cap-past-argsz':
            info = REGION_INFO.pack(36, caps, index, 32, 0x1000, 0)
            return info + bytes(4) if argsz >= 36 else info
        if self.mode == 'sparse-areas-past-argsz':
            info = REGION_INFO.pack(48, caps, index, 32, 0x1000, 0)
            cap = SPARSE_MMAP.pack(CAP_SPARSE_MMAP, 1, 0, 4096, 0)
            return info + cap if argsz >= 48 else info
        if self.mode == 'argsz-grows':
            return REGION_INFO.pack(argsz + 1, 0, index, 0, 0x1000, 0)
        if self.mode == 'good-caps':
            # A type capability, then a sparse mmap one with one area.
            info = REGION_INFO.pack(80, caps, index, 32, 0x1000, 0)
            cap_type = CAP_TYPE.pack(CAP_TYPE_ID, 1, 48, 0x7fffffff, 1)
            sparse = SPARSE_MMAP.pack(CAP_SPARSE_MMAP, 1, 0, 1, 0) + \
                SPARSE_AREA.pack(0, 0x1000)
            if argsz < 80:              # no room: the size, no capabilities
                return REGION_INFO.pack(80, caps & ~REGION_CAPS, index, 0,
                                        0x1000, 0)
            return info + cap_type + sparse
        raise ValueError(self.mode)

    def serve(self):
        """Answer requests until the client goes."""
        try:
            while True:
                self.answer(*HDR.unpack(self.recv_exact(HDR.size)))
        except EOFError:
            pass

    def answer(self, msg_id, cmd, size, flags, _):
        """Read the rest of one request and answer it."""
        data = self.recv_exact(size - HDR.size)
        if flags & FLAG_NO_REPLY:
            return
        if cmd == VERSION:
            payload = data                      # the client's own version
        elif cmd == GET_INFO:
            # A PCI device with reset, 9 regions and 5 interrupts.
            payload = (b'' if self.mode == 'short-device-info'
                       else struct.pack('<IIII', 16, 3, 9, 5))
        elif cmd == GET_REGION_INFO:
            argsz, _, index = struct.unpack_from('<III', data)
            print(f'GET_REGION_INFO {index}', flush=True)
            payload = self.region_info(argsz, index)
        elif cmd == GET_IRQ_INFO:
            _, _, index = struct.unpack_from('<III', data)
            payload = (b'' if self.mode == 'short-irq-info'
                       else struct.pack('<IIII', 16, 0, index, 0))
        elif cmd == REGION_READ and self.mode == 'error-not-errno':
            self.reply(msg_id, cmd, error=0xffffff00)
            return
        elif cmd == REGION_READ:
            offset, region, count = struct.unpack_from('<QII', data)
            payload = struct.pack('<QII', offset, region, count)
            if self.mode != 'short-config-read':
                payload += self.config[offset:offset + count]
        else:
            payload = b''                       # DMA_MAP, SET_IRQS, ...
        self.reply(msg_id, cmd, payload)

def main():
    path, mode = sys.argv[1], sys.argv[2]
    if mode not in MODES:
        sys.exit(f'{mode}: not one of {", ".join(MODES)}')
    if os.path.exists(path):
        os.unlink(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        conn, _ = listener.accept()
        with conn:
            Server(conn, mode).serve()


if __name__ == '__main__':
    main()
