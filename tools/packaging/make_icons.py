#!/usr/bin/env python3
"""Builds the Windows .ico and the macOS .icns from the PNG icons in assets/icons/.

Both formats can hold PNG data as is (ICO since Windows Vista, ICNS since OS X 10.7), so no
image library is needed: the PNGs are read, their size checked, and packed. Run from anywhere:

    python3 tools/packaging/make_icons.py

Writes packaging/windows/photolabel.ico and packaging/macos/photolabel.icns (both committed;
rerun after changing the PNGs). `--check` only verifies that the committed files are current.
"""

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ICONS = ROOT / "assets" / "icons"
ICO = ROOT / "packaging" / "windows" / "photolabel.ico"
ICNS = ROOT / "packaging" / "macos" / "photolabel.icns"

ICO_SIZES = [16, 24, 32, 48, 64, 128, 256]
# ICNS element types holding PNG data: (type, pixel size of the PNG).
ICNS_TYPES = [
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic11", 32),  # 16 pt @2x
    (b"ic12", 64),  # 32 pt @2x
    (b"ic13", 256),  # 128 pt @2x
    (b"ic14", 512),  # 256 pt @2x
]


def png(size: int) -> bytes:
    data = (ICONS / f"photolabel-{size}.png").read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        sys.exit(f"photolabel-{size}.png is not a PNG")
    w, h = struct.unpack(">II", data[16:24])
    if (w, h) != (size, size):
        sys.exit(f"photolabel-{size}.png is {w}x{h}, expected {size}x{size}")
    return data


def ico() -> bytes:
    images = [png(s) for s in ICO_SIZES]
    out = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    for size, data in zip(ICO_SIZES, images):
        dim = 0 if size >= 256 else size  # 0 means 256
        out += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return out + b"".join(images)


def icns() -> bytes:
    body = b""
    for kind, size in ICNS_TYPES:
        data = png(size)
        body += kind + struct.pack(">I", 8 + len(data)) + data
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> None:
    check = "--check" in sys.argv[1:]
    stale = []
    for path, data in ((ICO, ico()), (ICNS, icns())):
        if check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            print(f"wrote {path.relative_to(ROOT)} ({len(data)} bytes)")
    if stale:
        sys.exit(f"out of date (run tools/packaging/make_icons.py): {', '.join(stale)}")


if __name__ == "__main__":
    main()
