"""The host check a user runs on their arm64 KVM host before anything else
(project/host-check/wc-host-check.c): on this x86 machine, where it must
say that this is no arm64 KVM host and touch nothing, and in the nested
bed's L1, an arm64 KVM host with an ivshmem-plain device bound to
vfio-pci, on the series' kernel and on the unpatched Linux 7.1.8."""

import functools
import json
import platform
import re
import shutil

import pytest

import guest
import nested_kvm
from wc import BUILD, run

HOST_CHECK = BUILD / "meson" / "project" / "host-check" / "wc-host-check"
# Its exit status where this is not an arm64 KVM host.
NOT_ARM64_KVM = 2
# ivshmem-plain as L0 gives it to L1 (nested_kvm.run()): its registers in
# a 256-byte 32-bit BAR 0, the 1 MiB shared memory in a 64-bit
# prefetchable BAR 2.
IVSHMEM = "1af4:1110"
IVSHMEM_BARS = {
    0: "mem32 size=0x100 64bit=no prefetchable=no mmap=sub-page",
    1: "unimplemented size=0x0 64bit=no prefetchable=no mmap=no",
    2: "mem64 size=0x100000 64bit=yes prefetchable=yes mmap=yes",
    3: "upper-half size=0x0 64bit=no prefetchable=no mmap=no",
    4: "unimplemented size=0x0 64bit=no prefetchable=no mmap=no",
    5: "unimplemented size=0x0 64bit=no prefetchable=no mmap=no",
}
NO_MEMATTR = "the host's vfio-pci does not offer VFIO_DEVICE_FEATURE_REGION_MEMATTR"
# What QEMU's realize makes of bar2-wc=auto, on and off under KVM in L1
# (nested_kvm_vfio_pci_bar_wc and nested_kvm_vfio_pci_unpatched_kernel
# boot L1 QEMU and L2 to see it).
BAR2_WC = {
    "patched": ("Normal-NC at stage 2 (the host's default)",
                "Normal-NC at stage 2, host mapping WC",
                "Device-nGnRE at stage 2"),
    "stock": ("Normal-NC at stage 2 (the host's default)",
              f"realize fails: {NO_MEMATTR}", f"realize fails: {NO_MEMATTR}"),
}
# On and off on the BARs that have no memory type of their own, whatever
# the kernel.
OTHER_BARS_FAIL = {
    0: "BAR 0 is smaller than a host page",
    1: "BAR 1 is not implemented",
    3: "BAR 3 is the upper half of 64-bit BAR 2: set bar2-wc",
    4: "BAR 4 is not implemented",
    5: "BAR 5 is not implemented",
}


def facts(output):
    """The "key: value" lines of @output: {key: value}."""
    return dict(m.groups() for m in
                re.finditer(r"^([a-z][a-z0-9-]*): (.*)$", output, re.M))


def bar_lines(output):
    """{bar: (its facts, {mode: prediction})} of the device lines' BARs."""
    bars = {}
    for m in re.finditer(r"^  bar(\d) (.*?) bar\d-wc: auto -> (.*?); "
                         r"on -> (.*?); off -> (.*)$", output, re.M):
        bars[int(m.group(1))] = (m.group(2), dict(zip(("auto", "on", "off"),
                                                       m.group(3, 4, 5))))
    return bars


