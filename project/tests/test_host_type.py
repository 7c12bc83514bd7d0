"""Bare-metal programs (project/tcg, built on the tests/tcg harness) at
EL2 on the patched QEMU with a vfio-user-pci: bar2-wc=off's Device host
type in the translation regimes and descriptor formats that the tests/tcg
tests do not reach."""

import json
import re

import pytest

import guest
import vfio_user as vu
from wc import QEMU, run

pytestmark = pytest.mark.quick

HOST_TYPE_PROGRAMS = guest.PROGRAMS / "project" / "tcg"


def run_host_type(server, name, **props):
    """project/tcg/@name.c at EL2 on the patched QEMU with a vfio-user-pci
    on @server with @props: its RESULT lines, {case: outcome}."""
    prog = HOST_TYPE_PROGRAMS / name
    out = prog.with_name(f"{prog.name}.out")
    out.unlink(missing_ok=True)
    r = run([str(QEMU["patched"]), "-M", "virt,virtualization=on,gic-version=2",
             "-cpu", "max", "-display", "none", "-monitor", "none",
             "-chardev", f"file,path={out},id=output",
             "-semihosting-config", "enable=on,target=native,chardev=output,arg=2",
             "-device", json.dumps(vu.vfio_user_device(server, **props)),
             "-kernel", str(prog)], timeout=60)
    text = out.read_text() if out.exists() else ""
    assert r.returncode == 0, text + r.stdout
    return dict(re.findall(r"^RESULT: (.*?): (.*)$", text, re.M))


def test_tcg_host_type_aarch32_short_descriptors(vfio_user_server):
    """an AArch32 short-descriptor EL1 guest on vfio-user-pci: bar2-wc=off makes an unaligned LDR from BAR2 fault"""
    completed = {"aligned LDR from BAR2": "completed",
                 "unaligned LDR from RAM": "completed",
                 "unaligned LDR from BAR2": "completed"}
    for mode in ("on", "auto"):
        got = run_host_type(vfio_user_server, "host-type-aarch32",
                            **{"bar2-wc": mode})
        assert got == completed, (mode, got)
    got = run_host_type(vfio_user_server, "host-type-aarch32",
                        **{"bar2-wc": "off"})
    # DFSR.FS 0b00001, short-descriptor format: Alignment fault.
    assert got == dict(completed, **{"unaligned LDR from BAR2":
                                     "EL1 data abort, DFSR 1"}), got


def test_tcg_host_type_regimes_fault_at_the_guests_own_el(vfio_user_server):
    """bar2-wc=off at a guest hypervisor's EL2 and at EL1 under its stage 2: a stage 1 Alignment fault to the guest's own EL, as KVM injects it"""
    completed = {"unaligned load at EL2 from BAR2": "completed",
                 "unaligned load at EL1 from BAR2": "completed"}
    for mode in ("on", "auto"):
        got = run_host_type(vfio_user_server, "host-type-regimes",
                            **{"bar2-wc": mode})
        assert got == completed, (mode, got)
    got = run_host_type(vfio_user_server, "host-type-regimes",
                        **{"bar2-wc": "off"})
    # EC 0x25: a data abort from the same EL; DFSC 0x21: Alignment fault.
    assert got == {
        "unaligned load at EL2 from BAR2": "fault to EL2, EC 25, DFSC 21",
        "unaligned load at EL1 from BAR2": "fault to EL1, EC 25, DFSC 21",
    }, got
