"""vfio-user-pci on the series' test server, without a guest: the
README's hand-run, the barN-wc properties, the host memory type fixed
once a region is mapped, hot-plug under valgrind, and the server itself."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import vfio_user as vu
from wc import TOP, run


@pytest.mark.quick
def test_readme_hand_run(tmp_path):
    """the README's three-command hand-run, as written: the server, QEMU, 'info vfio-bars'"""
    readme = (TOP / "README.md").read_text()
    block = re.search(r"By hand, in three commands.*?```sh\n(.*?)```", readme,
                      re.S).group(1)
    server_cmd, qemu_cmd, monitor_cmd = [
        c for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    sock = str(tmp_path / "wc.sock")
    server_cmd = server_cmd.replace("/tmp/wc.sock", sock)
    qemu_cmd = qemu_cmd.replace("/tmp/wc.sock", sock)
    server = subprocess.Popen(["bash", "-c", f"exec {server_cmd}"], cwd=TOP,
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        vu.wait_for(lambda: os.path.exists(sock), "the server's socket")
        monitor = monitor_cmd.replace("(qemu) ", "")
        r = subprocess.run(["bash", "-c", qemu_cmd], cwd=TOP, text=True,
                           input=f"{monitor}\nquit\n", timeout=60,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert r.returncode == 0, r.stdout[-3000:]
    assert re.search(re.escape("BAR 2: mem32 prefetchable, 0x100000 bytes, "
                               "bar2-wc=off -> device-ngnre by accel") +
                     r"\r?\n", r.stdout), r.stdout[-3000:]


@pytest.mark.quick
def test_vfio_properties_on_both_types():
    """vfio-pci and vfio-user-pci both have bar0-wc..bar5-wc, described"""
    vm = vu.launch()
    try:
        for typename in ("vfio-pci", "vfio-user-pci"):
            props = {p["name"]: p for p in
                     vm.cmd("device-list-properties", typename=typename)}
            for n in range(6):
                p = props.get(f"bar{n}-wc")
                assert p, f"{typename} has no bar{n}-wc"
                assert p["type"] == "OnOffAuto", p
                assert p.get("default-value") == "auto", p
                assert f"BAR {n}'s mmapped parts" in p.get("description", ""), p
            assert "bar6-wc" not in props
    finally:
        vm.shutdown()


# memory_region_set_host_mem_type() on BAR 2's mmap, called in the main
# loop with the BQL held: the debugger catches QMP 'stop' on entry to its
# handler and turns that call into this one, which returns to the QMP
# dispatcher in its place (so 'stop' stops nothing).  Only general
# registers are written: gdb 13 cannot restore the vector registers of a
# process on a CPU with AMX, which an inferior function call needs.
GDB_SET_HOST_MEM_TYPE = """
set $vdev = (VFIOPCIDevice *)((char *)vfio_device_list.lh_first - \
                              (long)&((VFIOPCIDevice *)0)->vbasedev)
break *qmp_stop
continue
set $rdi = &$vdev->bars[2].region.mmaps[0].mem
set $rsi = MR_HOST_MEM_TYPE_DEVICE
set $pc = memory_region_set_host_mem_type
delete
detach
"""


def traced(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return re.search(r"^TracerPid:\s+[1-9]", status, re.M) is not None


@pytest.mark.quick
def test_host_mem_type_fixed_once_mapped(vfio_user_server, tmp_path):
    """memory_region_set_host_mem_type() on a region already in a container (a mapped BAR's mmap, called by a debugger: no device does it) is refused by an assertion, not turned into a listener del + add: the type is fixed when the region is created (fails on the series before it asserted, where the call remapped the region)"""
    vm = vu.launch("-device", json.dumps(vu.vfio_user_device(
                       vfio_user_server, addr="0x3", **{"bar2-wc": "on"})),
                   qtest=True)
    try:
        vu.map_bar(vm, 3, 2, vu.VIRT_PCI_MMIO)
        pid = vm.get_pid()
        script = tmp_path / "set-host-mem-type.gdb"
        script.write_text(GDB_SET_HOST_MEM_TYPE)
        gdb = subprocess.Popen(["gdb", "-nx", "-batch", "-p", str(pid),
                                "-x", str(script)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        vu.wait_for(lambda: traced(pid) or gdb.poll() is not None,
                    "gdb to attach", timeout=60)
        # The call happens in place of qmp_stop, so no reply comes.
        try:
            vm.cmd("stop")
        except Exception:
            pass
        out = gdb.communicate(timeout=120)[0]
        assert "Breakpoint 1, " in out, out
        vm.wait(timeout=60)
    finally:
        vm.shutdown()
    log = vm.get_log()
    assert vm.exitcode() == -signal.SIGABRT, (vm.exitcode(), log[-3000:])
    assert "memory_region_set_host_mem_type: Assertion `!memory_region_is_mapped(mr)' failed" \
        in log, log[-3000:]


@pytest.mark.slow
def test_vfio_user_hotplug_valgrind():
    """under valgrind, 50 hot-plug cycles of vfio-user-pci (bar2-wc on/off/auto) leak nothing and add no memory error"""
    r = run([sys.executable, str(TOP / "project" / "scripts" / "leak-hotplug.py"), "50"],
            timeout=900)
    assert r.returncode == 0, r.stdout[-5000:]
    for cycles in (0, 50):
        assert (f"valgrind, {cycles} hot-plug cycles: definitely lost 0 bytes, "
                "0 errors") in r.stdout, r.stdout[-5000:]


@pytest.mark.quick
def test_vfio_user_server_exits_cleanly(vfio_user_server):
    """the test server exits with 0 on SIGTERM and removes its socket"""
    path = vfio_user_server.socket
    rc, err = vfio_user_server.stop()
    assert rc == 0, err
    assert not os.path.exists(path)
