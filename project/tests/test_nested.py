"""The nested KVM bed (project/scripts/nested_kvm.py): TCG L0, the series'
and the unpatched Linux 7.1.8 as the L1 KVM host, and L2 on the BAR that
L1 QEMU passes through with vfio-pci; built before the first test that
boots it (project/scripts/build-nested-bed.sh), as the default run leaves
it out.  Also the Linux series' check: its tree is this bed's alone."""

import functools
import re

import pytest

import guest
import nested_kvm
from guest import check_table, expected_table
from nested_bed import (KVM_MEMATTR, MEMATTR_CASES, SERIES_SELFTESTS,
                        VFIO_MEMATTR, memattr_results,
                        vfio_memattr_results)
from test_series import assert_series_check

pytestmark = pytest.mark.nested

# "kill": L1 QEMU killed while L2 runs, before the others, which then
# show that L1 and its vfio-pci device outlive it.
L2_MODES = ("kill", "on", "auto", "off")


@pytest.fixture(scope="session")
def nested_run(bed):
    """The bed's L1 with its selftests on the L0 QEMU @qemu with the L1
    kernel @kernel, booted once a pair a session: (qemu, kernel) ->
    ({selftest: nested_kvm.Selftest}, the console log)."""
    @functools.cache
    def boot(qemu, kernel):
        return nested_kvm.run(guest.QEMU[qemu], nested_kvm.KERNEL[kernel])[:2]
    return boot


@pytest.fixture(scope="session")
def nested_l2(bed):
    """L1 QEMU -accel kvm with L2, once a mode of L2_MODES, on the @kernel
    L1 kernel, booted once a kernel a session: kernel -> ({mode:
    nested_kvm.L2Run}, L1's log, the BAR's bytes in L0's backing file)."""
    @functools.cache
    def boot(kernel):
        tests, log, bar = nested_kvm.run(guest.QEMU["patched"],
                                         nested_kvm.KERNEL[kernel], L2_MODES)
        return nested_kvm.parse_l2(tests), log, bar
    return boot


def nested_selftest(nested_run, qemu, kernel, name):
    """Selftest @name in L1: (its Selftest, L1's log)."""
    tests, log = nested_run(qemu, kernel)
    t = tests.get(name)
    assert t and t.results, f"no {name} results:\n{log[-4000:]}"
    return t, log


def test_nested_kvm_selftest_patched(nested_run):
    """nested KVM (patched QEMU, patched Linux): vfio_memattr, for NC (left
    as the default and set), WC and DEVICE, 20 of 20 (the guest's unaligned
    store, STP and DC ZVA land under NC and WC and take an injected
    Alignment fault under DEVICE, the guest runs on, KVM's stage 2 dump
    gives MEM/NORMAL-NC and DEVICE/nGnRE); vfio_pci_memattr_test, 12 of 12
    (PROBE, GET/SET, EINVAL, EBUSY after mmap, NC on reopen; the host's
    unaligned store takes SIGBUS/BUS_ADRALN under NC and DEVICE and lands
    under WC)"""
    t, log = nested_selftest(nested_run, "patched", "patched", KVM_MEMATTR)
    assert "# VFIO_DEVICE_FEATURE_REGION_MEMATTR: supported" in t.log, t.log[-4000:]
    assert t.results == memattr_results() and t.status == 0, t.log[-6000:]
    v, _ = nested_selftest(nested_run, "patched", "patched", VFIO_MEMATTR)
    assert v.results == vfio_memattr_results() and v.status == 0, v.log[-6000:]


def test_nested_kvm_selftest_unpatched_kernel(nested_run):
    """the same selftests on Linux 7.1.8: vfio_memattr says SET is
    unavailable and passes the default only (NC: no fault, the stage 2
    check skipped as the dump names no type); vfio_pci_memattr_test fails
    its PROBE, skips the rest but the default's host mapping, which
    faults"""
    t, log = nested_selftest(nested_run, "patched", "stock", KVM_MEMATTR)
    assert "SET unavailable: testing the default (NC) only" in t.log, t.log[-4000:]
    default = {"NC (default)": MEMATTR_CASES["NC (default)"]}
    assert t.results == memattr_results(default, stage2="skip") and \
        t.status == 0, t.log[-6000:]
    v, _ = nested_selftest(nested_run, "patched", "stock", VFIO_MEMATTR)
    expected = vfio_memattr_results(uapi="skip", host={
        "nc": "skip", "wc": "skip", "device": "skip"})
    expected["vfio_pci_memattr_test.probe"] = "not ok"
    assert v.results == expected and v.status != 0, v.log[-6000:]


