#!/usr/bin/env python3
"""The project's tests.  Expects the patched and the stock QEMU built and
the guest assets fetched (project/scripts/check.sh does all that first).

Prints one PASS/FAIL line a test and ends with "N passed, N failed".
"""

import fnmatch
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guest  # noqa: E402
import libvirt_bed  # noqa: E402
import nested_kvm  # noqa: E402
import series  # noqa: E402
import vfio_user as vu  # noqa: E402

TOP = guest.TOP
BUILD = guest.BUILD
QEMU_BUILD = BUILD / "qemu" / "patched" / "build"
QEMU_SRC = BUILD / "qemu" / "patched" / "src"

TESTS = []
MIB = 1 << 20


def test(fn):
    TESTS.append(fn)
    return fn


def run(cmd, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


SERIES_PY = TOP / "project" / "scripts" / "series.py"


def assert_series_check(project):
    """series.py check of @project passed every step, on every series."""
    r = run([str(SERIES_PY), "--project", project, "check"])
    assert r.returncode == 0, r.stdout[-5000:]
    p = series.PROJECTS[project]
    for s in p.series:
        count = len(s.patch_files())
        assert re.search(rf"^\(a\) git am of patches/{s.name} \({count} patch\(es\)\) "
                         r"onto .*: ok$", r.stdout, re.M), r.stdout
    total = sum(len(s.patch_files()) for s in p.series)
    for line in (f"(a) quilt push -a of {total} patch(es) onto pristine "
                 f"{p.title}, the same tree as git am: ok",
                 "are what exporting the staged series gives: ok",
                 f"(c) checkpatch.pl on {total} patch(es): clean",
                 "(e) base "):
        assert line in r.stdout, r.stdout
    print("  " + next(ln for ln in r.stdout.splitlines() if ln.startswith("(e)")))


@test
def series_check():
    """patches/qemu-fixes and patches/qemu: git am and quilt push -a on pristine 10.2.2, the export of a fresh staging changes nothing (patches/ and the component directories), checkpatch clean"""
    assert_series_check("qemu")


@test
def readme_git_am_works():
    """the README's git am commands apply both series to pristine trees"""
    readme = (TOP / "README.md").read_text()
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.S)
              if "git am" in b]
    assert len(blocks) == 2, blocks
    for project, placeholder in (("qemu", "/path/to/qemu"),
                                 ("linux", "/path/to/linux")):
        block = next(b for b in blocks if placeholder in b)
        src = BUILD / project / "patched" / "src"
        count = sum(len(s.patch_files()) for s in series.PROJECTS[project].series)
        with tempfile.TemporaryDirectory(prefix="readme-am-") as tmp:
            tree = Path(tmp) / project
            base = run(["git", "-C", str(src), "rev-parse",
                        "refs/tags/pristine"]).stdout.strip()
            r = run(["git", "-C", str(src), "worktree", "add", "-q", "--detach",
                     str(tree), base])
            assert r.returncode == 0, r.stdout
            try:
                script = (block.replace(placeholder, str(tree))
                          .replace("/path/to/this/repo", str(TOP)))
                r = run(["bash", "-euo", "pipefail", "-c", script],
                        env=dict(os.environ, **series.IDENT))
                applied = subprocess.run(
                    ["git", "-C", str(tree), "rev-list", "--count",
                     f"{base}..HEAD"], text=True, capture_output=True).stdout.strip()
            finally:
                run(["git", "-C", str(src), "worktree", "remove", "--force",
                     str(tree)])
        assert r.returncode == 0 and applied == str(count), \
            f"{project}: {applied} of {count} applied\n{r.stdout[-3000:]}"


HOST_TYPE_PROGRAMS = guest.PROGRAMS / "project" / "tcg"


def run_host_type(name, **props):
    """project/tcg/@name.c (built by its meson.build on the tests/tcg
    harness), at EL2 on the patched QEMU with a vfio-user-pci on the test
    server with @props: its RESULT lines, {case: outcome}."""
    prog = HOST_TYPE_PROGRAMS / name
    server = vu.Server()
    try:
        out = prog.with_name(f"{prog.name}.out")
        out.unlink(missing_ok=True)
        r = run([str(guest.QEMU["patched"]), "-M", "virt,virtualization=on,gic-version=2",
                 "-cpu", "max", "-display", "none", "-monitor", "none",
                 "-chardev", f"file,path={out},id=output",
                 "-semihosting-config", "enable=on,target=native,chardev=output,arg=2",
                 "-device", json.dumps(vu.vfio_user_device(server, **props)),
                 "-kernel", str(prog)], timeout=60)
    finally:
        server.stop()
    text = out.read_text() if out.exists() else ""
    assert r.returncode == 0, text + r.stdout
    return dict(re.findall(r"^RESULT: (.*?): (.*)$", text, re.M))


@test
def tcg_host_type_aarch32_short_descriptors():
    """an AArch32 short-descriptor EL1 guest on vfio-user-pci: bar2-wc=off makes an unaligned LDR from BAR2 fault"""
    completed = {"aligned LDR from BAR2": "completed",
                 "unaligned LDR from RAM": "completed",
                 "unaligned LDR from BAR2": "completed"}
    for mode in ("on", "auto"):
        got = run_host_type("host-type-aarch32", **{"bar2-wc": mode})
        assert got == completed, (mode, got)
    got = run_host_type("host-type-aarch32", **{"bar2-wc": "off"})
    # DFSR.FS 0b00001, short-descriptor format: Alignment fault.
    assert got == dict(completed, **{"unaligned LDR from BAR2":
                                     "EL1 data abort, DFSR 1"}), got


@test
def tcg_host_type_regimes_fault_at_the_guests_own_el():
    """bar2-wc=off at a guest hypervisor's EL2 and at EL1 under its stage 2: a stage 1 Alignment fault to the guest's own EL, as KVM injects it"""
    completed = {"unaligned load at EL2 from BAR2": "completed",
                 "unaligned load at EL1 from BAR2": "completed"}
    for mode in ("on", "auto"):
        got = run_host_type("host-type-regimes", **{"bar2-wc": mode})
        assert got == completed, (mode, got)
    got = run_host_type("host-type-regimes", **{"bar2-wc": "off"})
    # EC 0x25: a data abort from the same EL; DFSC 0x21: Alignment fault.
    assert got == {
        "unaligned load at EL2 from BAR2": "fault to EL2, EC 25, DFSC 21",
        "unaligned load at EL1 from BAR2": "fault to EL1, EC 25, DFSC 21",
    }, got


