#!/usr/bin/env bash
# Builds the Debian packages sysmon-exporter and sysmon-top with cargo-deb (installed from
# crates.io when missing), then checks them with lintian when it is installed.
#
#   scripts/build-deb.sh                 # release build (the workspace's [profile.release])
#   SYSMON_DEB_PROFILE=dev scripts/build-deb.sh   # debug build, faster (what the package test uses)
#
# Environment: SYSMON_DEB_PROFILE (cargo profile, default release), SYSMON_DEB_OUT (folder for the
# .deb files, default <target>/debian), SYSMON_DEB_FAST=1 (quicker, larger compression),
# SYSMON_DEB_LINTIAN=0 (skip lintian), SYSMON_DEB_VERSION (the packages' version, revision
# included; default the crate's version with revision 1). Prints the paths of the packages, one a line, last.
#
# The man pages and completions are printed by the binaries just built (`--generate`), so they
# document exactly the flags those binaries take.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${SYSMON_DEB_PROFILE:-release}
# cargo-deb 3.8 still accepts the dev profile (with a warning), which the package test uses.
if ! cargo deb --version >/dev/null 2>&1; then
    echo "build-deb: installing cargo-deb from crates.io" >&2
    cargo install cargo-deb --version '~3.8' --locked
fi

echo "build-deb: cargo build --profile $profile" >&2
cargo build --locked --profile "$profile" -p sysmon-exporter -p sysmon-top >&2

target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
case "$profile" in
    dev | test) out_dir="$target_dir/debug" ;;
    *) out_dir="$target_dir/$profile" ;;
esac
assets="$out_dir/deb-assets"
mkdir -p "$assets"
for bin in sysmon-exporter sysmon-top; do
    "$out_dir/$bin" --generate man | gzip -9n >"$assets/$bin.1.gz"
    "$out_dir/$bin" --generate complete-bash >"$assets/$bin.bash"
    "$out_dir/$bin" --generate complete-zsh >"$assets/_$bin"
    "$out_dir/$bin" --generate complete-fish >"$assets/$bin.fish"
done

deb_out=${SYSMON_DEB_OUT:-$target_dir/debian}
mkdir -p "$deb_out"
extra=()
[ "${SYSMON_DEB_FAST:-0}" = 1 ] && extra+=(--fast)
[ -n "${SYSMON_DEB_VERSION:-}" ] && extra+=(--deb-version "$SYSMON_DEB_VERSION")
debs=()
for pkg in sysmon-exporter sysmon-top; do
    # --strip: a debug build's symbols would make the package ten times larger.
    deb=$(cargo deb --no-build --locked --profile "$profile" -p "$pkg" --strip \
        "${extra[@]}" --output "$deb_out")
    debs+=("$deb")
done

if [ "${SYSMON_DEB_LINTIAN:-1}" != 0 ] && command -v lintian >/dev/null 2>&1; then
    echo "build-deb: lintian" >&2
    lintian --fail-on error,warning --info --display-info "${debs[@]}" >&2
fi
printf '%s\n' "${debs[@]}"
