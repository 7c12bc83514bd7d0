# Common settings for the project scripts (sourced, not run).
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}

# upstream_version DEB_VERSION: the release in a Debian version, without
# the epoch, the Debian revision and a repack suffix (+ds).
upstream_version() {
    local v=${1#*:}
    v=${v%-*}
    echo "${v%%+*}"
}

# orig_tarball PACKAGE DEB_VERSION: the name of its orig tarball.
orig_tarball() {
    local v=${2#*:}
    echo "${1}_${v%-*}.orig.tar.xz"
}

# orig_dir PACKAGE: where its orig tarballs are downloaded.
orig_dir() {
    case "$1" in
    qemu) echo "$BUILD/dl" ;;
    *) echo "$BUILD/dl/$1" ;;
    esac
}

# read_base PROJECT: the pinned upstream release (project/bases) as
# PROJECT_DEB_VERSION (Debian's source package), PROJECT_VERSION (the
# upstream release), PROJECT_ORIG (the orig tarball's name) and
# PROJECT_ORIG_SHA256, PROJECT in capitals.
read_base() {
    local project=$1 var=${1^^} version sha256
    read -r version sha256 < <(awk -v p="$project" '$1 == p { print $2, $3 }'                                     "$TOP/project/bases")
    [ -n "$sha256" ] || die "project/bases has no line for $project"
    printf -v "${var}_DEB_VERSION" %s "$version"
    printf -v "${var}_VERSION" %s "$(upstream_version "$version")"
    printf -v "${var}_ORIG" %s "$(orig_tarball "$project" "$version")"
    printf -v "${var}_ORIG_SHA256" %s "$sha256"
}

die() {
    echo "error: $*" >&2
    exit 1
}

read_base qemu
read_base linux

note() {
    echo "==> $*"
}

# run_logged LOG CMD...: run CMD with its output in LOG, printing a line
# at least every minute while it runs (the time so far and LOG's last
# line, e.g. ninja's "[N/M] ..."), so that a long build is not minutes of
# silence.  Returns CMD's status.
run_logged() {
    local log=$1 pid start status last
    shift
    start=$(date +%s)
    "$@" >"$log" 2>&1 &
    pid=$!
    while ! wait_for_exit "$pid" 60; do
        last=$(tail -n 1 "$log" 2>/dev/null | cut -c1-100)
        echo "    ... $(( $(date +%s) - start )) s: $last"
    done
    wait "$pid" && status=0 || status=$?
    return "$status"
}

# wait_for_exit PID SECONDS: true once PID has exited, false after SECONDS.
wait_for_exit() {
    local pid=$1 i
    for ((i = 0; i < $2; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 1
    done
    ! kill -0 "$pid" 2>/dev/null
}

# debian_archive: print the address of the Debian archive that this
# machine's apt configuration uses for its release's main component (a
# mirror or a proxy included), from the deb822 sources in
# /etc/apt/sources.list.d/*.sources or the one-line sources.list format.
debian_archive() {
    local codename uri
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' \
              'Component: main' 2>/dev/null |
          awk -v rel="$codename" '$2 == rel && $3 == "deb" { print $1; exit }')
    [ -n "$uri" ] || die "no Debian archive for $codename in this machine's apt sources (/etc/apt/sources.list{,.d/})"
    echo "${uri%/}"
}

# apt-get / apt-cache with a private configuration under $BUILD/apt: its
# own source list (Debian sid sources for QEMU, bookworm and
# bookworm-backports arm64 binaries for
# the guest kernel), lists and cache.  The system's apt configuration is
# read but never written.
PRIVATE_APT_SOURCES="deb-src sid
deb bookworm
deb bookworm-backports"

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
    local dir=$BUILD/apt entry archive
    mkdir -p "$dir"
    archive=$(debian_archive)
    while read -r entry; do
        set -- $entry
        echo "$1 [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
            "$archive $2 main"
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

# Download Debian's arm64 package $2 of suite $1 into the directory $3
# with the private apt configuration, never installing it; with a pattern
# $4, the package of that name that $2 depends on instead (the versioned
# kernel of linux-image-arm64).  Prints the .deb's path.
download_deb() {
    local suite=$1 pkg=$2 dir=$3 depends=${4:-}
    private_apt_update >&2
    if [ -n "$depends" ]; then
        pkg=$(private_apt_cache -t "$suite" depends "$2" 2>/dev/null |
              sed -n "s/^ *Depends: \($depends\)/\1/p" | head -1)
        [ -n "$pkg" ] || die "cannot resolve $2 in $suite"
    fi
    mkdir -p "$dir"
    rm -f "$dir/${pkg}_"*_arm64.deb
    (cd "$dir" && private_apt -t "$suite" download "$pkg" >/dev/null) ||
        die "cannot download $pkg ($suite)"
    echo "$dir/${pkg}_"*_arm64.deb
}

# The options of build-qemu.sh and build-linux.sh: sets stage (empty with
# --no-stage), stock (1 with --stock) and the array args (what follows).
parse_build_options() {
    stage=1 stock= asan= debug= args=()
    while [ $# -gt 0 ]; do
        case "$1" in
        --stock) stock=1 ;;
        --asan) asan=1 ;;
        --debug) debug=1 ;;
        --no-stage) stage= ;;
        --*) die "unknown option $1" ;;
        *) args+=("$1") ;;
        esac
        shift
    done
}

