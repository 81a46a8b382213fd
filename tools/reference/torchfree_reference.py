#!/usr/bin/env python3
"""Reference outputs for the PyTorch (.pth) ImageNet models without torch: reads the state dict
(legacy pre-1.6 stream or zip format) with pickle + numpy and runs the network in numpy
(float64), writing models/reference/ID.json in the same shape as reference.py's ONNX ones.

  python torchfree_reference.py --files /tmp/zoo/files --photos /work/shared/photos

Architectures follow torchvision.models.MobileNetV2 and efficientnet_lite_pytorch (TF-SAME
padding, ReLU6, BN eps 1e-3). Preprocessing is reference.py's (PIL BILINEAR short side +
centre crop, ImageNet mean/std); Rust resizes with the `image` crate, so inputs differ slightly
and the Rust test compares top-5 classes and scores with a tolerance, not bit-exact logits.
"""
import argparse, collections, json, math, os, pickle, struct, sys, zipfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import PHOTOS, MODELS_DIR, stats, norm, short_crop, labels, top5, softmax  # noqa: E402
import tomllib  # noqa: E402

DT = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32,
      "HalfStorage": np.float16, "DoubleStorage": np.float64}


def load_pth(path):
    """name -> numpy array for a torch.save'd state dict (legacy stream or zip)."""
    def rebuild(storage, off, size, stride, *rest):
        return ("T", storage, off, tuple(size), tuple(stride))

    class Stor:
        def __init__(s, name): s.name = name

    storages = {}

    class U(pickle.Unpickler):
        def find_class(s, mod, name):
            if name.startswith("_rebuild_tensor"): return rebuild
            if mod == "collections" and name == "OrderedDict": return collections.OrderedDict
            if mod == "torch" and name.endswith("Storage"): return Stor(name)
            return lambda *a, **k: None

        def persistent_load(s, pid):
            stype, key, n = pid[1], pid[2], pid[4]
            storages.setdefault(key, (stype.name, n))
            return key

    if zipfile.is_zipfile(path):
        z = zipfile.ZipFile(path)
        pkl = next(n for n in z.namelist() if n.endswith("data.pkl"))
        root = pkl[: -len("data.pkl")]
        sd = U(z.open(pkl)).load()
        data = {k: np.frombuffer(z.read(f"{root}data/{k}"), dtype=DT[t]) for k, (t, _) in storages.items()}
    else:
        f = open(path, "rb")
        for _ in range(3): pickle.load(f)
        sd = U(f).load()
        data = {}
        for k in pickle.load(f):
            (n,) = struct.unpack("<q", f.read(8))
            dt = DT[storages[k][0]]
            data[k] = np.frombuffer(f.read(n * np.dtype(dt).itemsize), dtype=dt)
    out = {}
    for name, v in sd.items():
        if not isinstance(v, tuple): continue
        _, key, off, size, stride = v
        buf = data[key]
        arr = np.lib.stride_tricks.as_strided(buf[off:], shape=size, strides=[s * buf.itemsize for s in stride])
        out[name] = np.array(arr, dtype=np.float64)
    return out


def conv(x, w, stride, pads, groups=1):
    """x [C,H,W], w [O,C/g,k,k], pads (top, bottom, left, right) -> [O,H',W']."""
    t, b, l, r = pads
    x = np.pad(x, ((0, 0), (t, b), (l, r)))
    k = w.shape[2]
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]  # C,H',W',k,k
    if groups == 1:
        return np.einsum("chwij,ocij->ohw", win, w, optimize=True)
    return np.einsum("chwij,cij->chw", win, w[:, 0])  # depthwise


def bn(x, p, pre, eps):
    g, b, m, v = (p[f"{pre}.{n}"] for n in ("weight", "bias", "running_mean", "running_var"))
    return ((x - m[:, None, None]) / np.sqrt(v[:, None, None] + eps)) * g[:, None, None] + b[:, None, None]


relu6 = lambda x: np.clip(x, 0, 6)


