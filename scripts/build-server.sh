#!/bin/bash
# Build the vfio-user test device (tests-qtest/out-of-tree/vfio-user-wc-server.c)
# against the libvfio-user that QEMU's tarball ships (subprojects/libvfio-user),
# as a static library: build/server/vfio-user-wc-server.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lib_src=$BUILD/qemu/patched/src/subprojects/libvfio-user
[ -d "$lib_src" ] || "$TOP/scripts/series.py" stage
out=$BUILD/server
mkdir -p "$out"
src=$TOP/tests-qtest/out-of-tree/vfio-user-wc-server.c

if [ ! -f "$out/libvfio-user/build.ninja" ]; then
    note "configuring libvfio-user from $lib_src"
    rm -rf "$out/libvfio-user"
    meson setup -Ddefault_library=static -Dbuildtype=release \
        "$out/libvfio-user" "$lib_src" >"$out.configure.log" 2>&1 ||
        { tail -20 "$out.configure.log"; die "libvfio-user configure failed"; }
fi
ninja -C "$out/libvfio-user" lib/libvfio-user.a >/dev/null
if [ ! -x "$out/vfio-user-wc-server" ] || [ "$src" -nt "$out/vfio-user-wc-server" ]; then
    note "building $out/vfio-user-wc-server"
    gcc -O2 -g -Wall -Werror -I"$lib_src/include" -o "$out/vfio-user-wc-server" \
        "$src" "$out/libvfio-user/lib/libvfio-user.a" -ljson-c -ldl -lpthread
fi
echo "server: $out/vfio-user-wc-server"
