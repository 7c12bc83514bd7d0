#!/usr/bin/env python3
"""Benchmark: the cost of host memory types under arm TCG.  Prints figures;
it is not a test and asserts nothing.

Boots the aarch64 guest program N times (default 5) per configuration,
alternating stock and patched QEMU, and reports medians of the time from
QEMU's start to the guest's verdict (power-off) and of the guest's RAM
memcpy() throughput, with patched/stock slowdown ratios:

  ivshmem BAR:    stock vs patched, where no region has a host type
  vfio-user BAR:  stock vs patched with bar2-wc=on (the BAR's mmap
                  regions have a host type: one lookup per TLB fill)

  scripts/bench.py [N]
"""

import json
import re
import statistics
import sys
import time

import guest
import vfio_user as vu


def one_run(qemu, props=None):
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


def compare(title, n, stock_props, patched_props):
    runs = {"stock": [], "patched": []}
    for _ in range(n):
        runs["stock"].append(one_run(guest.QEMU["stock"], stock_props))
        runs["patched"].append(one_run(guest.QEMU["patched"], patched_props))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v))
           for k, v in runs.items()}
    print(f"{title}")
    for k in ("stock", "patched"):
        print(f"  {k:<8} boot-to-verdict {med[k][0]:6.3f} s   "
              f"RAM memcpy {med[k][1]:6d} MB/s")
    print(f"  ratio    time patched/stock {med['patched'][0] / med['stock'][0]:.3f}"
          f"   memcpy slowdown stock/patched "
          f"{med['stock'][1] / med['patched'][1]:.3f}")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"medians of {n} runs each, aarch64 guest under TCG (-cpu max)")
    compare("ivshmem BAR (patched: no region has a host memory type)", n,
            None, None)
    compare("vfio-user BAR (patched: bar2-wc=on, BAR2 mmaps Normal-NC)", n,
            {}, {"bar2-wc": "on"})


if __name__ == "__main__":
    main()
