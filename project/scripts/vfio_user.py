#!/usr/bin/env python3
"""The vfio-user test device server, and QEMU launched with it by QEMU's
own QEMUMachine (python/qemu/machine, from the staged tree): real
processes, real sockets."""

import json
import os
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
from qemu.machine import QEMUMachine  # noqa: E402
from qemu.machine.qtest import QEMUQtestProtocol  # noqa: E402


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


def launch(*args, qemu=QEMU, accel="tcg", wrapper=(), qtest=False):
    """qemu-system-aarch64 -M virt with @args on @accel, paused, launched:
    a QEMUMachine (QEMU's own, python/qemu/machine).  With @qtest, a qtest
    chardev too, its protocol .qtest, to program BARs as firmware would
    (QEMUQtestMachine would impose the qtest accelerator)."""
    vm = QEMUMachine(str(qemu), wrapper=wrapper, qmp_timer=60,
                     args=["-M", "virt", "-accel", accel, "-nic", "none",
                           "-S", *args])
    if qtest:
        path = os.path.join(vm.temp_dir, "qtest.sock")
        vm.add_args("-chardev", f"socket,id=qtest,path={path},server=on,"
                    "wait=off", "-qtest", "chardev:qtest")
    vm.launch()
    if qtest:
        protocol = QEMUQtestProtocol(path)
        protocol.connect()
        vm.qtest = protocol.cmd
    return vm


def stop(vm):
    """Quit QEMU @vm: (its exit status, its output)."""
    vm.shutdown(timeout=60)
    return vm.exitcode(), vm.get_log()


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
        q.event_wait("DEVICE_DELETED", timeout=60)
        assert q.cmd("query-vfio-pci-bars") == []


def run_hotplug(cycles, **qemu_args):
    """A QEMU (@qemu_args as for launch()) with a root port, through
    @cycles hot-plug cycles on a server of its own: (its exit status, its
    output)."""
    server = Server()
    q = launch("-device", "pcie-root-port,id=rp0,chassis=1", **qemu_args)
    try:
        hotplug_cycles(q, server, cycles)
    finally:
        rc, out = stop(q)
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
    for command in (f"writel {ecam(slot, 0x10 + 4 * index):#x} {address:#x}",
                    f"writew {ecam(slot, 0x04):#x} 0x3"):
        reply = q.qtest(command)
        if reply.split()[:1] != ["OK"]:
            raise RuntimeError(f"qtest {command!r}: {reply!r}")


def main():
    """Print 'info vfio-bars' for a vfio-user-pci on the test server, its
    BARs placed (through qtest, as firmware would) so that the report has
    the ranges the guest reaches."""
    import sys
    props = dict(arg.split("=", 1) for arg in sys.argv[1:])
    server = Server()
    try:
        q = launch("-device", json.dumps(vfio_user_device(server, id="wc0",
                                                          addr="0x3", **props)),
                   qtest=True)
        map_bar(q, 3, 0, VIRT_PCI_MMIO + 0x100000)
        map_bar(q, 3, 1, 0x1000)
        map_bar(q, 3, 2, VIRT_PCI_MMIO)
        print(q.cmd("human-monitor-command",
                    command_line="info vfio-bars").replace("\r", ""), end="")
        stop(q)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
