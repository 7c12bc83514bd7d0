#!/usr/bin/env python3
"""The nested KVM test bed: KVM selftests in an arm64 KVM host (L1) that
runs under QEMU's TCG (L0), with the BAR of an ivshmem-plain device that L0
provides and L1 binds to vfio-pci.

  L0  qemu-system-aarch64 -M virt,virtualization=on,iommu=smmuv3,gic-version=3
      with ivshmem-plain on a shared 1 MiB file
  L1  the Linux series' kernel (project/scripts/build-linux.sh), an initramfs of
      busybox-static (Debian bookworm, arm64), the KVM and vfio selftests
      that project/nested/selftests lists, and the L1 QEMU
      (project/scripts/build-l1-qemu.sh) with qmp-call, and the host
      check (project/host-check) (/init: project/nested/init)
  L2  (l2_modes) the patched L1 kernel again, with project/guest/bar-access as
      /init, on the BAR that L1 QEMU passes through with vfio-pci

Run alone, it prints the results of the series' selftests,
kvm/arm64/vfio_memattr and vfio/vfio_pci_memattr_test, for three pairs
side by side: the patched QEMU with the patched kernel, with
the unpatched kernel, and stock QEMU 10.2.2 with the patched kernel, then
each selftest's exit status.  With --l2, it prints L2's table for
bar2-wc=on, auto and off under nested KVM beside the TCG one.

  project/scripts/nested_kvm.py [--l2]
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guest  # noqa: E402

TOP = guest.TOP
BUILD = guest.BUILD
NESTED = BUILD / "nested"
KERNEL = {
    "patched": BUILD / "linux" / "patched" / "build" / "arch" / "arm64" / "boot" / "Image",
    "stock": BUILD / "linux" / "stock" / "build" / "arch" / "arm64" / "boot" / "Image",
    # build-linux.sh --debug: the patched kernel with lockdep and KASAN
    "debug": BUILD / "linux" / "debug" / "build" / "arch" / "arm64" / "boot" / "Image",
}
SELFTESTS = BUILD / "linux" / "selftests"
SELFTEST_LIST = TOP / "project" / "nested" / "selftests"
BUSYBOX = NESTED / "deb" / "x" / "bin" / "busybox"
INIT = TOP / "project" / "nested" / "init"
INITRAMFS = NESTED / "l1.cpio"
L1_QEMU = BUILD / "qemu" / "l1" / "build" / "qemu-system-aarch64.stripped"
QMP_CALL = guest.PROGRAMS / "project" / "nested" / "qmp-call"
# The host check (project/host-check), which /init runs alone with
# nested.host-check: run(host_check=True).
HOST_CHECK = guest.PROGRAMS / "project" / "host-check" / "wc-host-check-aarch64"
L2_FILES = {"l1/qemu-system-aarch64": L1_QEMU, "l1/qmp-call": QMP_CALL,
            "l1/bar-access": guest.GUEST_PROGRAM,
            "l2/Image": KERNEL["patched"],
            "l2/bar-access.cpio": guest.GUEST_INITRD}
# L1 runs project/guest/bar-access as a program (as a user would in their own VM)
# in its bandwidth mode over this part of the ivshmem BAR, before L2.
L1_BANDWIDTH_SCRATCH = (0xC0000, 0x20000)
# What L1 QEMU's -device has, for the tests: id, and the BAR L2 tests.
L2_DEVICE_ID = "wc0"
L2_BAR = 2
# L2's RAM: where virt puts it, and the size that /init gives L1 QEMU.
L2_RAM = (0x40000000, 256 << 20)


def selftest_names():
    """The selftests L1 runs, in order, as their paths under
    tools/testing/selftests: kvm/... or vfio/..."""
    return [line.split()[0] for line in SELFTEST_LIST.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def build_initramfs():
    """L1's initramfs: busybox, the selftests and their list, /init."""
    binaries = [SELFTESTS / name for name in selftest_names()]
    inputs = (*binaries, SELFTEST_LIST, BUSYBOX, INIT, *L2_FILES.values(),
              HOST_CHECK)
    if INITRAMFS.exists() and all(INITRAMFS.stat().st_mtime >= p.stat().st_mtime
                                  for p in inputs):
        return INITRAMFS
    root = NESTED / "l1-root"
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "dev", "proc", "sys"):
        (root / d).mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for name, binary in zip(selftest_names(), binaries):
        dest = root / "selftests.d" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, dest)
        dest.chmod(0o755)
    for dest, path in L2_FILES.items():
        (root / dest).parent.mkdir(exist_ok=True)
        shutil.copy2(path, root / dest)
    shutil.copy2(HOST_CHECK, root / "l1" / "wc-host-check")
    shutil.copy2(SELFTEST_LIST, root / "selftests")
    shutil.copy2(INIT, root / "init")
    for exe in ("bin/busybox", "init", "l1/qemu-system-aarch64", "l1/qmp-call",
                "l1/bar-access", "l1/wc-host-check"):
        (root / exe).chmod(0o755)
    files = subprocess.run("find . | LC_ALL=C sort", shell=True, cwd=root,
                           check=True, capture_output=True).stdout
    with open(INITRAMFS, "wb") as out:
        subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
                       cwd=root, input=files, stdout=out, check=True)
    return INITRAMFS


