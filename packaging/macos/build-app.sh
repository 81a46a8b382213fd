#!/usr/bin/env bash
# Builds photolabel.app (macOS only: run on a Mac with Rust installed).
#
#   bash packaging/macos/build-app.sh            # -> target/macos/photolabel.app
#
# The bundle is Contents/Info.plist (packaging/macos/Info.plist with the version filled in),
# Contents/MacOS/photolabel (the release binary) and Contents/Resources/photolabel.icns
# (generated from assets/icons by tools/packaging/make_icons.py and committed). Drag the .app
# to /Applications; to share it, sign and notarise it (codesign --deep -s "Developer ID ...",
# xcrun notarytool) or recipients must right-click > Open the first time.
# For a universal binary build both aarch64-apple-darwin and x86_64-apple-darwin and join them
# with `lipo -create -output photolabel A B` before copying.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --bin photolabel
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
app=$target/macos/photolabel.app
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
sed "s/@VERSION@/$version/g" packaging/macos/Info.plist > "$app/Contents/Info.plist"
cp "$target/release/photolabel" "$app/Contents/MacOS/photolabel"
cp packaging/macos/photolabel.icns "$app/Contents/Resources/photolabel.icns"
plutil -lint "$app/Contents/Info.plist" >/dev/null 2>&1 || echo "warning: plutil not available or the plist is invalid" >&2
echo "$app"
