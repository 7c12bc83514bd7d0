#!/usr/bin/env python3
"""Benchmark: the cost of host memory types under arm TCG, stock QEMU
10.2.2 against the patched one.  Prints figures; it is not a test and
asserts nothing.

1. Instructions (valgrind's cachegrind), which resolve far below 1 %:
   bare-metal workloads (project/bench/tlb-fill-bench.c,
   built by its meson.build for N and for 2N iterations) are run, and the difference, divided by N, is
   the cost of one iteration with QEMU's start-up cancelled out:

     RAM TLB fills   256 TLB fills an iteration (worst case per fill)
     RAM copy        512 KiB copied an iteration (TLB hits)
     BAR2 TLB fills  256 TLB fills an iteration on the pages of BAR2 of a
                     vfio-user-pci, the pages that have a host memory type
     DC ZVA          512 KiB of RAM zeroed with DC ZVA an iteration, as
                     the kernel's clear_page() does (TLB hits)

   each without a device and with a vfio-user-pci on the test server
   (bar2-wc=on on the patched QEMU), REPEATS times (default 3): QEMU's
   main loop and timers run by the wall clock, which valgrind stretches, so
   counts vary a little from run to run; the range shows by how much.

2. Time: boots the aarch64 Linux guest RUNS times per configuration,
   alternating stock and patched, and reports medians of the time from
   QEMU's start to the guest's verdict (power-off) and of the guest's RAM
   memcpy() throughput: an ivshmem BAR (no region has a host type), and a
   vfio-user BAR with bar2-wc=on.  Wall-clock figures on a shared machine
   spread far more than 1 %.

  project/scripts/bench.py [--repeats REPEATS] [--runs RUNS] [--no-time] [--no-instructions]
"""

import argparse
import json
import re
import statistics
import subprocess
import time

import guest
import vfio_user as vu

WORKLOAD_DIR = guest.PROGRAMS / "project" / "bench"
# tlb-fill-bench.c's BAR_SLOT: the device's slot.
BAR_SLOT = 2

# workload: (its name in bench/meson.build, needs the device)
WORKLOADS = {
    "RAM TLB fills": ("fills", False),
    "RAM copy": ("copy", False),
    "BAR2 TLB fills": ("bar-fills", True),
    "DC ZVA": ("dc-zva", False),
}


def workload_kernels(workload):
    """(N, the workload built for N iterations, for 2N)."""
    built = {int(p.name.rsplit("-", 1)[1]): str(p)
             for p in WORKLOAD_DIR.glob(f"tlb-fill-bench-{workload}-[0-9]*")}
    n = min(built, default=None)
    if n is None or sorted(built) != [n, 2 * n]:
        raise RuntimeError(f"{WORKLOAD_DIR}: want tlb-fill-bench-{workload}-N "
                           f"and -2N, have {sorted(built)}; run project/scripts/prepare.sh")
    return n, [built[n], built[2 * n]]


def count_instructions(qemu, kernel, device):
    """Instructions QEMU executes to run @kernel to its exit."""
    server = vu.Server() if device is not None else None
    args = []
    if server:
        args = ["-device", json.dumps(vu.vfio_user_device(
            server, addr=f"{BAR_SLOT:#x}", **device))]
    try:
        r = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no",
             "--cachegrind-out-file=/dev/null", str(qemu),
             "-M", "virt,highmem=off", "-cpu", "max", "-display", "none",
             "-monitor", "none", "-semihosting-config",
             "enable=on,target=native,chardev=out",
             "-chardev", "null,id=out", "-kernel", kernel, *args],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=600)
    finally:
        if server:
            server.stop()
    m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"{qemu} {kernel}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return int(m.group(1).replace(",", ""))


def instructions(repeats):
    configs = [("no device", None, None),
               ("vfio-user-pci", {}, {"bar2-wc": "on"})]
    print("Instructions per iteration (cachegrind; (count(2N) - count(N)) / N),"
          f" median of {repeats}; the ratio's range over all pairs of runs")
    print(f"{'workload':<16}{'configuration':<30}{'stock':>13}{'patched':>13}"
          f"{'patched/stock':>15}  range")
    for name, (workload, needs_device) in WORKLOADS.items():
        n, kernels = workload_kernels(workload)
        for title, stock_dev, patched_dev in configs:
            if needs_device and stock_dev is None:
                continue
            runs = {"stock": [], "patched": []}
            for _ in range(repeats):
                for flavour, dev in (("stock", stock_dev),
                                     ("patched", patched_dev)):
                    counts = [count_instructions(guest.QEMU[flavour], k, dev)
                              for k in kernels]
                    runs[flavour].append((counts[1] - counts[0]) / n)
            med = {f: statistics.median(r) for f, r in runs.items()}
            label = title + (" (bar2-wc=on)" if patched_dev else "")
            print(f"{name:<16}{label:<30}{med['stock']:>13,.0f}"
                  f"{med['patched']:>13,.0f}"
                  f"{med['patched'] / med['stock']:>15.4f}  "
                  f"{min(runs['patched']) / max(runs['stock']):.4f}-"
                  f"{max(runs['patched']) / min(runs['stock']):.4f}",
                  flush=True)


def one_boot(qemu, props=None):
    server = None
    args, dev_id = None, guest.IVSHMEM_ID
    if props is not None:
        server = vu.Server()
        args = ["-device", json.dumps(vu.vfio_user_device(server, **props))]
        dev_id = guest.VFIO_USER_WC_ID
    try:
        start = time.monotonic()
        _, log = guest.boot(qemu, args, dev_id)
        wall = time.monotonic() - start
    finally:
        if server:
            server.stop()
    return wall, int(re.search(r"bar-access: ram-memcpy (\d+)", log).group(1))


def compare_boots(title, n, stock_props, patched_props):
    runs = {"stock": [], "patched": []}
    for _ in range(n):
        runs["stock"].append(one_boot(guest.QEMU["stock"], stock_props))
        runs["patched"].append(one_boot(guest.QEMU["patched"], patched_props))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v))
           for k, v in runs.items()}
    print(f"{title}")
    for k in ("stock", "patched"):
        print(f"  {k:<8} boot-to-verdict {med[k][0]:6.3f} s   "
              f"RAM memcpy {med[k][1]:6d} MB/s")
    print(f"  ratio    time patched/stock {med['patched'][0] / med['stock'][0]:.3f}"
          f"   memcpy slowdown stock/patched "
          f"{med['stock'][1] / med['patched'][1]:.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="guest boots per configuration")
    ap.add_argument("--repeats", type=int, default=3,
                    help="instruction counts per configuration and size")
    ap.add_argument("--no-time", action="store_true", help="skip the guest boots")
    ap.add_argument("--no-instructions", action="store_true",
                    help="skip the instruction counts")
    a = ap.parse_args()
    if not a.no_instructions:
        instructions(a.repeats)
    if not a.no_time:
        print(f"\nMedians of {a.runs} guest boots each, aarch64 Linux under TCG (-cpu max)")
        compare_boots("ivshmem BAR (patched: no region has a host memory type)",
                      a.runs, None, None)
        compare_boots("vfio-user BAR (patched: bar2-wc=on, BAR2 mmaps Normal-NC)",
                      a.runs, {}, {"bar2-wc": "on"})


if __name__ == "__main__":
    main()
