#!/bin/bash
# The guest kernel for the BAR access tests, build/guest/vmlinuz: Debian's
# arm64 kernel (linux-image-arm64 from bookworm-backports, 6.12: Linux
# enables FEAT_MOPS for processes from 6.5 on, bookworm's 6.1 does not),
# downloaded as a .deb through a private apt configuration and unpacked,
# never installed; downloaded again only when it is missing or from
# another suite.  Its initramfs, project/guest/bar-access.c as /init, is built by
# project/guest/meson.build.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$BUILD/guest
mkdir -p "$out"

suite=bookworm-backports
if [ ! -f "$out/vmlinuz" ] || ! grep -qs "($suite)" "$out/vmlinuz.version"; then
    note "downloading Debian's arm64 kernel (linux-image-arm64, $suite)"
    private_apt_update
    pkg=$(private_apt_cache -t "$suite" depends linux-image-arm64 2>/dev/null |
          sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)/\1/p' | head -1)
    [ -n "$pkg" ] || die "cannot resolve linux-image-arm64 in $suite"
    rm -rf "$out/deb" && mkdir -p "$out/deb"
    (cd "$out/deb" && private_apt -t "$suite" download "$pkg" >/dev/null) ||
        die "cannot download $pkg"
    dpkg-deb --fsys-tarfile "$out"/deb/*.deb |
        tar -x -C "$out/deb" --wildcards './boot/vmlinuz-*'
    mv "$out"/deb/boot/vmlinuz-* "$out/vmlinuz"
    echo "$pkg $(dpkg-deb -f "$out"/deb/*.deb Version) ($suite)" >"$out/vmlinuz.version"
    rm -rf "$out/deb"
fi
echo "guest kernel: $(cat "$out/vmlinuz.version")"
