#!/usr/bin/env python3
"""The project's tests.  Expects the patched and the stock QEMU built and
the guest assets fetched (scripts/check.sh does all that first).

Prints one PASS/FAIL line a test and ends with "N passed, N failed".
"""

import os
import shutil
import subprocess
import tempfile
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guest  # noqa: E402

TOP = guest.TOP
BUILD = guest.BUILD
QEMU_BUILD = BUILD / "qemu" / "patched" / "build"
QEMU_SRC = BUILD / "qemu" / "patched" / "src"
TCG_DIR = QEMU_BUILD / "tests" / "tcg" / "aarch64-softmmu"

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def run(cmd, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


@test
def series_check():
    """patches/qemu: git am onto pristine 10.2.2, no drift, checkpatch clean"""
    r = run([str(TOP / "scripts" / "series.py"), "check"])
    assert r.returncode == 0, r.stdout[-5000:]
    for line in ("(a) git am", "(b) patches/qemu matches", "(c) checkpatch.pl"):
        assert line in r.stdout, r.stdout


def tcg_dczva(qemu):
    # -nic none: virt's default NIC wants efi-virtio.rom, which Debian's
    # +ds tarball does not ship.
    make = ["make", "-s", "-C", str(TCG_DIR), "run-dczva-device", f"QEMU={qemu}",
            "QEMU_BASE_MACHINE=-M virt -cpu max -display none -nic none"]
    out = TCG_DIR / "dczva-device.out"
    out.unlink(missing_ok=True)
    r = run(make)
    return r.returncode, out.read_text() if out.exists() else r.stdout


@test
def tcg_dczva_device_patched():
    """tests/tcg dczva-device: DC ZVA/GZVA fault on Device (patched QEMU)"""
    rc, out = tcg_dczva(guest.QEMU["patched"])
    assert rc == 0 and "PASSED" in out and "FAIL" not in out, out


@test
def tcg_dczva_device_fails_on_stock():
    """tests/tcg dczva-device fails on stock QEMU 10.2.2 (no DC ZVA fault)"""
    rc, out = tcg_dczva(guest.QEMU["stock"])
    assert rc != 0, out
    assert "FAIL: DC ZVA on Device, aligned" in out, out
    # The Normal cases are not what differs.
    assert "PASS: DC ZVA on Normal write-back" in out, out


@test
def fetch_qemu_rejects_bad_source():
    """QEMU_SRC that is missing or not v10.2.x: a clear error"""
    fetch = str(TOP / "scripts" / "fetch-qemu.sh")
    r = run([fetch], env=dict(os.environ, QEMU_SRC="/nonexistent/qemu"))
    assert r.returncode != 0, r.stdout
    assert "QEMU_SRC=/nonexistent/qemu does not exist" in r.stdout, r.stdout
    with tempfile.TemporaryDirectory() as tree:
        (Path(tree) / "VERSION").write_text("9.2.0\n")
        r = run([fetch], env=dict(os.environ, QEMU_SRC=tree))
        assert r.returncode != 0, r.stdout
        assert "is QEMU 9.2.0; this series is for v10.2.x" in r.stdout, r.stdout


@test
def series_rejects_orphan_file():
    """a component file that no patch lists stops staging, named"""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(TOP, copy, ignore=shutil.ignore_patterns("build", ".git"))
        orphan = copy / "target-arm-s2" / "target" / "arm" / "orphan.c"
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_text("/* listed in no .files */\n")
        r = run([str(copy / "scripts" / "series.py"), "stage"],
                env=dict(os.environ, BUILD=str(Path(tmp) / "build")))
        assert r.returncode != 0, r.stdout
        assert "target-arm-s2/target/arm/orphan.c belongs to no patch" in r.stdout, \
            r.stdout
        assert not (Path(tmp) / "build").exists(), "staged despite the error"


ADRALN = "SIGBUS/BUS_ADRALN"
# What an arm64 host with stage 2 Normal-NC gives (FACTS.md, hardware).
EXPECTED_PATCHED = {
    ("resource2", "store8-aligned"): "OK",
    ("resource2", "store8-unaligned"): ADRALN,
    ("resource2", "load8-unaligned"): ADRALN,
    ("resource2", "stp-ldp-aligned"): "OK",
    ("resource2", "stp-ldp-unaligned"): ADRALN,
    ("resource2", "memcpy-aligned"): "OK",
    ("resource2", "memcpy-misaligned"): ADRALN,
    ("resource2", "dc-zva"): ADRALN,
    ("resource2", "memset0-aligned"): ADRALN,
    ("resource2", "memset0-misaligned"): ADRALN,
    **{("resource2_wc", c): "OK" for c in guest.CASES},
}
# Stock 10.2.2 lets DC ZVA, and so glibc's aligned memset(0), through.
EXPECTED_STOCK = {
    **EXPECTED_PATCHED,
    ("resource2", "dc-zva"): "OK",
    ("resource2", "memset0-aligned"): "OK",
}


def check_table(table, expected):
    wrong = [f"{m} {c}: got {table.get((m, c), 'nothing')}, expected {e}"
             for (m, c), e in expected.items() if table.get((m, c)) != e]
    assert not wrong, "\n".join(wrong)


@test
def guest_bar_access_patched():
    """aarch64 Linux guest, ivshmem BAR2: DC ZVA and memset(0) fault on Device"""
    table, _ = guest.boot(guest.QEMU["patched"])
    check_table(table, EXPECTED_PATCHED)


@test
def guest_bar_access_stock():
    """the same guest on stock QEMU: DC ZVA and aligned memset(0) do not fault"""
    table, _ = guest.boot(guest.QEMU["stock"])
    check_table(table, EXPECTED_STOCK)


@test
def incremental_rebuild():
    """editing one source file rebuilds only what depends on it"""
    src = QEMU_SRC / "target" / "arm" / "tcg" / "helper-a64.c"
    os.utime(src)
    steps = run(["ninja", "-C", str(QEMU_BUILD), "-n", "qemu-system-aarch64"])
    n = sum(1 for ln in steps.stdout.splitlines() if ln.startswith("["))
    start = time.monotonic()
    r = run(["ninja", "-C", str(QEMU_BUILD), "qemu-system-aarch64"])
    took = time.monotonic() - start
    assert r.returncode == 0, r.stdout[-3000:]
    print(f"  incremental rebuild after touching {src.relative_to(QEMU_SRC)}: "
          f"{n} step(s), {took:.1f} s")
    assert 0 < n <= 20, f"{n} steps: the build was not reused"


def main():
    passed = failed = 0
    only = sys.argv[1:]
    for t in TESTS:
        if only and t.__name__ not in only:
            continue
        start = time.monotonic()
        try:
            t()
        except Exception as e:
            failed += 1
            detail = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
            print(f"FAIL: {t.__name__} - {t.__doc__}\n" +
                  "".join(f"    {ln}\n" for ln in detail.splitlines()), flush=True)
        else:
            passed += 1
            print(f"PASS: {t.__name__} - {t.__doc__} "
                  f"({time.monotonic() - start:.1f} s)", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
