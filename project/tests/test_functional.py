"""Tests in QEMU's tests/functional framework: the series' own
(tests-qtest/tests/functional/aarch64/test_vfio_user_bar_wc.py), by meson
test in the patched build, and the project's (project/functional), on
the patched QEMU and on stock 10.2.2."""

import os
import re
import signal
import subprocess

import pytest

import guest
from wc import BUILD, QEMU, QEMU_BUILD, TOP, run

# The series' own functional test of vfio-user-pci's barN-wc (no guest),
# as a reviewer runs it in the staged tree's build directory.
SERIES_FUNCTIONAL_TEST = (TOP / "tests-qtest" / "tests" / "functional" /
                          "aarch64" / "test_vfio_user_bar_wc.py")
GUEST_TEST = TOP / "project" / "functional" / "test_vfio_user_bar_wc_guest.py"
GUEST_CASES = ("test_bar0_default_auto", "test_bar2_wc_auto",
               "test_bar2_wc_off", "test_bar2_wc_on")
BAD_INPUT_TEST = TOP / "project" / "functional" / "test_bar_wc_bad_input.py"
HOSTILE_TEST = (TOP / "project" / "functional" /
                "test_vfio_user_hostile_replies.py")
HOSTILE_CASES = re.findall(r"^    def (test_\w+)\(", HOSTILE_TEST.read_text(), re.M)
# Regression guards: 10.2.2 passes them too.
HOSTILE_GUARDS = ("test_bar_shrinks_between_reads", "test_good_caps")
# 10.2.2 spins or asks forever under the BQL: the case never ends.
HOSTILE_HANGS_ON_STOCK = ("test_cap_loop", "test_argsz_grows")


def functional_env(flavour, src="patched", **extra_env):
    """The environment of a test in QEMU's tests/functional framework with
    the @flavour QEMU, through the @src tree's qemu_test.  The series' test
    directory is on its path and the patched build's libvfio-user on the
    loader's, for the series' server and helpers, and project/scripts, for
    the guest's table."""
    src_dir = BUILD / "qemu" / src / "src"
    return dict(os.environ,
                QEMU_TEST_QEMU_BINARY=str(QEMU[flavour]),
                QEMU_BUILD_ROOT=str(QEMU_BUILD),
                LD_LIBRARY_PATH=str(QEMU_BUILD / "subprojects" /
                                    "libvfio-user" / "lib"),
                PYTHONPATH=f"{src_dir / 'python'}:"
                           f"{src_dir / 'tests' / 'functional'}:"
                           f"{SERIES_FUNCTIONAL_TEST.parent}:"
                           f"{TOP / 'project' / 'scripts'}",
                **extra_env)


def run_functional(test, flavour, *args, src="patched", timeout=300,
                   **extra_env):
    """@test, a test in QEMU's tests/functional framework, with the
    @flavour QEMU and @args (functional_env()): its run."""
    # Debian's python3, which has pycotap, not whatever python3 PATH finds.
    return run(["/usr/bin/python3", str(test), *args],
               env=functional_env(flavour, src, **extra_env), timeout=timeout)


def functional_tap(text):
    """{case: its TAP line} of a tests/functional test's output in @text."""
    return {m.group(1): m.group(0) for m in
            re.finditer(r"^(?:not )?ok \d+ \S+\.(test_\w+).*$", text, re.M)}


def assert_every_case_passed(rc, tap, cases, out):
    """Each of @cases has a TAP line in @tap, none failed or was skipped."""
    assert sorted(tap) == sorted(cases), out[-5000:]
    bad = [line for line in tap.values()
           if not line.startswith("ok ") or "# skip" in line.lower()]
    assert rc == 0 and not bad, "\n".join(bad) + "\n" + out[-5000:]


def guest_test(flavour):
    """Run the tests/functional test of the guest on vfio-user-pci with the
    @flavour QEMU, through that tree's qemu_test framework; return (rc,
    {case: TAP line}, output)."""
    r = run_functional(GUEST_TEST, flavour, src=flavour, timeout=600,
                       QEMU_TEST_BAR_WC_KERNEL=str(guest.GUEST / "vmlinuz"),
                       QEMU_TEST_BAR_WC_INITRD=str(guest.GUEST_INITRD))
    return r.returncode, functional_tap(r.stdout), r.stdout


