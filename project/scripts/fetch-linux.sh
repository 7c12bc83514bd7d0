#!/bin/bash
# Print the location of the pinned Linux source (the KVM series' base),
# downloading it if needed: Debian's linux $LINUX_DEB_VERSION orig tarball,
# from the archive's sid suite through a private apt configuration,
# verified against the pinned sha256.  Only the orig tarball is used: the
# series applies to upstream Linux, not to Debian's packaging.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dl=$(orig_dir linux)
fetch_orig linux "$LINUX_DEB_VERSION" "$LINUX_ORIG" "$LINUX_ORIG_SHA256" "$dl" || {
    cat >&2 <<MSG
error: cannot download $LINUX_ORIG (Debian's linux $LINUX_DEB_VERSION)
  (the archive has dropped that version, and no other revision of linux in
  its sid sources has the same orig tarball, or it cannot be reached).
  Way out: put $LINUX_ORIG (sha256 $LINUX_ORIG_SHA256)
  into $dl/ and run again.
MSG
    exit 1
}
