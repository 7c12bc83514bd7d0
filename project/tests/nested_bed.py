"""The nested KVM bed (project/scripts/nested_kvm.py), built when a test
first needs it, and what the series' selftests in it give."""

import time

from wc import TOP, run


def build(stock_kernel=True):
    """project/scripts/build-nested-bed.sh: the bed, with the unpatched L1
    kernel unless not @stock_kernel.  The default run leaves the bed out
    (project/scripts/prepare.sh); what is built already stays as it is."""
    start = time.monotonic()
    r = run([str(TOP / "project" / "scripts" / "build-nested-bed.sh")] +
            ([] if stock_kernel else ["--no-stock"]))
    assert r.returncode == 0, r.stdout[-5000:]
    print(f"  nested bed: {time.monotonic() - start:.0f} s to build it or "
          "find it built")


# The series' selftests in the nested bed, named as in
# project/nested/selftests: the KVM one on the stage 2
# type each memattr gives a guest, the vfio one on the feature's uAPI and
# the host mapping.
KVM_MEMATTR = "kvm/arm64/vfio_memattr"
VFIO_MEMATTR = "vfio/vfio_pci_memattr_test"
SERIES_SELFTESTS = (KVM_MEMATTR, VFIO_MEMATTR)
# vfio_memattr's cases: the outcome of each of the guest's unaligned
# store, unaligned STP and DC ZVA, and the stage 2 type in KVM's dump.
MEMATTR_ACCESSES = ("unaligned store", "unaligned STP", "DC ZVA")
MEMATTR_CASES = {
    "NC (default)": ("completed", "MEM/NORMAL-NC"),
    "NC": ("completed", "MEM/NORMAL-NC"),
    "WC": ("completed", "MEM/NORMAL-NC"),
    "DEVICE": ("an Alignment fault", "DEVICE/nGnRE"),
}
# vfio_pci_memattr_test's TAP results (kselftest_harness names).
VFIO_MEMATTR_UAPI = ("probe", "default_is_nc", "set_then_get",
                     "einval_not_a_bar", "einval_not_mmappable",
                     "einval_unknown_value", "ebusy_after_mmap", "reopen_is_nc")
VFIO_MEMATTR_HOST = ("default_nc", "nc", "wc", "device")


def memattr_results(cases=MEMATTR_CASES, stage2="ok"):
    """vfio_memattr's TAP results where every case of @cases passes; the
    stage 2 dump's result @stage2 ('skip' where the kernel's dump names
    no memory type)."""
    results = {}
    for case, (outcome, s2) in cases.items():
        for access in MEMATTR_ACCESSES:
            results[f"{case}: {access}: {outcome}"] = "ok"
        results[f"{case}: the guest runs on, its aligned store lands"] = "ok"
        results[f"{case}: stage 2 {s2}"] = stage2
    return results


def vfio_memattr_results(uapi="ok", host=None):
    """vfio_pci_memattr_test's TAP results: the uAPI tests' @uapi, the
    host mapping tests' from @host {variant: result} (all 'ok' if None)."""
    results = {f"vfio_pci_memattr_test.{t}": uapi for t in VFIO_MEMATTR_UAPI}
    for v in VFIO_MEMATTR_HOST:
        results[f"vfio_pci_memattr_host.{v}.unaligned_store"] = \
            (host or {}).get(v, "ok")
    return results
