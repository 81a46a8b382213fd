#!/usr/bin/env bash
# Packaging checks, run by check.sh after the tests (so the debug binary `cargo test` built is
# there): the .desktop entry validates, the committed .ico/.icns match the PNGs, the .deb builds
# from that binary and holds the binary, the .desktop entry and the hicolor icons, and the
# binary installed from it starts like a double-click (tests/installed_xvfb.rs).
#
# The package is installed with dpkg -i (and removed afterwards) when running as root under CI,
# or when PHOTOLABEL_DEB_INSTALL=1; otherwise it is unpacked with dpkg -x into a temporary root,
# so a developer's machine is never changed.
#
#   bash packaging/linux/check-deb.sh [--profile debug|release]
#
# --profile  whose binary to package (default debug: CI stays in the tests' profile). With
#            release, build it first (`cargo build --release --bin photolabel`); the checks
#            are the same.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
profile=debug
while (($#)); do
    case "$1" in
        --profile) profile=${2:?--profile needs debug or release}; shift 2 ;;
        --profile=*) profile=${1#*=}; shift ;;
        *) echo "check-deb.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

echo "== desktop-file-validate packaging/linux/photolabel.desktop"
desktop-file-validate packaging/linux/photolabel.desktop

echo "== Windows and macOS icons are current"
python3 tools/packaging/make_icons.py --check

echo "== build the .deb from the $profile binary"
deb=$(bash packaging/linux/build-deb.sh --profile "$profile" --no-build | tail -n1)
echo "$deb"
dpkg-deb --info "$deb"

echo "== dpkg -c"
listing=$(dpkg -c "$deb")
echo "$listing"
want=(./usr/bin/photolabel ./usr/share/applications/photolabel.desktop
    ./usr/share/icons/hicolor/scalable/apps/photolabel.svg ./usr/share/doc/photolabel/copyright)
for png in assets/icons/photolabel-*.png; do
    size=${png##*-}
    size=${size%.png}
    want+=("./usr/share/icons/hicolor/${size}x${size}/apps/photolabel.png")
done
for path in "${want[@]}"; do
    grep -qE " ${path//./\\.}\$" <<<"$listing" || { echo "missing from the .deb: $path" >&2; exit 1; }
done
grep -qE '^-rwxr-xr-x root/root .* \./usr/bin/photolabel$' <<<"$listing" \
    || { echo "usr/bin/photolabel is not an executable owned by root" >&2; exit 1; }
echo "all ${#want[@]} expected paths present"

installed=0
cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c"; done' EXIT
if [[ ${PHOTOLABEL_DEB_INSTALL:-} == 1 || ( -n ${CI:-} && $(id -u) == 0 ) ]]; then
    echo "== dpkg -i"
    if dpkg -s photolabel >/dev/null 2>&1; then
        echo "photolabel is already installed here; not replacing it" >&2
        exit 1
    fi
    dpkg -i "$deb"
    cleanup+=("dpkg -r photolabel >/dev/null")
    installed=1
    prefix=
else
    echo "== dpkg -x (not root under CI: unpacked, not installed; PHOTOLABEL_DEB_INSTALL=1 installs)"
    unpacked=$(mktemp -d)
    cleanup+=("rm -rf '$unpacked'")
    dpkg -x "$deb" "$unpacked"
    prefix=$unpacked
fi

echo "== desktop-file-validate on the installed entry"
desktop-file-validate "$prefix/usr/share/applications/photolabel.desktop"
if ((installed)); then
    [[ $(command -v photolabel) == /usr/bin/photolabel ]] || { echo "photolabel is not on PATH" >&2; exit 1; }
fi
"$prefix/usr/bin/photolabel" --version

echo "== the installed binary starts like a double-click (tests/installed_xvfb.rs)"
PHOTOLABEL_INSTALLED_BIN="$prefix/usr/bin/photolabel" \
    cargo test --test installed_xvfb -- --nocapture
echo "screenshot: $target/e2e/installed.png"
