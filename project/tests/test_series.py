"""The series as patches: series.py's check of both QEMU series, its edit,
export and rebase tooling, the README's git am, Debian's quilt, and the
fetch scripts' handling of a source that is gone or wrong."""

import os
import re
import shutil
import subprocess

import pytest

import series
from wc import BUILD, TOP, run

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


@pytest.mark.slow
def test_series_check():
    """patches/qemu-fixes and patches/qemu: git am and quilt push -a on pristine 10.2.2, the export of a fresh staging changes nothing (patches/ and the component directories), checkpatch clean"""
    assert_series_check("qemu")


@pytest.mark.parametrize("project, placeholder", [
    pytest.param("qemu", "/path/to/qemu", id="qemu", marks=pytest.mark.slow),
    pytest.param("linux", "/path/to/linux", id="linux",
                 marks=pytest.mark.tools)])
def test_readme_git_am_works(project, placeholder, tmp_path, request):
    """the README's git am command for the QEMU (default run) or the Linux
    series (opt-in: it needs a Linux tree), run as written with a git
    identity, applies every patch to a pristine tree"""
    if project == "linux":
        request.getfixturevalue("linux_pristine")
    readme = (TOP / "README.md").read_text()
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.S)
              if "git am" in b]
    assert len(blocks) == 2, blocks
    block = next(b for b in blocks if placeholder in b)
    src = BUILD / project / "patched" / "src"
    count = sum(len(s.patch_files()) for s in series.PROJECTS[project].series)
    tree = tmp_path / project
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


@pytest.mark.quick
def test_debian_quilt_push(tmp_path):
    """both QEMU series on Debian's own qemu package (project/bases): appended to debian/patches/series, quilt push -a applies them"""
    dsc = BUILD / "dl" / f"qemu_{series.base('qemu').version.partition(':')[2]}.dsc"
    patches = [f for s in series.PROJECTS["qemu"].series for f in s.patch_files()]
    tree = tmp_path / "qemu"
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


@pytest.mark.quick
def test_fetch_orig_takes_another_revision(tmp_path):
    """a pinned revision gone from the archive: another one with the pinned orig tarball serves; none: an error"""
    # Debian's small 'hello' source package stands in for qemu and linux.
    r = run(["bash", "-c", ". project/scripts/lib.sh; private_apt_update; "
             "private_apt_cache showsrc hello"], cwd=TOP)
    version = re.search(r"^Version: (\S+)", r.stdout, re.M).group(1)
    sha, orig = re.search(r"^Checksums-Sha256:\n(?: .*\n)*? (\w{64}) \d+ "
                          r"(hello_[^ ]*\.orig\.tar\.\w+)$", r.stdout, re.M).groups()
    gone = version + "+gone1"
    found, refused = tmp_path / "found", tmp_path / "refused"
    found.mkdir()
    refused.mkdir()
    r = run(["bash", "-c", f". project/scripts/lib.sh; fetch_orig hello {gone} "
             f"{orig} {sha} {found}"], cwd=TOP)
    assert r.returncode == 0 and r.stdout.strip().endswith(f"{found}/{orig}"), r.stdout
    assert (f"hello={gone} is gone from the archive; hello={version} has "
            f"the same {orig}") in r.stdout, r.stdout
    r = run(["bash", "-c", f". project/scripts/lib.sh; fetch_orig hello {gone} "
             f"{orig} {'0' * 64} {refused}"], cwd=TOP)
    assert r.returncode == 1 and not list(refused.iterdir()), r.stdout


@pytest.mark.quick
def test_fetch_qemu_rejects_bad_source(tmp_path):
    """QEMU_SRC that is missing or not the base's minor release: a clear error"""
    fetch = str(TOP / "project" / "scripts" / "fetch-qemu.sh")
    r = run([fetch], env=dict(os.environ, QEMU_SRC="/nonexistent/qemu"))
    assert r.returncode != 0, r.stdout
    assert "QEMU_SRC=/nonexistent/qemu does not exist" in r.stdout, r.stdout
    (tmp_path / "VERSION").write_text("9.2.0\n")
    r = run([fetch], env=dict(os.environ, QEMU_SRC=str(tmp_path)))
    assert r.returncode != 0, r.stdout
    minor = series.base("qemu").upstream.rpartition(".")[0]
    assert f"is QEMU 9.2.0; this series is for v{minor}.x" in r.stdout, r.stdout


