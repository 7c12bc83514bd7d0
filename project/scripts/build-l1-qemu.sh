#!/bin/bash
# The nested test bed's L1 QEMU: qemu-system-aarch64 for arm64, static,
# KVM only, with the virt board and vfio-pci
# (project/nested/l1-qemu-devices.mak), built from the
# staged patched tree with ccache into build/qemu/l1/build.
#
# Its libraries come from a private arm64 sysroot, build/qemu/l1/sysroot:
# Debian bookworm's arm64 -dev packages, downloaded through the private apt
# configuration and unpacked, never installed (libfdt-dev is not
# Multi-Arch: same, so installing its arm64 package would remove the
# host's).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$BUILD/qemu/patched/src
bdir=$BUILD/qemu/l1/build
sysroot=$BUILD/qemu/l1/sysroot
libdir=$sysroot/usr/lib/aarch64-linux-gnu
[ -d "$tree/.git" ] || "$TOP/project/scripts/series.py" stage

if [ ! -f "$sysroot/.unpacked" ]; then
    note "downloading Debian's arm64 libraries for L1 QEMU into $sysroot"
    private_apt_update
    rm -rf "$sysroot" && mkdir -p "$sysroot/deb"
    (cd "$sysroot/deb" && private_apt download libglib2.0-dev libpcre2-dev \
        zlib1g-dev libfdt-dev libffi-dev >/dev/null) ||
        die "cannot download the arm64 libraries"
    for deb in "$sysroot"/deb/*.deb; do
        dpkg-deb -x "$deb" "$sysroot"
    done
    touch "$sysroot/.unpacked"
fi

export CCACHE_BASEDIR=$BUILD
export CCACHE_NOHASHDIR=1
export PKG_CONFIG_LIBDIR=$libdir/pkgconfig:$sysroot/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$sysroot
export PKG_CONFIG=pkg-config
devices=$TOP/project/nested/l1-qemu-devices
# configure looks for NAME.mak under configs/devices/aarch64-softmmu/.
devices_name=$(realpath -m --relative-to="$tree/configs/devices/aarch64-softmmu" "$devices")
config=(
    --cross-prefix=aarch64-linux-gnu- --cc="ccache aarch64-linux-gnu-gcc"
    --host-cc=gcc --python=/usr/bin/python3 --static
    --target-list=aarch64-softmmu
    --without-default-features --without-default-devices
    --with-devices-aarch64="$devices_name"
    --disable-tcg --enable-kvm --enable-fdt=system --disable-pixman
    --disable-tools --disable-guest-agent --disable-docs
    --disable-install-blobs --enable-werror
    # meson's find_library() ignores LIBRARY_PATH for a cross compiler.
    --extra-cflags="-B$libdir/" --extra-ldflags="-L$libdir"
)
stamp="${config[*]} $(cat "$devices.mak")"
if [ ! -f "$bdir/build.ninja" ] || [ "$(cat "$bdir/.configured-with" 2>/dev/null)" != "$stamp" ]; then
    note "configuring $bdir"
    rm -rf "$bdir" && mkdir -p "$bdir"
    (cd "$bdir" && "$tree/configure" "${config[@]}" >configure.log 2>&1) || {
        tail -30 "$bdir/configure.log"
        die "configure failed (log: $bdir/configure.log)"
    }
    echo "$stamp" >"$bdir/.configured-with"
fi
note "building the L1 QEMU in $bdir"
start=$(date +%s)
run_logged "$bdir/ninja.log" ninja -C "$bdir" qemu-system-aarch64 || {
    tail -40 "$bdir/ninja.log"
    die "L1 QEMU build failed (log: $bdir/ninja.log)"
}
# Stripped again only when relinked: nested_kvm.py remakes L1's initramfs
# whenever the stripped binary is newer than it.
if [ ! "$bdir/qemu-system-aarch64.stripped" -nt "$bdir/qemu-system-aarch64" ]; then
    aarch64-linux-gnu-strip -o "$bdir/qemu-system-aarch64.stripped" \
        "$bdir/qemu-system-aarch64"
fi
note "built $bdir/qemu-system-aarch64.stripped in $(( $(date +%s) - start )) s"
