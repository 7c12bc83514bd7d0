"""Paths and small helpers the project's tests share."""

import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "project" / "scripts"))

import guest  # noqa: E402

BUILD = guest.BUILD
QEMU = guest.QEMU
QEMU_BUILD = BUILD / "qemu" / "patched" / "build"
QEMU_SRC = BUILD / "qemu" / "patched" / "src"
TCG_DIR = QEMU_BUILD / "tests" / "tcg" / "aarch64-softmmu"
RUNBOOK = TOP / "project" / "docs" / "real-host-runbook.rst"
MIB = 1 << 20


def run(cmd, **kw):
    """@cmd with no stdin, its stdout and stderr together in .stdout."""
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)
