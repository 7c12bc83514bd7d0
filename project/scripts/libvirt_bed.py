#!/usr/bin/env python3
"""A real libvirt daemon for the tests, without touching the machine's own.

Debian's libvirtd (bookworm, 9.0), run as root in a private mount
namespace (unshare -m) whose /etc/libvirt, /run/libvirt, /var/lib/libvirt,
/var/log/libvirt and /var/cache/libvirt are directories of a temporary
one: the machine's libvirt configuration, domains and sockets are neither
read nor changed, and the daemon and its QEMU processes end with the
namespace's script.  qemu.conf runs QEMU as root without a security
driver, so that it can reach the test server's socket.  A domain can
keep an emulator path under /opt that this machine does not have (an
installed QEMU): the namespace then has a tmpfs over /opt, hiding the
machine's, with a link at that path to the binary that stands for it.

  with Libvirt(emulators={"/opt/q/bin/qemu-system-aarch64": qemu}) as lv:
      out = lv.run(["virsh define dom.xml", "virsh start dom", ...])
"""

import os
import subprocess
import tempfile
from pathlib import Path

QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
stdio_handler = "file"
"""

PRIVATE_DIRS = {"etc": "/etc/libvirt", "run": "/run/libvirt",
                "lib": "/var/lib/libvirt", "log": "/var/log/libvirt",
                "cache": "/var/cache/libvirt"}

# Inside the namespace: the private directories, the emulators under
# /opt, libvirtd in the foreground (stopped on exit), then the commands;
# each command's output follows a "### <command>" line, and
# "### exit <status>" ends it.
NAMESPACE_SCRIPT = """\
set -u
for d in {binds}; do
    mkdir -p "${{d#*=}}"
    mount --bind "${{d%%=*}}" "${{d#*=}}" || exit 100
done
if [ -n "{links}" ]; then
    mount -t tmpfs opt /opt || exit 100
    for l in {links}; do
        mkdir -p "$(dirname "${{l#*=}}")"
        ln -s "${{l%%=*}}" "${{l#*=}}" || exit 100
    done
fi
libvirtd >{log} 2>&1 &
daemon=$!
trap 'kill $daemon; wait $daemon' EXIT
for i in $(seq 150); do
    virsh -c qemu:///system list >/dev/null 2>&1 && break
    sleep 0.2
done
while IFS= read -r cmd; do
    echo "### $cmd"
    bash -c "$cmd" 2>&1
    echo "### exit $?"
done <{commands}
"""


class Libvirt:
    """A private libvirt daemon's directories; run() starts it for a list
    of shell commands (virsh talks to it as qemu:///system).  @emulators:
    {path under /opt: the binary it stands for}."""

    def __init__(self, emulators=None):
        self.emulators = emulators or {}
        for path in self.emulators:
            if not path.startswith("/opt/"):
                raise ValueError(f"{path}: only emulators under /opt can be given")

    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="libvirt-bed-")
        self.dir = Path(self.tmp.name)
        for name in PRIVATE_DIRS:
            (self.dir / name).mkdir()
        (self.dir / "etc" / "qemu.conf").write_text(QEMU_CONF)
        (self.dir / "etc" / "libvirtd.conf").write_text("")
        return self

    def __exit__(self, *exc):
        self.tmp.cleanup()

    def private(self, path):
        """Where @path, under one of the daemon's private directories, is
        outside the namespace."""
        for name, inside in PRIVATE_DIRS.items():
            if Path(path).is_relative_to(inside):
                return self.dir / name / Path(path).relative_to(inside)
        raise ValueError(f"{path} is in none of {', '.join(PRIVATE_DIRS.values())}")

    def run(self, commands, timeout=300):
        """Run @commands, one shell command each, in the directory of the
        bed (self.dir), with the daemon up: [(command, status, output)]."""
        listing = self.dir / "commands"
        listing.write_text("".join(c + "\n" for c in commands))
        binds = " ".join(f"{self.dir / name}={path}"
                         for name, path in PRIVATE_DIRS.items())
        links = " ".join(f"{target}={path}" for path, target in self.emulators.items())
        script = NAMESPACE_SCRIPT.format(binds=binds, links=links,
                                         log=self.dir / "libvirtd.log", commands=listing)
        r = subprocess.run(["unshare", "-m", "bash", "-c", script], cwd=self.dir,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout,
                           env=dict(os.environ, LIBVIRT_DEFAULT_URI="qemu:///system"))
        results, cmd, lines = [], None, []
        for line in r.stdout.splitlines():
            if line.startswith("### exit ") and cmd is not None:
                results.append((cmd, int(line[9:]), "\n".join(lines)))
                cmd, lines = None, []
            elif line.startswith("### "):
                cmd, lines = line[4:], []
            else:
                lines.append(line)
        if len(results) != len(commands):
            log = (self.dir / "libvirtd.log")
            raise RuntimeError(f"libvirt bed: {r.stdout[-2000:]}\n"
                               f"{log.read_text()[-2000:] if log.exists() else ''}")
        return results
