#!/usr/bin/env bash
# Puts a working bitcoind and bitcoin-cli behind two wrapper scripts in $SLUICE_REGTEST_DIR/bin
# (default: <project>/.regtest/bin), without touching the system's own libraries.
#
# Order of preference:
#   1. $BITCOIND (and $BITCOIN_CLI, or the bitcoin-cli beside it), if set;
#   2. a bitcoind >= 25 on PATH;
#   3. Bitcoin Knots from Debian's unstable suite, extracted under $SLUICE_REGTEST_DIR/root and
#      started through that suite's own dynamic loader with its libc, libstdc++ and libevent
#      (see DESIGN.md, "Getting bitcoind on a fresh machine").
# Idempotent: a second run that finds working wrappers does nothing. Prints the bin folder last.
#
# Usage: install-bitcoind.sh [--dir DIR] [--bitcoind PATH]
#   --dir       where to put bin/ (default $SLUICE_REGTEST_DIR, else <project>/.regtest)
#   --bitcoind  use this bitcoind (same as setting BITCOIND)
set -euo pipefail

MIN_MAJOR=25
PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REGTEST_DIR="${SLUICE_REGTEST_DIR:-$PROJECT_DIR/.regtest}"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) REGTEST_DIR="$2"; shift 2 ;;
        --bitcoind) BITCOIND="$2"; shift 2 ;;
        *) printf 'install-bitcoind: error: unknown argument %s\n' "$1" >&2; exit 2 ;;
    esac
done
BIN_DIR="$REGTEST_DIR/bin"
ROOT_DIR="$REGTEST_DIR/root"
APT_DIR="$REGTEST_DIR/apt"
DEBS_DIR="$REGTEST_DIR/debs"
UNSTABLE_PACKAGES=(bitcoin-knots libc6 libstdc++6 libgcc-s1
    libevent-core-2.1-7t64 libevent-extra-2.1-7t64 libevent-pthreads-2.1-7t64)