# fetch_orig PACKAGE VERSION FILE SHA256 DIR: print DIR/FILE, the orig
# tarball of Debian's source package PACKAGE=VERSION, downloading it through
# the private apt configuration unless it is there and matches SHA256.
# Returns 1, having removed what it got, if it cannot be had.
fetch_orig() {
    local pkg=$1 version=$2 file=$3 sha256=$4 dir=$5
    mkdir -p "$dir"
    if ! echo "$sha256  $dir/$file" | sha256sum -c --quiet - >/dev/null 2>&1; then
        note "downloading Debian source package $pkg=$version (private apt config in $BUILD/apt)" >&2
        rm -f "$dir/$file"
        private_apt_update >&2
        # apt may fail on other parts of the source package (the archive
        # drops them with old versions); the orig tarball is what counts.
        (cd "$dir" && private_apt source --download-only "$pkg=$version") >&2 || true
        if [ ! -f "$dir/$file" ]; then
            local other
            other=$(same_orig_version "$pkg" "$file" "$sha256")
            if [ -n "$other" ]; then
                note "$pkg=$version is gone from the archive; $pkg=$other has the same $file" >&2
                (cd "$dir" && private_apt source --download-only "$pkg=$other") >&2 || true
            fi
        fi
        [ -f "$dir/$file" ] || return 1
        echo "$sha256  $dir/$file" | sha256sum -c --quiet - >/dev/null 2>&1 || {
            rm -f "$dir/$file"
            die "$file does not match the pinned sha256 $sha256"
        }
    fi
    echo "$dir/$file"
}

# same_orig_version PACKAGE FILE SHA256: print a version of the source
# package PACKAGE that the private apt configuration's deb-src suites have
# and whose orig tarball FILE has SHA256, if there is one.
same_orig_version() {
    private_apt_cache showsrc "$1" 2>/dev/null | awk -v file="$2" -v sha="$3" '
        /^Version:/ { version = $2 }
        /^[^ ]/ { sums = ($1 == "Checksums-Sha256:") ; next }
        sums && $1 == sha && $3 == file { print version; exit }'
}

# stage_source PROJECT TREE STOCK: stage PROJECT's series (qemu, linux) in
# build/PROJECT/patched/src; with STOCK, check its base (the pristine
# source, plus QEMU's base fixups) out at TREE, a worktree of that tree.
stage_source() {
    local project=$1 tree=$2 stock=$3
    local patched=$BUILD/$project/patched/src
    if [ -z "$stock" ]; then
        "$TOP/project/scripts/series.py" --project "$project" stage
        return
    fi
    [ -d "$patched/.git" ] || "$TOP/project/scripts/series.py" --project "$project" stage
    if [ ! -e "$tree/.git" ]; then
        git -C "$patched" worktree prune
        git -C "$patched" worktree add -q --detach "$tree" base
    fi
    git -C "$tree" checkout -q --detach base
}