def test_nested_kvm_selftest_stock_qemu(nested_run):
    """under stock QEMU 10.2.2 as L0, the DEVICE case's DC ZVA completes
    (stock TCG does not fault DC ZVA on Device memory): vfio_memattr's only
    failure; vfio_pci_memattr_test passes"""
    t, log = nested_selftest(nested_run, "stock", "patched", KVM_MEMATTR)
    expected = memattr_results()
    expected["DEVICE: DC ZVA: an Alignment fault"] = "not ok"
    assert t.results == expected and t.status != 0, t.log[-6000:]
    mismatches = re.findall(r"^# (.*?): (\S.*?): (.*), expected (.*)$", t.log, re.M)
    assert mismatches == [("DEVICE", "DC ZVA", "completed", "an Alignment fault")], \
        t.log[-6000:]
    v, _ = nested_selftest(nested_run, "stock", "patched", VFIO_MEMATTR)
    assert v.results == vfio_memattr_results() and v.status == 0, v.log[-6000:]


def test_nested_upstream_selftests_same_on_both_kernels(nested_run):
    """upstream's KVM and vfio selftests in L1: set_memory_region_test
    passes on the patched and on the unpatched kernel; each other one has
    the same results on both"""
    patched, log = nested_run("patched", "patched")
    stock, log_stock = nested_run("patched", "stock")
    upstream = [n for n in nested_kvm.selftest_names() if n not in SERIES_SELFTESTS]
    assert any(n.startswith("vfio/") for n in upstream), upstream
    lines = []
    for name in upstream:
        p, s = patched.get(name), stock.get(name)
        assert p and s and p.status is not None and s.status is not None, \
            f"{name} did not finish:\n{log[-3000:]}\n{log_stock[-3000:]}"
        ok = sum(r == "ok" for r in p.results.values())
        lines.append(f"  {name}: exit {p.status} (patched), {s.status} "
                     f"(7.1.8); {ok} of {len(p.results)} TAP results ok")
        assert (p.status, p.results) == (s.status, s.results), \
            f"{name}: patched {p.status} {p.results}\n" \
            f"7.1.8 {s.status} {s.results}\n{p.log[-3000:]}"
    print("\n".join(lines))
    smrt = "kvm/set_memory_region_test"
    assert patched[smrt].status == 0 and stock[smrt].status == 0, \
        patched[smrt].log[-3000:]


def l2_bar_reports(l2):
    """BAR 2 of L1 QEMU's device in each query-vfio-pci-bars reply."""
    reports = []
    for devices in l2.vfio_reports():
        assert [d.get("device-id") for d in devices] == \
            [nested_kvm.L2_DEVICE_ID], devices
        reports.append(devices[0]["bars"][nested_kvm.L2_BAR])
    return reports


def check_l2_table(l2, wc_stage2):
    check_table(l2.table, expected_table(wc_stage2))


# What the series' ptdump patch calls the stage 2 types.
STAGE2_DUMP_TYPE = {"normal-nc": "MEM/NORMAL-NC", "device-ngnre": "DEVICE/nGnRE"}


def check_l2_stage2(l2, bar_type):
    """L1 KVM's stage 2 page tables as L2 left them, from debugfs: the
    pages of the BAR that L2 touched have the type @bar_type (a
    STAGE2_TYPES word, None where the kernel names no type), L2's RAM
    Normal."""
    assert len(l2.stage2_files) == 1, l2.stage2_files or l2.log[-3000:]
    bar = l2.stage2_types(*l2.pci_bar(nested_kvm.L2_DEVICE_ID, nested_kvm.L2_BAR))
    assert bar and set(bar) == {bar_type}, (bar, l2.stage2)
    ram = l2.stage2_types(*nested_kvm.L2_RAM)
    assert ram and set(ram) == {"MEM/NORMAL" if bar_type else None}, ram


def test_nested_l1_bandwidth_program(nested_l2):
    """project/guest/bar-access run as a program in a VM (L1, on its ivshmem
    BAR), in its bandwidth mode: the table, then it returns; nothing
    written outside its scratch range"""
    _, log, bar = nested_l2("patched")
    tests = nested_kvm.parse(log)
    run_ = tests["l1-bandwidth"]
    assert run_.status == 0, run_.log[-3000:]
    rows, says_qemu = guest.parse_bandwidth(run_.log)
    sizes = [64 << (2 * i) for i in range(6)]             # 64 B .. 64 KiB
    assert sorted(rows) == sorted((z, m) for z in sizes for m in
                                  ("str8", "stp16", "memcpy", "burst64")), run_.log[-3000:]
    assert says_qemu, run_.log[-3000:]
    # L1 went on to L2 rather than powering off.
    assert all(f"l2-bar2-wc={m}" in tests for m in L2_MODES), sorted(tests)
    start, length = nested_kvm.L1_BANDWIDTH_SCRATCH
    # L2's cases write below 0xa000 only.
    assert bar[0xa000:start] == bytes(start - 0xa000), "written below the scratch range"
    assert bar[start + length:] == bytes(len(bar) - start - length), \
        "written above the scratch range"
    assert bar[start:start + length] != bytes(length), "nothing written"


