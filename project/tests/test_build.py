"""The patched tree's build: its docs with Sphinx's warnings as errors,
and an incremental rebuild that reuses what it can."""

import os
import time

import pytest

from wc import QEMU_BUILD, QEMU_SRC, run

pytestmark = pytest.mark.slow


def test_docs_build():
    """the patched tree's docs build with Sphinx -W (warnings are errors)"""
    r = run(["ninja", "-C", str(QEMU_BUILD), "sphinxdocs"], timeout=1800)
    assert r.returncode == 0, r.stdout[-5000:]
    manual = QEMU_BUILD / "docs" / "manual"
    user = (manual / "system" / "devices" / "vfio-bar-wc.html").read_text()
    assert "bar0-wc" in user, "no barN-wc in the user page"
    devel = (manual / "devel" / "host-mem-type.html").read_text()
    assert "MemoryRegionSection" in devel
    qmp = (manual / "interop" / "qemu-qmp-ref.html").read_text()
    assert "query-vfio-pci-bars" in qmp and "VfioPciBarMemType" in qmp
    # --enable-werror makes Sphinx's warnings (a broken reference, a QAPI
    # doc comment it cannot render) errors.
    assert "sphinx-build -q -W" in (QEMU_BUILD / "build.ninja").read_text()


def test_incremental_rebuild():
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