@pytest.mark.quick
def test_host_check_not_arm64_kvm_host(tmp_path):
    """On this x86 machine the host check says first that this is not an
    arm64 KVM host and exits 2, and still lists what it could check (the
    kernel, the series' feature, KVM, the vfio-bound devices); under strace
    it opens nothing for writing, no vfio device or group, and makes no
    ioctl but KVM's API version and capability queries on /dev/kvm.

    strace is Debian's (dpkg strace); the test fails rather than skip
    without it."""
    assert shutil.which("strace"), "strace is missing: apt-get install strace"
    trace_file = tmp_path / "strace"
    r = run(["strace", "-qq", "-o", str(trace_file),
             "-e", "trace=open,openat,openat2,creat,ioctl,syslog",
             str(HOST_CHECK)])
    output, trace = r.stdout, trace_file.read_text().splitlines()
    assert r.returncode == NOT_ARM64_KVM, output
    machine = platform.machine()
    assert output.startswith("wc-host-check: not an arm64 KVM host: this is "
                             f"{machine}; "), output
    f = facts(output)
    assert re.match(rf"\S+ \(.*\), {machine}, page size \d+$",
                    f["kernel"]), output
    # This machine's kernel has no series, and no vfio_pci_core to read
    # the BTF of.
    assert f["region-memattr"].startswith(
        "likely not offered (inferred, no BTF of vfio_pci_core to read): "
        "/proc/kallsyms has none of the series' functions"), output
    assert "kvm" in f and "vfio-pci" in f, output
    assert "devices" in f or re.search(r"^device ", output, re.M), output
    opens = [l for l in trace if re.match(r"(open|openat|openat2|creat)\(", l)]
    assert any('"/proc/kallsyms"' in l for l in opens), trace
    for line in opens:
        assert not line.startswith("creat(") and not re.search(
            r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", line), line
        assert "/dev/vfio" not in line, line
    kvm_fds = {m.group(1) for line in opens for m in
               [re.search(r'"/dev/kvm", O_RDONLY\|O_CLOEXEC\) = (\d+)', line)]
               if m}
    for line in trace:
        # Reading the kernel log, never clearing it.
        if line.startswith("syslog("):
            assert re.match(r"syslog\((3|10) ", line), line
        m = re.match(r"ioctl\((\d+), (\w+)", line)
        # stdio asks whether its stdout is a terminal.
        if m and (m.group(1), m.group(2)) != ("1", "TCGETS"):
            assert m.group(1) in kvm_fds and m.group(2) in (
                "KVM_GET_API_VERSION", "KVM_CHECK_EXTENSION"), line


# The prediction for a mode that QEMU realizes: what query-vfio-pci-bars
# reports for the BAR then (effective, host-mem-attr on the series' kernel).
REPORTED = {
    "Normal-NC at stage 2, host mapping WC": ("normal-nc", "wc"),
    "Device-nGnRE at stage 2": ("device-ngnre", "device"),
    "Normal-NC at stage 2 (the host's default)": ("host-default", "nc"),
}


def realize_runs(tests):
    """L1 QEMU's realize of the device once a BAR and mode, from
    nested_kvm.parse()'s @tests: {(bar, mode): (exit status, its
    query-vfio-pci-bars BAR report or None, its output)}."""
    runs = {}
    for name, t in tests.items():
        m = re.fullmatch(r"realize-bar(\d)-wc=(\w+)", name)
        if not m:
            continue
        reports = [r["return"] for r in map(json.loads, re.findall(
            r"^(\{.*\})\s*$", t.log, re.M)) if isinstance(r.get("return"), list)]
        bar = reports[0][0]["bars"][int(m.group(1))] if reports else None
        runs[int(m.group(1)), m.group(2)] = (t.status, bar, t.log)
    return runs


# Why QEMU refuses a BAR's mode: each phrase of a predicted "realize fails"
# is in QEMU's error (hw/vfio/pci-bar-wc-policy.c, pci-bar-wc.c).
REFUSALS = ("is an I/O BAR", "is the upper half of 64-bit BAR",
            "is not implemented", "is smaller than a host page",
            "does not offer VFIO_DEVICE_FEATURE_REGION_MEMATTR")


def check_against_qemu(bars, runs, kernel):
    """Hold the host check's BARs @bars (bar_lines()) against L1 QEMU's
    realize @runs (realize_runs()) on the @kernel L1 kernel."""
    for (n, mode), (qemu_status, report, qemu_log) in sorted(runs.items()):
        prediction = bars[n][1][mode]
        what = f"bar{n}-wc={mode}, predicted {prediction!r}:\n{qemu_log}"
        if prediction.startswith("realize fails"):
            [why] = [r for r in REFUSALS if r in prediction] or [None]
            assert why and qemu_status != 0 and \
                f"bar{n}-wc={mode}: " in qemu_log and why in qemu_log, what
            continue
        assert qemu_status == 0 and report, what
        kind, size = bars[n][0].split()[:2]
        assert (report["kind"], f"size={report['size']:#x}") == \
            (kind.replace("upper-half", "unimplemented"), size), what
        # A sub-page BAR: QEMU sets no type, the mapping decides.
        if prediction.startswith("no type") or \
                "where the guest places the BAR" in prediction:
            effective, memattr = None, None
        else:
            effective, memattr = REPORTED[prediction]
        assert report.get("effective") == effective, what
        if effective:
            assert report.get("host-mem-attr") == \
                (memattr if kernel == "patched" else None), what


@pytest.fixture(scope="module")
def l1_host_check(bed):
    """The host check in L1 on the @kernel L1 kernel, and L1 QEMU's
    realize of the device once a BAR and mode, L1 booted once a kernel:
    kernel -> (its output, its exit status, realize_runs(), L1's log)."""
    @functools.cache
    def boot(kernel):
        tests, log, _ = nested_kvm.run(guest.QEMU["patched"],
                                       nested_kvm.KERNEL[kernel],
                                       host_check=True, timeout=1200)
        t = tests.get("host-check")
        assert t and t.status is not None, f"no host check:\n{log[-4000:]}"
        return t.log, t.status, realize_runs(tests), log
    return boot


@pytest.mark.nested
@pytest.mark.parametrize("kernel", ["patched", pytest.param("stock", id="unpatched_kernel")])
def test_nested_host_check(l1_host_check, kernel):
    """In the nested bed's L1, an arm64 KVM host, the host check finds the
    ivshmem-plain device bound to vfio-pci with BAR 0 (256 bytes, 32-bit,
    sub-page), BAR 2 (1 MiB, 64-bit, prefetchable, mmappable) and its upper
    half BAR 3, and predicts what barN-wc gives each, as L1 QEMU then does:
    on the series' kernel it sees VFIO_DEVICE_FEATURE_REGION_MEMATTR, and
    bar2-wc=on gives Normal-NC at stage 2 with a WC host mapping and off
    Device-nGnRE; on the unpatched 7.1.8 it sees none, and on and off fail
    realize.  auto gives Normal-NC on both, and on and off fail realize on
    the other BARs.

    The BAR facts come from L1's sysfs, the KVM facts from L1's /dev/kvm
    and kernel log (QEMU's -cpu max has FWB).  Each prediction is held
    against L1 QEMU -accel kvm realizing the device with that BAR's
    property set (-S, no guest): whether realize fails, and otherwise the
    BAR's kind, size and type in query-vfio-pci-bars.  L1 runs only these
    (nested.host-check)."""
    output, status, runs, log = l1_host_check(kernel)
    assert status == 0, log[-4000:]
    assert output.startswith("wc-host-check: arm64 KVM host\n"), output
    f = facts(output)
    assert re.match(r"7\.1\.8\S* \(.*\), aarch64, page size 4096$",
                    f["kernel"]), output
    assert f["stage2-default"].startswith("Normal-NC: Linux 6.9 and later"), output
    if kernel == "patched":
        # L1's kernel has no BTF: inferred.
        assert f["region-memattr"].startswith(
            "likely offered (inferred, no BTF of vfio_pci_core to read): "
            "/proc/kallsyms has kvm_inject_dabt_alignment"), output
    else:
        assert f["region-memattr"].startswith(
            "likely not offered (inferred, no BTF of vfio_pci_core to "
            "read): /proc/kallsyms has none of the series' functions"), output
    assert re.match(r"/dev/kvm, API version 12$", f["kvm"]), output
    assert f["kvm-cacheable-pfnmap"].startswith("known (Linux 6.17 and later), "
                                                "answered for a VM only"), output
    assert f["kvm-fwb"].startswith("yes"), output
    assert f["vfio-pci"].startswith("registered"), output
    devices = re.findall(r"^device (\S+) \[(\S+)\] driver (\S+) ", output, re.M)
    assert [(d[1], d[2]) for d in devices] == [(IVSHMEM, "vfio-pci")], output
    bars = bar_lines(output)
    assert {n: b[0] for n, b in bars.items()} == IVSHMEM_BARS, output
    assert tuple(bars[2][1][m] for m in ("auto", "on", "off")) == \
        BAR2_WC[kernel], output
    for n, why in OTHER_BARS_FAIL.items():
        assert bars[n][1]["on"] == bars[n][1]["off"] == \
            f"realize fails: {why}", output

    assert len(runs) == 18, log[-4000:]
    check_against_qemu(bars, runs, kernel)
