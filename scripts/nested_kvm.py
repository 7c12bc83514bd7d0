#!/usr/bin/env python3
"""The nested KVM test bed: KVM selftests in an arm64 KVM host (L1) that
runs under QEMU's TCG (L0), with the BAR of an ivshmem-plain device that L0
provides and L1 binds to vfio-pci.

  L0  qemu-system-aarch64 -M virt,virtualization=on,iommu=smmuv3,gic-version=3
      with ivshmem-plain on a shared 1 MiB file
  L1  the Linux series' kernel (scripts/build-linux.sh), an initramfs of
      busybox-static (Debian bookworm, arm64) and the selftests that
      target-arm-s2/out-of-tree/nested/selftests lists (/init:
      target-arm-s2/out-of-tree/nested/init)

Run alone, it prints the series' selftest pfnmap_memtype's results for
three pairs side by side: the patched QEMU with the patched kernel, with
the unpatched kernel, and stock QEMU 10.2.2 with the patched kernel, then
each selftest's exit status.

  scripts/nested_kvm.py
"""

import os
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
}
SELFTESTS = BUILD / "linux" / "selftests"
SELFTEST_LIST = TOP / "target-arm-s2" / "out-of-tree" / "nested" / "selftests"
BUSYBOX = NESTED / "deb" / "x" / "bin" / "busybox"
INIT = TOP / "target-arm-s2" / "out-of-tree" / "nested" / "init"
INITRAMFS = NESTED / "l1.cpio"


def selftest_names():
    """The selftests L1 runs, in order, as their paths under selftests/kvm."""
    return [line.split()[0] for line in SELFTEST_LIST.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def build_initramfs():
    """L1's initramfs: busybox, the selftests and their list, /init."""
    binaries = [SELFTESTS / name for name in selftest_names()]
    inputs = (*binaries, SELFTEST_LIST, BUSYBOX, INIT)
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
    shutil.copy2(SELFTEST_LIST, root / "selftests")
    shutil.copy2(INIT, root / "init")
    for exe in ("bin/busybox", "init"):
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
            skip = re.match(r"(.*?)\s*# SKIP", r.group(2))
            t.results[skip.group(1) if skip else r.group(2)] = \
                "skip" if skip else r.group(1)
        tests[m.group(1)] = t
    return tests


def run(qemu, kernel, timeout=1200):
    """Boot L1 on @qemu with @kernel; return ({selftest: Selftest}, the
    console log)."""
    initramfs = build_initramfs()
    with tempfile.NamedTemporaryFile(prefix="nested-ivshmem-") as shm:
        shm.truncate(1 << 20)
        r = subprocess.run(
            [str(qemu), "-M", "virt,virtualization=on,iommu=smmuv3,gic-version=3",
             "-cpu", "max", "-smp", "1", "-m", "1024", "-display", "none",
             "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nic", "none",
             "-kernel", str(kernel), "-initrd", str(initramfs),
             "-append", "console=ttyAMA0 panic=-1 quiet",
             "-object", f"memory-backend-file,id=shm,mem-path={shm.name},"
                        "size=1M,share=on",
             "-device", "ivshmem-plain,memdev=shm"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=timeout)
    log = r.stdout.decode(errors="replace").replace("\r", "")
    return parse(log), log


def main():
    pairs = [("patched QEMU+Linux", guest.QEMU["patched"], KERNEL["patched"]),
             ("Linux 7.1.8", guest.QEMU["patched"], KERNEL["stock"]),
             ("QEMU 10.2.2", guest.QEMU["stock"], KERNEL["patched"])]
    columns = [(title, run(qemu, kernel)[0]) for title, qemu, kernel in pairs]
    series = "arm64/pfnmap_memtype"
    names = []
    for _, tests in columns:
        results = tests.get(series, Selftest()).results
        names += [n for n in results if n not in names]
    width = max(map(len, names + [f"{t} exit status" for t in selftest_names()]))
    print(f"{'KVM selftest pfnmap_memtype (L1) under TCG (L0)':<{width}}  " +
          "  ".join(f"{t:<20}" for t, _ in columns).rstrip())
    for n in names:
        print(f"{n:<{width}}  " +
              "  ".join(f"{tests.get(series, Selftest()).results.get(n, '-'):<20}"
                        for _, tests in columns).rstrip())
    for t in selftest_names():
        print(f"{t + ' exit status':<{width}}  " +
              "  ".join(f"{tests.get(t, Selftest()).status!s:<20}"
                        for _, tests in columns).rstrip())


if __name__ == "__main__":
    main()
