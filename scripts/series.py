#!/usr/bin/env python3
"""Turn this repository's sources into a staged git tree and an
upstream-ready patch series, and check that series.  Two projects, each
with its own series: QEMU (the default) and Linux (--project linux, the
KVM side).

Sources of truth (see README, "How the series is kept"):
  series, linux-series     ordered list of patches, "<component>/<name>" a line
  cover-letter, linux-cover-letter
                           subject line, blank line, body of the cover letter
  <component>/series/<name>.msg    commit message of one patch
  <component>/series/<name>.diff   its changes to files that exist upstream
  <component>/series/<name>.files  the new files it adds, one upstream path
                                   a line, kept at that path under <component>/
  <component>/out-of-tree/         project files that are not for upstream
  base-fixups/series, *.patch      adaptations of the pinned QEMU tarball;
                                   applied before the series, never part of it

QEMU's components are hw-vfio-wc, target-arm-s2, qapi, docs, tests-qtest;
Linux's is target-arm-s2/linux.

Commands:
  stage            build/<project>/patched/src: pristine commit, base fixups,
                   one commit per patch (in place, so unchanged files keep
                   their mtime)
  export [DIR]     stage, then write the series (format-patch + series file)
                   to DIR (default patches/<project>)
  pull             write the staged tree's series commits back to the sources
  check [--build]  (a) git am onto pristine, (b) no drift, (c) checkpatch;
                   --build also builds at every patch (slow)
"""

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("BUILD", TOP / "build"))


@dataclass
class Project:
    name: str
    title: str                  # for the pristine commit: "QEMU", "Linux"
    series: Path                # the ordered list of patches
    cover_letter: Path
    components: tuple           # folders under TOP, files at upstream paths
    # Folders of a component that are not upstream paths: the patches'
    # sources, project files that are not for upstream (e.g. the vfio-user
    # test server), another project's component.
    not_upstream: tuple
    fetch: str                  # script that prints the source's location
    base_fixups: Path = None    # a folder with series and *.patch, or None
    checkpatch_args: tuple = ()
    build: str = None           # script for check --build

    @property
    def src(self):
        return BUILD / self.name / "patched" / "src"

    @property
    def patches(self):
        return TOP / "patches" / self.name


PROJECTS = {
    "qemu": Project("qemu", "QEMU", TOP / "series", TOP / "cover-letter",
                    ("hw-vfio-wc", "target-arm-s2", "qapi", "docs", "tests-qtest"),
                    ("series", "out-of-tree", "linux"), "fetch-qemu.sh",
                    TOP / "base-fixups", ("--no-tree", "--terse"),
                    "build-qemu.sh"),
    # checkpatch.pl warns about every new file (FILE_PATH_CHANGES);
    # check_maintained() checks instead that MAINTAINERS covers each one.
    # The staged tree is a release tarball without history, where it
    # cannot look up the commit of a Fixes: tag (UNKNOWN_COMMIT_ID); its
    # format is still checked (GIT_COMMIT_ID), and the commit itself is
    # checked against upstream's history when the tag is written.
    "linux": Project("linux", "Linux", TOP / "linux-series",
                     TOP / "linux-cover-letter", ("target-arm-s2/linux",),
                     ("series",), "fetch-linux.sh", None,
                     ("--strict", "--terse", "--ignore",
                      "FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID"),
                     "build-linux.sh"),
}
P = PROJECTS["qemu"]            # the project of this run (--project)

IDENT = {
    "GIT_AUTHOR_NAME": "QEMU arm64 WC project",
    "GIT_AUTHOR_EMAIL": "qemu-arm64-wc@example.org",
    "GIT_COMMITTER_NAME": "QEMU arm64 WC project",
    "GIT_COMMITTER_EMAIL": "qemu-arm64-wc@example.org",
}
# Fixed dates keep commit ids, and so the exported series, reproducible.
EPOCH = 1767225600  # 2026-01-01T00:00:00Z


def die(msg):
    sys.exit(f"series: error: {msg}")


def note(msg):
    print(f"==> {msg}", flush=True)


def git(*args, cwd=None, env=None, check=True, capture=True, input=None,
        strip=True):
    """Run git; return its output, stripped unless @strip is False (a
    diff's last context line can be a blank one)."""
    cwd = cwd or P.src
    full_env = dict(os.environ, **IDENT)
    if env:
        full_env.update(env)
    r = subprocess.run(["git", *args], cwd=cwd, env=full_env, text=True,
                       input=input,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None)
    if check and r.returncode:
        die(f"git {' '.join(args)} failed in {cwd}:\n{r.stdout or ''}{r.stderr or ''}")
    if not capture or not r.stdout:
        return ""
    return r.stdout.strip() if strip else r.stdout


