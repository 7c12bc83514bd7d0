#!/bin/bash
# Stage the Linux series and cross-build the nested test bed's L1 kernel
# (arm64 Image) with ccache: allnoconfig plus the fragment
# project/linux-config/l1-kvm-host.config.
#
#   build-linux.sh             the patched tree: build/linux/patched/{src,build}
#   build-linux.sh --stock     unpatched Linux: build/linux/stock/{src,build}
#   build-linux.sh --no-stage  build LINUX_TREE as it is (series.py check --build)
#   build-linux.sh --debug     the patched tree with lockdep and KASAN too
#                              (l1-debug.config): build/linux/debug/build
#
# The configuration is remade only when the fragment is newer than it, so
# a rebuild after a change is incremental; the time taken is printed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

parse_build_options "$@"
[ ${#args[@]} = 0 ] || die "unexpected argument ${args[0]}"

flavour=${stock:+stock}
flavour=${flavour:-patched}
tree=${LINUX_TREE:-$BUILD/linux/$flavour/src}
fragments=("$TOP/project/linux-config/l1-kvm-host.config")
if [ -n "$debug" ]; then
    fragments+=("$TOP/project/linux-config/l1-debug.config")
    flavour=debug
fi
bdir=${LINUX_BUILD_DIR:-$BUILD/linux/$flavour/build}

[ -z "$stage" ] || stage_source linux "$tree" "$stock"

make=(make -C "$tree" O="$bdir" ARCH=arm64 CROSS_COMPILE="ccache aarch64-linux-gnu-")
export CCACHE_BASEDIR=$BUILD
export CCACHE_NOHASHDIR=1
mkdir -p "$bdir"
stale=
for fragment in "${fragments[@]}"; do
    [ "$fragment" -nt "$bdir/.config" ] && stale=1
done
if [ ! -f "$bdir/.config" ] || [ -n "$stale" ]; then
    "${make[@]}" -s allnoconfig >/dev/null
    "$tree/scripts/kconfig/merge_config.sh" -m -O "$bdir" "$bdir/.config" \
        "${fragments[@]}" >/dev/null
fi
"${make[@]}" -s olddefconfig
start=$(date +%s)
run_logged "$bdir/build.log" "${make[@]}" -j"$(nproc)" Image ||
    { tail -30 "$bdir/build.log"; die "Linux build failed (log: $bdir/build.log)"; }
checked=(KVM VFIO_PCI IOMMUFD VFIO_DEVICE_CDEV ARM_SMMU_V3 PCI_HOST_GENERIC ARM64_SVE PTDUMP_STAGE2_DEBUGFS)
[ -z "$debug" ] || checked+=(PROVE_LOCKING KASAN DEBUG_ATOMIC_SLEEP)
for opt in "${checked[@]}"; do
    grep -q "^CONFIG_$opt=y" "$bdir/.config" || die "CONFIG_$opt is not set in $bdir/.config"
done
note "built $bdir/arch/arm64/boot/Image in $(( $(date +%s) - start )) s"
