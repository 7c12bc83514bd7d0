#!/bin/bash
# Stage the series and build qemu-system-aarch64 for this host, with ccache.
#
#   build-qemu.sh            the patched tree: build/qemu/patched/{src,build},
#                            configured for its docs too
#   build-qemu.sh --stock    stock QEMU (pristine + base fixups only):
#                            build/qemu/stock/{src,build}
#   build-qemu.sh --asan     the patched tree with AddressSanitizer and
#                            UndefinedBehaviorSanitizer: build/qemu/asan/build
#   build-qemu.sh --no-stage build QEMU_TREE as it is (series.py check --build)
#
# Extra ninja targets may follow the options.  The build directory is
# configured once and reused, so editing one source file rebuilds only what
# depends on it; the time taken is printed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

parse_build_options "$@"

if [ -n "$stock" ]; then
    tree=${QEMU_TREE:-$BUILD/qemu/stock/src}
    bdir=${QEMU_BUILD_DIR:-$BUILD/qemu/stock/build}
elif [ -n "$asan" ]; then
    tree=${QEMU_TREE:-$BUILD/qemu/patched/src}
    bdir=${QEMU_BUILD_DIR:-$BUILD/qemu/asan/build}
else
    tree=${QEMU_TREE:-$BUILD/qemu/patched/src}
    bdir=${QEMU_BUILD_DIR:-$BUILD/qemu/patched/build}
fi

[ -z "$stage" ] || stage_source qemu "$tree" "$stock"

# Objects from the patched and the stock tree hash alike: each build
# directory sees its tree as ../src.
export CCACHE_BASEDIR=$BUILD
export CCACHE_NOHASHDIR=1
command -v ccache >/dev/null || die "ccache is missing: run project/scripts/install-host-deps.sh"

config=(
    --cc="ccache gcc" --cxx="ccache g++" --host-cc=gcc
    --python=/usr/bin/python3
    --target-list=aarch64-softmmu
    --without-default-features
    --enable-fdt=system --enable-tcg --enable-kvm
    --disable-install-blobs --enable-werror
    --disable-tools --disable-guest-agent
)
# Reviewers build the series with its docs (Sphinx, with -W under
# --enable-werror): the test docs_build builds them; and with the
# libvfio-user subproject, which the series' vfio-user test server and
# qtest build on.  Stock needs neither.
if [ -n "$stock" ]; then
    config+=(--disable-docs)
elif [ -n "$asan" ]; then
    config+=(--disable-docs --enable-vfio-user-server --enable-asan --enable-ubsan)
else
    config+=(--enable-docs --enable-vfio-user-server)
fi
stamp="${config[*]}"
if [ ! -f "$bdir/build.ninja" ] || [ "$(cat "$bdir/.configured-with" 2>/dev/null)" != "$stamp" ]; then
    note "configuring $bdir"
    rm -rf "$bdir"
    mkdir -p "$bdir"
    (cd "$bdir" && "$tree/configure" "${config[@]}" >configure.log 2>&1) || {
        tail -30 "$bdir/configure.log"
        die "configure failed (log: $bdir/configure.log)"
    }
    echo "$stamp" >"$bdir/.configured-with"
fi

# The +ds tarball has no NIC option ROMs; virt's default NIC (which
# upstream tests use) wants efi-virtio.rom: take Debian's ipxe-qemu one.
# QEMU run from the build tree finds its data in qemu-bundle/.
datadir=$bdir/qemu-bundle/usr/local/share/qemu
if [ -f /usr/lib/ipxe/qemu/efi-virtio.rom ] && [ -d "$datadir" ]; then
    ln -sf /usr/lib/ipxe/qemu/efi-virtio.rom "$datadir/efi-virtio.rom"
fi

targets=(qemu-system-aarch64 "${args[@]}")
note "building ${targets[*]} in $bdir"
start=$(date +%s.%N)
steps=$(ninja -C "$bdir" -n "${targets[@]}" | grep -c '^\[' || true)
run_logged "$bdir/ninja.log" ninja -C "$bdir" "${targets[@]}" || {
    tail -40 "$bdir/ninja.log"
    die "build failed (log: $bdir/ninja.log)"
}
end=$(date +%s.%N)
printf '==> built %s: %d step(s) in %.1f s\n' "$bdir/qemu-system-aarch64" "$steps" \
    "$(awk "BEGIN { print $end - $start }")"
