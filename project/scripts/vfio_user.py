#!/usr/bin/env python3
"""The vfio-user test device server and a QEMU that talks QMP to the tests
over a UNIX socket: real processes, real sockets.  The QMP client is
QEMU's own (python/qemu/qmp, from the staged tree)."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BUILD", TOP / "build"))
# The series builds it (tests/meson.build, with the libvfio-user subproject).
SERVER = BUILD / "qemu" / "patched" / "build" / "tests" / "vfio-user-wc-server"
QEMU = BUILD / "qemu" / "patched" / "build" / "qemu-system-aarch64"

sys.path.insert(0, str(BUILD / "qemu" / "patched" / "src" / "python"))
from qemu.qmp import ConnectError  # noqa: E402
from qemu.qmp.legacy import QEMUMonitorProtocol  # noqa: E402


def wait_for(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Server:
    """vfio-user-wc-server on a socket in a private directory."""

    def __init__(self, *options):
        self.dir = tempfile.TemporaryDirectory(prefix="vfio-user-wc-")
        self.socket = os.path.join(self.dir.name, "server.sock")
        # Not the caller's stdout: a server that outlives a failed test
        # must not hold meson's pipe open, which hangs meson test.
        self.proc = subprocess.Popen([str(SERVER), *options, self.socket],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        wait_for(lambda: os.path.exists(self.socket) or self.proc.poll() is not None,
                 "the server's socket")
        if self.proc.poll() is not None:
            raise RuntimeError(f"server exited: {self.proc.stderr.read()}")

    def bars_file(self):
        """The server's memfd: BAR2 at offset 0, BAR0 after BAR2."""
        fds = Path(f"/proc/{self.proc.pid}/fd")
        for fd in fds.iterdir():
            if os.readlink(fd).startswith("/memfd:vfio-user-wc-bars"):
                return fd
        raise RuntimeError("the server has no BAR memfd")

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=10)
        stderr = self.proc.stderr.read()
        self.dir.cleanup()
        return rc, stderr


class QMPError(Exception):
    def __init__(self, error):
        super().__init__(error["desc"])
        self.error = error


