#!/usr/bin/env python3
"""Boot the aarch64 guest program (project/guest/bar-access.c) under TCG and parse
what it reports.  Used by the demo and the tests; run it alone to see one
guest's table:

  project/scripts/guest.py [--qemu PATH] [--stock]
  project/scripts/guest.py --compare      stock 10.2.2 and patched, side by side
  project/scripts/guest.py --modes        the guest on vfio-user-pci (the project's
                                  test server), bar2-wc=on, auto and off
  project/scripts/guest.py --bandwidth    the guest's bandwidth table, WC vs Device
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BUILD", TOP / "build"))
GUEST = BUILD / "guest"
# What the top-level meson.build builds (project/scripts/prepare.sh compiles it).
PROGRAMS = BUILD / "meson"
GUEST_PROGRAM = PROGRAMS / "project" / "guest" / "init"
GUEST_INITRD = PROGRAMS / "project" / "guest" / "bar-access.cpio"
QEMU = {
    "patched": BUILD / "qemu" / "patched" / "build" / "qemu-system-aarch64",
    "stock": BUILD / "qemu" / "stock" / "build" / "qemu-system-aarch64",
}

IVSHMEM_ID = "1af4:1110"
IVSHMEM_BAR = 2             # prefetchable 64-bit memory BAR, backed by RAM
# tests-qtest/tests/vfio-user-wc-server.c: BAR2 is prefetchable too.
VFIO_USER_WC_ID = "1b36:0015"

CASES = ("store8-aligned", "store8-unaligned", "load8-unaligned",
         "stp-ldp-aligned", "stp-ldp-unaligned", "memcpy-aligned",
         "memcpy-misaligned", "dc-zva", "memset0-aligned",
         "memset0-misaligned", "sve-ld1d-unaligned", "sve-st1d-unaligned",
         "sve-ldnf1d-aligned",
         "mops-set-unaligned", "mops-cpy-unaligned")

ADRALN = "SIGBUS/BUS_ADRALN"
# What the architecture gives each case through a mapping of a stage 2
# memory type: on Device memory every unaligned access (SVE's by element)
# and DC ZVA, and so glibc's memset(0), take an alignment fault, and an
# SVE non-fault load is suppressed; on Normal-NC nothing is.  The tests
# and project/functional/test_vfio_user_bar_wc_guest.py check against it.
OUTCOME = {
    "device-ngnre": {c: "OK" if c in ("store8-aligned", "stp-ldp-aligned",
                                      "memcpy-aligned", "mops-set-unaligned",
                                      "mops-cpy-unaligned") else
                     "SUPPRESSED" if c == "sve-ldnf1d-aligned" else ADRALN
                     for c in CASES},
    "normal-nc": {c: "OK" for c in CASES},
}


def expected_table(wc_stage2):
    """The guest's table: resource2 (its own Device mapping) as Device,
    resource2_wc (Normal-NC) as the stage 2 type @wc_stage2 makes it."""
    return {**{("resource2", c): r for c, r in OUTCOME["device-ngnre"].items()},
            **{("resource2_wc", c): r for c, r in OUTCOME[wc_stage2].items()}}


# What an arm64 host with stage 2 Normal-NC gives (FACTS.md, hardware).
EXPECTED_PATCHED = expected_table("normal-nc")
# Stock 10.2.2 lets DC ZVA, and so glibc's aligned memset(0), through, and
# SVE reads and writes Device memory backed by RAM as Normal.
EXPECTED_STOCK = {
    **EXPECTED_PATCHED,
    ("resource2", "dc-zva"): "OK",
    ("resource2", "memset0-aligned"): "OK",
    ("resource2", "sve-ld1d-unaligned"): "OK",
    ("resource2", "sve-st1d-unaligned"): "OK",
    ("resource2", "sve-ldnf1d-aligned"): "OK",
}


def check_table(table, expected):
    """Assert that the guest's @table has each of @expected's results."""
    wrong = [f"{m} {c}: got {table.get((m, c), 'nothing')}, expected {e}"
             for (m, c), e in expected.items() if table.get((m, c)) != e]
    assert not wrong, "\n".join(wrong)


def parse_table(log):
    """{(mapping, case): result} from the guest program's lines in @log."""
    table = {}
    for line in log.splitlines():
        words = line.split()
        if len(words) == 4 and words[0] == "bar-access:" and words[2] in CASES:
            table[(words[1], words[2])] = words[3]
    return table


