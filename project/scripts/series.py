#!/usr/bin/env python3
"""Keep the series as a kernel or QEMU developer keeps one: patches/ is
the source of truth, a git branch is where it is edited.

Each series is a directory patches/<series>/ of `git format-patch` output
(0000-cover-letter.patch first) and a quilt `series` file.  Two projects,
each with a series of upstream fixes that need nothing of barN-wc and the
feature series based on it:

  qemu   qemu-fixes, then qemu            on project/bases' QEMU release
  linux  linux-fixes, then linux          on project/bases' Linux release

The component directories (hw-vfio-wc, target-arm-s2, qapi, docs,
tests-qtest for QEMU; linux for Linux) hold every file the series add, at
its upstream path and as the tip of the series has it.  They are written
by export and checked by check: never edit them by hand.

Commands (--project qemu, the default, or linux):
  stage [--force]  build/<project>/patched/src: the release (tag
                   'pristine'), QEMU's base fixups (project/base-fixups,
                   tag 'base'), then each series with git am, one branch
                   a series.  Refuses to drop commits that were not
                   exported, unless --force.
  export           the staged branches back to patches/<series>/ (each
                   cover letter keeps its subject and blurb, the rest is
                   regenerated) and the new files into the component
                   directories.
  check [--build] [--quick]
                   (a) each series applies with git am, and with quilt
                   push -a, on the release; (b) staging patches/ afresh
                   and exporting it changes nothing; (c) checkpatch.pl;
                   (d) with --build, the tree builds at every patch; and
                   (e) whether the archive has a newer release.  (b) also
                   fails on staged commits not exported and on a cover
                   letter without the base.  --quick: (a) with git am and
                   (b) only.
  rebase [VERSION] move the base to Debian's source package VERSION (the
                   newest the archive lists if none): fetch and verify
                   its orig tarball, rewrite project/bases and restage
                   with git am -3, stopping at a conflict for you to
                   resolve (git am --continue, then rebase --continue);
                   then export.

Editing a patch: stage, then in build/<project>/patched/src
  git rebase -i --update-refs base     (edit, fixup, reword, reorder)
then export, check, and commit patches/ and the component directories.
"""

import argparse
import functools
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BUILD", TOP / "build"))
LIB = TOP / "project" / "scripts" / "lib.sh"


@dataclass
class Series:
    name: str
    based_on: str = None        # the series this one applies on, if any

    @property
    def dir(self):
        return TOP / "patches" / self.name

    def patch_files(self):
        listing = self.dir / "series"
        if not listing.is_file():
            die(f"{listing.relative_to(TOP)} is missing")
        return [self.dir / n for n in read_list(listing)]


@dataclass
class Project:
    name: str                   # also Debian's source package
    title: str                  # "QEMU", "Linux"
    series: tuple               # in the order they apply
    # (regular expression on an upstream path, component directory): the
    # first match places a new file.
    components: tuple
    fetch: str                  # script that prints the release's location
    base_fixups: Path = None    # a folder with series and *.patch, or None
    checkpatch_args: tuple = ()
    build: str = None           # script for check --build

    @property
    def src(self):
        return BUILD / self.name / "patched" / "src"

    @property
    def component_dirs(self):
        return sorted({c for _, c in self.components})

    def component_of(self, path):
        return next(c for pattern, c in self.components
                    if re.match(pattern, path))


PROJECTS = {
    "qemu": Project(
        "qemu", "QEMU",
        (Series("qemu-fixes"), Series("qemu", "qemu-fixes")),
        ((r"docs/", "docs"),
         (r"target/arm/|tests/tcg/", "target-arm-s2"),
         (r"qapi/|stubs/|.*-[qh]mp-cmds\.c$", "qapi"),
         (r"tests/(functional|qtest)/|tests/vfio-user-", "tests-qtest"),
         (r"", "hw-vfio-wc")),
        "fetch-qemu.sh", TOP / "project" / "base-fixups" / "qemu",
        ("--no-tree", "--terse"), "build-qemu.sh"),
    # checkpatch.pl warns about every new file (FILE_PATH_CHANGES);
    # check_maintained() checks instead that MAINTAINERS covers each one.
    # The staged tree is a release tarball without history, where it
    # cannot look up the commit of a Fixes: tag (UNKNOWN_COMMIT_ID); its
    # format is still checked (GIT_COMMIT_ID), and the commit itself is
    # checked against upstream's history when the tag is written.
    # --strict's CamelCase check flags the memory type names that
    # PAGE_S2_MEMATTR() pastes (DEVICE_nGnRE), as it would flag KVM's own
    # KVM_S2_MEMATTR(pgt, DEVICE_nGnRE) in arch/arm64/kvm/hyp/pgtable.c.
    "linux": Project(
        "linux", "Linux",
        (Series("linux-fixes"), Series("linux", "linux-fixes")),
        ((r"", "linux"),),
        "fetch-linux.sh", None,
        ("--strict", "--terse", "--ignore",
         "FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID,CAMELCASE"),
        "build-linux.sh"),
}
P = PROJECTS["qemu"]            # the project of this run (--project)