def read_list(path):
    """The lines of a list file, without blank lines and # comments."""
    return [ln.strip() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


def dated(n):
    stamp = f"@{EPOCH + n * 60} +0000"
    return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}


class Patch:
    def __init__(self, entry):
        comp, _, name = entry.rpartition("/")
        if comp not in P.components or not name:
            die(f"series entry '{entry}': expected <component>/<name>, "
                f"component one of {', '.join(P.components)}")
        self.entry = entry
        self.comp = TOP / comp
        meta = self.comp / "series"
        self.msg = meta / f"{name}.msg"
        self.diff = meta / f"{name}.diff"
        self.files_list = meta / f"{name}.files"
        if not self.msg.is_file():
            die(f"series entry '{entry}': {self.msg.relative_to(TOP)} is missing")

    def new_files(self):
        if not self.files_list.is_file():
            return []
        files = read_list(self.files_list)
        for f in files:
            if not (self.comp / f).is_file():
                die(f"{self.files_list.relative_to(TOP)} lists {f}, "
                    f"which is not in {self.comp.relative_to(TOP)}/")
        return files


def read_series():
    patches = [Patch(entry) for entry in read_list(P.series)]
    claimed = {}
    for p in patches:
        for f in p.new_files():
            key = p.comp / f
            if key in claimed:
                die(f"{p.comp.relative_to(TOP)}/{f} is claimed by "
                    f"{claimed[key]} and {p.entry}")
            claimed[key] = p.entry
    for comp in P.components:
        root = TOP / comp
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            rel = path.relative_to(root)
            if path.is_file() and rel.parts[0] not in P.not_upstream and \
                    path not in claimed:
                die(f"{comp}/{rel} belongs to no patch: list it in a .files")
    return patches


def upstream_source():
    out = subprocess.run([str(TOP / "scripts" / P.fetch)],
                         stdout=subprocess.PIPE, text=True)
    if out.returncode:
        sys.exit(out.returncode)
    return Path(out.stdout.strip().splitlines()[-1])


def source_version(tree):
    if P.name == "linux":
        make = (tree / "Makefile").read_text()
        return ".".join(re.search(rf"^{v} = (\d+)$", make, re.M).group(1)
                        for v in ("VERSION", "PATCHLEVEL", "SUBLEVEL"))
    return (tree / "VERSION").read_text().strip()


def make_pristine(dest):
    """Create dest as a git tree holding the pristine source (one commit)."""
    src = upstream_source()
    note(f"staging pristine {P.title} from {src} in {dest}")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if src.is_dir():
        subprocess.run(["cp", "-a", "--no-preserve=ownership", f"{src}/.",
                        str(dest)], check=True)
        shutil.rmtree(dest / ".git", ignore_errors=True)
    else:
        subprocess.run(["tar", "-xf", str(src), "-C", str(dest),
                        "--strip-components=1", "--no-same-owner"], check=True)
    version = source_version(dest)
    git("init", "-q", "-b", "pristine", cwd=dest)
    # The tree is the release as shipped: ignore nothing, convert nothing.
    git("config", "core.autocrlf", "false", cwd=dest)
    (dest / ".git" / "info" / "exclude").write_text("")
    git("add", "-A", "-f", ".", cwd=dest)
    git("commit", "-q", "--no-verify", "-m", f"{P.title} {version} (pristine)",
        cwd=dest, env=dated(0))
    git("tag", "-f", "pristine", cwd=dest)


def apply_patch_files(patch_files, tree, first_date):
    for i, pf in enumerate(patch_files):
        git("am", "-q", "--keep-cr", "--committer-date-is-author-date",
            str(pf), cwd=tree, env=dated(first_date + i))


def commit_patch(p, n, tree):
    if p.diff.is_file() and p.diff.stat().st_size:
        git("apply", "--index", "--whitespace=nowarn", str(p.diff), cwd=tree)
    for f in p.new_files():
        dst = tree / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists() or not filecmp.cmp(p.comp / f, dst, shallow=False):
            shutil.copy2(p.comp / f, dst)
        git("add", "-f", f, cwd=tree)
    git("commit", "-q", "--no-verify", "--allow-empty", "-F", str(p.msg),
        cwd=tree, env=dated(100 + n))


def base_fixups():
    d = P.base_fixups
    return [d / name for name in read_list(d / "series")] if d else []


def has_pristine(tree):
    return (tree / ".git").is_dir() and \
        git("rev-parse", "-q", "--verify", "pristine", cwd=tree, check=False) != ""