def boot(qemu, device_args=None, device_id=IVSHMEM_ID, timeout=120, append=""):
    """Boot the guest on @qemu; return (table, log): table maps
    (mapping, case) to the result the guest printed.  By default the BAR
    under test is ivshmem-plain's BAR2; @device_args and @device_id put
    another PCI device there instead; @append goes on the kernel command
    line (e.g. the bandwidth mode's BAR_ACCESS_MODE and _SCRATCH)."""
    with tempfile.NamedTemporaryFile(prefix="bar-access-shm-") as shm:
        shm.truncate(1 << 20)
        if device_args is None:
            device_args = ["-object", f"memory-backend-file,id=shm,"
                           f"mem-path={shm.name},size=1M,share=on",
                           "-device", "ivshmem-plain,memdev=shm"]
        cmd = [str(qemu), "-M", "virt", "-cpu", "max", "-m", "512",
               "-display", "none", "-serial", "stdio", "-monitor", "none",
               "-no-reboot", "-nic", "none",
               "-kernel", str(GUEST / "vmlinuz"),
               "-initrd", str(GUEST_INITRD),
               "-append", "console=ttyAMA0 quiet panic=-1 "
                          f"BAR_ACCESS_DEVICE={device_id} "
                          f"BAR_ACCESS_BAR={IVSHMEM_BAR} {append}",
               *device_args]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    log = r.stdout.decode(errors="replace")
    table = parse_table(log)
    if "bar-access: done" not in log:
        raise RuntimeError(f"guest did not finish (exit {r.returncode}):\n{log[-3000:]}")
    return table, log


def boot_vfio_user(qemu, mode):
    """Boot the guest on a vfio-user-pci with bar2-wc=@mode on the test
    server (project/scripts/vfio_user.py); return its table."""
    import json
    import vfio_user as vu

    server = vu.Server()
    try:
        dev = vu.vfio_user_device(server, **{"bar2-wc": mode})
        return boot(qemu, ["-device", json.dumps(dev)], VFIO_USER_WC_ID)[0]
    finally:
        server.stop()


# The bandwidth mode over BAR2's second half: sizes 64 B to 256 KiB.
BANDWIDTH_APPEND = "BAR_ACCESS_MODE=bandwidth BAR_ACCESS_SCRATCH=0x80000+0x40000"


def parse_bandwidth(log):
    """The bandwidth mode's table: {(size, method): (dev-write, wc-write,
    dev-read, wc-read)} in MB/s, and whether the guest said it is QEMU."""
    rows = {}
    for m in re.finditer(r"^bar-access: bw (\d+) +(\w+) +([\d.]+) +([\d.]+) +"
                         r"[\d.infa]+ +([\d.]+) +([\d.]+) +[\d.infa]+\s*$",
                         log, re.M):
        rows[(int(m.group(1)), m.group(2))] = tuple(float(m.group(i))
                                                    for i in (3, 4, 5, 6))
    return rows, "bar-access: bw note: this is a QEMU machine" in log


def bandwidth_lines(log):
    return "\n".join(line.split("bar-access: ", 1)[1]
                     for line in log.splitlines() if "bar-access: bw " in line)


def format_table(columns):
    """columns: [(title, table)] -> text, one row a case and mapping."""
    maps = (f"resource{IVSHMEM_BAR}", f"resource{IVSHMEM_BAR}_wc")
    head = (f"{'mapping':<13}{'case':<20}" +
            "".join(f"{t:<20}" for t, _ in columns)).rstrip()
    rows = [head, "-" * len(head)]
    for m in maps:
        for c in CASES:
            rows.append((f"{m:<13}{c:<20}" +
                         "".join(f"{t.get((m, c), '-'):<20}"
                                 for _, t in columns)).rstrip())
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qemu", help="qemu-system-aarch64 to run")
    ap.add_argument("--stock", action="store_true", help="the stock build")
    ap.add_argument("--compare", action="store_true",
                    help="boot stock and patched QEMU, print both")
    ap.add_argument("--modes", action="store_true",
                    help="the guest on vfio-user-pci, bar2-wc=on/auto/off")
    ap.add_argument("--bandwidth", action="store_true",
                    help="the bandwidth mode's table (ivshmem BAR2, patched)")
    a = ap.parse_args()
    if a.bandwidth:
        print(bandwidth_lines(boot(a.qemu or QEMU["patched"],
                                   append=BANDWIDTH_APPEND)[1]))
        return
    if a.modes:
        columns = [(f"bar2-wc={m}", boot_vfio_user(QEMU["patched"], m))
                   for m in ("on", "auto", "off")]
    elif a.compare:
        columns = [("stock 10.2.2", boot(QEMU["stock"])[0]),
                   ("patched", boot(QEMU["patched"])[0])]
    else:
        qemu = a.qemu or QEMU["stock" if a.stock else "patched"]
        columns = [(Path(qemu).parent.parent.name, boot(qemu)[0])]
    print(format_table(columns))


if __name__ == "__main__":
    sys.exit(main())
