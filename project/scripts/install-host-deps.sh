#!/bin/bash
# Install what this project needs to build and test on Debian 12 (bookworm).
#
# System changes, each made once and reported (re-running changes nothing):
#   - adds /etc/apt/sources.list.d/qemu-wc-bookworm-backports.sources
#     (bookworm-backports, binary packages only, from the archive that the
#     machine's own apt sources name; apt's default pinning keeps
#     backports at priority 100, so only what is asked for with -t comes from it)
#   - installs Debian packages with apt-get (list below), meson and
#     python3-pycotap from bookworm-backports (QEMU 10.2 needs meson >= 1.5)
# Source packages are fetched with a project-private apt configuration
# (project/scripts/fetch-qemu.sh, project/scripts/fetch-guest.sh): nothing else is touched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

BACKPORTS=/etc/apt/sources.list.d/qemu-wc-bookworm-backports.sources
PKGS=(
    build-essential ninja-build pkg-config ccache git python3 python3-venv
    libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev device-tree-compiler
    flex bison bc bzip2 xz-utils cpio file perl valgrind
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    libjson-c-dev libcmocka-dev python3-ply python3-git
    ipxe-qemu gdb python3-sphinx python3-sphinx-rtd-theme quilt
    debhelper kmod rsync python3-pytest strace libssl-dev libelf-dev libdw-dev dwarves
    libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-efi-aarch64
)
BACKPORT_PKGS=(meson python3-pycotap)

if ! grep -qs bookworm-backports "$BACKPORTS"; then
    archive=$(debian_archive)
    echo "install-host-deps: adding $BACKPORTS (bookworm-backports from $archive," \
        "the archive this machine's apt sources use)"
    $SUDO tee "$BACKPORTS" >/dev/null <<SRC
Types: deb
URIs: $archive
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    need_update=1
fi

missing() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
            echo "$p"
    done
}

meson_ok() {
    command -v meson >/dev/null &&
        dpkg --compare-versions "$(meson --version)" ge 1.5
}

todo=$(missing "${PKGS[@]}")
bp_todo=$(missing "${BACKPORT_PKGS[@]}")
meson_ok || bp_todo="${BACKPORT_PKGS[*]}"

if [ -z "$todo" ] && [ -z "$bp_todo" ]; then
    echo "install-host-deps: everything is installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Whether apt has fetched bookworm-backports' package index (apt may keep
# it compressed, under its name plus a suffix).
backports_indexed() {
    local f
    for f in $(apt-get indextargets --format '$(FILENAME)' \
                   'Release: bookworm-backports' 'Created-By: Packages'); do
        compgen -G "$f*" >/dev/null && return 0
    done
    return 1
}

if [ -n "${need_update:-}" ] || ! backports_indexed; then
    $SUDO apt-get update -q
fi
if [ -n "$todo" ]; then
    echo "install-host-deps: installing" $todo
    $SUDO apt-get install -y -q --no-install-recommends $todo
fi
if [ -n "$bp_todo" ]; then
    echo "install-host-deps: installing from bookworm-backports:" $bp_todo
    $SUDO apt-get install -y -q --no-install-recommends -t bookworm-backports $bp_todo
fi