@test
def readme_hand_run():
    """the README's three-command hand-run, as written: the server, QEMU, 'info vfio-bars'"""
    readme = (TOP / "README.md").read_text()
    block = re.search(r"By hand, in three commands.*?```sh\n(.*?)```", readme,
                      re.S).group(1)
    server_cmd, qemu_cmd, monitor_cmd = [
        c for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    with tempfile.TemporaryDirectory(prefix="readme-hand-") as tmp:
        sock = str(Path(tmp) / "wc.sock")
        server_cmd = server_cmd.replace("/tmp/wc.sock", sock)
        qemu_cmd = qemu_cmd.replace("/tmp/wc.sock", sock)
        server = subprocess.Popen(["bash", "-c", f"exec {server_cmd}"], cwd=TOP,
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            vu.wait_for(lambda: os.path.exists(sock), "the server's socket")
            monitor = monitor_cmd.replace("(qemu) ", "")
            r = subprocess.run(["bash", "-c", qemu_cmd], cwd=TOP, text=True,
                               input=f"{monitor}\nquit\n", timeout=60,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert r.returncode == 0, r.stdout[-3000:]
    assert re.search(re.escape("BAR 2: mem32 prefetchable, 0x100000 bytes, "
                               "bar2-wc=off -> device-ngnre by accel") +
                     r"\r?\n", r.stdout), r.stdout[-3000:]


@test
def debian_quilt_push():
    """both QEMU series on Debian's own qemu package (project/bases): appended to debian/patches/series, quilt push -a applies them"""
    dsc = BUILD / "dl" / f"qemu_{series.base('qemu').version.partition(':')[2]}.dsc"
    patches = [f for s in series.PROJECTS["qemu"].series for f in s.patch_files()]
    with tempfile.TemporaryDirectory(prefix="debian-qemu-") as tmp:
        tree = Path(tmp) / "qemu"
        # dpkg-source applies Debian's own patches, as a package build does.
        r = run(["dpkg-source", "-x", str(dsc), str(tree)])
        assert r.returncode == 0, r.stdout[-3000:]
        ours = tree / "debian" / "patches" / "arm64-wc"
        ours.mkdir()
        with open(tree / "debian" / "patches" / "series", "a") as series_file:
            for p in patches:
                (ours / p.parent.name).mkdir(exist_ok=True)
                shutil.copy(p, ours / p.parent.name)
                series_file.write(f"arm64-wc/{p.parent.name}/{p.name}\n")
        r = run(["quilt", "push", "-a"], cwd=tree,
                env=dict(os.environ, QUILT_PATCHES="debian/patches"))
        assert r.returncode == 0, r.stdout[-3000:]
        assert f"Now at patch debian/patches/arm64-wc/qemu/{patches[-1].name}" in r.stdout, \
            r.stdout[-3000:]
        assert "FAILED" not in r.stdout and "fuzz" not in r.stdout, r.stdout[-3000:]
    print(f"  quilt push -a: Debian's patches, then the series' {len(patches)}")


@test
def fetch_orig_takes_another_revision():
    """a pinned revision gone from the archive: another one with the pinned orig tarball serves; none: an error"""
    # Debian's small 'hello' source package stands in for qemu and linux.
    r = run(["bash", "-c", ". project/scripts/lib.sh; private_apt_update; "
             "private_apt_cache showsrc hello"], cwd=TOP)
    version = re.search(r"^Version: (\S+)", r.stdout, re.M).group(1)
    sha, orig = re.search(r"^Checksums-Sha256:\n(?: .*\n)*? (\w{64}) \d+ "
                          r"(hello_[^ ]*\.orig\.tar\.\w+)$", r.stdout, re.M).groups()
    gone = version + "+gone1"
    with tempfile.TemporaryDirectory(prefix="fetch-orig-") as tmp:
        r = run(["bash", "-c", f". project/scripts/lib.sh; fetch_orig hello {gone} "
                 f"{orig} {sha} {tmp}"], cwd=TOP)
        assert r.returncode == 0 and r.stdout.strip().endswith(f"{tmp}/{orig}"), r.stdout
        assert (f"hello={gone} is gone from the archive; hello={version} has "
                f"the same {orig}") in r.stdout, r.stdout
    with tempfile.TemporaryDirectory(prefix="fetch-orig-") as tmp:
        r = run(["bash", "-c", f". project/scripts/lib.sh; fetch_orig hello {gone} "
                 f"{orig} {'0' * 64} {tmp}"], cwd=TOP)
        assert r.returncode == 1 and not list(Path(tmp).iterdir()), r.stdout


@test
def fetch_qemu_rejects_bad_source():
    """QEMU_SRC that is missing or not the base's minor release: a clear error"""
    fetch = str(TOP / "project" / "scripts" / "fetch-qemu.sh")
    r = run([fetch], env=dict(os.environ, QEMU_SRC="/nonexistent/qemu"))
    assert r.returncode != 0, r.stdout
    assert "QEMU_SRC=/nonexistent/qemu does not exist" in r.stdout, r.stdout
    with tempfile.TemporaryDirectory() as tree:
        (Path(tree) / "VERSION").write_text("9.2.0\n")
        r = run([fetch], env=dict(os.environ, QEMU_SRC=tree))
        assert r.returncode != 0, r.stdout
        minor = series.base("qemu").upstream.rpartition(".")[0]
        assert f"is QEMU 9.2.0; this series is for v{minor}.x" in r.stdout, r.stdout


def repo_copy(tmp):
    """A copy of this repository's files, without build/ and .git."""
    copy = Path(tmp) / "repo"
    shutil.copytree(TOP, copy, ignore=shutil.ignore_patterns("build", ".git"))
    return copy


@test
def series_check_finds_drift():
    """a component file edited by hand, and one no patch adds: series.py check names both as drift"""
    with tempfile.TemporaryDirectory() as tmp:
        copy = repo_copy(tmp)
        page = copy / "docs" / "docs" / "system" / "devices" / "vfio-bar-wc.rst"
        page.write_text(page.read_text() + "An edit that no patch makes.\n")
        orphan = copy / "target-arm-s2" / "target" / "arm" / "orphan.c"
        orphan.parent.mkdir(parents=True)
        orphan.write_text("/* added by no patch */\n")
        r = run([str(copy / "project" / "scripts" / "series.py"), "check", "--quick"],
                env=dict(os.environ, BUILD=str(BUILD)))
        assert r.returncode != 0, r.stdout
        assert "gives: DRIFT" in r.stdout, r.stdout
        assert "+An edit that no patch makes." not in r.stdout and \
            "-An edit that no patch makes." in r.stdout, r.stdout
        assert re.search(r"^-/\* added by no patch \*/$", r.stdout, re.M), r.stdout


@test
def series_edit_stage_export_check():
    """the README's way of changing a patch: stage, amend a commit, export, check; and stage refuses to drop a commit not yet exported"""
    with tempfile.TemporaryDirectory() as tmp:
        copy = repo_copy(tmp)
        build = Path(tmp) / "build"
        tree = build / "qemu" / "patched" / "src"
        git = ["git", "-C", str(tree)]
        r = run(["git", "clone", "-q", "--shared", "--no-checkout",
                 str(series.PROJECTS["qemu"].src), str(tree)])
        assert r.returncode == 0, r.stdout
        r = run(git + ["fetch", "-q", "--update-head-ok", "origin",
                       "+refs/heads/*:refs/heads/*", "+refs/staged/*:refs/staged/*",
                       "+refs/tags/*:refs/tags/*"])
        assert r.returncode == 0, r.stdout
        assert run(git + ["checkout", "-q", "-f", "qemu"]).returncode == 0
        env = dict(os.environ, BUILD=str(build), **series.IDENT)
        tool = [str(copy / "project" / "scripts" / "series.py")]
        r = run(tool + ["stage"], env=env)
        assert r.returncode == 0, r.stdout
        # Edit the page the docs patch adds, as a fixup of that commit.
        page = "docs/system/devices/vfio-bar-wc.rst"
        with open(tree / page, "a") as f:
            f.write("An edit made in the staged tree.\n")
        commit = run(git + ["log", "--format=%H", "-1", "base..qemu", "--", page]
                     ).stdout.strip()
        assert run(git + ["commit", "-q", "-a", f"--fixup={commit}"],
                   env=env).returncode == 0
        r = run(git + ["rebase", "-q", "-i", "--autosquash", "--update-refs", "base"],
                env=dict(env, GIT_SEQUENCE_EDITOR="true"))
        assert r.returncode == 0, r.stdout
        r = run(tool + ["stage"], env=env)
        assert r.returncode != 0 and "branch(es) qemu hold commits that " \
            "patches/ does not" in r.stdout, r.stdout
        r = run(tool + ["export"], env=env)
        assert r.returncode == 0, r.stdout
        shown = copy / "docs" / page
        assert shown.read_text().endswith("An edit made in the staged tree.\n")
        assert any("+An edit made in the staged tree." in p.read_text()
                   for p in (copy / "patches" / "qemu").glob("0*.patch"))
        r = run(tool + ["check", "--quick"], env=env)
        assert r.returncode == 0 and "gives: ok" in r.stdout, r.stdout
        r = run(tool + ["stage"], env=env)
        assert r.returncode == 0, r.stdout


@test
def series_rebase_onto_release():
    """series.py rebase: a release the archive does not list is refused, project/bases unchanged; rebasing onto the pinned release itself fetches it, rewrites nothing and restages both series to the same trees"""
    with tempfile.TemporaryDirectory() as tmp:
        copy = repo_copy(tmp)
        build = Path(tmp) / "build"
        build.mkdir()
        # The downloads and the private apt lists are shared, not refetched.
        for d in ("dl", "apt"):
            (build / d).symlink_to(BUILD / d)
        env = dict(os.environ, BUILD=str(build), **series.IDENT)
        tool = [str(copy / "project" / "scripts" / "series.py"), "rebase"]
        bases = (copy / "project" / "bases").read_text()
        r = run(tool + ["1:99.0+ds-1"], env=env)
        assert r.returncode != 0 and "the archive does not list qemu 1:99.0+ds-1" \
            in r.stdout, r.stdout
        pinned = series.base("qemu").version
        r = run(tool + [pinned], env=env)
        assert r.returncode == 0, r.stdout[-3000:]
        assert f"restaged on QEMU {series.base('qemu').upstream}" in r.stdout, r.stdout
        assert (copy / "project" / "bases").read_text() == bases
        ours = series.PROJECTS["qemu"].src
        tree = build / "qemu" / "patched" / "src"
        for branch in ("qemu-fixes", "qemu"):
            got, want = (run(["git", "-C", str(t), "rev-parse", f"{branch}^{{tree}}"]
                             ).stdout.strip() for t in (tree, ours))
            assert got == want, f"{branch}: {got} != {want}"


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


@test
def unit_vfio_bar_wc():
    """tests/unit/test-vfio-bar-wc: the barN-wc policy, every combination"""
    run_glib_test("tests/unit/test-vfio-bar-wc")


@test
def upstream_check_qjson():
    """upstream tests/unit/check-qjson (the JSON parser fix 8 changes)"""
    run_glib_test("tests/unit/check-qjson")


@test
def upstream_qmp_cmd_test():
    """upstream qmp-cmd-test (query-vfio-pci-bars among the query commands)"""
    run_glib_test("tests/qtest/qmp-cmd-test", qemu=guest.QEMU["patched"])


@test
def upstream_device_introspect_test():
    """upstream device-introspect-test (vfio-pci, vfio-user-pci properties)"""
    run_glib_test("tests/qtest/device-introspect-test", qemu=guest.QEMU["patched"])


@test
def upstream_qom_test_virt():
    """upstream qom-test on the virt machine (other boards need ROMs +ds strips)"""
    run_glib_test("tests/qtest/qom-test", "-p", "/aarch64/qom/virt-10.2",
                  qemu=guest.QEMU["patched"])


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


@test
def upstream_qtest_aarch64_same_as_stock():
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


@test
def upstream_check_tcg_same_as_stock():
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


@test
def docs_build():
    """the patched tree's docs build with Sphinx -W (warnings are errors)"""
    bdir = QEMU_BUILD
    r = run(["ninja", "-C", str(bdir), "sphinxdocs"], timeout=1800)
    assert r.returncode == 0, r.stdout[-5000:]
    manual = bdir / "docs" / "manual"
    user = (manual / "system" / "devices" / "vfio-bar-wc.html").read_text()
    assert "bar0-wc" in user, "no barN-wc in the user page"
    devel = (manual / "devel" / "host-mem-type.html").read_text()
    assert "MemoryRegionSection" in devel
    qmp = (manual / "interop" / "qemu-qmp-ref.html").read_text()
    assert "query-vfio-pci-bars" in qmp and "VfioPciBarMemType" in qmp
    # --enable-werror makes Sphinx's warnings (a broken reference, a QAPI
    # doc comment it cannot render) errors.
    assert "sphinx-build -q -W" in (bdir / "build.ninja").read_text()


ADRALN = "SIGBUS/BUS_ADRALN"
# What the architecture gives project/guest/bar-access's cases, as the TCG
# functional test (test_vfio_user_bar_wc_guest.py) has it: on Device memory
# every unaligned access (SVE's by element) and DC ZVA take an alignment
# fault, and an SVE non-fault load is suppressed.
OUTCOME = {
    "device-ngnre": {c: "OK" if c in ("store8-aligned", "stp-ldp-aligned",
                                      "memcpy-aligned", "mops-set-unaligned",
                                      "mops-cpy-unaligned") else
                     "SUPPRESSED" if c == "sve-ldnf1d-aligned" else ADRALN
                     for c in guest.CASES},
    "normal-nc": {c: "OK" for c in guest.CASES},
}


def expected_table(wc_stage2):
    """The guest's table: resource2 (its own Device mapping) as Device,
    resource2_wc (Normal-NC) as the stage 2 type @wc_stage2 makes it."""
    return {**{("resource2", c): r for c, r in OUTCOME["device-ngnre"].items()},
            **{("resource2_wc", c): r for c, r in OUTCOME[wc_stage2].items()}}


# What an arm64 host with stage 2 Normal-NC gives (FACTS.md, hardware).
EXPECTED_PATCHED = expected_table("normal-nc")
# Stock 10.2.2 lets DC ZVA, and so glibc's aligned memset(0), through, and
# SVE reads and writes Device memory backed by RAM as Normal.
EXPECTED_STOCK = {
    **EXPECTED_PATCHED,
    ("resource2", "dc-zva"): "OK",
    ("resource2", "memset0-aligned"): "OK",
    ("resource2", "sve-ld1d-unaligned"): "OK",
    ("resource2", "sve-st1d-unaligned"): "OK",
    ("resource2", "sve-ldnf1d-aligned"): "OK",
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
def guest_bandwidth_table():
    """the guest's bandwidth mode on vfio-user-pci,bar2-wc=on: the WC/Device table for every size and method, the QEMU caveat, nothing written outside its scratch range"""
    server = vu.Server()
    try:
        memfd = server.bars_file()
        # All of the device's memory: BAR2 and the other BARs after it.
        with open(memfd, "r+b") as f:
            f.write(b"\xa5" * os.fstat(f.fileno()).st_size)
        dev = vu.vfio_user_device(server, **{"bar2-wc": "on"})
        _, log = guest.boot(guest.QEMU["patched"], ["-device", json.dumps(dev)],
                            guest.VFIO_USER_WC_ID, append=guest.BANDWIDTH_APPEND)
        with open(memfd, "rb") as f:
            after = f.read()
    finally:
        server.stop()
    rows, says_qemu = guest.parse_bandwidth(log)
    sizes = [64 << (2 * i) for i in range(7)]             # 64 B .. 256 KiB
    methods = ["str8", "stp16", "memcpy", "burst64"]
    assert sorted(rows) == sorted((z, m) for z in sizes for m in methods), log[-3000:]
    assert all(v > 0 for r in rows.values() for v in r), rows
    assert says_qemu, log[-3000:]
    start, length = 0x80000, 0x40000
    assert after[:start] == b"\xa5" * start, "written below the scratch range"
    assert after[start + length:] == b"\xa5" * (len(after) - start - length), \
        "written above the scratch range (or in BAR0)"
    assert after[start:start + length] != b"\xa5" * length, "nothing written"


FUNCTIONAL_TEST = (TOP / "project" / "functional" /
                   "test_vfio_user_bar_wc_guest.py")
FUNCTIONAL_CASES = ("test_bar0_default_auto", "test_bar2_wc_auto",
                    "test_bar2_wc_off", "test_bar2_wc_on")


def run_functional(test, flavour, *args, src="patched", timeout=300,
                   **extra_env):
    """@test, a test in QEMU's tests/functional framework, with the
    @flavour QEMU and @args, through the @src tree's qemu_test: its run.
    The series' test directory is on its path and the patched build's
    libvfio-user on the loader's, for the series' server and helpers."""
    src_dir = BUILD / "qemu" / src / "src"
    env = dict(os.environ,
               QEMU_TEST_QEMU_BINARY=str(guest.QEMU[flavour]),
               QEMU_BUILD_ROOT=str(QEMU_BUILD),
               LD_LIBRARY_PATH=str(QEMU_BUILD / "subprojects" / "libvfio-user"
                                   / "lib"),
               PYTHONPATH=f"{src_dir / 'python'}:"
                          f"{src_dir / 'tests' / 'functional'}:"
                          f"{SERIES_FUNCTIONAL_TEST.parent}",
               **extra_env)
    # Debian's python3, which has pycotap, not whatever python3 PATH finds.
    return run(["/usr/bin/python3", str(test), *args], env=env,
               timeout=timeout)


def functional_test(flavour):
    """Run the tests/functional test of the guest on vfio-user-pci with the
    @flavour QEMU, through that tree's qemu_test framework; return (rc,
    {case: TAP line}, output)."""
    r = run_functional(FUNCTIONAL_TEST, flavour, src=flavour, timeout=600,
                       QEMU_TEST_BAR_WC_KERNEL=str(guest.GUEST / "vmlinuz"),
                       QEMU_TEST_BAR_WC_INITRD=str(guest.GUEST_INITRD))
    return r.returncode, functional_tap(r.stdout), r.stdout


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


@test
def functional_vfio_user_bar_wc():
    """tests/functional: the guest on vfio-user-pci, bar2-wc=on/auto/off and BAR0"""
    rc, tap, out = functional_test("patched")
    assert_every_case_passed(rc, tap, FUNCTIONAL_CASES, out)


@test
def functional_vfio_user_bar_wc_fails_on_stock():
    """the same test on stock 10.2.2: BAR0's DC ZVA, no bar2-wc, no report"""
    rc, tap, out = functional_test("stock")
    assert rc != 0 and sorted(tap) == sorted(FUNCTIONAL_CASES), out[-5000:]
    assert all(line.startswith("not ok ") for line in tap.values()), out[-5000:]
    assert "-  'memset0-aligned': 'OK'," in out, out[-5000:]
    assert "Property 'vfio-user-pci.bar2-wc' not found" in out, out[-5000:]


def wait_for_line(path, text, q, timeout):
    """Wait until the file @path (a guest's console) has @text, QEMU @q
    still running."""
    def seen():
        assert q.proc.poll() is None, f"QEMU exited: {q.output()[-3000:]}"
        return text in Path(path).read_text(errors="replace")
    vu.wait_for(seen, repr(text), timeout=timeout)


@test
def vfio_user_device_del_mid_memcpy():
    """device_del of a vfio-user-pci under a root port while a guest process memcpy()s pages into its BAR: the guest unplugs it (its sysfs device goes), QEMU runs on and exits cleanly, the pages copied before are in the device's memory and none copied after reaches it"""
    server = vu.Server()
    tmp = tempfile.TemporaryDirectory(prefix="device-del-")
    console = Path(tmp.name) / "console.log"
    # -no-shutdown: the guest powers off at the end, and QEMU must still
    # answer query-status then.
    q = vu.Qemu("-cpu", "max", "-m", "512", "-serial", f"file:{console}",
                "-no-shutdown", "-kernel", str(guest.GUEST / "vmlinuz"),
                "-initrd", str(guest.GUEST_INITRD),
                "-append", f"console=ttyAMA0 quiet BAR_ACCESS_DEVICE="
                           f"{guest.VFIO_USER_WC_ID} "
                           "BAR_ACCESS_MODE=copy-until-removed",
                "-device", "pcie-root-port,id=rp0,chassis=1",
                "-device", json.dumps(vu.vfio_user_device(
                    server, id="wc0", bus="rp0", **{"bar2-wc": "on"})))
    try:
        q.cmd("cont")
        wait_for_line(console, "bar-access: copying into resource2_wc", q, 180)
        time.sleep(2)
        q.cmd("device_del", id="wc0")
        q.wait_event("DEVICE_DELETED", timeout=60)
        assert q.cmd("query-vfio-pci-bars") == []
        with open(server.bars_file(), "rb") as bars:
            at_removal = bars.read(MIB)
        wait_for_line(console, "bar-access: done", q, 120)
        status = q.cmd("query-status")["status"]
        with open(server.bars_file(), "rb") as bars:
            at_end = bars.read(MIB)
    finally:
        try:
            rc, out = q.quit()
        finally:
            src, serr = server.stop()
    log = console.read_text(errors="replace")
    tmp.cleanup()
    ended = re.search(r"bar-access: copy ended (.*) after (\d+) copies, "
                      r"device (\w+)", log)
    assert ended, log[-3000:]
    # Linux 6.12 leaves a removed device's resource mapping in place: the
    # process copies on, into nothing.
    assert ended.group(3) == "gone", ended.group(0)
    assert status in ("running", "shutdown"), status
    # Page n starts with n, then the pattern (fill_pattern(), seed 0x5a).
    pattern = bytes((0x5a + i * 7) & 0xff for i in range(8, 4096))
    pages = [at_removal[o:o + 4096] for o in range(0, MIB, 4096)]
    copied = [int.from_bytes(p[:8], "little") for p in pages if p[8:] == pattern]
    assert copied and max(copied) < int(ended.group(2)), (copied[:8], ended.group(0))
    assert at_end == at_removal, "the guest's stores reached the device after its removal"
    assert rc == 0 and src == 0, (rc, out[-3000:], serr)
    print(f"  {ended.group(0)}")


# The series' own functional test of vfio-user-pci's barN-wc (no guest),
# as a reviewer runs it in the staged tree's build directory.
SERIES_FUNCTIONAL_TEST = (TOP / "tests-qtest" / "tests" / "functional" /
                          "aarch64" / "test_vfio_user_bar_wc.py")


@test
def series_functional_vfio_user_bar_wc():
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


BAD_INPUT_TEST = TOP / "project" / "functional" / "test_bar_wc_bad_input.py"


@test
def project_bad_input_qom_parsing():
    """project/functional/test_bar_wc_bad_input.py in the patched build: the barN-wc values that generic QOM and JSON parsing refuse (moved out of the series' test, which keeps what the series refuses), each refused, nothing left, QEMU running"""
    r = run_functional(BAD_INPUT_TEST, "patched")
    assert_every_case_passed(r.returncode, functional_tap(r.stdout),
                             ("test_bad_values",), r.stdout)


HOSTILE_TEST = (TOP / "project" / "functional" /
                "test_vfio_user_hostile_replies.py")
HOSTILE_CASES = re.findall(r"^    def (test_\w+)\(", HOSTILE_TEST.read_text(), re.M)
# Regression guards: 10.2.2 passes them too.
HOSTILE_GUARDS = ("test_bar_shrinks_between_reads", "test_good_caps")
# 10.2.2 spins or asks forever under the BQL: the case never ends.
HOSTILE_HANGS_ON_STOCK = ("test_cap_loop", "test_argsz_grows")


@test
def project_vfio_user_hostile_replies():
    """project/functional/test_vfio_user_hostile_replies.py on the patched QEMU: each malformed or truncated reply of a raw-socket vfio-user server (qemu-fixes 17-20) refused with its error, nothing left, QEMU running; a BAR that shrinks between two reads is read once, good capabilities are taken"""
    r = run_functional(HOSTILE_TEST, "patched")
    assert_every_case_passed(r.returncode, functional_tap(r.stdout),
                             HOSTILE_CASES, r.stdout)
    print(f"  {len(HOSTILE_CASES)} cases passed")


@test
def project_vfio_user_hostile_replies_fail_on_stock():
    """the same cases on stock 10.2.2: each fails (a device made of the bad reply, a crash) except the regression guards, and cap-loop and argsz-grows hang QEMU until killed"""
    cases = [c for c in HOSTILE_CASES if c not in HOSTILE_HANGS_ON_STOCK]
    r = run_functional(HOSTILE_TEST, "stock",
                       *(a for c in cases for a in ("-k", c)))
    tap = functional_tap(r.stdout)
    assert sorted(tap) == sorted(cases), r.stdout[-5000:]
    passed = sorted(c for c, line in tap.items() if line.startswith("ok "))
    assert passed == sorted(HOSTILE_GUARDS), r.stdout[-5000:]
    for case in HOSTILE_HANGS_ON_STOCK:
        try:
            r = run_functional(HOSTILE_TEST, "stock", "-k", case, timeout=30)
        except subprocess.TimeoutExpired:
            subprocess.run(["pkill", "-9", "-f", str(guest.QEMU["stock"])])
        else:
            raise AssertionError(f"{case} ended on stock:\n{r.stdout[-3000:]}")
    print(f"  {len(cases) - len(HOSTILE_GUARDS)} failed, the guards passed, "
          f"{len(HOSTILE_HANGS_ON_STOCK)} hung")


@test
def linux_series_check():
    """patches/linux-fixes and patches/linux: git am and quilt push -a on pristine 7.1.8, no drift, checkpatch --strict clean"""
    assert_series_check("linux")


RUNBOOK = TOP / "project" / "docs" / "real-host-runbook.rst"
# ccache for the runbook's builds, shared with the staged trees' builds.
CCACHE_ENV = {"CCACHE_BASEDIR": str(BUILD), "CCACHE_NOHASHDIR": "1"}


@test
def runbook_kernel_package():
    """the runbook's kernel package: make olddefconfig and bindeb-pkg with its LOCALVERSION on the series' tree (a copy of L1's build); its dpkg -i names the one package, arm64, with the kernel and its config"""
    text = RUNBOOK.read_text()
    localversion = re.search(r"make -j\$\(nproc\) bindeb-pkg LOCALVERSION=(\S+)",
                             text).group(1)
    install = re.search(r"sudo dpkg -i \.\./(\S+)", text).group(1)
    work = BUILD / "runbook-kernel"
    for deb in work.glob("*.deb"):
        deb.unlink()
    # The runbook's tree has the running kernel's config; here, L1's.  The
    # copy is kept: a kernel release of its own rebuilds most of it.
    obj = work / "build"
    if not obj.exists():
        shutil.copytree(nested_kvm.KERNEL["patched"].parents[3], obj, symlinks=True)
    make = ["make", "-C", str(BUILD / "linux" / "patched" / "src"), f"O={obj}",
            "ARCH=arm64", "CROSS_COMPILE=ccache aarch64-linux-gnu-"]
    for target in (["olddefconfig"],
                   # The runbook installs the package's build dependencies,
                   # native on arm64; this cross build has the ones it uses.
                   [f"-j{os.cpu_count()}", "bindeb-pkg", "DPKG_FLAGS=-d",
                    f"LOCALVERSION={localversion}"]):
        r = run(make + target, env=dict(os.environ, **CCACHE_ENV), timeout=1500)
        assert r.returncode == 0, r.stdout[-5000:]
    debs = sorted(p.name for p in work.glob("*.deb"))
    named = [d for d in debs if fnmatch.fnmatch(d, install)]
    assert len(named) == 1, f"dpkg -i ../{install} names {named} of {debs}"
    deb = work / named[0]
    arch = run(["dpkg-deb", "-f", str(deb), "Architecture"]).stdout.strip()
    assert arch == "arm64", arch
    release = (obj / "include" / "config" / "kernel.release").read_text().strip()
    assert localversion in release, release
    files = run(["dpkg-deb", "-c", str(deb)]).stdout
    for path in (f"./boot/vmlinuz-{release}", f"./boot/config-{release}"):
        assert path in files, (path, files)


@test
def runbook_qemu_install():
    """the runbook's QEMU: its configure line, make and make install (into a DESTDIR) on the series' tree; the installed qemu-system-aarch64 has bar0-wc ... bar5-wc and answers query-vfio-pci-bars"""
    text = RUNBOOK.read_text()
    configure = re.search(r"^    \.\./configure (.*)$", text, re.M).group(1).split()
    for line in ("    make -j$(nproc)\n", "    sudo make install\n"):
        assert line in text, f"the runbook has no {line.strip()!r}"
    prefix = next(a.split("=", 1)[1] for a in configure if a.startswith("--prefix="))
    work = BUILD / "runbook-qemu"
    obj = work / "build"
    root = work / "root"
    # The runbook's configure with the compilers through ccache: the
    # build is kept, so a rerun builds only what the series changed.  The
    # tarball has no python/wheels either: Debian's python3, which has
    # meson, goes first on PATH (this machine's finds pyenv's first).
    env = dict(os.environ, CC="ccache gcc", CXX="ccache g++",
               PATH="/usr/local/bin:/usr/bin:/bin", **CCACHE_ENV)
    # The staged tree is Debian's +ds tarball, which has no firmware
    # blobs to install; the runbook's git clone has them.
    args = configure + ["--disable-install-blobs"]
    stamp = obj / ".configured-with"
    if not stamp.exists() or stamp.read_text() != " ".join(args):
        shutil.rmtree(obj, ignore_errors=True)
        obj.mkdir(parents=True)
        r = run([str(QEMU_SRC / "configure")] + args, cwd=obj, env=env,
                timeout=600)
        assert r.returncode == 0, r.stdout[-5000:]
        stamp.write_text(" ".join(args))
    shutil.rmtree(root, ignore_errors=True)
    for target in ([f"-j{os.cpu_count()}"], ["install", f"DESTDIR={root}"]):
        r = run(["make", "-C", str(obj)] + target, env=env, timeout=3600)
        assert r.returncode == 0, r.stdout[-5000:]
    qemu = root / prefix.lstrip("/") / "bin" / "qemu-system-aarch64"
    r = run([str(qemu), "-device", "vfio-pci,help"])
    assert r.returncode == 0, r.stdout
    for n in range(6):
        assert re.search(rf"^  bar{n}-wc=<OnOffAuto> ", r.stdout, re.M), r.stdout
    q = vu.Qemu("-nodefaults", qemu=qemu)
    try:
        bars = q.cmd("query-vfio-pci-bars")
    finally:
        rc, out = q.quit()
    assert bars == [] and rc == 0, (bars, rc, out)


@functools.lru_cache(maxsize=None)
def nested_run(qemu, kernel):
    """The nested bed's L1 on @qemu with @kernel, once per pair:
    {selftest: nested_kvm.Selftest}, the console log."""
    return nested_kvm.run(guest.QEMU[qemu], nested_kvm.KERNEL[kernel])[:2]


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


def nested_selftest(qemu, kernel, name):
    """Selftest @name in L1: (its Selftest, L1's log)."""
    tests, log = nested_run(qemu, kernel)
    t = tests.get(name)
    assert t and t.results, f"no {name} results:\n{log[-4000:]}"
    return t, log


@test
def nested_kvm_selftest_patched():
    """nested KVM (patched QEMU, patched Linux): vfio_memattr, for NC (left as the default and set), WC and DEVICE, 20 of 20 (the guest's unaligned store, STP and DC ZVA land under NC and WC and take an injected Alignment fault under DEVICE, the guest runs on, KVM's stage 2 dump gives MEM/NORMAL-NC and DEVICE/nGnRE); vfio_pci_memattr_test, 12 of 12 (PROBE, GET/SET, EINVAL, EBUSY after mmap, NC on reopen; the host's unaligned store takes SIGBUS/BUS_ADRALN under NC and DEVICE and lands under WC)"""
    t, log = nested_selftest("patched", "patched", KVM_MEMATTR)
    assert "# VFIO_DEVICE_FEATURE_REGION_MEMATTR: supported" in t.log, t.log[-4000:]
    assert t.results == memattr_results() and t.status == 0, t.log[-6000:]
    v, _ = nested_selftest("patched", "patched", VFIO_MEMATTR)
    assert v.results == vfio_memattr_results() and v.status == 0, v.log[-6000:]


@test
def nested_kvm_selftest_unpatched_kernel():
    """the same selftests on Linux 7.1.8: vfio_memattr says SET is unavailable and passes the default only (NC: no fault, the stage 2 check skipped as the dump names no type); vfio_pci_memattr_test fails its PROBE, skips the rest but the default's host mapping, which faults"""
    t, log = nested_selftest("patched", "stock", KVM_MEMATTR)
    assert "SET unavailable: testing the default (NC) only" in t.log, t.log[-4000:]
    default = {"NC (default)": MEMATTR_CASES["NC (default)"]}
    assert t.results == memattr_results(default, stage2="skip") and \
        t.status == 0, t.log[-6000:]
    v, _ = nested_selftest("patched", "stock", VFIO_MEMATTR)
    expected = vfio_memattr_results(uapi="skip", host={
        "nc": "skip", "wc": "skip", "device": "skip"})
    expected["vfio_pci_memattr_test.probe"] = "not ok"
    assert v.results == expected and v.status != 0, v.log[-6000:]


@test
def nested_kvm_selftest_stock_qemu():
    """under stock QEMU 10.2.2 as L0, the DEVICE case's DC ZVA completes (stock TCG does not fault DC ZVA on Device memory): vfio_memattr's only failure; vfio_pci_memattr_test passes"""
    t, log = nested_selftest("stock", "patched", KVM_MEMATTR)
    expected = memattr_results()
    expected["DEVICE: DC ZVA: an Alignment fault"] = "not ok"
    assert t.results == expected and t.status != 0, t.log[-6000:]
    mismatches = re.findall(r"^# (.*?): (\S.*?): (.*), expected (.*)$", t.log, re.M)
    assert mismatches == [("DEVICE", "DC ZVA", "completed", "an Alignment fault")], \
        t.log[-6000:]
    v, _ = nested_selftest("stock", "patched", VFIO_MEMATTR)
    assert v.results == vfio_memattr_results() and v.status == 0, v.log[-6000:]


@test
def nested_upstream_selftests_same_on_both_kernels():
    """upstream's KVM and vfio selftests in L1: set_memory_region_test passes on the patched and on the unpatched kernel; each other one has the same results on both"""
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


# "kill": L1 QEMU killed while L2 runs, before the others, which then
# show that L1 and its vfio-pci device outlive it.
L2_MODES = ("kill", "on", "auto", "off")


@functools.lru_cache(maxsize=None)
def nested_l2(kernel):
    """L1 QEMU -accel kvm with L2, once a mode of L2_MODES, on the @kernel
    L1 kernel: ({mode: nested_kvm.L2Run}, L1's log, the BAR's bytes in
    L0's backing file)."""
    tests, log, bar = nested_kvm.run(guest.QEMU["patched"],
                                     nested_kvm.KERNEL[kernel], L2_MODES)
    return nested_kvm.parse_l2(tests), log, bar


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


@test
def nested_l1_bandwidth_program():
    """project/guest/bar-access run as a program in a VM (L1, on its ivshmem BAR), in its bandwidth mode: the table, then it returns; nothing written outside its scratch range"""
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


@test
def nested_kvm_vfio_pci_bar_wc():
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


@test
def nested_kvm_vfio_pci_unpatched_kernel():
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


@test
def vfio_properties_on_both_types():
    """vfio-pci and vfio-user-pci both have bar0-wc..bar5-wc, described"""
    q = vu.Qemu()
    try:
        for typename in ("vfio-pci", "vfio-user-pci"):
            props = {p["name"]: p for p in
                     q.cmd("device-list-properties", typename=typename)}
            for n in range(6):
                p = props.get(f"bar{n}-wc")
                assert p, f"{typename} has no bar{n}-wc"
                assert p["type"] == "OnOffAuto", p
                assert p.get("default-value") == "auto", p
                assert f"BAR {n}'s mmapped parts" in p.get("description", ""), p
            assert "bar6-wc" not in props
    finally:
        q.quit()


def hmp(q, command):
    return q.cmd("human-monitor-command", **{"command-line": command})


# memory_region_set_host_mem_type() on BAR 2's mmap, called in the main
# loop with the BQL held: the debugger catches QMP 'stop' on entry to its
# handler and turns that call into this one, which returns to the QMP
# dispatcher in its place (so 'stop' stops nothing).  Only general
# registers are written: gdb 13 cannot restore the vector registers of a
# process on a CPU with AMX, which an inferior function call needs.
GDB_SET_HOST_MEM_TYPE = """
set $vdev = (VFIOPCIDevice *)((char *)vfio_device_list.lh_first - \
                              (long)&((VFIOPCIDevice *)0)->vbasedev)
break *qmp_stop
continue
set $rdi = &$vdev->bars[2].region.mmaps[0].mem
set $rsi = MR_HOST_MEM_TYPE_DEVICE
set $pc = memory_region_set_host_mem_type
delete
detach
"""


def traced(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return re.search(r"^TracerPid:\s+[1-9]", status, re.M) is not None


@test
def host_mem_type_fixed_once_mapped():
    """memory_region_set_host_mem_type() on a region already in a container (a mapped BAR's mmap, called by a debugger: no device does it) is refused by an assertion, not turned into a listener del + add: the type is fixed when the region is created (fails on the series before it asserted, where the call remapped the region)"""
    server = vu.Server()
    q = vu.Qemu("-device", json.dumps(vu.vfio_user_device(server, addr="0x3",
                                                          **{"bar2-wc": "on"})),
                accel="tcg", qtest=True)
    try:
        vu.map_bar(q, 3, 2, vu.VIRT_PCI_MMIO)
        with tempfile.NamedTemporaryFile("w", suffix=".gdb") as script:
            script.write(GDB_SET_HOST_MEM_TYPE)
            script.flush()
            gdb = subprocess.Popen(["gdb", "-nx", "-batch", "-p", str(q.proc.pid),
                                    "-x", script.name], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
            vu.wait_for(lambda: traced(q.proc.pid) or gdb.poll() is not None,
                        "gdb to attach", timeout=60)
            # The call happens in place of qmp_stop, so no reply comes.
            try:
                q.cmd("stop")
            except Exception:
                pass
            out = gdb.communicate(timeout=120)[0]
        assert "Breakpoint 1, " in out, out
        q.proc.wait(timeout=60)
    finally:
        rc, log = q.quit()
        server.stop()
    assert rc == -signal.SIGABRT, (rc, log[-3000:])
    assert "memory_region_set_host_mem_type: Assertion `!memory_region_is_mapped(mr)' failed" \
        in log, log[-3000:]


@test
def vfio_user_hotplug_valgrind():
    """under valgrind, 50 hot-plug cycles of vfio-user-pci (bar2-wc on/off/auto) leak nothing and add no memory error"""
    r = run([sys.executable, str(TOP / "project" / "scripts" / "leak-hotplug.py"), "50"],
            timeout=900)
    assert r.returncode == 0, r.stdout[-5000:]
    for cycles in (0, 50):
        assert (f"valgrind, {cycles} hot-plug cycles: definitely lost 0 bytes, "
                "0 errors") in r.stdout, r.stdout[-5000:]


# The user page's libvirt example, as the series leaves it.
USER_PAGE = BUILD / "qemu" / "patched" / "src" / "docs" / "system" / "devices" / "vfio-bar-wc.rst"
LIBVIRT_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
ET.register_namespace("qemu", LIBVIRT_NS)


def libvirt_aarch64_domain(domain, name):
    """Make @domain (an ElementTree <domain>) one that Debian's libvirt
    9.0 runs here: arm TCG on the patched QEMU, UEFI firmware (libvirt
    wants it for ACPI on aarch64, and passes -no-acpi without ACPI, which
    QEMU 10.2 no longer has)."""
    domain.set("type", "qemu")
    ET.SubElement(domain, "name").text = name
    ET.SubElement(domain, "memory", unit="MiB").text = "256"
    os_ = ET.SubElement(domain, "os")
    ET.SubElement(os_, "type", arch="aarch64", machine="virt").text = "hvm"
    ET.SubElement(os_, "loader", readonly="yes", type="pflash").text = \
        "/usr/share/AAVMF/AAVMF_CODE.fd"
    ET.SubElement(os_, "nvram", template="/usr/share/AAVMF/AAVMF_VARS.fd")
    ET.SubElement(ET.SubElement(domain, "features"), "acpi")
    ET.SubElement(ET.SubElement(domain, "cpu", mode="custom", match="exact"),
                  "model").text = "max"
    devices = domain.find("devices")
    if devices is None:
        devices = ET.SubElement(domain, "devices")
    ET.SubElement(devices, "emulator").text = str(guest.QEMU["patched"])
    return ET.tostring(domain, encoding="unicode")


@test
def libvirt_domxml_to_native_user_page():
    """libvirt: the user page's <hostdev> + <qemu:override> XML gives a vfio-pci -device with its barN-wc"""
    block = re.search(r"^\.\. code-block:: xml\n\n(.*?)\n(?=\S|\Z)",
                      USER_PAGE.read_text(), re.S | re.M).group(1)
    domain = ET.fromstring(textwrap.dedent(block))
    # Where the host has VFIO, libvirt chooses this backend itself.
    hostdev = domain.find("devices/hostdev")
    ET.SubElement(hostdev, "driver", name="vfio")
    with libvirt_bed.Libvirt() as lv:
        xml = lv.dir / "user-page.xml"
        xml.write_text(libvirt_aarch64_domain(domain, "barwc-user-page"))
        [(_, rc, out)] = lv.run([f"virsh domxml-to-native qemu-argv {xml}"])
    assert rc == 0, out
    devices = [json.loads(a.strip("'")) for a in out.split()
               if a.startswith("'{") and '"vfio-pci"' in a]
    assert devices == [{"driver": "vfio-pci", "host": "0000:01:00.0",
                        "id": "ua-gpu0", "bus": devices[0].get("bus"),
                        "addr": devices[0].get("addr"),
                        "bar1-wc": "on", "bar3-wc": "off"}], out


@test
def libvirt_domain_vfio_user_report():
    """libvirt: a defined and started aarch64 domain on the patched QEMU with vfio-user-pci,bar0-wc=off,bar2-wc=on: the report through virsh, then nothing left"""
    server = vu.Server()
    try:
        domain = ET.Element("domain")
        cmdline = ET.SubElement(domain, f"{{{LIBVIRT_NS}}}commandline")
        ET.SubElement(cmdline, f"{{{LIBVIRT_NS}}}arg", value="-device")
        ET.SubElement(cmdline, f"{{{LIBVIRT_NS}}}arg", value=json.dumps(
            vu.vfio_user_device(server, id="wc0", **{"bar0-wc": "off",
                                                     "bar2-wc": "on"})))
        with libvirt_bed.Libvirt() as lv:
            xml = lv.dir / "domain.xml"
            xml.write_text(libvirt_aarch64_domain(domain, "barwc-vfio-user"))
            results = lv.run([
                f"virsh define {xml}",
                "virsh start barwc-vfio-user",
                "virsh qemu-monitor-command barwc-vfio-user --hmp 'info vfio-bars'",
                "virsh qemu-monitor-command barwc-vfio-user "
                "'{\"execute\":\"query-vfio-pci-bars\"}'",
                "virsh destroy barwc-vfio-user",
                "virsh undefine barwc-vfio-user --nvram",
                "virsh list --all --name",
                "pgrep -f '[g]uest=barwc-vfio-user' || echo none",
            ])
    finally:
        server.stop()
    for cmd, rc, text in results:
        assert rc == 0, (cmd, text)
    hmp = results[2][2]
    for line in ("BAR 0: mem32, 0x10000 bytes, bar0-wc=off -> device-ngnre by accel",
                 "BAR 2: mem32 prefetchable, 0x100000 bytes, bar2-wc=on -> normal-nc by accel"):
        # No reason follows on or off.
        assert re.search(re.escape(line) + r"\r?\n", hmp), hmp
    bars = json.loads(results[3][2])["return"][0]["bars"]
    assert [(b["index"], b["requested"], b.get("effective")) for b in bars] == \
        [(0, "off", "device-ngnre"), (1, "auto", None), (2, "on", "normal-nc"),
         (3, "auto", None), (4, "auto", None), (5, "auto", None)], bars
    left_domains, left_qemu = results[6][2], results[7][2]
    assert left_domains.strip() == "", left_domains
    assert left_qemu.strip() == "none", left_qemu


@test
def vfio_user_server_exits_cleanly():
    """the test server exits with 0 on SIGTERM and removes its socket"""
    server = vu.Server()
    path = server.socket
    rc, err = server.stop()
    assert rc == 0, err
    assert not os.path.exists(path)


ASAN_BUILD = BUILD / "qemu" / "asan" / "build"
ASAN_QEMU = ASAN_BUILD / "qemu-system-aarch64"
# Reports other than leaks, which are counted instead.
SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|runtime error:")
LEAK_SUMMARY = re.compile(r"SUMMARY: AddressSanitizer: (\d+) byte\(s\) leaked")


class SanitizerLogs:
    """ASan, LeakSanitizer and UBSan reports of every process started
    meanwhile, each in a file of its own (log_path), instead of mixed
    into output that the tests read."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sanitizers-"))
        self.saved = {k: os.environ.get(k) for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")}
        os.environ["ASAN_OPTIONS"] = f"detect_leaks=1:log_path={self.dir}/asan"
        os.environ["UBSAN_OPTIONS"] = (f"print_stacktrace=1:halt_on_error=1:"
                                       f"log_path={self.dir}/ubsan")

    def take(self):
        """{file name: report} written since the last take."""
        reports = {f.name: f.read_text() for f in sorted(self.dir.iterdir())}
        for f in self.dir.iterdir():
            f.unlink()
        return reports

    def close(self):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(self.dir)


def leaked_bytes(reports):
    return sum(int(m.group(1)) for text in reports.values()
               for m in LEAK_SUMMARY.finditer(text))


@test
def sanitizers_asan_ubsan():
    """opt-in tier: the patched QEMU built with ASan and UBSan (its build time printed) runs the series' functional test, the guest's table on ivshmem and on vfio-user-pci with bar2-wc=off, and 200 hot-plug cycles with bar2-wc cycling: no ASan or UBSan report, no leak at exit, and none that grows with the cycles"""
    start = time.monotonic()
    r = run([str(TOP / "project" / "scripts" / "build-qemu.sh"), "--asan",
             "tests/vfio-user-wc-server"], timeout=5400)
    assert r.returncode == 0, r.stdout[-3000:]
    print(f"  ASan+UBSan build: {time.monotonic() - start:.0f} s")
    logs = SanitizerLogs()
    try:
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
        functional = errors_in("functional", logs.take())
        print(f"  functional test: {time.monotonic() - start:.0f} s, "
              f"{leaked_bytes(functional)} bytes leaked at exit")

        start = time.monotonic()
        table, _ = guest.boot(ASAN_QEMU)
        check_table(table, EXPECTED_PATCHED)
        check_table(guest.boot_vfio_user(ASAN_QEMU, "off"),
                    expected_table("device-ngnre"))
        guests = errors_in("guest", logs.take())
        print(f"  two guest boots: {time.monotonic() - start:.0f} s")

        start = time.monotonic()
        baseline = vu.run_hotplug(0, qemu=ASAN_QEMU)
        base = errors_in("hotplug 0", logs.take())
        cycled = vu.run_hotplug(200, qemu=ASAN_QEMU)
        after = errors_in("hotplug 200", logs.take())
        print(f"  hot-plug: 0 cycles leak {leaked_bytes(base)} bytes, 200 "
              f"cycles {leaked_bytes(after)} bytes "
              f"({time.monotonic() - start:.0f} s)")
    finally:
        logs.close()
    assert not errors, "\n".join(f"{k}:\n{v[:3000]}" for k, v in errors.items())
    # Every QEMU of the functional test and the guests frees what it took.
    for reports in (functional, guests):
        assert leaked_bytes(reports) == 0, "\n".join(reports.values())[:8000]
    # LeakSanitizer's exit status, where QEMU leaks at exit, is the same
    # with and without the cycles.
    assert baseline[0] == cycled[0], (baseline[0], cycled[0], cycled[1][-3000:])
    assert leaked_bytes(after) <= leaked_bytes(base), \
        "\n".join(after.values())[:8000]


# What lockdep, KASAN and the kernel's own checks print when they find
# something.
KERNEL_REPORT = re.compile(r"^.*(BUG: |WARNING: |possible circular locking|"
                           r"inconsistent lock state|suspicious RCU usage|"
                           r"KASAN: |sleeping function called from invalid "
                           r"context|Call trace:).*$", re.M)


@test
def sanitizers_l1_lockdep_kasan():
    """opt-in tier: the series' L1 kernel with lockdep and KASAN (build-linux.sh --debug, its build time printed) runs the nested bed's selftests: vfio_memattr 20 of 20, vfio_pci_memattr_test 12 of 12 and set_memory_region_test pass, and the kernel reports nothing"""
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


# The meson suites (meson.build reads them with --list): what needs more
# than a QEMU without a guest, and what takes minutes.
SUITE_GUEST = {"guest_bar_access_patched", "guest_bar_access_stock",
               "guest_bandwidth_table", "functional_vfio_user_bar_wc",
               "functional_vfio_user_bar_wc_fails_on_stock",
               "vfio_user_device_del_mid_memcpy"}
SUITE_SLOW = {"series_check", "readme_git_am_works", "linux_series_check",
              "series_rebase_onto_release", "series_edit_stage_export_check",
              "series_check_finds_drift",
              "upstream_qtest_aarch64_same_as_stock",
              "upstream_check_tcg_same_as_stock", "docs_build",
              "incremental_rebuild", "vfio_user_hotplug_valgrind"}


def suite(name):
    if name.startswith("sanitizers_"):
        return "sanitizers"
    if name.startswith("nested_"):
        return "nested"
    if name.startswith("runbook_"):
        return "runbook"
    if name in SUITE_GUEST:
        return "guest"
    if name in SUITE_SLOW:
        return "slow"
    return "quick"


def main():
    passed = failed = 0
    only = sys.argv[1:]
    if only == ["--list"]:
        for t in TESTS:
            print(f"{t.__name__}\t{suite(t.__name__)}")
        return 0
    unknown = set(only) - {t.__name__ for t in TESTS}
    if unknown:
        print(f"check.py: no such test: {', '.join(sorted(unknown))} "
              "(--list lists them)", file=sys.stderr)
        return 2
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
