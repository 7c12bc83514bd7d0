"""What the project's tests share: the suites, which are pytest markers and
meson test suites, and the two listings the build reads from pytest.

Every test carries exactly one suite marker.  ``--meson-list`` prints one
line a test for meson.build (its meson name, suite and node id);
``--catalogue FILE`` writes the test catalogue (project/docs/tests.md)
from the tests' docstrings.
"""

import os
from pathlib import Path

import pytest

from wc import BUILD, TOP, run

# suite: (in the default run, what it holds)
SUITES = {
    "quick": (True, "no guest boot: the TCG system tests, QMP, bad input, "
              "vfio-user, libvirt, the host check, the fetch scripts"),
    "guest": (True, "an aarch64 Linux guest under TCG"),
    "slow": (True, "minutes each: upstream's suites on stock and patched "
             "QEMU, the series check, the docs"),
    "tools": (False, "opt-in: the project's series tooling (series.py, "
              "the README's git am)"),
    "nested": (False, "opt-in: the nested KVM bed (TCG L0, the series' and "
               "the unpatched kernel as L1, L2); builds both L1 kernels "
               "and the L1 QEMU"),
    "runbook": (False, "opt-in: the real-host runbook's commands that run "
                "here: the kernel's configuration on Debian's (a Linux tree, "
                "minutes), its package (hours), a full QEMU build and "
                "install"),
    "sanitizers": (False, "opt-in: QEMU with ASan and UBSan, the L1 kernel "
                   "with lockdep and KASAN"),
}


def pytest_addoption(parser):
    parser.addoption("--meson-list", action="store_true",
                     help="print 'meson-test: NAME SUITE NODEID' a test, "
                     "run nothing")
    parser.addoption("--catalogue", metavar="FILE",
                     help="write the test catalogue to FILE, run nothing")


def pytest_configure(config):
    for name, (_, text) in SUITES.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def suite_of(item):
    suites = [m.name for m in item.iter_markers() if m.name in SUITES]
    if len(suites) != 1:
        raise pytest.UsageError(f"{item.nodeid}: {len(suites)} suite "
                                f"markers, one of {', '.join(SUITES)} expected")
    return suites[0]


def meson_name(item):
    """The function's name less test_, and the parameters' id, with
    characters that meson test names cannot take replaced."""
    name = item.originalname.removeprefix("test_")
    if getattr(item, "callspec", None):
        name += "_" + item.callspec.id
    return name.replace("-", "_").replace("[", "_").replace("]", "")


def docstring(item):
    """The test's docstring on one line."""
    return " ".join((item.function.__doc__ or "").split())


def write_catalogue(path, items):
    lines = ["# The project's tests", "",
             "Generated from the tests' docstrings by "
             "`/usr/bin/python3 -m pytest project/tests --catalogue "
             "project/docs/tests.md`; `quick / docs_catalogue_current` "
             "fails when it is stale.", "",
             "| suite | default run | holds |", "|---|---|---|"]
    lines += [f"| `{s}` | {'yes' if d else 'no'} | {t} |"
              for s, (d, t) in SUITES.items()]
    by_file = {}
    for item in items:
        by_file.setdefault(item.path.name, []).append(item)
    for fname, file_items in by_file.items():
        module_doc = (file_items[0].module.__doc__ or "").strip()
        lines += ["", f"## `project/tests/{fname}`", ""]
        if module_doc:
            lines += [" ".join(module_doc.split("\n\n")[0].split()), ""]
        lines += ["| meson test | suite | what it shows |", "|---|---|---|"]
        for item in file_items:
            doc = docstring(item).replace("|", "\\|")
            lines.append(f"| `{meson_name(item)}` | {suite_of(item)} | {doc} |")
    Path(path).write_text("\n".join(lines) + "\n")


def pytest_collection_modifyitems(session, config, items):
    names = {}
    for item in items:
        suite_of(item)
        name = meson_name(item)
        if name in names:
            raise pytest.UsageError(f"{item.nodeid} and {names[name]}: one "
                                    f"meson test name, {name}")
        if not docstring(item):
            raise pytest.UsageError(f"{item.nodeid}: no docstring; the "
                                    "catalogue says what each test shows")
        names[name] = item.nodeid
    if config.getoption("--meson-list"):
        for item in items:
            print(f"meson-test: {meson_name(item)} {suite_of(item)} "
                  f"{item.nodeid}")
    if config.getoption("--catalogue"):
        write_catalogue(config.getoption("--catalogue"), items)
    if config.getoption("--meson-list") or config.getoption("--catalogue"):
        config.hook.pytest_deselected(items=list(items))
        items[:] = []


# meson test's exit status for a skipped test.
MESON_SKIP = 77


def pytest_sessionfinish(session, exitstatus):
    # Listing runs nothing, which pytest would report as "no tests".
    if session.config.getoption("--meson-list") or \
            session.config.getoption("--catalogue"):
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK
        return
    # pytest exits 0 when a test skips: meson must not count that as a
    # pass (check.sh counts it as a failure).
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if "MESON_TEST_ITERATION" in os.environ and \
            exitstatus == pytest.ExitCode.OK and reporter and \
            reporter.stats.get("skipped"):
        session.exitstatus = MESON_SKIP


@pytest.fixture
def vfio_user_server():
    """The series' vfio-user test server (tests/vfio-user-wc-server) on a
    socket of its own; stopped after the test, which fails unless it exits
    with 0."""
    # Here, not at the top: it imports the staged tree's python/qemu, which
    # listing the tests does not need.
    import vfio_user
    server = vfio_user.Server()
    yield server
    rc, stderr = server.stop()
    assert rc == 0, f"the vfio-user server exited with {rc}: {stderr}"


@pytest.fixture(scope="module")
def linux_pristine():
    """The staged Linux tree (build/linux/patched/src) whose tag pristine
    is 7.1.8, staged first where the nested bed, which stages it too, was
    not built."""
    tree = BUILD / "linux" / "patched" / "src"
    if run(["git", "-C", str(tree), "rev-parse", "-q", "--verify",
            "refs/tags/pristine"]).returncode:
        r = run([str(TOP / "project" / "scripts" / "series.py"), "--project",
                 "linux", "stage"], timeout=1800)
        assert r.returncode == 0, r.stdout[-5000:]


@pytest.fixture(scope="session")
def bed():
    """The nested KVM bed with both L1 kernels, built if it is not."""
    import nested_bed
    nested_bed.build()
