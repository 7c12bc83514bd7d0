"""An aarch64 Linux guest under TCG (project/guest/bar-access as its
/init) on a BAR of ivshmem or of a vfio-user-pci: the faults of each
access case, the bandwidth table, and a device_del in mid-copy."""

import json
import os
import re
import time

import pytest

import guest
import vfio_user as vu
from guest import EXPECTED_PATCHED, EXPECTED_STOCK, check_table
from wc import MIB, QEMU

pytestmark = pytest.mark.guest


@pytest.mark.parametrize("flavour, expected", [
    pytest.param("patched", EXPECTED_PATCHED, id="patched"),
    pytest.param("stock", EXPECTED_STOCK, id="stock")])
def test_guest_bar_access(flavour, expected):
    """aarch64 Linux guest, ivshmem BAR2: DC ZVA and memset(0) fault on Device; on stock QEMU, DC ZVA and aligned memset(0) do not fault"""
    table, _ = guest.boot(QEMU[flavour])
    check_table(table, expected)


def test_guest_bandwidth_table(vfio_user_server):
    """the guest's bandwidth mode on vfio-user-pci,bar2-wc=on: the WC/Device table for every size and method, the QEMU caveat, nothing written outside its scratch range"""
    memfd = vfio_user_server.bars_file()
    # All of the device's memory: BAR2 and the other BARs after it.
    with open(memfd, "r+b") as f:
        f.write(b"\xa5" * os.fstat(f.fileno()).st_size)
    dev = vu.vfio_user_device(vfio_user_server, **{"bar2-wc": "on"})
    _, log = guest.boot(QEMU["patched"], ["-device", json.dumps(dev)],
                        guest.VFIO_USER_WC_ID, append=guest.BANDWIDTH_APPEND)
    with open(memfd, "rb") as f:
        after = f.read()
    rows, says_qemu = guest.parse_bandwidth(log)
    sizes = [64 << (2 * i) for i in range(7)]             # 64 B .. 256 KiB
    methods = ["str8", "stp16", "memcpy", "burst64"]
    assert sorted(rows) == sorted((z, m) for z in sizes for m in methods), log[-3000:]
    assert all(v > 0 for r in rows.values() for v in r), rows
    assert says_qemu, log[-3000:]
    start, length = 0x80000, 0x40000
    assert after[:start] == b"\xa5" * start, "written below the scratch range"
    assert after[start + length:] == b"\xa5" * (len(after) - start - length), \
        "written above the scratch range (or in BAR0)"
    assert after[start:start + length] != b"\xa5" * length, "nothing written"


def wait_for_line(path, text, vm, timeout):
    """Wait until the file @path (a guest's console) has @text, QEMU @vm
    still running."""
    def seen():
        if not vm.is_running():
            vm.wait()
            raise AssertionError(f"QEMU exited: {vm.get_log()[-3000:]}")
        return text in path.read_text(errors="replace")
    vu.wait_for(seen, repr(text), timeout=timeout)


def test_vfio_user_device_del_mid_memcpy(vfio_user_server, tmp_path):
    """device_del of a vfio-user-pci under a root port while a guest process memcpy()s pages into its BAR: the guest unplugs it (its sysfs device goes), QEMU runs on and exits cleanly, the pages copied before are in the device's memory and none copied after reaches it"""
    server = vfio_user_server
    console = tmp_path / "console.log"
    # -no-shutdown: the guest powers off at the end, and QEMU must still
    # answer query-status then.
    vm = vu.launch("-cpu", "max", "-m", "512", "-serial", f"file:{console}",
                   "-no-shutdown", "-kernel", str(guest.GUEST / "vmlinuz"),
                   "-initrd", str(guest.GUEST_INITRD),
                   "-append", f"console=ttyAMA0 quiet BAR_ACCESS_DEVICE="
                              f"{guest.VFIO_USER_WC_ID} "
                              "BAR_ACCESS_MODE=copy-until-removed",
                   "-device", "pcie-root-port,id=rp0,chassis=1",
                   "-device", json.dumps(vu.vfio_user_device(
                       server, id="wc0", bus="rp0", **{"bar2-wc": "on"})))
    try:
        vm.cmd("cont")
        wait_for_line(console, "bar-access: copying into resource2_wc", vm, 180)
        time.sleep(2)
        vm.cmd("device_del", id="wc0")
        vm.event_wait("DEVICE_DELETED", timeout=60)
        assert vm.cmd("query-vfio-pci-bars") == []
        with open(server.bars_file(), "rb") as bars:
            at_removal = bars.read(MIB)
        wait_for_line(console, "bar-access: done", vm, 120)
        status = vm.cmd("query-status")["status"]
        with open(server.bars_file(), "rb") as bars:
            at_end = bars.read(MIB)
    finally:
        rc, out = vu.stop(vm)
    log = console.read_text(errors="replace")
    ended = re.search(r"bar-access: copy ended (.*) after (\d+) copies, "
                      r"device (\w+)", log)
    assert ended, log[-3000:]
    # Linux 6.12 leaves a removed device's resource mapping in place: the
    # process copies on, into nothing.
    assert ended.group(3) == "gone", ended.group(0)
    assert status in ("running", "shutdown"), status
    # Page n starts with n, then the pattern (fill_pattern(), seed 0x5a).
    pattern = bytes((0x5a + i * 7) & 0xff for i in range(8, 4096))
    pages = [at_removal[o:o + 4096] for o in range(0, MIB, 4096)]
    copied = [int.from_bytes(p[:8], "little") for p in pages if p[8:] == pattern]
    assert copied and max(copied) < int(ended.group(2)), (copied[:8], ended.group(0))
    assert at_end == at_removal, "the guest's stores reached the device after its removal"
    assert rc == 0, (rc, out[-3000:])
    print(f"  {ended.group(0)}")
