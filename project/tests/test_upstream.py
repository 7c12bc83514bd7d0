"""Upstream QEMU's own tests on the patched build: the unit and qtest
programs that the series touches, then upstream's whole qtest-aarch64 and
check-tcg suites, which must have the same outcome as on stock 10.2.2."""

import json
import os
import re

import pytest

from wc import BUILD, QEMU, QEMU_BUILD, run


def run_glib_test(binary, *args, qemu=None):
    """Run a GLib test program with TAP output; assert it ran and passed."""
    env = dict(os.environ)
    if qemu:
        env["QTEST_QEMU_BINARY"] = str(qemu)
    r = run([str(QEMU_BUILD / binary), "--tap", "-q", *args], env=env,
            cwd=QEMU_BUILD, timeout=900)
    ok = sum(1 for ln in r.stdout.splitlines() if ln.startswith("ok "))
    bad = [ln for ln in r.stdout.splitlines() if ln.startswith("not ok")]
    assert r.returncode == 0 and ok and not bad, r.stdout[-4000:]
    print(f"  {binary}: {ok} passed")


@pytest.mark.quick
def test_unit_vfio_bar_wc():
    """tests/unit/test-vfio-bar-wc: the barN-wc policy, every combination"""
    run_glib_test("tests/unit/test-vfio-bar-wc")


@pytest.mark.quick
def test_upstream_check_qjson():
    """upstream tests/unit/check-qjson (the JSON parser fix 8 changes)"""
    run_glib_test("tests/unit/check-qjson")


@pytest.mark.quick
def test_upstream_qmp_cmd_test():
    """upstream qmp-cmd-test (query-vfio-pci-bars among the query commands)"""
    run_glib_test("tests/qtest/qmp-cmd-test", qemu=QEMU["patched"])


@pytest.mark.quick
def test_upstream_device_introspect_test():
    """upstream device-introspect-test (vfio-pci, vfio-user-pci properties)"""
    run_glib_test("tests/qtest/device-introspect-test", qemu=QEMU["patched"])


@pytest.mark.quick
def test_upstream_qom_test_virt():
    """upstream qom-test on the virt machine (other boards need ROMs +ds strips)"""
    run_glib_test("tests/qtest/qom-test", "-p", "/aarch64/qom/virt-10.2",
                  qemu=QEMU["patched"])


def meson_suite(flavour, suite):
    """Run QEMU's meson test suite @suite in the @flavour build: {test:
    result}, from meson's own log."""
    bdir = BUILD / "qemu" / flavour / "build"
    log = bdir / "meson-logs" / "testlog.json"
    log.unlink(missing_ok=True)
    r = run(["meson", "test", "-C", str(bdir), "--suite", suite,
             "--num-processes", "2", "--print-errorlogs"], timeout=3600)
    assert log.exists(), r.stdout[-5000:]
    results = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        # "qemu:qtest+qtest-aarch64 / qtest-aarch64/qmp-test"
        results[entry["name"].split(" / ")[-1]] = entry["result"]
    return results


@pytest.mark.slow
def test_upstream_qtest_aarch64_same_as_stock():
    """upstream's whole qtest-aarch64 suite: the same outcome as on stock"""
    stock = meson_suite("stock", "qtest-aarch64")
    patched = meson_suite("patched", "qtest-aarch64")
    ok = sorted(n for n, r in patched.items() if r == "OK")
    print(f"  qtest-aarch64: {len(ok)} of {len(patched)} OK on both; the "
          "others fail the same way on stock (ROMs and firmware that the +ds "
          "tarball strips)")
    diff = {n: (stock.get(n), patched.get(n))
            for n in sorted(set(stock) | set(patched))
            if stock.get(n) != patched.get(n)}
    assert not diff, f"stock vs patched: {diff}"
    for name in ("qmp-cmd-test", "device-introspect-test", "qmp-test",
                 "migration-test"):
        assert patched.get(f"qtest-aarch64/{name}") == "OK", patched


def check_tcg(flavour):
    """make check-tcg in the @flavour build: (rc, tests run, output)."""
    bdir = BUILD / "qemu" / flavour / "build"
    r = run(["make", "-C", str(bdir), "check-tcg"], timeout=1800)
    tests = re.findall(r"^\s+TEST\s+(\S+) on aarch64", r.stdout, re.M)
    return r.returncode, tests, r.stdout


@pytest.mark.slow
def test_upstream_check_tcg_same_as_stock():
    """make check-tcg (aarch64-softmmu): all pass, on stock and patched"""
    rc_stock, stock, out_stock = check_tcg("stock")
    rc, patched, out = check_tcg("patched")
    assert rc_stock == 0 and stock, out_stock[-5000:]
    assert rc == 0, out[-5000:]
    ours = {"sel2-s1ns", "align-s1-device-s2", "align-s2-fill-hit",
            "dczva-device", "dczva-stage", "sve-device", "mops-device"}
    assert set(patched) == set(stock) | ours, (sorted(stock), sorted(patched))
    print(f"  check-tcg: {len(stock)} upstream tests pass on both, "
          f"and the series' {len(ours)}")