def torch_pad(k): return (k // 2,) * 4


def tf_same(size, k, s):
    out = math.ceil(size / s); total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def mobilenet_v2(p, x):
    x = relu6(bn(conv(x, p["features.0.0.weight"], 2, torch_pad(3)), p, "features.0.1", 1e-5))
    for n in range(1, 18):
        pre = f"features.{n}.conv"
        inp = x
        i = 0
        if f"{pre}.0.0.weight" in p and p[f"{pre}.0.0.weight"].shape[2] == 1:  # expansion
            x = relu6(bn(conv(x, p[f"{pre}.0.0.weight"], 1, (0,) * 4), p, f"{pre}.0.1", 1e-5)); i = 1
        w = p[f"{pre}.{i}.0.weight"]
        stride = 2 if n in (2, 4, 7, 14) else 1
        x = relu6(bn(conv(x, w, stride, torch_pad(3), groups=w.shape[0]), p, f"{pre}.{i}.1", 1e-5))
        x = bn(conv(x, p[f"{pre}.{i + 1}.weight"], 1, (0,) * 4), p, f"{pre}.{i + 2}", 1e-5)
        if stride == 1 and x.shape == inp.shape: x = x + inp
    x = relu6(bn(conv(x, p["features.18.0.weight"], 1, (0,) * 4), p, "features.18.1", 1e-5))
    return p["classifier.1.weight"] @ x.mean(axis=(1, 2)) + p["classifier.1.bias"]


LITE_DEPTH = {"efficientnet_lite0": 1.0, "efficientnet_lite1": 1.1, "efficientnet_lite2": 1.2}


def lite_strides(depth):
    """Per-block depthwise stride: B0 stages (repeats, first stride); Lite fixes stages 0 and 6."""
    stages = [(1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1)]
    out = []
    for i, (r, s) in enumerate(stages):
        n = r if i in (0, 6) else math.ceil(r * depth)
        out += [s] + [1] * (n - 1)
    return out


def efficientnet_lite(p, x, depth):
    eps = 1e-3
    strides = lite_strides(depth)
    def same(x, w, s, groups=1):
        k = w.shape[2]; t, b = tf_same(x.shape[1], k, s); l, r = tf_same(x.shape[2], k, s)
        return conv(x, w, s, (t, b, l, r), groups)
    x = relu6(bn(same(x, p["_conv_stem.weight"], 2), p, "_bn0", eps))
    n = 0
    while f"_blocks.{n}._depthwise_conv.weight" in p:
        pre = f"_blocks.{n}"; inp = x
        if f"{pre}._expand_conv.weight" in p:
            x = relu6(bn(same(x, p[f"{pre}._expand_conv.weight"], 1), p, f"{pre}._bn0", eps))
        w = p[f"{pre}._depthwise_conv.weight"]
        stride = strides[n]
        x = relu6(bn(same(x, w, stride, groups=w.shape[0]), p, f"{pre}._bn1", eps))
        x = bn(same(x, p[f"{pre}._project_conv.weight"], 1), p, f"{pre}._bn2", eps)
        if stride == 1 and x.shape == inp.shape: x = x + inp
        n += 1
    x = relu6(bn(same(x, p["_conv_head.weight"], 1), p, "_bn1", eps))
    return p["_fc.weight"] @ x.mean(axis=(1, 2)) + p["_fc.bias"]


NETS = {"mobilenet_v2": mobilenet_v2}
NETS.update({k: (lambda p, x, d=d: efficientnet_lite(p, x, d)) for k, d in LITE_DEPTH.items()})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", default="/tmp/zoo/files"); ap.add_argument("--photos", default="/work/shared/photos")
    ap.add_argument("--ids", nargs="*", default=list(NETS))
    a = ap.parse_args()
    manifest = tomllib.load(open(os.path.join(MODELS_DIR, "manifest.toml"), "rb"))
    for m in manifest["model"]:
        if m["id"] not in a.ids: continue
        params = load_pth(os.path.join(a.files, m["id"], m["file"]))
        inp = m["input"]; size = inp["size"][0]; short = int(inp["resize"].split()[1])
        names = labels(m)
        res = {"id": m["id"], "file": m["file"], "sha256": m["sha256"],
               "runtime": "numpy float64 (tools/reference/torchfree_reference.py)", "photos": {}}
        for photo in PHOTOS:
            img = Image.open(os.path.join(a.photos, photo)).convert("RGB")
            x = norm(np.asarray(short_crop(img, size, short), np.float32), inp)
            logits = NETS[m["id"]](params, x[0].astype(np.float64))
            res["photos"][photo] = {"input": stats(x), "raw_outputs": {"logits": stats(logits[None])},
                                    "decoded": {"top5": top5(softmax(logits), names)}}
            print(m["id"], photo, res["photos"][photo]["decoded"]["top5"][:2], flush=True)
        with open(os.path.join(MODELS_DIR, "reference", f"{m['id']}.json"), "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