@dataclass
class Selftest:
    """One selftest's run in L1: its TAP results {name: 'ok'/'not ok'/
    'skip'}, its exit status and time (None if it never finished) and its
    output."""
    results: dict = field(default_factory=dict)
    status: int = None
    seconds: int = None
    log: str = ""


def parse(log):
    """{selftest: Selftest} from L1's console."""
    tests = {}
    for m in re.finditer(r"^nested-kvm: begin (\S+)\n(.*?)"
                         r"(?:^nested-kvm: \1 exit (\d+) \((\d+) s\)$|\Z)",
                         log, re.M | re.S):
        t = Selftest(log=m.group(2))
        if m.group(3):
            t.status, t.seconds = int(m.group(3)), int(m.group(4))
        for r in re.finditer(r"^(ok|not ok) \d+ (.*?)\s*$", t.log, re.M):
            # "name # SKIP reason" (kselftest_harness) or "# SKIP name"
            # (ksft_test_result_skip())
            skip = re.match(r"(.*?)\s*# SKIP\s*(.*)", r.group(2))
            name = (skip.group(1) or skip.group(2)) if skip else r.group(2)
            t.results[name] = "skip" if skip else r.group(1)
        tests[m.group(1)] = t
    return tests


@dataclass
class Stage2Mapping:
    """A line of KVM's stage 2 page table dump: the IPA range [start, end)
    and the attribute words, e.g. ["R", "W", ..., "MEM/NORMAL-NC"]; no
    words for a range that is not mapped."""
    start: int
    end: int
    attrs: list


@dataclass
class L2Run:
    """One L1 QEMU run with L2: L2's bar-access table {(mapping, case):
    result}, the replies of L1 QEMU's QMP socket in order, L1 QEMU's exit
    status and its output (its errors, L2's console), the stage 2 page
    table files dumped and their lines."""
    table: dict
    qmp: list
    status: int
    log: str
    stage2_files: list
    stage2: list

    def list_replies(self, key):
        """The QMP replies that are lists of objects with @key."""
        return [q["return"] for q in self.qmp
                if isinstance(q.get("return"), list) and
                all(key in d for d in q["return"])]

    def vfio_reports(self):
        """The query-vfio-pci-bars replies: a list of devices each."""
        return self.list_replies("bars")

    def pci_bar(self, device_id, bar):
        """(address, size) of BAR @bar of the device @device_id, from the
        query-pci reply."""
        for bus in (b for buses in self.list_replies("devices") for b in buses):
            for dev in bus["devices"]:
                if dev.get("qdev_id") == device_id:
                    region = next(r for r in dev["regions"] if r["bar"] == bar)
                    return region["address"], region["size"]
        raise LookupError(f"no {device_id} in a query-pci reply: {self.qmp}")

    def stage2_types(self, start, size):
        """The memory type (a STAGE2_TYPES word, or None) of each mapped
        stage 2 range that overlaps [@start, @start + @size)."""
        return [next((a for a in m.attrs if a in STAGE2_TYPES), None)
                for m in self.stage2
                if m.start < start + size and m.end > start and
                m.attrs and "F" not in m.attrs]


# The memory types the series' ptdump patch names, as arm64's stage 1
# dump does.
STAGE2_TYPES = ("DEVICE/nGnRE", "MEM/NORMAL-NC", "MEM/NORMAL")
STAGE2_LINE = re.compile(r"^stage2: 0x([0-9a-f]+)-0x([0-9a-f]+)\s+\d+\S\s+\d+(.*)$")


def parse_stage2(log):
    """The dumped files and their mappings (Stage2Mapping) in @log."""
    files = re.findall(r"^stage2-file: (.*)$", log, re.M)
    mappings = [Stage2Mapping(int(m.group(1), 16), int(m.group(2), 16),
                              m.group(3).split())
                for m in map(STAGE2_LINE.match, log.splitlines()) if m]
    return files, mappings


def parse_l2(tests):
    """{mode: L2Run} from the runs in @tests (parse()'s result)."""
    runs = {}
    for name, t in tests.items():
        if not name.startswith("l2-bar2-wc="):
            continue
        table = guest.parse_table(t.log)
        qmp = [json.loads(line[len("qmp: "):]) for line in t.log.splitlines()
               if line.startswith("qmp: ")]
        runs[name[len("l2-bar2-wc="):]] = L2Run(table, qmp, t.status, t.log,
                                                *parse_stage2(t.log))
    return runs


