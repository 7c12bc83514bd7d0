"""The real-host runbook (project/docs/real-host-runbook.rst): its commands
run as written, taken from its code blocks, where this x86 host can run
them: the kernel's preparation on Debian's arm64 configuration, the
kernel package, the QEMU build and install, the guest program's build.

Only what cannot run here is replaced, each time in one place: the git
clone by a clone of the project's pristine trees, the running kernel's
configuration by Debian's arm64 one, the arm64 compiler by the cross
compiler (ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- in the
environment).
"""

import fcntl
import fnmatch
import os
import re
import shutil
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import guest
import vfio_user as vu
from wc import BUILD, QEMU, QEMU_SRC, RUNBOOK, TOP, run

LINUX_SRC = BUILD / "linux" / "patched" / "src"
LIB_SH = TOP / "project" / "scripts" / "lib.sh"
# Debian's arm64 packages the tests take files from, fetched with the
# project's private apt configuration (lib.sh), kept here.
DEBIAN_DEBS = BUILD / "runbook" / "debian"
# The suite of the Debian kernel whose configuration stands for the
# running kernel's: bookworm-backports' 6.12, which Debian 13 has too.
DEBIAN_KERNEL_SUITE = "bookworm-backports"
# ccache for the runbook's builds, shared with the staged trees' builds.
CCACHE_ENV = {"CCACHE_BASEDIR": str(BUILD), "CCACHE_NOHASHDIR": "1"}
# Ubuntu's configuration names Canonical's certificates, files of its
# kernel source package (e.g. Ubuntu 24.04's linux-image-*-generic
# config-*); Debian's names none.
UBUNTU_KEY_LINES = {
    "CONFIG_SYSTEM_TRUSTED_KEYS": '"debian/canonical-certs.pem"',
    "CONFIG_SYSTEM_REVOCATION_LIST": "y",
    "CONFIG_SYSTEM_REVOCATION_KEYS": '"debian/canonical-revoked-certs.pem"',
}
# The runbook's scripts/config options for the certificates.
KEY_FIX = ('--set-str SYSTEM_TRUSTED_KEYS "" \\\n'
           '    --set-str SYSTEM_REVOCATION_KEYS "" \\\n    ')
CROSS = {"ARCH": "arm64", "CROSS_COMPILE": "aarch64-linux-gnu-"}


def code_blocks():
    """The runbook's literal blocks, dedented."""
    text = RUNBOOK.read_text()
    return [textwrap.dedent(b)
            for b in re.findall(r"::\n\n((?:(?: {4}.*)?\n)+)", text)]


def block_with(marker):
    """The one code block that has @marker."""
    blocks = [b for b in code_blocks() if marker in b]
    assert len(blocks) == 1, f"{len(blocks)} runbook blocks have {marker!r}"
    return blocks[0]


def between(text, first, end=None):
    """@text from the line that starts with @first to the one that starts
    with @end (excluded), or to its end."""
    start = re.search(rf"^{re.escape(first)}", text, re.M)
    assert start, f"the runbook has no line {first!r}"
    rest = text[start.start():]
    if end is None:
        return rest
    stop = re.search(rf"^{re.escape(end)}", rest, re.M)
    assert stop, f"the runbook has no line {end!r} after {first!r}"
    return rest[:stop.start()]


class KernelSteps:
    """The runbook's kernel block, cut where the tests replace a line."""

    def __init__(self):
        block = block_with("bindeb-pkg")
        self.apt = between(block, "sudo apt-get install", "cd ~/barwc")
        self.env = between(block, "cd ~/barwc", "git clone")
        self.tree = between(block, "cd linux", "cp /boot/config")
        self.copy = between(block, "cp /boot/config", "scripts/config")
        self.config = between(block, "scripts/config", "make -j$(nproc) bindeb-pkg")
        self.package = between(block, "make -j$(nproc) bindeb-pkg", "sudo dpkg -i")
        self.install = re.search(r"^sudo dpkg -i \.\./(\S+)$", block, re.M).group(1)
        assert self.copy == "cp /boot/config-$(uname -r) .config\n", self.copy


