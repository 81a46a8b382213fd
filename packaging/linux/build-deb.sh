#!/usr/bin/env bash
# Builds the Debian package of photolabel from a staged tree with `dpkg-deb --build` (no
# cargo-deb needed): the binary, the .desktop entry and the icons at the hicolor theme's sizes.
#
#   bash packaging/linux/build-deb.sh [--profile release|debug] [--no-build] [--out DIR]
#
# --profile   which cargo profile's binary to package (default release; CI packages the debug
#             binary it already built for the tests, to stay in one profile)
# --no-build  package the binary already in the target dir instead of running cargo build
# --out DIR   where the .deb goes (default: TARGET/deb, TARGET being CARGO_TARGET_DIR or target)
#
# Prints the path of the .deb on its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

profile=release
build=1
out=
while (($#)); do
    case "$1" in
        --profile) profile=${2:?--profile needs release or debug}; shift 2 ;;
        --profile=*) profile=${1#*=}; shift ;;
        --no-build) build=0; shift ;;
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        -h|--help) sed -n 2,13p "$0"; exit 0 ;;
        *) echo "build-deb.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$profile" in
    release) profile_dir=release; cargo_flags=(--release) ;;
    debug|dev) profile_dir=debug; cargo_flags=() ;;
    *) echo "build-deb.sh: --profile must be release or debug" >&2; exit 2 ;;
esac

target=${CARGO_TARGET_DIR:-$root/target}
out=${out:-$target/deb}
bin=$target/$profile_dir/photolabel
if ((build)); then
    cargo build "${cargo_flags[@]}" --bin photolabel
fi
[[ -x $bin ]] || { echo "build-deb.sh: no binary at $bin (build it, or drop --no-build)" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/photolabel

install -D -m 0755 "$bin" "$pkg/usr/bin/photolabel"
if [[ $profile_dir == release ]] && command -v strip >/dev/null; then
    strip --strip-unneeded "$pkg/usr/bin/photolabel"
fi
install -D -m 0644 packaging/linux/photolabel.desktop "$pkg/usr/share/applications/photolabel.desktop"
for png in assets/icons/photolabel-*.png; do
    size=${png##*-}
    size=${size%.png}
    install -D -m 0644 "$png" "$pkg/usr/share/icons/hicolor/${size}x${size}/apps/photolabel.png"
done
install -D -m 0644 assets/icons/photolabel.svg "$pkg/usr/share/icons/hicolor/scalable/apps/photolabel.svg"
doc=$pkg/usr/share/doc/photolabel
install -d "$doc"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: photolabel
License: MIT OR Apache-2.0

Files: *
Copyright: photolabel developers
License: MIT OR Apache-2.0
Comment: Model weights are not part of this package: photolabel fetches them at first use from
 their own packages, each under its own licence (see models/README.md in the source).
 The place names of place tags are GeoNames data (www.geonames.org, CC BY 4.0), built in
 through the reverse_geocoder crate.
COPYRIGHT
install -m 0644 README.md "$doc/README.md"

# Linked libraries (libc, libgcc) from dpkg-shlibdeps when dpkg-dev is there. The window system
# and graphics libraries are opened at run time (winit, wgpu), so they are listed by hand.
linked="libc6, libgcc-s1"
if command -v dpkg-shlibdeps >/dev/null; then
    shl=$(mktemp -d)
    mkdir -p "$shl/debian"
    printf 'Source: photolabel\n\nPackage: photolabel\nArchitecture: any\n' > "$shl/debian/control"
    if found=$(cd "$shl" && dpkg-shlibdeps -O -e"$pkg/usr/bin/photolabel" 2>/dev/null); then
        linked=${found#shlibs:Depends=}
    fi
    rm -rf "$shl"
fi
depends="$linked, libx11-6, libxcursor1, libxrandr2, libxi6, libxkbcommon-x11-0, libwayland-client0, libegl1, libvulkan1"
installed_kb=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)

install -d "$pkg/DEBIAN"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: photolabel
Version: $version
Architecture: $arch
Maintainer: photolabel developers <noreply@photolabel.invalid>
Installed-Size: $installed_kb
Depends: $depends
Recommends: mesa-vulkan-drivers | libegl-mesa0, python3-pip, npm, xdg-desktop-portal-gtk | zenity
Section: graphics
Priority: optional
Description: label and search a photo library with deep-learning models
 photolabel scans photo folders into a local library, labels each photo with a collection of
 deep-learning models (choosing per photo which models are worth running) and lets you search
 the photos by tags. Everything stays on your machine; originals are never modified.
 .
 Model weights are fetched at first use with pip (python3-pip) into ~/.cache/photolabel.
CONTROL

mkdir -p "$out"
deb=$out/photolabel_${version}_${arch}.deb
# The debug binary is only packaged for CI's checks: compress it quickly.
compress=()
[[ $profile_dir == debug ]] && compress=(-z1)
dpkg-deb --root-owner-group "${compress[@]}" --build "$pkg" "$deb" >/dev/null
echo "$deb"