def run(qemu, kernel, l2_modes=(), timeout=1200, loud=False, host_check=False):
    """Boot L1 on @qemu with @kernel; return ({selftest: Selftest}, the
    console log, the BAR's bytes in L0's backing file at the end).  With
    @l2_modes, L1 runs L1 QEMU and L2 once a bar2-wc mode instead of the
    selftests: parse_l2() reads those.  @loud: every kernel message on
    the console (lockdep's warnings among them), not only errors.
    @host_check: L1 runs only the host check, "host-check" in the
    result, with the device bound to vfio-pci."""
    initramfs = build_initramfs()
    append = "console=ttyAMA0 panic=-1 " + ("loglevel=7" if loud else "quiet")
    if l2_modes:
        append += " nested.l2=" + ",".join(l2_modes)
    if host_check:
        append += " nested.host-check"
    with tempfile.NamedTemporaryFile(prefix="nested-ivshmem-") as shm:
        shm.truncate(1 << 20)
        r = subprocess.run(
            [str(qemu), "-M", "virt,virtualization=on,iommu=smmuv3,gic-version=3",
             "-cpu", "max", "-smp", "1", "-m", "1024", "-display", "none",
             "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nic", "none",
             "-kernel", str(kernel), "-initrd", str(initramfs),
             "-append", append,
             "-object", f"memory-backend-file,id=shm,mem-path={shm.name},"
                        "size=1M,share=on",
             "-device", "ivshmem-plain,memdev=shm"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=timeout)
        shm.seek(0)
        bar = shm.read()
    log = r.stdout.decode(errors="replace").replace("\r", "")
    return parse(log), log, bar


def main_l2():
    tcg = [(f"TCG bar2-wc={m}", guest.boot_vfio_user(guest.QEMU["patched"], m))
           for m in ("on", "auto", "off")]
    runs = parse_l2(run(guest.QEMU["patched"], KERNEL["patched"],
                        ("on", "auto", "off"))[0])
    kvm = [(f"KVM bar2-wc={m}", runs[m].table if m in runs else {})
           for m in ("on", "auto", "off")]
    print(guest.format_table([c for pair in zip(tcg, kvm) for c in pair]))
    print("\nL1 QEMU's query-vfio-pci-bars, BAR 2, after L2's run:")
    for m in ("on", "auto", "off"):
        reports = [devices[0]["bars"][L2_BAR] for devices in
                   (runs[m].vfio_reports() if m in runs else [])]
        if not reports:
            print(f"  bar2-wc={m}: no report (L1 QEMU exit "
                  f"{runs[m].status if m in runs else '-'})")
            continue
        r = reports[-1]
        print(f"  bar2-wc={m} -> {r.get('effective')}"
              f"{' by ' + r['mechanism'] if 'mechanism' in r else ''}, "
              f"host memattr {r.get('host-mem-attr')}"
              f"{' (' + r['reason'] + ')' if 'reason' in r else ''}")
    print("\nL1 KVM's stage 2 page tables (debugfs), the ranges of BAR 2 that L2 touched:")
    for m in ("on", "auto", "off"):
        types = runs[m].stage2_types(*runs[m].pci_bar(L2_DEVICE_ID, L2_BAR)) \
            if m in runs and runs[m].stage2 else []
        print(f"  bar2-wc={m}: {', '.join(sorted(set(map(str, types)))) or 'none mapped'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--l2", action="store_true",
                    help="L2 on L1 QEMU -accel kvm, beside TCG")
    if ap.parse_args().l2:
        return main_l2()
    pairs = [("patched QEMU+Linux", guest.QEMU["patched"], KERNEL["patched"]),
             ("Linux 7.1.8", guest.QEMU["patched"], KERNEL["stock"]),
             ("QEMU 10.2.2", guest.QEMU["stock"], KERNEL["patched"])]
    columns = [(title, run(qemu, kernel)[0]) for title, qemu, kernel in pairs]
    series = ("kvm/arm64/vfio_memattr", "vfio/vfio_pci_memattr_test")
    names = {s: [] for s in series}
    for s in series:
        for _, tests in columns:
            results = tests.get(s, Selftest()).results
            names[s] += [n for n in results if n not in names[s]]
    width = max(map(len, [n for s in series for n in names[s]] +
                    [f"{t} exit status" for t in selftest_names()]))
    for s in series:
        print(f"{s + ' (L1) under TCG (L0)':<{width}}  " +
              "  ".join(f"{t:<20}" for t, _ in columns).rstrip())
        for n in names[s]:
            print(f"{n:<{width}}  " +
                  "  ".join(f"{tests.get(s, Selftest()).results.get(n, '-'):<20}"
                            for _, tests in columns).rstrip())
        print()
    for t in selftest_names():
        print(f"{t + ' exit status':<{width}}  " +
              "  ".join(f"{tests.get(t, Selftest()).status!s:<20}"
                        for _, tests in columns).rstrip())


if __name__ == "__main__":
    main()