@pytest.fixture
def repo_copy(tmp_path):
    """A copy of this repository's files, without build/ and .git."""
    copy = tmp_path / "repo"
    shutil.copytree(TOP, copy, ignore=shutil.ignore_patterns("build", ".git"))
    return copy


@pytest.mark.tools
def test_series_check_finds_drift(repo_copy):
    """a component file edited by hand, and one no patch adds: series.py check names both as drift"""
    page = repo_copy / "docs" / "docs" / "system" / "devices" / "vfio-bar-wc.rst"
    page.write_text(page.read_text() + "An edit that no patch makes.\n")
    orphan = repo_copy / "target-arm-s2" / "target" / "arm" / "orphan.c"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("/* added by no patch */\n")
    r = run([str(repo_copy / "project" / "scripts" / "series.py"), "check", "--quick"],
            env=dict(os.environ, BUILD=str(BUILD)))
    assert r.returncode != 0, r.stdout
    assert "gives: DRIFT" in r.stdout, r.stdout
    assert "+An edit that no patch makes." not in r.stdout and \
        "-An edit that no patch makes." in r.stdout, r.stdout
    assert re.search(r"^-/\* added by no patch \*/$", r.stdout, re.M), r.stdout


@pytest.mark.tools
def test_series_edit_stage_export_check(repo_copy, tmp_path):
    """the README's way of changing a patch: stage, amend a commit, export, check; and stage refuses to drop a commit not yet exported"""
    build = tmp_path / "build"
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
    tool = [str(repo_copy / "project" / "scripts" / "series.py")]
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
    shown = repo_copy / "docs" / page
    assert shown.read_text().endswith("An edit made in the staged tree.\n")
    assert any("+An edit made in the staged tree." in p.read_text()
               for p in (repo_copy / "patches" / "qemu").glob("0*.patch"))
    r = run(tool + ["check", "--quick"], env=env)
    assert r.returncode == 0 and "gives: ok" in r.stdout, r.stdout
    r = run(tool + ["stage"], env=env)
    assert r.returncode == 0, r.stdout


@pytest.mark.tools
def test_series_rebase_onto_release(repo_copy, tmp_path):
    """series.py rebase: a release the archive does not list is refused, project/bases unchanged; rebasing onto the pinned release itself fetches it, rewrites nothing and restages both series to the same trees"""
    build = tmp_path / "build"
    build.mkdir()
    # The downloads and the private apt lists are shared, not refetched.
    for d in ("dl", "apt"):
        (build / d).symlink_to(BUILD / d)
    env = dict(os.environ, BUILD=str(build), **series.IDENT)
    tool = [str(repo_copy / "project" / "scripts" / "series.py"), "rebase"]
    bases = (repo_copy / "project" / "bases").read_text()
    r = run(tool + ["1:99.0+ds-1"], env=env)
    assert r.returncode != 0 and "the archive does not list qemu 1:99.0+ds-1" \
        in r.stdout, r.stdout
    pinned = series.base("qemu").version
    r = run(tool + [pinned], env=env)
    assert r.returncode == 0, r.stdout[-3000:]
    assert f"restaged on QEMU {series.base('qemu').upstream}" in r.stdout, r.stdout
    assert (repo_copy / "project" / "bases").read_text() == bases
    ours = series.PROJECTS["qemu"].src
    tree = build / "qemu" / "patched" / "src"
    for branch in ("qemu-fixes", "qemu"):
        got, want = (run(["git", "-C", str(t), "rev-parse", f"{branch}^{{tree}}"]
                         ).stdout.strip() for t in (tree, ours))
        assert got == want, f"{branch}: {got} != {want}"