class Qemu:
    """qemu-system-aarch64 -M virt, paused, with QMP on a UNIX socket."""

    def __init__(self, *args, accel=None, wrapper=(), qtest=False, qemu=QEMU):
        self.dir = tempfile.TemporaryDirectory(prefix="qemu-wc-")
        qmp_path = os.path.join(self.dir.name, "qmp.sock")
        qtest_path = os.path.join(self.dir.name, "qtest.sock")
        if accel is None:
            accel = "qtest" if qtest else "tcg"
        if qtest:
            args = ("-chardev", f"socket,id=qtest,path={qtest_path},server=on,wait=off",
                    "-qtest", "chardev:qtest", *args)
        self.log = open(os.path.join(self.dir.name, "qemu.log"), "w+")
        self.proc = subprocess.Popen(
            [*wrapper, str(qemu), "-M", "virt", "-accel", accel, "-nic", "none",
             "-display", "none", "-S", "-qmp", f"unix:{qmp_path},server=on,wait=off",
             *args],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.qmp = None

        def connected():
            # The socket file appears at bind(), before QEMU listens.
            if self.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited: {self.output()}")
            qmp = QEMUMonitorProtocol(qmp_path)
            try:
                qmp.connect()
            except (ConnectError, OSError):
                qmp.close()
                return False
            self.qmp = qmp
            return True

        wait_for(connected, "QEMU's QMP socket", timeout=60)
        self.events = []
        if qtest:
            self.qtest = socket.socket(socket.AF_UNIX)
            self.qtest.connect(qtest_path)
            self.qtest_file = self.qtest.makefile("r")

    def qtest_cmd(self, line):
        """One qtest protocol command (docs/devel/testing/qtest.rst)."""
        self.qtest.sendall(line.encode() + b"\n")
        while True:
            reply = self.qtest_file.readline().split()
            if reply and reply[0] == "OK":
                return reply[1:]
            if not reply or reply[0] != "IRQ":
                raise RuntimeError(f"qtest {line!r}: {reply}")

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def cmd(self, name, **args):
        reply = self.qmp.cmd_raw(name, args or None)
        if "error" in reply:
            raise QMPError(reply["error"])
        return reply["return"]

    def wait_event(self, name, timeout=10.0):
        for i, ev in enumerate(self.events):
            if ev["event"] == name:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                ev = self.qmp.pull_event(wait=max(left, 0.001))
            except asyncio.TimeoutError:
                raise TimeoutError(f"no {name} event in {timeout} s: "
                                   f"{self.output()[-2000:]}") from None
            if ev["event"] == name:
                return ev
            self.events.append(ev)

    def quit(self):
        try:
            self.cmd("quit")
        except Exception:       # QEMU may close QMP before the reply
            pass
        try:
            self.qmp.close()
        except EOFError:        # QEMU has closed its end, as quit does
            pass
        rc = self.proc.wait(timeout=60)
        out = self.output()
        self.log.close()
        self.dir.cleanup()
        return rc, out


def vfio_user_device(server, **props):
    """device_add / -device arguments of a vfio-user-pci on @server."""
    return {"driver": "vfio-user-pci",
            "socket": {"type": "unix", "path": server.socket}, **props}


def hotplug_cycles(q, server, cycles):
    """device_add / device_del a vfio-user-pci on @server under the root
    port rp0 of @q @cycles times, bar2-wc cycling through on, off, auto."""
    for i in range(cycles):
        mode = ("on", "off", "auto")[i % 3]
        q.cmd("device_add", **vfio_user_device(server, id="wc0", bus="rp0",
                                               **{"bar2-wc": mode}))
        assert [d["device-id"] for d in q.cmd("query-vfio-pci-bars")] == ["wc0"]
        q.cmd("device_del", id="wc0")
        q.wait_event("DEVICE_DELETED", timeout=60)
        assert q.cmd("query-vfio-pci-bars") == []


def run_hotplug(cycles, **qemu_args):
    """A QEMU (@qemu_args as for Qemu) with a root port, through
    @cycles hot-plug cycles on a server of its own: (its exit status, its
    output)."""
    server = Server()
    q = Qemu("-device", "pcie-root-port,id=rp0,chassis=1", **qemu_args)
    try:
        hotplug_cycles(q, server, cycles)
    finally:
        rc, out = q.quit()
        server.stop()
    return rc, out


# virt's PCIe ECAM (VIRT_HIGH_PCIE_ECAM), 32-bit MMIO window and I/O
# window (VIRT_PCIE_PIO, where PCI I/O space appears in memory).
VIRT_ECAM = 0x4010000000
VIRT_PCI_MMIO = 0x10000000
VIRT_PCI_PIO = 0x3eff0000


def ecam(slot, reg):
    return VIRT_ECAM | (slot << 15) | reg


def map_bar(q, slot, index, address):
    """Program a 32-bit memory or I/O BAR of the device in @slot of bus 0
    (an I/O address is relative to VIRT_PCI_PIO) and enable memory and
    I/O decoding, through the qtest protocol."""
    q.qtest_cmd(f"writel {ecam(slot, 0x10 + 4 * index):#x} {address:#x}")
    q.qtest_cmd(f"writew {ecam(slot, 0x04):#x} 0x3")


def main():
    """Print 'info vfio-bars' for a vfio-user-pci on the test server, its
    BARs placed (through qtest, as firmware would) so that the report has
    the ranges the guest reaches."""
    import sys
    props = dict(arg.split("=", 1) for arg in sys.argv[1:])
    server = Server()
    try:
        q = Qemu("-device", json.dumps(vfio_user_device(server, id="wc0",
                                                        addr="0x3", **props)),
                 accel="tcg", qtest=True)
        map_bar(q, 3, 0, VIRT_PCI_MMIO + 0x100000)
        map_bar(q, 3, 1, 0x1000)
        map_bar(q, 3, 2, VIRT_PCI_MMIO)
        print(q.cmd("human-monitor-command",
                    **{"command-line": "info vfio-bars"}).replace("\r", ""), end="")
        q.quit()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
