"""Opt-in: the patched QEMU built with AddressSanitizer and
UndefinedBehaviorSanitizer, and the tests that run on it."""

import re
import time

import pytest

import guest
import vfio_user as vu
from guest import EXPECTED_PATCHED, check_table, expected_table
from wc import BUILD, TOP, run

pytestmark = pytest.mark.sanitizers

ASAN_BUILD = BUILD / "qemu" / "asan" / "build"
ASAN_QEMU = ASAN_BUILD / "qemu-system-aarch64"
# Reports other than leaks, which are counted instead.
SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|runtime error:")
LEAK_SUMMARY = re.compile(r"SUMMARY: AddressSanitizer: (\d+) byte\(s\) leaked")


class SanitizerLogs:
    """The reports in @directory, where log_path puts them."""

    def __init__(self, directory):
        self.dir = directory

    def take(self):
        """{file name: report} written since the last take."""
        reports = {f.name: f.read_text() for f in sorted(self.dir.iterdir())}
        for f in self.dir.iterdir():
            f.unlink()
        return reports


@pytest.fixture
def asan_qemu():
    """The patched QEMU and the series' test server built with ASan and
    UBSan (build-qemu.sh --asan), its build time printed."""
    start = time.monotonic()
    r = run([str(TOP / "project" / "scripts" / "build-qemu.sh"), "--asan",
             "tests/vfio-user-wc-server"], timeout=5400)
    assert r.returncode == 0, r.stdout[-3000:]
    print(f"  ASan+UBSan build: {time.monotonic() - start:.0f} s")
    return ASAN_QEMU


@pytest.fixture
def sanitizer_logs(asan_qemu, tmp_path, monkeypatch):
    """ASan, LeakSanitizer and UBSan reports of every process the test
    starts once @asan_qemu is built, each in a file of its own
    (log_path), instead of mixed into output that the test reads."""
    logs = tmp_path / "sanitizers"
    logs.mkdir()
    monkeypatch.setenv("ASAN_OPTIONS", f"detect_leaks=1:log_path={logs}/asan")
    monkeypatch.setenv("UBSAN_OPTIONS", f"print_stacktrace=1:halt_on_error=1:"
                                        f"log_path={logs}/ubsan")
    return SanitizerLogs(logs)


def leaked_bytes(reports):
    return sum(int(m.group(1)) for text in reports.values()
               for m in LEAK_SUMMARY.finditer(text))


def test_sanitizers_asan_ubsan(asan_qemu, sanitizer_logs):
    """opt-in tier: the patched QEMU built with ASan and UBSan (its build time printed) runs the series' functional test, the guest's table on ivshmem and on vfio-user-pci with bar2-wc=off, and 200 hot-plug cycles with bar2-wc cycling: no ASan or UBSan report, no leak at exit, and none that grows with the cycles"""
    errors = {}

    def errors_in(step, reports):
        bad = {name: text for name, text in reports.items()
               if SANITIZER_REPORT.search(text)}
        errors.update({f"{step}: {n}": t for n, t in bad.items()})
        return reports

    start = time.monotonic()
    r = run(["meson", "test", "-C", str(ASAN_BUILD), "--no-rebuild",
             "func-aarch64-vfio_user_bar_wc"], timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:]
    functional = errors_in("functional", sanitizer_logs.take())
    print(f"  functional test: {time.monotonic() - start:.0f} s, "
          f"{leaked_bytes(functional)} bytes leaked at exit")

    start = time.monotonic()
    table, _ = guest.boot(asan_qemu)
    check_table(table, EXPECTED_PATCHED)
    check_table(guest.boot_vfio_user(asan_qemu, "off"),
                expected_table("device-ngnre"))
    guests = errors_in("guest", sanitizer_logs.take())
    print(f"  two guest boots: {time.monotonic() - start:.0f} s")

    start = time.monotonic()
    baseline = vu.run_hotplug(0, qemu=asan_qemu)
    base = errors_in("hotplug 0", sanitizer_logs.take())
    cycled = vu.run_hotplug(200, qemu=asan_qemu)
    after = errors_in("hotplug 200", sanitizer_logs.take())
    print(f"  hot-plug: 0 cycles leak {leaked_bytes(base)} bytes, 200 "
          f"cycles {leaked_bytes(after)} bytes "
          f"({time.monotonic() - start:.0f} s)")
    assert not errors, "\n".join(f"{k}:\n{v[:3000]}" for k, v in errors.items())
    # Every QEMU of the functional test and the guests frees what it took.
    for reports in (functional, guests):
        assert leaked_bytes(reports) == 0, "\n".join(reports.values())[:8000]
    # LeakSanitizer's exit status, where QEMU leaks at exit, is the same
    # with and without the cycles.
    assert baseline[0] == cycled[0], (baseline[0], cycled[0], cycled[1][-3000:])
    assert leaked_bytes(after) <= leaked_bytes(base), \
        "\n".join(after.values())[:8000]