def stage(tree=None):
    """Commit the series in a scratch worktree, then move tree's 'series'
    branch there: only files whose content changed are rewritten."""
    tree = tree or P.src
    patches = read_series()
    if not has_pristine(tree):
        make_pristine(tree)
    scratch = tree.parent / (tree.name + "-stage")
    if not (scratch / ".git").exists():
        git("worktree", "prune", cwd=tree)
        shutil.rmtree(scratch, ignore_errors=True)
        git("worktree", "add", "-q", "--detach", str(scratch), "pristine", cwd=tree)
    git("reset", "-q", "--hard", cwd=scratch)
    git("clean", "-q", "-fdx", cwd=scratch)
    git("checkout", "-q", "--detach", "pristine", cwd=scratch)
    apply_patch_files(base_fixups(), scratch, 1)
    git("tag", "-f", "base", cwd=scratch)
    for n, p in enumerate(patches):
        commit_patch(p, n, scratch)
    head = git("rev-parse", "HEAD", cwd=scratch)
    if git("symbolic-ref", "-q", "HEAD", cwd=tree, check=False) != "refs/heads/series":
        git("checkout", "-q", "-f", "-B", "series", cwd=tree)
    git("reset", "-q", "--hard", head, cwd=tree)
    note(f"staged {len(patches)} patch(es) on base in {tree} (branch 'series')")
    return patches


def export(outdir=None, tree=None):
    tree = tree or P.src
    outdir = outdir or P.patches
    stage(tree)
    cover = P.cover_letter.read_text()
    subject, _, body = cover.partition("\n\n")
    outdir = Path(outdir)
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    git("-c", "diff.noprefix=false", "-c", "core.abbrev=12", "format-patch", "-q", "--cover-letter",
        "--no-signature", "--subject-prefix=PATCH", "-o", str(outdir),
        "base..series", cwd=tree)
    cover_path = next(outdir.glob("0000-cover-letter.patch"))
    text = cover_path.read_text()
    text = text.replace("*** SUBJECT HERE ***", subject.strip())
    text = text.replace("*** BLURB HERE ***", body.strip())
    names = sorted(p.name for p in outdir.glob("*.patch")
                   if p.name != cover_path.name)
    # format-patch dates the cover letter now: give it the last patch's date.
    if names:
        last = (outdir / names[-1]).read_text()
        date = re.search(r"^Date: .*$", last, re.M).group(0)
        text = re.sub(r"^Date: .*$", date, text, count=1, flags=re.M)
    cover_path.write_text(text)
    (outdir / "series").write_text("".join(n + "\n" for n in names))
    note(f"wrote {len(names)} patch(es) and a cover letter to {outdir}")


def pull(tree=None):
    tree = tree or P.src
    patches = read_series()
    commits = git("rev-list", "--reverse", "base..HEAD", cwd=tree).split()
    if len(commits) != len(patches):
        die(f"{tree} has {len(commits)} commit(s) on base, 'series' lists "
            f"{len(patches)}: add or remove the entry in 'series' first")
    for p, c in zip(patches, commits):
        p.msg.write_text(git("show", "-s", "--format=%B", c, cwd=tree) + "\n")
        added = git("diff", "--name-only", "--diff-filter=A", f"{c}~", c,
                    cwd=tree).split()
        for f in p.new_files():
            if f not in added:
                (p.comp / f).unlink()
        for f in added:
            dst = p.comp / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(subprocess.run(["git", "show", f"{c}:{f}"], cwd=tree,
                                           check=True, stdout=subprocess.PIPE).stdout)
        if added:
            p.files_list.write_text("".join(f + "\n" for f in sorted(added)))
        elif p.files_list.exists():
            p.files_list.unlink()
        diff = git("-c", "core.abbrev=12", "diff", "--binary", "--diff-filter=a",
                   f"{c}~", c, cwd=tree, strip=False)
        if diff:
            p.diff.write_text(diff)
        elif p.diff.exists():
            p.diff.unlink()
        note(f"pulled {c[:12]} into {p.entry}")


