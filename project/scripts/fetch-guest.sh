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
    rm -rf "$out/deb"
    deb=$(download_deb "$suite" linux-image-arm64 "$out/deb" 'linux-image-[0-9][^ ]*')
    dpkg-deb --fsys-tarfile "$deb" |
        tar -x -C "$out/deb" --wildcards './boot/vmlinuz-*'
    mv "$out"/deb/boot/vmlinuz-* "$out/vmlinuz"
    echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) ($suite)" \
        >"$out/vmlinuz.version"
    rm -rf "$out/deb"
fi
echo "guest kernel: $(cat "$out/vmlinuz.version")"
