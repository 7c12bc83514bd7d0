"""The opt-in sanitizer tier's kernel half: the series' L1 kernel with
lockdep and KASAN in the nested KVM bed."""

import re
import time

import pytest

import guest
import nested_kvm
from nested_bed import (KVM_MEMATTR, VFIO_MEMATTR, build, memattr_results,
                        vfio_memattr_results)
from wc import TOP, run

pytestmark = pytest.mark.sanitizers

# What lockdep, KASAN and the kernel's own checks print when they find
# something.
KERNEL_REPORT = re.compile(r"^.*(BUG: |WARNING: |possible circular locking|"
                           r"inconsistent lock state|suspicious RCU usage|"
                           r"KASAN: |sleeping function called from invalid "
                           r"context|Call trace:).*$", re.M)


@pytest.fixture
def patched_bed():
    """The nested bed with the patched L1 kernel (L2's), built if it is
    not; the debug kernel is the test's own build."""
    build(stock_kernel=False)


def test_sanitizers_l1_lockdep_kasan(patched_bed):
    """opt-in tier: the series' L1 kernel with lockdep and KASAN
    (build-linux.sh --debug, its build time printed) runs the nested bed's
    selftests: vfio_memattr 20 of 20, vfio_pci_memattr_test 12 of 12 and
    set_memory_region_test pass, and the kernel reports nothing"""
    start = time.monotonic()
    r = run([str(TOP / "project" / "scripts" / "build-linux.sh"), "--debug"], timeout=5400)
    assert r.returncode == 0, r.stdout[-3000:]
    print(f"  lockdep+KASAN L1 kernel build: {time.monotonic() - start:.0f} s")
    start = time.monotonic()
    tests, log, _ = nested_kvm.run(guest.QEMU["patched"], nested_kvm.KERNEL["debug"],
                                   timeout=3600, loud=True)
    print(f"  nested selftests: {time.monotonic() - start:.0f} s")
    assert "lockdep" in log.lower() or "Lock dependency validator" in log, log[:3000]
    t = tests.get(KVM_MEMATTR)
    assert t and t.status == 0 and t.results == memattr_results(), \
        (t.log if t else log)[-6000:]
    v = tests.get(VFIO_MEMATTR)
    assert v and v.status == 0 and v.results == vfio_memattr_results(), \
        (v.log if v else log)[-6000:]
    memslots = tests.get("kvm/set_memory_region_test")
    assert memslots and memslots.status == 0, (memslots.log if memslots else log)[-6000:]
    reports = KERNEL_REPORT.findall(log)
    assert not reports, "\n".join(reports[:40])
