#!/usr/bin/env python3
"""device_add / device_del of vfio-user-pci under valgrind.

Runs QEMU under valgrind's memcheck twice, with 0 and with N (default 50)
hot-plug cycles of a vfio-user-pci whose bar2-wc cycles through on, off
and auto, and prints valgrind's leak summary for both: what grows with N
is what hot-plug leaks.  The test vfio_user_hotplug_valgrind runs it.

  project/scripts/leak-hotplug.py [N]
"""

import re
import sys

import vfio_user as vu

VALGRIND = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=definite"]


def run(cycles):
    _, out = vu.run_hotplug(cycles, wrapper=VALGRIND)
    lost = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", out)
    errors = re.search(r"ERROR SUMMARY: (\d+) errors", out)
    return (int(lost.group(1).replace(",", "")) if lost else 0,
            int(errors.group(1)) if errors else None, out)


def main():
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    base_lost, base_err, _ = run(0)
    lost, err, out = run(cycles)
    print(f"valgrind, 0 hot-plug cycles: definitely lost {base_lost} bytes, "
          f"{base_err} errors")
    print(f"valgrind, {cycles} hot-plug cycles: definitely lost {lost} bytes, "
          f"{err} errors")
    if lost > base_lost or err != base_err:
        print(out[-8000:])
        return 1
    print("no leak or memory error grows with hot-plug")
    return 0


if __name__ == "__main__":
    sys.exit(main())
