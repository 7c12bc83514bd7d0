# Common settings for the project scripts (sourced, not run).
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}

# The pinned upstream release: Debian's qemu source package (sid), whose
# orig tarball is upstream QEMU minus firmware blobs.
QEMU_DEB_VERSION=1:10.2.2+ds-1
QEMU_ORIG=qemu_10.2.2+ds.orig.tar.xz
QEMU_ORIG_SHA256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb

# The pinned Linux release for the KVM series: Debian's linux source
# package; its orig tarball is upstream Linux with some non-free files
# removed.
LINUX_DEB_VERSION=7.1.8-2
LINUX_ORIG=linux_7.1.8.orig.tar.xz
LINUX_ORIG_SHA256=47f9ce629bc14dd96c16a6a6a8cae4f7f3c3ff6138e2f64befc7bdad426e9728

die() {
    echo "error: $*" >&2
    exit 1
}

note() {
    echo "==> $*"
}

# apt-get / apt-cache with a private configuration under $BUILD/apt: its
# own source list (Debian sid sources for QEMU, bookworm arm64 binaries for
# the guest kernel), lists and cache.  The system's apt configuration is
# read but never written.
PRIVATE_APT_SOURCES="deb-src sid
deb bookworm"

private_apt_run() {
    local tool=$1 dir=$BUILD/apt
    shift
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    "$tool" -q \
        -o Dir::Etc::SourceList="$dir/sources.list" \
        -o Dir::Etc::SourceParts=/nonexistent \
        -o Dir::State::Lists="$dir/lists" \
        -o Dir::Cache="$dir/cache" \
        -o APT::Architecture=arm64 -o APT::Architectures=arm64 \
        -o Debug::NoLocking=1 \
        -o APT::Sandbox::User=root \
        "$@"
}

private_apt() {
    private_apt_run apt-get "$@"
}

private_apt_cache() {
    private_apt_run apt-cache "$@"
}

# Write the private source list and fetch its indexes, once.
private_apt_update() {
    local dir=$BUILD/apt entry
    mkdir -p "$dir"
    while read -r entry; do
        set -- $entry
        echo "$1 [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
            "http://deb.debian.org/debian $2 main"
    done <<<"$PRIVATE_APT_SOURCES" >"$dir/sources.list.new"
    if ! cmp -s "$dir/sources.list.new" "$dir/sources.list" ||
        [ ! -f "$dir/lists/.updated" ]; then
        mv "$dir/sources.list.new" "$dir/sources.list"
        rm -rf "$dir/lists"
        private_apt update >/dev/null
        touch "$dir/lists/.updated"
    else
        rm "$dir/sources.list.new"
    fi
}