def checkpatch(tree, patch_files):
    bad = 0
    for pf in patch_files:
        # Debian's python3 first: the kernel's SPDX check needs its ply.
        r = subprocess.run(["perl", "scripts/checkpatch.pl", *P.checkpatch_args,
                            str(pf)], cwd=tree, text=True,
                           env=dict(os.environ,
                                    PATH="/usr/bin:" + os.environ["PATH"]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # QEMU's checkpatch.pl asks whether MAINTAINERS needs updating
        # whenever a patch adds a file without touching MAINTAINERS, even
        # where a pattern already covers it (as Linux's FILE_PATH_CHANGES,
        # ignored there): check_maintained() checks the coverage instead.
        problems = [ln for ln in r.stdout.splitlines()
                    if ("ERROR" in ln or "WARNING" in ln or "Traceback" in ln)
                    and "WARNING: added, moved or deleted file(s)" not in ln]
        if problems:
            bad += 1
            print(f"checkpatch: {pf.name}:\n{r.stdout}")
    return bad


def check_maintained(tree, patch_files):
    """Every file a patch adds has a maintainer in MAINTAINERS."""
    orphans = []
    for pf in patch_files:
        for f in re.findall(r"^diff --git a/\S+ b/(\S+)\nnew file mode",
                            pf.read_text(), re.M):
            r = subprocess.run(["perl", "scripts/get_maintainer.pl", "--no-git",
                                "--no-git-fallback", "-f", f], cwd=tree,
                               text=True, capture_output=True)
            if not re.search(r"\((maintainer|supporter|odd fixer):", r.stdout):
                orphans.append(f"{pf.name}: {f}")
    for o in orphans:
        print(f"no maintainer in MAINTAINERS for {o}")
    return len(orphans)


def check(build_each=False):
    failures = []
    if not has_pristine(P.src):
        stage()
    patch_files = [P.patches / n for n in (P.patches / "series").read_text().split()]
    with tempfile.TemporaryDirectory(prefix="series-check-") as tmp:
        tmp = Path(tmp)
        # For --build, the tree is ../src of its build directory, as for
        # the others, so that ccache serves it; else a private one.
        wt = BUILD / P.name / "each" / "src" if build_each else tmp / "am"
        shutil.rmtree(wt, ignore_errors=True)
        git("worktree", "prune")
        git("worktree", "add", "-q", "-f", "--detach", str(wt), "pristine")
        try:
            git("am", "-q", "--keep-cr", *map(str, patch_files), cwd=wt, check=False)
            ok = git("rev-list", "--count", "pristine..HEAD", cwd=wt) == str(len(patch_files))
            print(f"(a) git am of {len(patch_files)} patch(es) onto pristine "
                  f"{P.title}: {'ok' if ok else 'FAILED'}")
            if not ok:
                failures.append("git am")
                git("am", "--abort", cwd=wt, check=False)

            regen = tmp / "regen"
            git("clone", "-q", "--shared", "--no-checkout", str(P.src),
                str(tmp / "stage"), cwd=tmp)
            git("tag", "-f", "pristine", git("rev-parse", "pristine"),
                cwd=tmp / "stage")
            export(regen, tmp / "stage")
            drift = subprocess.run(["diff", "-r", "-u", str(P.patches), str(regen)],
                                   text=True, stdout=subprocess.PIPE)
            print(f"(b) patches/{P.name} matches the sources: "
                  f"{'ok' if not drift.returncode else 'DRIFT'}")
            if drift.returncode:
                print(drift.stdout[:20000])
                failures.append("drift (run: scripts/series.py export)")

            n_bad = checkpatch(P.src, patch_files)
            n_bad += check_maintained(P.src, patch_files)
            print(f"(c) checkpatch.pl on {len(patch_files)} patch(es): "
                  f"{'clean' if not n_bad else f'{n_bad} with problems'}")
            if n_bad:
                failures.append("checkpatch")

            if build_each and ok:
                failures += build_every_patch(wt, len(patch_files))
        finally:
            git("worktree", "remove", "--force", str(wt), check=False)
    if failures:
        die("check failed: " + ", ".join(failures))
    print("series check: all ok")


def build_every_patch(wt, count):
    """(d) build at every patch (QEMU: qemu-system-aarch64, on top of the
    base fixups; Linux: the L1 kernel), in one build directory so each step
    is incremental."""
    commits = git("rev-list", "--reverse", "pristine..HEAD", cwd=wt).split()
    git("checkout", "-q", "--detach", "pristine", cwd=wt)
    apply_patch_files(base_fixups(), wt, 1)
    failures = []
    for i, c in enumerate(commits, 1):
        git("cherry-pick", c, cwd=wt)
        start = time.time()
        prefix = P.name.upper()
        env = dict(os.environ, **{f"{prefix}_TREE": str(wt),
                                  f"{prefix}_BUILD_DIR": str(wt.parent / "build")})
        r = subprocess.run([str(TOP / "scripts" / P.build), "--no-stage"],
                           env=env)
        print(f"(d) build at patch {i}/{count}: "
              f"{'ok' if r.returncode == 0 else 'FAILED'} ({time.time() - start:.0f} s)")
        if r.returncode:
            failures.append(f"build at patch {i}")
    return failures


def main():
    global P
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", choices=PROJECTS, default="qemu")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("stage")
    e = sub.add_parser("export")
    e.add_argument("dir", nargs="?")
    sub.add_parser("pull")
    c = sub.add_parser("check")
    c.add_argument("--build", action="store_true",
                   help="also build at every patch (slow)")
    a = ap.parse_args()
    P = PROJECTS[a.project]
    if a.cmd == "stage":
        stage()
    elif a.cmd == "export":
        export(a.dir)
    elif a.cmd == "pull":
        pull()
    else:
        check(a.build)


if __name__ == "__main__":
    main()