@pytest.mark.guest
def test_functional_vfio_user_bar_wc():
    """tests/functional: the guest on vfio-user-pci, bar2-wc=on/auto/off and BAR0"""
    rc, tap, out = guest_test("patched")
    assert_every_case_passed(rc, tap, GUEST_CASES, out)


@pytest.mark.guest
def test_functional_vfio_user_bar_wc_fails_on_stock():
    """the same test on stock 10.2.2: BAR0's DC ZVA, no bar2-wc, no report"""
    rc, tap, out = guest_test("stock")
    assert rc != 0 and sorted(tap) == sorted(GUEST_CASES), out[-5000:]
    assert all(line.startswith("not ok ") for line in tap.values()), out[-5000:]
    assert "-  'memset0-aligned': 'OK'," in out, out[-5000:]
    assert "Property 'vfio-user-pci.bar2-wc' not found" in out, out[-5000:]


@pytest.mark.quick
def test_series_functional_vfio_user_bar_wc():
    """the series' tests/functional/aarch64/test_vfio_user_bar_wc.py by meson test in the patched build: every case ran (none skipped) and passed"""
    r = run(["meson", "test", "-C", str(QEMU_BUILD), "--no-rebuild",
             "func-aarch64-vfio_user_bar_wc"], timeout=900)
    # The test's own TAP, which meson keeps in its log.
    log = (QEMU_BUILD / "meson-logs" / "testlog.txt").read_text()
    cases = re.findall(r"^    def (test_\w+)\(", SERIES_FUNCTIONAL_TEST.read_text(),
                       re.M)
    tap = functional_tap(log)
    assert_every_case_passed(r.returncode, tap, cases, log)
    print(f"  {len(tap)} cases passed")


@pytest.mark.quick
def test_project_bad_input_qom_parsing():
    """project/functional/test_bar_wc_bad_input.py in the patched build: the barN-wc values that generic QOM and JSON parsing refuse (moved out of the series' test, which keeps what the series refuses), each refused, nothing left, QEMU running"""
    r = run_functional(BAD_INPUT_TEST, "patched")
    assert_every_case_passed(r.returncode, functional_tap(r.stdout),
                             ("test_bad_values",), r.stdout)


@pytest.mark.quick
def test_project_vfio_user_hostile_replies():
    """project/functional/test_vfio_user_hostile_replies.py on the patched QEMU: each malformed or truncated reply of a raw-socket vfio-user server (qemu-fixes 17-20) refused with its error, nothing left, QEMU running; a BAR that shrinks between two reads is read once, good capabilities are taken"""
    r = run_functional(HOSTILE_TEST, "patched")
    assert_every_case_passed(r.returncode, functional_tap(r.stdout),
                             HOSTILE_CASES, r.stdout)
    print(f"  {len(HOSTILE_CASES)} cases passed")


@pytest.mark.quick
def test_project_vfio_user_hostile_replies_fail_on_stock():
    """the same cases on stock 10.2.2: each fails (a device made of the bad reply, a crash) except the regression guards, and cap-loop and argsz-grows hang QEMU until killed"""
    cases = [c for c in HOSTILE_CASES if c not in HOSTILE_HANGS_ON_STOCK]
    r = run_functional(HOSTILE_TEST, "stock",
                       *(a for c in cases for a in ("-k", c)))
    tap = functional_tap(r.stdout)
    assert sorted(tap) == sorted(cases), r.stdout[-5000:]
    passed = sorted(c for c, line in tap.items() if line.startswith("ok "))
    assert passed == sorted(HOSTILE_GUARDS), r.stdout[-5000:]
    for case in HOSTILE_HANGS_ON_STOCK:
        # A session of its own: the test's QEMU goes with it when killed.
        proc = subprocess.Popen(["/usr/bin/python3", str(HOSTILE_TEST), "-k",
                                 case], env=functional_env("stock"),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        else:
            raise AssertionError(f"{case} ended on stock:\n{out[-3000:]}")
    print(f"  {len(cases) - len(HOSTILE_GUARDS)} failed, the guards passed, "
          f"{len(HOSTILE_HANGS_ON_STOCK)} hung")
