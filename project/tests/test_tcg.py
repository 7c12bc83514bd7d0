"""The series' tests/tcg aarch64 system tests (target-arm-s2/tests/tcg),
each on the patched QEMU and on stock 10.2.2, where it fails with the lines
that name what stock gets wrong (the lines that stock passes show that the
test's other cases are not what differs)."""

import pytest

from wc import QEMU, TCG_DIR, run

pytestmark = pytest.mark.quick

# tests/tcg system test: the lines its output has on stock QEMU 10.2.2.
FAILS_ON_STOCK = {
    "dczva-device": (
        "FAIL: DC ZVA on Device, aligned",
        "PASS: DC ZVA on Normal write-back",
        "PASS: DC ZVA on writable-clean Normal (DBM)",
        "FAIL:   ... the descriptor stays clean"),
    "align-s1-device-s2": (
        "PASS: aligned load from stage 1 Device",
        "FAIL: unaligned load from the same page",
        "PASS: unaligned load, stage 1 Normal, stage 2 Device",
        "FAIL: unaligned load that hits the TLB, stage 1 Normal",
        "FAIL: EL1 MMU off, stage 2 Normal"),
    "dczva-stage": (
        "FAIL: stage 1 Device, IPA unmapped at stage 2: stage 1 Alignment",
        "FAIL: stage 1 Normal, stage 2 Device: stage 2 Alignment",
        "FAIL: EL1 MMU off, stage 2 Device: stage 1 Alignment",
        "FAIL: FWB, stage 1 Device, stage 2 forced Normal: stage 1 Alignment"),
    "sve-device": (
        "PASS: Normal: LD1D, unaligned",
        "FAIL: Device: LD1D, unaligned",
        "FAIL: Device: ST1D, unaligned",
        "FAIL: Device: scatter ST1D, second element unaligned",
        "FAIL: Device:   ... writes neither element",
        "FAIL: Device: gather LD1D, unaligned",
        "FAIL: Device: LDNF1D, aligned: suppressed, FFR false for both "
        "elements",
        "FAIL: Device: LDFF1D, aligned: loads the first element only, FFR "
        "true for it alone",
        "FAIL: Normal, SCTLR_EL1.A set: LD1D, unaligned",
        "FAIL: MMU off: LD1D, unaligned"),
    "sel2-s1ns": (
        "PASS: unaligned load, Secure IPA: stage 2 fault",
        "FAIL: unaligned load, Secure IPA: HPFAR_EL2.NS 0 (Secure IPA space)",
        "FAIL: unaligned load, Non-secure IPA: HPFAR_EL2.NS 1 (Non-secure "
        "IPA space)",
        "FAIL: load, walk in the Non-secure IPA space: HPFAR_EL2.NS 1",
        "FAIL: AT S1E1R, walk in the Non-secure IPA space: HPFAR_EL2.NS 1"),
    "align-s2-fill-hit": (
        "PASS: FWB, stage 1 Device, stage 2 forced Normal: an unaligned load "
        "that fills the TLB takes a stage 1 Alignment fault",
        "FAIL: FWB, stage 1 Device, stage 2 forced Normal: an unaligned load "
        "that hits the TLB takes a stage 1 Alignment fault",
        "PASS: AArch32, short descriptors, stage 2 Normal: unaligned LDR that "
        "fills the TLB",
        "PASS: AArch32, short descriptors, stage 2 Normal: unaligned LDR that "
        "hits the TLB"),
}


def tcg_system_test(name, flavour):
    """Run one tests/tcg aarch64 system test on the @flavour QEMU: (rc,
    output)."""
    out = TCG_DIR / f"{name}.out"
    out.unlink(missing_ok=True)
    r = run(["make", "-s", "-C", str(TCG_DIR), f"run-{name}",
             f"QEMU={QEMU[flavour]}"])
    return r.returncode, out.read_text() if out.exists() else r.stdout


def tcg_case(name, doc):
    """@name on patched QEMU, and on stock where it fails."""
    def case(flavour):
        rc, out = tcg_system_test(name, flavour)
        if flavour == "patched":
            assert rc == 0 and "PASSED" in out and "FAIL" not in out, out
        else:
            assert rc != 0, out
            for line in FAILS_ON_STOCK[name]:
                assert line in out, out
    case.__doc__ = doc
    return pytest.mark.parametrize("flavour", [
        "patched", pytest.param("stock", id="fails_on_stock")])(case)


test_tcg_dczva_device = tcg_case(
    "dczva-device", "tests/tcg dczva-device: DC ZVA/GZVA fault on Device; "
    "stock 10.2.2 has no DC ZVA fault")
test_tcg_align_s1_device_s2 = tcg_case(
    "align-s1-device-s2", "tests/tcg align-s1-device-s2: stage 1 Device on "
    "a TLB hit; stage 2 Device at EL2; stock loses TLB_CHECK_ALIGNED on a "
    "hit, takes a hit's fault at the wrong stage and ignores stage 2 with "
    "the MMU off")
test_tcg_dczva_stage = tcg_case(
    "dczva-stage", "tests/tcg dczva-stage: DC ZVA on Device faults in the "
    "stage that maps it Device (FWB, MMU off, stage 2 unmapped); stock has "
    "no DC ZVA fault and takes a stage 2 Translation fault first")
test_tcg_sve_device = tcg_case(
    "sve-device", "tests/tcg sve-device: SVE element alignment on Device, "
    "with SCTLR.A and the MMU off; NF/FF suppression; no partial scatter; "
    "stock reads and writes Device RAM as Normal")
test_tcg_sel2_s1ns = tcg_case(
    "sel2-s1ns", "tests/tcg sel2-s1ns: at Secure EL2, HPFAR_EL2.NS gives "
    "the IPA space of a stage 2 fault, on the walk and for AT S1E1R too; "
    "stock inverts it, and gives 0 for a Non-secure table walk")
test_tcg_align_s2_fill_hit = tcg_case(
    "align-s2-fill-hit", "tests/tcg align-s2-fill-hit: TLB hits check "
    "alignment as the fill (FWB, AArch32 short descriptors); with FWB, "
    "stock's hit loses stage 1's flag")


@pytest.mark.parametrize("flavour", ["patched", "stock"])
def test_tcg_mops_device_regression_guard(flavour):
    """tests/tcg mops-device, a regression guard: CPY*/SET* to Device
    complete on stock and patched"""
    rc, out = tcg_system_test("mops-device", flavour)
    assert rc == 0 and "PASSED" in out and "FAIL" not in out, out
