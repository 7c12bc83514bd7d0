#!/usr/bin/env python3
"""The nested KVM test bed: the KVM selftest pfnmap_memtype in an arm64 KVM
host (L1) that runs under QEMU's TCG (L0), on the BAR of an ivshmem-plain
device L0 provides and L1 binds to vfio-pci.

  L0  qemu-system-aarch64 -M virt,virtualization=on,iommu=smmuv3,gic-version=3
      with ivshmem-plain on a shared 1 MiB file
  L1  the Linux series' kernel (scripts/build-linux.sh), an initramfs of
      busybox-static (Debian bookworm, arm64) and the selftest
      (target-arm-s2/out-of-tree/nested/init)

Run alone, it prints the selftest's results for three pairs side by side:
the patched QEMU with the patched kernel, with the unpatched kernel, and
stock QEMU 10.2.2 with the patched kernel.

  scripts/nested_kvm.py
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
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
SELFTEST = BUILD / "linux" / "selftests" / "arm64" / "pfnmap_memtype"
BUSYBOX = NESTED / "deb" / "x" / "bin" / "busybox"
INIT = TOP / "target-arm-s2" / "out-of-tree" / "nested" / "init"
INITRAMFS = NESTED / "l1.cpio"


def build_initramfs():
    """L1's initramfs: busybox, the selftest, /init."""
    inputs = (SELFTEST, BUSYBOX, INIT)
    if INITRAMFS.exists() and all(INITRAMFS.stat().st_mtime >= p.stat().st_mtime
                                  for p in inputs):
        return INITRAMFS
    root = NESTED / "l1-root"
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "dev", "proc", "sys"):
        (root / d).mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    shutil.copy2(SELFTEST, root / "pfnmap_memtype")
    shutil.copy2(INIT, root / "init")
    for exe in ("bin/busybox", "pfnmap_memtype", "init"):
        (root / exe).chmod(0o755)
    files = subprocess.run("find . | LC_ALL=C sort", shell=True, cwd=root,
                           check=True, capture_output=True).stdout
    with open(INITRAMFS, "wb") as out:
        subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
                       cwd=root, input=files, stdout=out, check=True)
    return INITRAMFS


def run(qemu, kernel, timeout=600):
    """Boot L1 on @qemu with @kernel; return ({test name: 'ok'/'not ok'},
    the selftest's exit status or None, the console log)."""
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
    results = {}
    for m in re.finditer(r"^(ok|not ok) \d+ (.*?)\s*$", log, re.M):
        results[m.group(2)] = m.group(1)
    status = re.search(r"^nested-kvm: selftest exit (\d+)", log, re.M)
    return results, int(status.group(1)) if status else None, log


def main():
    pairs = [("patched QEMU+Linux", guest.QEMU["patched"], KERNEL["patched"]),
             ("Linux 7.1.8", guest.QEMU["patched"], KERNEL["stock"]),
             ("QEMU 10.2.2", guest.QEMU["stock"], KERNEL["patched"])]
    columns = [(title, *run(qemu, kernel)[:2]) for title, qemu, kernel in pairs]
    names = []
    for _, results, _ in columns:
        names += [n for n in results if n not in names]
    width = max(map(len, names))
    print(f"{'KVM selftest pfnmap_memtype (L1) under TCG (L0)':<{width}}  " +
          "  ".join(f"{t:<20}" for t, _, _ in columns).rstrip())
    for n in names:
        print(f"{n:<{width}}  " +
              "  ".join(f"{r.get(n, '-'):<20}" for _, r, _ in columns).rstrip())
    print(f"{'selftest exit status':<{width}}  " +
          "  ".join(f"{s!s:<20}" for _, _, s in columns).rstrip())


if __name__ == "__main__":
    main()