# From the system's own suite: libzmq5 and whatever of its dependencies the system lacks
# (apt resolves them against the installed packages, so no release's library names are
# written here: bookworm's libpgm-5.3-0 is trixie's libpgm-5.3-0t64).
STABLE_PACKAGES=(libzmq5)
DEBIAN_MIRROR="${SLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING="${SLUICE_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"

log() { printf 'install-bitcoind: %s\n' "$*" >&2; }
fail() { printf 'install-bitcoind: error: %s\n' "$*" >&2; exit 1; }

# Prints the major version of a bitcoind command (all arguments), or nothing if it does not run.
major_version() {
    local line
    line="$("$@" -version 2>/dev/null | head -n 1)" || return 0
    [[ "$line" =~ v([0-9]+)\. ]] && printf '%s\n' "${BASH_REMATCH[1]}"
}

write_wrapper() {  # name, command words...
    local name="$1"; shift
    mkdir -p "$BIN_DIR"
    local quoted
    printf -v quoted '%q ' "$@"
    printf '#!/bin/sh\n# Written by regtest/install-bitcoind.sh\nexec %s"$@"\n' "$quoted" \
        > "$BIN_DIR/$name.tmp"
    chmod 0755 "$BIN_DIR/$name.tmp"
    mv "$BIN_DIR/$name.tmp" "$BIN_DIR/$name"
}

wrappers_work() {
    [[ -x "$BIN_DIR/bitcoind" && -x "$BIN_DIR/bitcoin-cli" ]] || return 1
    local major
    major="$(major_version "$BIN_DIR/bitcoind")"
    [[ -n "$major" && "$major" -ge "$MIN_MAJOR" ]] || return 1
    "$BIN_DIR/bitcoin-cli" -version >/dev/null 2>&1
}

use_existing() {  # bitcoind path
    local bitcoind="$1" cli major
    major="$(major_version "$bitcoind")"
    [[ -n "$major" ]] || fail "$bitcoind does not run (tried '$bitcoind -version')"
    [[ "$major" -ge "$MIN_MAJOR" ]] || fail "$bitcoind is version $major; Sluice needs >= $MIN_MAJOR"
    cli="${BITCOIN_CLI:-$(dirname "$bitcoind")/bitcoin-cli}"
    [[ -x "$cli" ]] || cli="$(command -v bitcoin-cli || true)"
    [[ -n "$cli" && -x "$cli" ]] || fail "no bitcoin-cli beside $bitcoind; set BITCOIN_CLI"
    write_wrapper bitcoind "$bitcoind"
    write_wrapper bitcoin-cli "$cli"
    log "using bitcoind $major at $bitcoind"
}

apt_private() {  # state name, sources list, apt-get arguments...
    local name="$1" sources="$2"; shift 2
    mkdir -p "$APT_DIR/$name/lists/partial" "$APT_DIR/$name/cache/archives/partial"
    apt-get -q -o Dir::Etc::sourcelist="$sources" -o Dir::Etc::sourceparts=- \
        -o Dir::State::Lists="$APT_DIR/$name/lists" -o Dir::Cache="$APT_DIR/$name/cache" \
        -o Dir::State::status=/var/lib/dpkg/status -o APT::Sandbox::User=root \
        -o Debug::NoLocking=1 "$@"
}

# The codename of the system's Debian release (its stable suite), from /etc/os-release.
system_suite() {
    [[ -r /etc/os-release ]] || fail "no /etc/os-release: cannot tell which Debian release this is; set BITCOIND"
    local id codename
    id="$(. /etc/os-release && printf '%s' "${ID:-}")"
    codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
    [[ "$id" == debian ]] || fail "the Debian recipe needs Debian (this is '$id'); set BITCOIND to a bitcoind >= $MIN_MAJOR"
    [[ -n "$codename" ]] || fail "/etc/os-release has no VERSION_CODENAME; set BITCOIND"
    printf '%s\n' "$codename"
}

read_suite() {  # suite: a private apt state that knows only that suite
    local suite="$1" sources="$APT_DIR/$1.list"
    mkdir -p "$APT_DIR"
    printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$DEBIAN_MIRROR" "$suite" > "$sources"
    log "reading Debian $suite package lists"
    apt_private "$suite" "$sources" update >/dev/null \
        || fail "apt-get update for Debian $suite failed (is $DEBIAN_MIRROR reachable?)"
}

download_exact() {  # suite, packages...: these packages, whatever the system has
    local suite="$1"; shift
    read_suite "$suite"
    log "downloading from $suite: $*"
    mkdir -p "$DEBS_DIR"
    (cd "$DEBS_DIR" && apt_private "$suite" "$APT_DIR/$suite.list" download "$@" >/dev/null) \
        || fail "apt-get download from Debian $suite failed for: $*"
}

download_missing() {  # suite, packages...: these and their dependencies the system lacks
    local suite="$1"; shift
    read_suite "$suite"
    log "downloading from $suite what the system lacks of: $*"
    local archives="$APT_DIR/$suite/cache/archives"
    rm -f "$archives"/*.deb
    apt_private "$suite" "$APT_DIR/$suite.list" install --download-only --no-install-recommends \
        -y "$@" >/dev/null \
        || fail "apt-get could not resolve $* from Debian $suite against the installed packages"
    mkdir -p "$DEBS_DIR"
    find "$archives" -maxdepth 1 -name '*.deb' -exec mv -t "$DEBS_DIR" {} +
}

install_from_debian() {
    command -v apt-get >/dev/null || fail "no bitcoind found and no apt-get to fetch one; set BITCOIND"
    command -v dpkg-deb >/dev/null || fail "dpkg-deb is needed to unpack Debian packages"
    [[ -r "$KEYRING" ]] || fail "Debian archive keyring $KEYRING not found (set SLUICE_DEBIAN_KEYRING)"
    local suite
    suite="$(system_suite)"
    rm -rf "$DEBS_DIR" "$ROOT_DIR.tmp"
    download_exact unstable "${UNSTABLE_PACKAGES[@]}"
    download_missing "$suite" "${STABLE_PACKAGES[@]}"
    mkdir -p "$ROOT_DIR.tmp"
    local deb
    for deb in "$DEBS_DIR"/*.deb; do
        dpkg-deb -x "$deb" "$ROOT_DIR.tmp" || fail "could not unpack $deb"
    done
    rm -rf "$ROOT_DIR"
    mv "$ROOT_DIR.tmp" "$ROOT_DIR"
    local lib="$ROOT_DIR/usr/lib/x86_64-linux-gnu"
    local loader="$lib/ld-linux-x86-64.so.2"
    [[ -e "$loader" ]] || loader="$ROOT_DIR/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    [[ -e "$loader" ]] || fail "unstable libc6 did not provide ld-linux-x86-64.so.2"
    local libpath="$lib:$ROOT_DIR/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu"
    write_wrapper bitcoind "$loader" --library-path "$libpath" "$ROOT_DIR/usr/bin/bitcoind"
    write_wrapper bitcoin-cli "$loader" --library-path "$libpath" "$ROOT_DIR/usr/bin/bitcoin-cli"
    rm -rf "$DEBS_DIR"
}

main() {
    [[ "$(uname -m)" == x86_64 || -n "${BITCOIND:-}" ]] \
        || fail "the Debian recipe is for x86_64; on $(uname -m) set BITCOIND to a bitcoind >= $MIN_MAJOR"
    if [[ -n "${BITCOIND:-}" ]]; then
        use_existing "$BITCOIND"
    elif wrappers_work; then
        log "bitcoind already installed in $BIN_DIR"
    elif on_path="$(command -v bitcoind)" && [[ "$(major_version "$on_path")" -ge "$MIN_MAJOR" ]]; then
        use_existing "$on_path"
    else
        install_from_debian
    fi
    wrappers_work || fail "the installed bitcoind does not run: try '$BIN_DIR/bitcoind -version'"
    log "$("$BIN_DIR/bitcoind" -version | head -n 1)"
    printf '%s\n' "$BIN_DIR"
}

main