def packages(apt_line):
    """The packages of an 'sudo apt-get install' line."""
    return apt_line.replace("\\\n", " ").split()[3:]


def assert_installed(names):
    """Each of @names is installed on this host."""
    missing = [p for p in names
               if "install ok installed" not in run(
                   ["dpkg-query", "-W", "-f=${Status}", p]).stdout]
    assert not missing, (f"{missing} not installed: "
                         "project/scripts/install-host-deps.sh installs them")


def private_apt_download(package, suite, depends_on=None):
    """Debian's arm64 @package from @suite in DEBIAN_DEBS, downloaded once
    by lib.sh's download_deb; or, with @depends_on (a pattern), the package
    of that name that @package depends on.  Its path."""
    DEBIAN_DEBS.mkdir(parents=True, exist_ok=True)
    with open(DEBIAN_DEBS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = DEBIAN_DEBS / f"{package}.{suite}"
        if stamp.exists() and (DEBIAN_DEBS / stamp.read_text()).exists():
            return DEBIAN_DEBS / stamp.read_text()
        r = run(["bash", "-euo", "pipefail", "-c",
                 f'. {LIB_SH}; download_deb "$@"', "download_deb", suite,
                 package, str(DEBIAN_DEBS), *([depends_on] if depends_on else [])])
        assert r.returncode == 0, r.stdout[-3000:]
        deb = Path(r.stdout.splitlines()[-1])
        stamp.write_text(deb.name)
        return deb


@pytest.fixture(scope="module")
def debian_config(tmp_path_factory):
    """/boot/config-* of Debian's arm64 kernel package."""
    deb = private_apt_download("linux-image-arm64", DEBIAN_KERNEL_SUITE,
                               depends_on="linux-image-[0-9][^ ]*")
    out = tmp_path_factory.mktemp("debian-config")
    r = run(["sh", "-c", f"dpkg-deb --fsys-tarfile {deb} | "
             f"tar -x -C {out} --wildcards './boot/config-*'"])
    assert r.returncode == 0, r.stdout
    (config,) = (out / "boot").glob("config-*")
    return config


def runbook_env(home, **extra):
    """The environment the runbook's lines run in: @home, no git identity
    but the runbook's, cross-building for arm64."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "XDG_CONFIG"))}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", **CROSS)
    env.update(extra)
    return env


def run_script(script, home, timeout=600, **env):
    """@script in bash -euo pipefail, in @home."""
    return run(["bash", "-euo", "pipefail", "-c", script], cwd=home,
               env=runbook_env(home, **env), timeout=timeout)


def env_file_block():
    """The runbook's lines that write ~/barwc/env, with this checkout."""
    return block_with("~/barwc/env").replace("/path/to/this/repo", str(TOP))


def kernel_tree(home, steps, tree=None):
    """The runbook's ~/barwc in @home: its env file, then the kernel block's
    lines up to the git am loop (or @tree instead of them), with a clone
    of the pristine 7.1.8 tree for the git clone.  The result."""
    clone = f"git clone -q --shared --branch pristine {LINUX_SRC} linux\n"
    return run_script(env_file_block() + steps.env + clone + (tree or steps.tree),
                      home)


def config_script(steps, config, key_fix=True):
    """The kernel block's lines from the env file to the grep, with
    @config for the running kernel's; without @key_fix, the scripts/config
    line less its certificate options."""
    lines = steps.config
    if not key_fix:
        assert KEY_FIX in lines, lines
        lines = lines.replace(KEY_FIX, "")
    return steps.env + "cd linux\n" + f"cp {config} .config\n" + lines


def dotconfig(tree):
    """{CONFIG_X: value} of @tree's .config."""
    return dict(re.findall(r"^(CONFIG_\w+)=(.*)$",
                           (tree / ".config").read_text(), re.M))


def series_count():
    """The patches of the Linux series, linux-fixes and linux."""
    return sum(len((TOP / "patches" / s / "series").read_text().split())
               for s in ("linux-fixes", "linux"))


def assert_series_applied(tree):
    applied = run(["git", "-C", str(tree), "rev-list", "--count",
                   "pristine..HEAD"]).stdout.strip()
    assert applied == str(series_count()), applied


@pytest.fixture(scope="module")
def prepared_home(linux_pristine):
    """A home in which the runbook's kernel lines have run up to the git am
    loop; removed afterwards (the tree is 1.8 GB)."""
    with tempfile.TemporaryDirectory(prefix="runbook-home-") as tmp:
        home = Path(tmp)
        r = kernel_tree(home, KernelSteps())
        assert r.returncode == 0, r.stdout[-5000:]
        assert_series_applied(home / "barwc" / "linux")
        yield home


def with_ubuntu_keys(config, out):
    """@config with Ubuntu's certificate lines, as @out."""
    text = config.read_text()
    for name, value in UBUNTU_KEY_LINES.items():
        text = re.sub(rf"^(# {name} is not set|{name}=.*)\n", "", text, flags=re.M)
        text += f"{name}={value}\n"
    out.write_text(text)
    return out


@pytest.mark.runbook
@pytest.mark.parametrize("flavour", [
    "debian", "ubuntu_keys",
    pytest.param("ubuntu_keys_no_fix", id="ubuntu_keys_fails_without_key_fix")])
def test_runbook_kernel_config(prepared_home, debian_config, flavour):
    """The runbook's kernel lines from cd ~/barwc to its grep, as written, on Debian's arm64 configuration (6.12, bookworm-backports), cross-built: the series applied by its git am loop with its git identity, then KVM=y, VFIO_PCI=m, PTDUMP_STAGE2_DEBUGFS=y, DEBUG_INFO_BTF=y kept (pahole is installed), SYSTEM_TRUSTED_KEYS empty, and make builds certs/; the same with Ubuntu's two certificate lines added; and without the runbook's certificate options that make stops at certs/ on Canonical's file

    Ubuntu's whole configuration is not tested (only Debian's archive is
    reachable here): only its certificate lines, on Debian's."""
    steps = KernelSteps()
    assert_installed(packages(steps.apt))
    config = debian_config
    if flavour.startswith("ubuntu_keys"):
        config = with_ubuntu_keys(debian_config, prepared_home / "config-ubuntu-keys")
    tree = prepared_home / "barwc" / "linux"
    r = run_script(config_script(steps, config, key_fix=flavour != "ubuntu_keys_no_fix"),
                   prepared_home)
    assert r.returncode == 0, r.stdout[-5000:]
    values = dotconfig(tree)
    want = {"CONFIG_KVM": "y", "CONFIG_PTDUMP_STAGE2_DEBUGFS": "y",
            "CONFIG_DEBUG_INFO_BTF": "y"}
    got = {k: values.get(k) for k in want}
    assert got == want, got
    assert values.get("CONFIG_VFIO_PCI") in ("m", "y"), values.get("CONFIG_VFIO_PCI")
    # The runbook's grep shows them.
    for name in ("CONFIG_KVM", "CONFIG_VFIO_PCI", "CONFIG_PTDUMP_STAGE2_DEBUGFS",
                 "CONFIG_DEBUG_INFO_BTF"):
        assert f"{name}={values[name]}" in r.stdout.splitlines(), r.stdout[-3000:]
    certs = run(["make", f"-j{os.cpu_count()}", "certs/"], cwd=tree,
                env=runbook_env(prepared_home), timeout=900)
    if flavour == "ubuntu_keys_no_fix":
        assert values["CONFIG_SYSTEM_TRUSTED_KEYS"] == UBUNTU_KEY_LINES[
            "CONFIG_SYSTEM_TRUSTED_KEYS"], values["CONFIG_SYSTEM_TRUSTED_KEYS"]
        assert certs.returncode != 0, certs.stdout[-3000:]
        assert ("No rule to make target 'debian/canonical-certs.pem', needed "
                "by 'certs/x509_certificate_list'") in certs.stdout, certs.stdout[-3000:]
        return
    assert values["CONFIG_SYSTEM_TRUSTED_KEYS"] == '""', values["CONFIG_SYSTEM_TRUSTED_KEYS"]
    assert values.get("CONFIG_SYSTEM_REVOCATION_KEYS", '""') == '""', \
        values["CONFIG_SYSTEM_REVOCATION_KEYS"]
    assert certs.returncode == 0, certs.stdout[-5000:]
    assert (tree / "certs" / "x509_certificate_list").exists()


@pytest.mark.runbook
def test_runbook_git_am_fails_without_identity(linux_pristine, tmp_path):
    """The runbook's git am loop on pristine 7.1.8, in a home with no git identity, less its two git config lines: git am stops, Committer identity unknown (the runbook's lines as written apply the series: runbook_kernel_config_*)"""
    steps = KernelSteps()
    identity = re.findall(r"^git config user\.\w+ .*\n", steps.tree, re.M)
    assert len(identity) == 2, steps.tree
    tree = steps.tree
    for line in identity:
        tree = tree.replace(line, "")
    r = kernel_tree(tmp_path, steps, tree)
    assert r.returncode != 0, r.stdout[-3000:]
    assert "Committer identity unknown" in r.stdout, r.stdout[-3000:]


@pytest.mark.guest
def test_runbook_bar_access_program(tmp_path):
    """The runbook's gcc line for project/guest/bar-access.c, with aarch64-linux-gnu-gcc for gcc: a static aarch64 program that, run in a guest (patched QEMU, TCG, Debian's kernel) by a shell rather than as process 1, refuses the cases with the line the runbook quotes"""
    build = block_with("gcc -static")
    line = between(build, "gcc ")
    home = tmp_path / "home"
    home.mkdir()
    r = run_script(env_file_block() + between(build, "cd ~/barwc", "gcc ") +
                   line.replace("gcc ", "aarch64-linux-gnu-gcc ", 1), home)
    assert r.returncode == 0, r.stdout
    program = home / "barwc" / "bar-access"
    kind = run(["file", "-b", str(program)]).stdout
    assert "ARM aarch64" in kind and "statically linked" in kind, kind
    quoted = re.search(r"it prints ``(bar-access: outside /init[^`]*)``",
                       " ".join(RUNBOOK.read_text().split())).group(1)
    # An initramfs whose /init is Debian's static busybox running the
    # program as its child.
    busybox = private_apt_download("busybox-static", "bookworm")
    root = tmp_path / "initramfs"
    (root / "bin").mkdir(parents=True)
    r = run(["sh", "-c", f"dpkg-deb --fsys-tarfile {busybox} | tar -xO "
             f"./bin/busybox > {root}/bin/busybox"])
    assert r.returncode == 0, r.stdout
    (root / "bin" / "busybox").chmod(0o755)
    shutil.copy(program, root / "bar-access")
    (root / "init").write_text(
        "#!/bin/busybox sh\n"
        "/bin/busybox mkdir -p /sys\n"
        "/bin/busybox mount -t sysfs sysfs /sys\n"
        f"BAR_ACCESS_DEVICE={guest.IVSHMEM_ID} BAR_ACCESS_BAR={guest.IVSHMEM_BAR} "
        "/bar-access\n"
        "echo \"runbook: exit $?\"\n"
        "/bin/busybox poweroff -f\n")
    (root / "init").chmod(0o755)
    cpio = tmp_path / "initramfs.cpio"
    r = run(["sh", "-c", f"cd {root} && find . | cpio --quiet -o -H newc > {cpio}"])
    assert r.returncode == 0, r.stdout
    shm = tmp_path / "shm"
    shm.write_bytes(bytes(1 << 20))
    r = run([str(QEMU["patched"]), "-M", "virt", "-cpu", "max", "-m", "512",
             "-display", "none", "-serial", "stdio", "-monitor", "none",
             "-no-reboot", "-nic", "none",
             "-kernel", str(guest.GUEST / "vmlinuz"), "-initrd", str(cpio),
             "-append", "console=ttyAMA0 quiet panic=-1",
             "-object", f"memory-backend-file,id=shm,mem-path={shm},size=1M,share=on",
             "-device", "ivshmem-plain,memdev=shm"], timeout=300)
    log = r.stdout.replace("\r", "")
    assert "runbook: exit 0" in log, log[-3000:]
    assert quoted in log.splitlines(), (quoted, log[-3000:])
    assert not guest.parse_table(log), log[-3000:]
    assert shm.read_bytes() == bytes(1 << 20), "the program wrote to the BAR"


@pytest.mark.runbook
def test_runbook_kernel_package(debian_config):
    """The runbook's kernel lines as written on Debian's arm64 configuration, cross-built on x86 (hours on 2 cores: Debian's configuration builds every module, with debug information and BTF): its bindeb-pkg with its LOCALVERSION makes the package its dpkg -i names, one, arm64, with the kernel and a config that has PTDUMP_STAGE2_DEBUGFS=y"""
    steps = KernelSteps()
    assert_installed(packages(steps.apt))
    home = BUILD / "runbook-kernel" / "home"
    tree = home / "barwc" / "linux"
    # The tree is kept: a rerun builds what changed.  One that is not the
    # series' (another series, an interrupted git am) is made again.
    want = run(["git", "-C", str(LINUX_SRC), "rev-parse", "HEAD^{tree}"]).stdout
    have = run(["git", "-C", str(tree), "rev-parse", "HEAD^{tree}"]).stdout \
        if tree.exists() else ""
    if have != want:
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        r = kernel_tree(home, steps)
        assert r.returncode == 0, r.stdout[-5000:]
    for deb in (home / "barwc").glob("*.deb"):
        deb.unlink()
    r = run_script(config_script(steps, debian_config), home)
    assert r.returncode == 0, r.stdout[-5000:]
    start = time.monotonic()
    # The runbook installs the package's build dependencies, native on
    # arm64; this cross build has the ones it uses (DPKG_FLAGS=-d).
    r = run_script(steps.env + "cd linux\n" + steps.package, home,
                   timeout=6 * 3600, DPKG_FLAGS="-d",
                   CROSS_COMPILE="ccache aarch64-linux-gnu-", **CCACHE_ENV)
    print(f"  bindeb-pkg: {time.monotonic() - start:.0f} s")
    assert r.returncode == 0, r.stdout[-5000:]
    localversion = re.search(r"LOCALVERSION=(\S+)", steps.package).group(1)
    debs = sorted(p.name for p in (home / "barwc").glob("*.deb"))
    named = [d for d in debs if fnmatch.fnmatch(d, steps.install)]
    assert len(named) == 1, f"dpkg -i ../{steps.install} names {named} of {debs}"
    deb = home / "barwc" / named[0]
    arch = run(["dpkg-deb", "-f", str(deb), "Architecture"]).stdout.strip()
    assert arch == "arm64", arch
    release = (tree / "include" / "config" / "kernel.release").read_text().strip()
    assert release == f"7.1.8{localversion}", release
    files = run(["dpkg-deb", "-c", str(deb)]).stdout
    for path in (f"./boot/vmlinuz-{release}", f"./boot/config-{release}"):
        assert path in files, (path, files)
    config = run(["sh", "-c", f"dpkg-deb --fsys-tarfile {deb} | "
                  f"tar -xO ./boot/config-{release}"]).stdout
    assert "CONFIG_PTDUMP_STAGE2_DEBUGFS=y" in config.splitlines()


@pytest.mark.runbook
def test_runbook_qemu_install():
    """the runbook's QEMU: its configure line, make and make install (into a DESTDIR) on the series' tree; the installed qemu-system-aarch64 has bar0-wc ... bar5-wc and answers query-vfio-pci-bars"""
    block = block_with("../configure ")
    assert_installed(packages(between(block, "sudo apt-get install", "cd ~/barwc")))
    configure = re.search(r"^\.\./configure (.*)$", block, re.M).group(1).split()
    for line in ("make -j$(nproc)\n", "sudo make install\n"):
        assert line in block, f"the runbook has no {line.strip()!r}"
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
    vm = vu.launch("-nodefaults", qemu=qemu)
    try:
        bars = vm.cmd("query-vfio-pci-bars")
    finally:
        rc, out = vu.stop(vm)
    assert bars == [] and rc == 0, (bars, rc, out)