IDENT = {
    "GIT_AUTHOR_NAME": "QEMU arm64 WC project",
    "GIT_AUTHOR_EMAIL": "qemu-arm64-wc@example.org",
    "GIT_COMMITTER_NAME": "QEMU arm64 WC project",
    "GIT_COMMITTER_EMAIL": "qemu-arm64-wc@example.org",
}
# A fixed date keeps the pristine commit's id, and so every staged
# commit's (git am takes the rest from the patches), reproducible.
EPOCH = 1767225600  # 2026-01-01T00:00:00Z
PLACEHOLDERS = ("*** SUBJECT HERE ***", "*** BLURB HERE ***")
# The staged trees' own configuration, not the user's (format.signOff,
# diff.orderFile, am.messageId ... would change what is exported).
GIT_ENV = dict(os.environ, **IDENT, GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CONFIG_NOSYSTEM="1")


def die(msg):
    sys.exit(f"series: error: {msg}")


def note(msg):
    print(f"==> {msg}", flush=True)


def git(*args, cwd=None, env=None, check=True, input=None, strip=True):
    """Run git in @cwd (the staged tree by default); return its output,
    stripped unless @strip is False."""
    cwd = cwd or P.src
    r = subprocess.run(["git", *args], cwd=cwd, env=dict(GIT_ENV, **(env or {})),
                       text=True, input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if check and r.returncode:
        die(f"git {' '.join(args)} failed in {cwd}:\n{r.stdout}{r.stderr}")
    return r.stdout.strip() if strip else r.stdout


def rev(name, cwd=None):
    return git("rev-parse", "-q", "--verify", f"{name}^{{commit}}", cwd=cwd,
               check=False)


def read_list(path):
    """The lines of a list file, without blank lines and # comments."""
    return [ln.strip() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


def lib_sh(script):
    """Run bash @script after sourcing lib.sh; return its stdout."""
    r = subprocess.run(["bash", "-c", f". {LIB}; {script}"], text=True,
                       stdout=subprocess.PIPE)
    if r.returncode:
        sys.exit(r.returncode)
    return r.stdout


@functools.lru_cache(maxsize=None)
def release_names(package, version):
    """The upstream release in Debian's @version of @package and the name
    of its orig tarball, as lib.sh derives them for the fetch scripts."""
    v = shlex.quote(version)
    return tuple(lib_sh(f"upstream_version {v}; orig_tarball {package} {v}").split())


@dataclass
class Base:
    package: str
    version: str                # Debian's, e.g. 1:10.2.2+ds-1
    sha256: str

    @property
    def upstream(self):
        return release_names(self.package, self.version)[0]

    @property
    def orig(self):
        return release_names(self.package, self.version)[1]


BASES = TOP / "project" / "bases"


def base(project=None):
    name = project or P.name
    for line in read_list(BASES):
        fields = line.split()
        if fields[0] == name:
            return Base(name, fields[1], fields[2])
    die(f"{BASES.relative_to(TOP)} has no line for {name}")


def set_base(new):
    lines = BASES.read_text().splitlines()
    out = [f"{P.name} {new.version} {new.sha256}" if ln.split()[:1] == [P.name]
           else ln for ln in lines]
    BASES.write_text("".join(ln + "\n" for ln in out))


# --- staging ---------------------------------------------------------

def pristine_message():
    """What the pristine commit says, and so what it must be remade for:
    the release, its Debian version and sha256, or QEMU_SRC."""
    b = base()
    origin = os.environ.get("QEMU_SRC") if P.name == "qemu" else None
    return (f"{P.title} {b.upstream} (pristine)\n\n" +
            (f"Source: {origin}\n" if origin else
             f"Debian: {P.name} {b.version}\nSha256: {b.sha256}\n"))


def ensure_pristine(tree):
    if not (tree / ".git").exists() or not rev("pristine", tree) or \
            git("log", "-1", "--format=%B", "pristine", cwd=tree) != \
            pristine_message().strip():
        make_pristine(tree)


def make_pristine(tree):
    """Commit the release as tag 'pristine' in @tree, a git repository
    created if needed; its branches and worktrees stay."""
    out = subprocess.run([str(TOP / "project" / "scripts" / P.fetch)],
                         stdout=subprocess.PIPE, text=True)
    if out.returncode:
        sys.exit(out.returncode)
    src = Path(out.stdout.strip().splitlines()[-1])
    note(f"importing {P.title} {base().upstream} from {src} into {tree}")
    tree.mkdir(parents=True, exist_ok=True)
    if not (tree / ".git").exists():
        git("init", "-q", "-b", "release", cwd=tree)
        # The tree is the release as shipped: ignore nothing, convert nothing.
        git("config", "core.autocrlf", "false", cwd=tree)
        (tree / ".git" / "info" / "exclude").write_text("")
    with tempfile.TemporaryDirectory(dir=tree.parent) as tmp:
        files = Path(tmp) / "files"
        files.mkdir()
        if src.is_dir():
            subprocess.run(["cp", "-a", "--no-preserve=ownership", f"{src}/.",
                            str(files)], check=True)
            shutil.rmtree(files / ".git", ignore_errors=True)
        else:
            subprocess.run(["tar", "-xf", str(src), "-C", str(files),
                            "--strip-components=1", "--no-same-owner"], check=True)
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"),
               "GIT_WORK_TREE": str(files)}
        git("add", "-A", "-f", ".", cwd=tree, env=env)
        tree_id = git("write-tree", cwd=tree, env=env)
    stamp = f"@{EPOCH} +0000"
    commit = git("commit-tree", tree_id, "-m", pristine_message(), cwd=tree,
                 env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
    git("tag", "-f", "pristine", commit, cwd=tree)


def try_am(patch_files, tree, three_way=False):
    """git am, keeping a subject's non-PATCH brackets ([PLACEHOLDER]), and
    the commit date the author's, so that staging is reproducible; the
    completed process (without patches, a success)."""
    if not patch_files:
        return subprocess.CompletedProcess([], 0, "", "")
    return subprocess.run(["git", "am", "-q", "--keep-cr", "--keep-non-patch",
                           "--committer-date-is-author-date",
                           *(["-3"] if three_way else []), *map(str, patch_files)],
                          cwd=tree, env=GIT_ENV, text=True, capture_output=True)


def am(patch_files, tree):
    r = try_am(patch_files, tree)
    if r.returncode:
        die(f"git am failed in {tree}:\n{r.stdout}{r.stderr}")


def base_fixups():
    d = P.base_fixups
    return [d / name for name in read_list(d / "series")] if d else []


def git_dir(tree):
    return Path(git("rev-parse", "--absolute-git-dir", cwd=tree))


def digest(s):
    """A digest of patches/<s>, cover letter aside."""
    h = hashlib.sha256()
    for f in [s.dir / "series"] + s.patch_files():
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _digest_file(tree, s):
    return git_dir(tree) / "series-staged" / s.name


def mark_staged(tree, s, head):
    """Record that @tree's @head is what patches/<s> holds now."""
    git("update-ref", f"refs/staged/{s.name}", head, cwd=tree)
    record_digest(tree, s)


def record_digest(tree, s):
    f = _digest_file(tree, s)
    f.parent.mkdir(exist_ok=True)
    f.write_text(digest(s) + "\n")


def staged_digest(tree, s):
    """The digest of the patches/<s> that @tree was last staged from or
    exported to, if any."""
    f = _digest_file(tree, s)
    return f.read_text().strip() if f.is_file() else None


def same_patches(s, tree):
    """Whether @s as @tree's branches have it is what patches/<s> holds,
    cover letter aside."""
    with tempfile.TemporaryDirectory() as tmp:
        format_series(s, tree, Path(tmp))
        ours = sorted(p.name for p in Path(tmp).glob("0*.patch"))
        theirs = sorted(p.name for p in s.dir.glob("0*.patch"))
        return ours == theirs and all(
            (Path(tmp) / n).read_text() == (s.dir / n).read_text()
            for n in ours if not n.startswith("0000-"))


def unexported(tree):
    """The series whose staged branch holds what patches/ does not."""
    return [s.name for s in P.series
            if rev(s.name, tree) and (not s.based_on or rev(s.based_on, tree)) and
            rev(s.name, tree) != rev(f"refs/staged/{s.name}", tree) and
            not same_patches(s, tree)]


def busy(tree):
    """Why @tree cannot be restaged or exported now, if it cannot."""
    gitdir = git_dir(tree)
    for d, what in (("rebase-merge", "a rebase"), ("rebase-apply", "a rebase or git am")):
        if (gitdir / d).exists():
            return f"{what} is in progress in {tree}: finish or abort it first"
    if git("status", "--porcelain", "--untracked-files=no", cwd=tree):
        return f"{tree} has uncommitted changes: commit them first"
    if not git("symbolic-ref", "-q", "HEAD", cwd=tree, check=False):
        return f"{tree} is on a detached HEAD: check out {P.series[-1].name}"
    return None


def stage(tree=None, force=False):
    """Apply the series in a scratch worktree, then move @tree's branches
    there: only files whose content changed are rewritten (ccache and
    ninja see the rest untouched)."""
    tree = tree or P.src
    patch_files = {s.name: s.patch_files() for s in P.series}
    if (tree / ".git").exists() and rev("pristine", tree) and not force:
        why = busy(tree)
        if why:
            die(f"{why} (or stage --force to drop it)")
        lost = unexported(tree)
        if lost:
            die(f"{tree}: branch(es) {', '.join(lost)} hold commits that "
                "patches/ does not: export them, or stage --force to drop them")
    ensure_pristine(tree)
    scratch = tree.parent / (tree.name + "-stage")
    if not (scratch / ".git").exists():
        git("worktree", "prune", cwd=tree)
        shutil.rmtree(scratch, ignore_errors=True)
        git("worktree", "add", "-q", "--detach", str(scratch), "pristine", cwd=tree)
    git("am", "--abort", cwd=scratch, check=False)
    git("reset", "-q", "--hard", cwd=scratch)
    git("clean", "-q", "-fdx", cwd=scratch)
    git("checkout", "-q", "--detach", "pristine", cwd=scratch)
    am(base_fixups(), scratch)
    git("tag", "-f", "base", cwd=scratch)
    heads = {}
    for s in P.series:
        am(patch_files[s.name], scratch)
        heads[s.name] = git("rev-parse", "HEAD", cwd=scratch)
    move_branches(tree, heads)
    for s in P.series:
        mark_staged(tree, s, heads[s.name])
    note(f"staged {', '.join(f'{n} ({len(f)})' for n, f in patch_files.items())} "
         f"on {P.title} {base().upstream} in {tree}")


def move_branches(tree, heads):
    """Check the last series' branch out at its new head (rewriting only
    the files that differ), then move the others."""
    last = P.series[-1].name
    git("checkout", "-q", "-f", "-B", last, heads[last], cwd=tree)
    for name, head in heads.items():
        if name != last:
            git("branch", "-f", name, head, cwd=tree)
    # A branch named like the tag makes every 'pristine' ambiguous.
    git("branch", "-q", "-D", "pristine", cwd=tree, check=False)


# --- export ----------------------------------------------------------

def series_range(s):
    return f"{s.based_on or 'base'}..{s.name}"


def cover_text(path):
    """The subject and blurb of an exported cover letter."""
    text = path.read_text()
    subject = re.search(r"^Subject: \[[^\]]*\] (.*(?:\n .*)*)", text, re.M).group(1)
    body = text.split("\n\n", 1)[1]
    # The blurb ends where format-patch's shortlog (one block an author)
    # starts, which only its diffstat follows.
    shortlog = re.compile(r"(?:[^\n]+ \(\d+\):\n(?:  .*\n)+\n)+ \S")
    end = next((m.start() for m in re.finditer(r"^\S.* \(\d+\):$", body, re.M)
                if shortlog.match(body, m.start())), len(body))
    return " ".join(subject.split()), body[:end].strip()


def format_series(s, tree, outdir):
    """Write @s as @tree's branches have it to @outdir, with
    @s's cover letter text (from patches/, else the branch's
    description)."""
    git("-c", "diff.noprefix=false", "-c", "core.abbrev=12", "format-patch", "-q",
        "--zero-commit", "--cover-letter", "--cover-from-description=none",
        "--no-signature",
        "--subject-prefix=PATCH", "-o", str(outdir), series_range(s), cwd=tree)
    names = sorted(p.name for p in outdir.glob("0*.patch")
                   if not p.name.startswith("0000-"))
    cover = outdir / "0000-cover-letter.patch"
    old = s.dir / cover.name
    if old.is_file():
        subject, blurb = cover_text(old)
    else:
        description = git("config", f"branch.{s.name}.description", cwd=tree,
                          check=False)
        subject, _, blurb = description.partition("\n")
        if not subject:
            die(f"patches/{s.name} has no cover letter yet: "
                f"git branch --edit-description {s.name} in {tree}")
    if not (subject + blurb).isascii():
        die(f"the cover letter of {s.name} is not ASCII: format-patch would "
            "not encode it")
    text = cover.read_text()
    text = text.replace(PLACEHOLDERS[0], subject).replace(PLACEHOLDERS[1], blurb.strip())
    # format-patch dates the cover letter now: give it the last patch's date.
    if names:
        date = re.search(r"^Date: .*$", (outdir / names[-1]).read_text(), re.M).group(0)
        text = re.sub(r"^Date: .*$", date, text, count=1, flags=re.M)
    cover.write_text(text)
    (outdir / "series").write_text("".join(n + "\n" for n in names))
    return names


def new_files(tree, tip):
    """Every file the project's series add, and the tip's mode for it."""
    added = git("diff", "-z", "--name-only", "--no-renames", "--diff-filter=A",
                "base", tip, cwd=tree, strip=False).split("\0")
    added = [f for f in added if f]
    if not added:
        return {}
    modes = {}
    for entry in git("ls-tree", "-r", "-z", tip, "--", *added, cwd=tree,
                     strip=False).split("\0"):
        if entry:
            meta, _, path = entry.partition("\t")
            modes[path] = meta.split()[0]
    return modes


def write_components(tree, tip, root):
    """The new files as @tip has them, in @root/<component>/<path>; what
    else the component directories held goes."""
    modes = new_files(tree, tip)
    wanted = {root / P.component_of(f) / f: f for f in modes}
    for comp in P.component_dirs:
        for path in sorted((root / comp).rglob("*"), reverse=True):
            if path.is_file() and path not in wanted:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    for dst, f in wanted.items():
        data = subprocess.run(["git", "show", f"{tip}:{f}"], cwd=tree, check=True,
                              env=GIT_ENV,
                              stdout=subprocess.PIPE).stdout
        if not dst.is_file() or dst.read_bytes() != data:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
        dst.chmod(0o755 if modes[f] == "100755" else 0o644)
    return len(wanted)


def export(tree=None, root=TOP):
    """Write the staged series and the component directories under
    @root (the repository, or a scratch copy for check)."""
    tree = tree or P.src
    why = busy(tree)
    if why:
        die(why)
    for s in P.series:
        if not rev(s.name, tree):
            die(f"{tree} has no branch {s.name}: stage first")
        start = s.based_on or "base"
        if subprocess.run(["git", "merge-base", "--is-ancestor", start, s.name],
                          cwd=tree, env=GIT_ENV).returncode:
            die(f"{tree}: branch {s.name} is not based on {start} "
                f"(rebase with --update-refs keeps the branches stacked)")
        # patches/ changed since this tree was staged (a pull): exporting
        # would undo that.
        recorded = staged_digest(tree, s)
        if root == TOP and recorded and recorded != digest(s):
            die(f"patches/{s.name} changed since {tree} was staged from it: "
                "stage it first (stage --force drops your staged commits)")
    for s in P.series:
        outdir = root / "patches" / s.name
        with tempfile.TemporaryDirectory() as tmp:
            names = format_series(s, tree, Path(tmp))
            if outdir.exists():
                shutil.rmtree(outdir)
            shutil.copytree(tmp, outdir)
        note(f"wrote {len(names)} patch(es) and a cover letter to "
             f"{outdir.relative_to(root)}")
        if root == TOP:
            mark_staged(tree, s, s.name)
    n = write_components(tree, P.series[-1].name, root)
    note(f"wrote the {n} file(s) the series add to "
         f"{', '.join(d + '/' for d in P.component_dirs)}")


# --- check -----------------------------------------------------------

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
                    if re.search(r"\b(ERROR|WARNING|CHECK):|Traceback", ln)
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


def worktree_at_pristine(path):
    shutil.rmtree(path, ignore_errors=True)
    git("worktree", "prune")
    git("worktree", "add", "-q", "-f", "--detach", str(path), "pristine")


def check_git_am(wt):
    """(a) Each series with git am on the release (the fixes), or on the
    series it is based on; returns the failures."""
    failures = []
    for s in P.series:
        files = s.patch_files()
        before = git("rev-parse", "HEAD", cwd=wt)
        r = try_am(files, wt)
        ok = r.returncode == 0 and \
            git("rev-list", "--count", f"{before}..HEAD", cwd=wt) == str(len(files))
        on = f"patches/{s.based_on}" if s.based_on else f"pristine {P.title} {base().upstream}"
        print(f"(a) git am of patches/{s.name} ({len(files)} patch(es)) onto {on}: "
              f"{'ok' if ok else 'FAILED'}")
        if not ok:
            print(r.stdout + r.stderr)
            git("am", "--abort", cwd=wt, check=False)
            failures.append(f"git am {s.name}")
            break
    return failures


def check_quilt(tmp, am_tip):
    """(a) quilt push -a of every series, without fuzz, on the release
    gives the tree git am gave."""
    qt = tmp / "quilt"
    worktree_at_pristine(qt)
    qpatches = tmp / "quilt-patches"
    qpatches.mkdir()
    lines = []
    for s in P.series:
        (qpatches / s.name).symlink_to(s.dir)
        lines += [f"{s.name}/{f.name}" for f in s.patch_files()]
    (qpatches / "series").write_text("".join(ln + "\n" for ln in lines))
    r = subprocess.run(["quilt", "push", "-a"], cwd=qt, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=dict(os.environ, QUILT_PATCHES=str(qpatches),
                                QUILT_PC=str(tmp / "quilt-pc")))
    ok = r.returncode == 0 and "fuzz" not in r.stdout and "FAILED" not in r.stdout
    if ok:
        git("add", "-A", "-f", ".", cwd=qt)
        same = subprocess.run(["git", "diff", "--cached", "--quiet", am_tip],
                              cwd=qt, env=GIT_ENV).returncode == 0
        if not same:
            print(git("diff", "--cached", "--stat", am_tip, cwd=qt))
        ok = same
    else:
        print(r.stdout[-5000:])
    print(f"(a) quilt push -a of {len(lines)} patch(es) onto pristine "
          f"{P.title}, the same tree as git am: {'ok' if ok else 'FAILED'}")
    git("worktree", "remove", "--force", str(qt), check=False)
    return [] if ok else ["quilt push -a"]


def check_drift(tmp):
    """(b) Stage patches/ afresh in a scratch clone, export it under a
    scratch root: patches/ and the component directories must not
    change."""
    clone = tmp / "stage"
    git("clone", "-q", "--shared", "--no-checkout", str(P.src), str(clone), cwd=tmp)
    git("tag", "-f", "pristine", rev("pristine"), cwd=clone)
    git("checkout", "-q", "--detach", "pristine", cwd=clone)
    stage(clone, force=True)
    root = tmp / "export"
    for comp in P.component_dirs:
        if (TOP / comp).is_dir():
            shutil.copytree(TOP / comp, root / comp)
    export(clone, root)
    drift = ""
    empty = tmp / "empty"
    empty.mkdir()
    for d in [f"patches/{s.name}" for s in P.series] + P.component_dirs:
        ours, fresh = TOP / d, root / d
        r = subprocess.run(["diff", "-r", "-u", "-N", "-x", "__pycache__",
                            str(ours if ours.is_dir() else empty),
                            str(fresh if fresh.is_dir() else empty)],
                           text=True, stdout=subprocess.PIPE)
        drift += r.stdout
        for f in fresh.rglob("*") if fresh.is_dir() else ():
            mine = ours / f.relative_to(fresh)
            if f.is_file() and mine.is_file() and \
                    (f.stat().st_mode ^ mine.stat().st_mode) & 0o111:
                drift += f"mode of {mine.relative_to(TOP)} differs\n"
    names = ", ".join([f"patches/{s.name}" for s in P.series] +
                      [d + "/" for d in P.component_dirs])
    print(f"(b) {names} are what exporting the staged series gives: "
          f"{'ok' if not drift else 'DRIFT'}")
    if drift:
        print(drift[:20000])
    failures = ["drift (run export)"] if drift else []
    lost = unexported(P.src)
    if lost:
        print(f"(b) {P.src} holds commits of {', '.join(lost)} that patches/ "
              "does not: export them")
        failures.append("unexported commits")
    # A cover letter says what it applies to: the release, as "v10.2.2".
    release = f"v{base().upstream}"
    for s in P.series:
        text = (s.dir / "0000-cover-letter.patch").read_text()
        if any(ph in text for ph in PLACEHOLDERS) or release not in text:
            print(f"(b) the cover letter of {s.name} lacks a subject, a text, "
                  f"or the base ({release})")
            failures.append(f"cover letter of {s.name}")
    return failures


def archive_sources():
    """The versions of P's source package that the archive lists, oldest
    first, each with its files' sha256 ({file: sha256})."""
    listing = lib_sh(f"private_apt_update >&2; private_apt_cache showsrc {P.name} "
                     "2>/dev/null || true")
    entries = {}
    for block in listing.split("\n\n"):
        v = re.search(r"^Version: (\S+)$", block, re.M)
        if v:
            entries[v.group(1)] = dict(
                (f, sha) for sha, f in re.findall(
                    r"^ ([0-9a-f]{64}) \d+ (\S+)$",
                    block.split("Checksums-Sha256:", 1)[-1], re.M))
    return dict(sorted(entries.items(), key=functools.cmp_to_key(
        lambda a, b: dpkg_compare(a[0], b[0]))))


def dpkg_compare(a, b):
    """-1, 0 or 1 as Debian version @a is older than, equal to or newer
    than @b, by dpkg itself."""
    def holds(op):
        return subprocess.run(["dpkg", "--compare-versions", a, op, b]).returncode == 0
    return -1 if holds("lt") else 1 if holds("gt") else 0


def newer_base():
    """Print whether the archive lists a release newer than the base, and
    whether its orig tarball can be fetched: informational only."""
    pinned = base()
    versions = [v for v in archive_sources() if dpkg_compare(v, pinned.version) > 0]
    if not versions:
        print(f"(e) base {P.title} {pinned.upstream} ({pinned.version}): "
              "the newest the archive lists")
        return
    newest = versions[-1]
    uris = lib_sh(f"private_apt source --print-uris -qq {P.name}={newest} "
                  "2>/dev/null || true")
    orig = Base(P.name, newest, "").orig
    uri = next((u for u, f in re.findall(r"^'(\S+)' (\S+) ", uris, re.M) if f == orig), None)
    status = "not listed with it"
    if uri:
        try:
            with urllib.request.urlopen(urllib.request.Request(uri, method="HEAD"),
                                        timeout=30):
                status = "fetchable: move with " \
                    f"project/scripts/series.py --project {P.name} rebase {newest}"
        except urllib.error.HTTPError as e:
            status = f"not fetchable (HTTP {e.code}): the base stays"
        except OSError as e:
            status = f"not fetchable ({e}): the base stays"
    print(f"(e) base {P.title} {pinned.upstream} ({pinned.version}); the archive "
          f"lists {newest}, whose {orig} is {status}")


def check(build_each=False, quick=False):
    failures = []
    if (P.src / ".git").exists() and rev("pristine"):
        ensure_pristine(P.src)
    else:
        stage()
    with tempfile.TemporaryDirectory(prefix="series-check-") as tmp:
        tmp = Path(tmp)
        # For --build, the tree is ../src of its build directory, as for
        # the others, so that ccache serves it; else a private one.
        wt = BUILD / P.name / "each" / "src" if build_each else tmp / "am"
        worktree_at_pristine(wt)
        try:
            failures += check_git_am(wt)
            am_tip = git("rev-parse", "HEAD", cwd=wt)
            if not quick and not failures:
                failures += check_quilt(tmp, am_tip)
            failures += check_drift(tmp)
            if not quick:
                patch_files = [f for s in P.series for f in s.patch_files()]
                n_bad = checkpatch(P.src, patch_files)
                n_bad += check_maintained(P.src, patch_files)
                print(f"(c) checkpatch.pl on {len(patch_files)} patch(es): "
                      f"{'clean' if not n_bad else f'{n_bad} with problems'}")
                if n_bad:
                    failures.append("checkpatch")
            if build_each and not failures:
                failures += build_every_patch(wt)
        finally:
            git("worktree", "remove", "--force", str(wt), check=False)
    if not quick:
        newer_base()
    if failures:
        die("check failed: " + ", ".join(failures))
    print("series check: all ok")


def build_every_patch(wt):
    """(d) Build at every patch (QEMU: qemu-system-aarch64, on top of the
    base fixups; Linux: the L1 kernel), in one build directory so each
    step is incremental."""
    commits = git("rev-list", "--reverse", "pristine..HEAD", cwd=wt).split()
    git("checkout", "-q", "--detach", "pristine", cwd=wt)
    am(base_fixups(), wt)
    failures = []
    for i, c in enumerate(commits, 1):
        git("cherry-pick", c, cwd=wt)
        start = time.time()
        prefix = P.name.upper()
        env = dict(os.environ, **{f"{prefix}_TREE": str(wt),
                                  f"{prefix}_BUILD_DIR": str(wt.parent / "build")})
        r = subprocess.run([str(TOP / "project" / "scripts" / P.build), "--no-stage"],
                           env=env)
        print(f"(d) build at patch {i}/{len(commits)}: "
              f"{'ok' if r.returncode == 0 else 'FAILED'} ({time.time() - start:.0f} s)")
        if r.returncode:
            failures.append(f"build at patch {i}")
    return failures


# --- rebase ----------------------------------------------------------

def rebase_steps():
    """What rebase applies, in order: (series or None for the base
    fixups, patch files)."""
    return [(None, base_fixups())] + [(s, s.patch_files()) for s in P.series]


def rebase_state(tree):
    return git_dir(tree) / "series-rebase"


def rebase(version=None):
    """Move the base to @version and restage on it with git am -3."""
    tree = P.src
    if (tree / ".git").exists():
        if rebase_state(tree).exists():
            die(f"a rebase is in progress in {tree}: rebase --continue")
        why = busy(tree)
        if why:
            die(why)
        lost = unexported(tree)
        if lost:
            die(f"{tree}: export {', '.join(lost)} first")
    entries = archive_sources()
    if not entries:
        die(f"the archive lists no {P.name} source package")
    version = version or list(entries)[-1]
    if version not in entries:
        die(f"the archive does not list {P.name} {version} "
            f"(it lists {', '.join(entries)})")
    orig = Base(P.name, version, "").orig
    sha256 = entries[version].get(orig)
    if not sha256:
        die(f"{P.name} {version} has no {orig}")
    old = base()
    r = subprocess.run(["bash", "-c", f'. {LIB}; fetch_orig "$@" "$(orig_dir "$1")"',
                        "fetch_orig", P.name, version, orig, sha256])
    if r.returncode:
        die(f"the archive lists {P.name} {version}, but its {orig} cannot be "
            f"downloaded: the base stays {old.version}")
    set_base(Base(P.name, version, sha256))
    note(f"project/bases: {P.name} {old.version} -> {version}")
    make_pristine(tree)
    git("checkout", "-q", "-f", "-B", P.series[-1].name, "pristine", cwd=tree)
    rebase_from(tree, 0)


def rebase_continue():
    tree = P.src
    state = rebase_state(tree)
    if not state.exists():
        die(f"no rebase in progress in {tree}")
    if (git_dir(tree) / "rebase-apply").exists():
        die(f"git am is still in progress in {tree}: git am --continue first")
    step = int(state.read_text())
    rebase_finish_step(tree, step)
    rebase_from(tree, step + 1)


def rebase_finish_step(tree, step):
    s = rebase_steps()[step][0]
    if s is None:
        git("tag", "-f", "base", cwd=tree)
    else:
        # The last series' branch is the one checked out.
        if s is not P.series[-1]:
            git("branch", "-f", s.name, "HEAD", cwd=tree)
        record_digest(tree, s)


def rebase_from(tree, first):
    """Apply rebase_steps() from @first with git am -3; at a conflict,
    leave it to the user and say how to go on."""
    state = rebase_state(tree)
    release = f"{P.title} {base().upstream}"
    for step, (s, files) in enumerate(rebase_steps()[first:], first):
        state.write_text(f"{step}\n")
        r = try_am(files, tree, three_way=True)
        if r.returncode:
            print(r.stdout + r.stderr)
            what = f"patches/{s.name}" if s else "the base fixups"
            die(f"{what} do(es) not apply on {release}: resolve the "
                f"conflict in {tree}, git am --continue, then "
                f"series.py --project {P.name} rebase --continue")
        rebase_finish_step(tree, step)
    state.unlink()
    note(f"restaged on {release}: now export, check --build, and update the "
         "cover letters' base")


def main():
    global P
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", choices=PROJECTS, default="qemu")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stage")
    s.add_argument("--force", action="store_true",
                   help="drop staged commits and changes that were not exported")
    sub.add_parser("export")
    c = sub.add_parser("check")
    c.add_argument("--build", action="store_true",
                   help="also build at every patch (slow)")
    c.add_argument("--quick", action="store_true",
                   help="only git am and the drift check")
    r = sub.add_parser("rebase")
    r.add_argument("version", nargs="?")
    r.add_argument("--continue", dest="cont", action="store_true",
                   help="go on after resolving a conflict")
    a = ap.parse_args()
    P = PROJECTS[a.project]
    if a.cmd == "stage":
        stage(force=a.force)
    elif a.cmd == "export":
        export()
    elif a.cmd == "rebase":
        rebase_continue() if a.cont else rebase(a.version)
    else:
        check(a.build, a.quick)


if __name__ == "__main__":
    main()