KVM_AUTO_REASON = ("auto: QEMU sets no memory type; the KVM accelerator "
                   "follows the host's vfio-pci mapping (on arm64, KVM maps "
                   "a vfio-pci BAR Normal-NC at stage 2 since Linux 6.9, so "
                   "the guest's own mapping decides)")


def check_l1_qemu_killed(runs, log):
    """L1 QEMU killed with SIGKILL once L2 ran: L1 lives on (the next run
    follows), and the device stays bound to vfio-pci."""
    killed = runs.get("kill")
    assert killed and killed.status == 137, (killed.status if killed else log[-4000:])
    assert "bar-access: device" in killed.log, killed.log[-3000:]
    assert re.search(r"^nested-kvm: killed L1 QEMU; \S+'s driver: vfio-pci$",
                     killed.log, re.M), killed.log[-3000:]


def test_nested_kvm_vfio_pci_bar_wc(nested_l2):
    """nested KVM: L1 QEMU -accel kvm -device vfio-pci,bar2-wc=on/auto/off
    on the series' kernel; L2's table as under TCG, the type in KVM's
    stage 2 page tables, the kernel's memory attribute in QMP (before,
    during and after a dirty-log toggle), the bytes in L0's backing
    file"""
    runs, log, bar = nested_l2("patched")
    expect = {
        "on": ("normal-nc", "vfio", "wc", None, "normal-nc"),
        "auto": ("host-default", None, "nc", KVM_AUTO_REASON, "normal-nc"),
        "off": ("device-ngnre", "vfio", "device", None,
                "device-ngnre"),
    }
    check_l1_qemu_killed(runs, log)
    for mode, (effective, mechanism, memattr, reason, stage2) in expect.items():
        l2 = runs.get(mode)
        assert l2 and l2.status == 0 and "bar-access: done" in l2.log, \
            f"bar2-wc={mode}:\n{(l2.log if l2 else log)[-4000:]}"
        check_l2_table(l2, stage2)
        check_l2_stage2(l2, STAGE2_DUMP_TYPE[stage2])
        reports = l2_bar_reports(l2)
        # Before the dirty-log toggle, while it runs, and after it.
        assert len(reports) == 3, l2.qmp
        for r in reports:
            got = (r["requested"], r.get("effective"), r.get("mechanism"),
                   r.get("host-mem-attr"), r.get("reason"))
            assert got == (mode, effective, mechanism, memattr, reason), got
        rates = [q["return"] for q in l2.qmp
                 if isinstance(q.get("return"), dict) and
                 "calc-time" in q["return"]]
        assert rates and rates[0]["status"] == "measured", l2.qmp
    # The guest's aligned stores through both mappings, in L0's file.
    assert bar[0x100:0x108] == (0x1122334455667788).to_bytes(8, "little"), \
        bar[0x100:0x108].hex()
    assert bar[0x1000:0x2000] == bytes(i * 7 & 0xff for i in range(4096)), \
        bar[0x1000:0x1010].hex()


def test_nested_kvm_vfio_pci_unpatched_kernel(nested_l2):
    """nested KVM on Linux 7.1.8: auto gets KVM's own Normal-NC and no
    memory attribute is reported; on and off fail realize naming the
    missing vfio feature; its stage 2 page table dump maps the BAR but
    names no memory type"""
    runs, log, _ = nested_l2("stock")
    auto = runs.get("auto")
    assert auto and auto.status == 0, (auto.log if auto else log)[-4000:]
    check_l2_table(auto, "normal-nc")
    check_l2_stage2(auto, None)
    for r in l2_bar_reports(auto):
        assert (r.get("effective"), r.get("mechanism"), r.get("host-mem-attr"),
                r["reason"]) == ("host-default", None, None, KVM_AUTO_REASON), r
    for mode, mem_type in (("on", "Normal-NC"), ("off", "Device-nGnRE")):
        l2 = runs.get(mode)
        assert l2 and l2.status != 0 and not l2.table, \
            (l2.log if l2 else log)[-4000:]
        assert (f"bar2-wc={mode}: BAR 2 needs the {mem_type} host memory "
                "type, which the KVM accelerator cannot enforce: KVM takes it "
                "from the host's vfio-pci mapping, and the host kernel's "
                "vfio-pci does not offer VFIO_DEVICE_FEATURE_REGION_MEMATTR"
                ) in l2.log, l2.log[-4000:]


def test_linux_series_check():
    """patches/linux-fixes and patches/linux: git am and quilt push -a on
    pristine 7.1.8, no drift, checkpatch --strict clean"""
    assert_series_check("linux")
