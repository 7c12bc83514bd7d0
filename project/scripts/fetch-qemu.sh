#!/bin/bash
# Print the location of the pinned QEMU source, downloading it if needed.
#
#   QEMU_SRC unset:        Debian's qemu $QEMU_DEB_VERSION orig tarball, from
#                          the archive's sid suite through a private apt
#                          configuration, verified against the pinned sha256.
#   QEMU_SRC=<tarball>     that tarball (an upstream release of the same
#                          minor version, e.g. v10.2.x for 10.2.2).
#   QEMU_SRC=<directory>   that source tree (a checkout of the same).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

series_minor=${QEMU_VERSION%.*}
check_version() {
    case "$1" in
    "$series_minor".*) ;;
    *) die "QEMU_SRC is QEMU $1; this series is for v$series_minor.x" ;;
    esac
}

if [ -n "${QEMU_SRC:-}" ]; then
    if [ -d "$QEMU_SRC" ]; then
        [ -f "$QEMU_SRC/VERSION" ] || die "QEMU_SRC=$QEMU_SRC has no VERSION file: not a QEMU tree"
        check_version "$(cat "$QEMU_SRC/VERSION")"
    elif [ -f "$QEMU_SRC" ]; then
        v=$(tar -xOf "$QEMU_SRC" --wildcards '*/VERSION' 2>/dev/null | head -1) ||
            die "QEMU_SRC=$QEMU_SRC is not a QEMU source tarball"
        check_version "$v"
    else
        die "QEMU_SRC=$QEMU_SRC does not exist"
    fi
    echo "$QEMU_SRC"
    exit 0
fi

dl=$(orig_dir qemu)
fetch_orig qemu "$QEMU_DEB_VERSION" "$QEMU_ORIG" "$QEMU_ORIG_SHA256" "$dl" || {
    cat >&2 <<MSG
error: cannot download Debian's qemu source package $QEMU_DEB_VERSION
  (the archive has dropped that version, and no other revision of qemu in
  its sid sources has the same orig tarball, or it cannot be reached).
  Ways out:
    - put $QEMU_ORIG (sha256 $QEMU_ORIG_SHA256)
      into $dl/ and run again, or
    - QEMU_SRC=/path/to/qemu-$series_minor.x.tar.xz or QEMU_SRC=/path/to/qemu (a v$series_minor.x
      checkout) to use your own upstream source.
MSG
    exit 1
}
