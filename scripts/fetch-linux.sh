#!/bin/bash
# Print the location of the pinned Linux source (the KVM series' base),
# downloading it if needed: Debian's linux $LINUX_DEB_VERSION orig tarball,
# from the archive's sid suite through a private apt configuration,
# verified against the pinned sha256.  Only the orig tarball is used: the
# series applies to upstream Linux, not to Debian's packaging.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dl=$BUILD/dl/linux
tarball=$dl/$LINUX_ORIG
mkdir -p "$dl"

verify() {
    echo "$LINUX_ORIG_SHA256  $tarball" | sha256sum -c --quiet - >/dev/null 2>&1
}

if [ -f "$tarball" ] && verify; then
    echo "$tarball"
    exit 0
fi

note "downloading Debian source package linux=$LINUX_DEB_VERSION (private apt config in $BUILD/apt)" >&2
rm -f "$tarball"
private_apt_update >&2
# apt may fail on the other parts of the source package (the archive has
# dropped them for this version); the orig tarball is what counts.
(cd "$dl" && private_apt source --download-only "linux=$LINUX_DEB_VERSION") >&2 || true
if [ ! -f "$tarball" ]; then
    cat >&2 <<MSG
error: cannot download $LINUX_ORIG (Debian's linux $LINUX_DEB_VERSION)
  (the archive may have dropped that version, or it cannot be reached).
  Way out: put $LINUX_ORIG (sha256 $LINUX_ORIG_SHA256)
  into $dl/ and run again.
MSG
    exit 1
fi
verify || {
    rm -f "$tarball"
    die "$LINUX_ORIG does not match the pinned sha256 $LINUX_ORIG_SHA256"
}
echo "$tarball"
