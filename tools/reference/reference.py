#!/usr/bin/env python3
"""Reference outputs for the model zoo (parity targets for the burn port).

  python reference.py --files /tmp/zoo/files --photos /work/shared/photos [--ids ...] [--no-latency]

Writes models/reference/ID.json (input tensor stats, raw output stats, decoded top-5 or
boxes) for PHOTOS below, and models/reference/latency_ort.json (onnxruntime CPU latency,
1 thread and default threads, mean of 10 runs after 2 warm-ups, on the first photo).
Preprocessing follows models/manifest.toml: PIL decode -> RGB (no EXIF rotation),
resize with PIL BILINEAR (antialiased when shrinking), float32.
PyTorch .pth models have no reference yet (needs torch; see README).
"""
import argparse, json, math, os, sys, time, tomllib
import numpy as np
from PIL import Image
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS_DIR = os.path.join(HERE, "..", "..", "models")
PHOTOS = ["imagenet-sample/n01440764_tench.JPEG", "coco128/train2017/000000000036.jpg",
          "coco128/train2017/000000000064.jpg"]

def stats(a):
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "sum": float(a.sum()), "mean": float(a.mean()),
            "min": float(a.min()), "max": float(a.max()), "first8": [float(x) for x in a.reshape(-1)[:8]]}

def norm(arr, inp):
    """arr HxWxC float (0..255) -> NCHW normalised."""
    x = arr.astype(np.float32) * np.float32(inp["scale"])
    x = (x - np.array(inp["mean"], np.float32)) / np.array(inp["std"], np.float32)
    return x.transpose(2, 0, 1)[None].copy()

def short_crop(img, size, short):
    w, h = img.size; s = short / min(w, h)
    img = img.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
    w, h = img.size; l, t = (w - size) // 2, (h - size) // 2
    return img.crop((l, t, l + size, t + size))

def labels(m):
    p = m["labels"].split(" ")[0]
    return open(os.path.join(MODELS_DIR, p), encoding="utf-8").read().split("\n")[:-1] if p else []

def top5(p, names):
    idx = np.argsort(-p)[:5]
    return [{"index": int(i), "label": names[i] if i < len(names) else str(i), "score": float(p[i])} for i in idx]

def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True)); return e / e.sum(-1, keepdims=True)

def nms(boxes, scores, iou):
    order = np.argsort(-scores); keep = []
    while order.size:
        i = order[0]; keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0]); yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2]); yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        a = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        o = inter / (a[i] + a[order[1:]] - inter + 1e-9)
        order = order[1:][o <= iou]
    return keep

# ---------------- preprocessing + decoding per model ----------------
def pre_classifier(img, m):
    inp = m["input"]; H, W = inp["size"]
    if inp["resize"].startswith("short-side"):
        short = int(inp["resize"].split()[1])
        im = short_crop(img, H, short)
    else:
        im = img.resize((W, H), Image.BILINEAR)
    a = np.asarray(im, np.float32)
    if inp["colour"] == "BGR": a = a[..., ::-1]
    return norm(a, inp), {}

def pre_nudenet(img, m):
    w, h = img.size; s = max(w, h)
    canvas = Image.new("RGB", (s, s)); canvas.paste(img, (0, 0))
    return norm(np.asarray(canvas.resize((320, 320), Image.BILINEAR), np.float32), m["input"]), {"scale": s / 320}

def dec_nudenet(outs, ctx, m, names):
    o = outs[0][0].T  # 2100 x 22
    sc = o[:, 4:]; cls = sc.argmax(1); conf = sc.max(1); k = conf >= 0.2
    o, cls, conf = o[k], cls[k], conf[k]
    b = np.stack([o[:, 0] - o[:, 2] / 2, o[:, 1] - o[:, 3] / 2, o[:, 0] + o[:, 2] / 2, o[:, 1] + o[:, 3] / 2], 1) * ctx["scale"]
    k2 = conf >= 0.25; b, cls, conf = b[k2], cls[k2], conf[k2]
    keep = nms(b, conf, 0.45) if len(b) else []
    return {"detections": [{"label": names[cls[i]], "score": float(conf[i]), "box_xyxy": [round(float(v), 1) for v in b[i]]} for i in keep[:20]]}

def pre_blazeface(img, m):
    w, h = img.size; s = max(w, h)
    canvas = Image.new("RGB", (s, s)); ox, oy = (s - w) // 2, (s - h) // 2; canvas.paste(img, (ox, oy))
    return norm(np.asarray(canvas.resize((128, 128), Image.BILINEAR), np.float32), m["input"]), {"s": s, "ox": ox, "oy": oy}

def blaze_anchors():
    a = []
    for stride, n in ((8, 2), (16, 6)):
        f = 128 // stride
        for y in range(f):
            for x in range(f):
                a += [((x + 0.5) / f, (y + 0.5) / f)] * n
    return np.array(a, np.float32)

def dec_blazeface(outs, ctx, m, names):
    reg, cls = outs[0][0], outs[1][0, :, 0]
    score = 1 / (1 + np.exp(-np.clip(cls, -100, 100))); A = blaze_anchors()
    cx = reg[:, 0] / 128 + A[:, 0]; cy = reg[:, 1] / 128 + A[:, 1]; w = reg[:, 2] / 128; h = reg[:, 3] / 128
    b = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1) * ctx["s"] - np.array([ctx["ox"], ctx["oy"]] * 2)
    k = score >= 0.5; b, sc = b[k], score[k]
    keep = nms(b, sc, 0.3) if len(b) else []
    return {"detections": [{"label": "face", "score": float(sc[i]), "box_xyxy": [round(float(v), 1) for v in b[i]]} for i in keep[:20]]}

def pre_ocr_det(img, m):
    w, h = img.size; s = 736 / min(w, h) if min(w, h) < 736 else 1.0
    W, H = max(32, int(round(w * s / 32)) * 32), max(32, int(round(h * s / 32)) * 32)
    a = np.asarray(img.resize((W, H), Image.BILINEAR), np.float32)[..., ::-1]
    return norm(a, m["input"]), {"sx": w / W, "sy": h / H}

def dec_ocr_det(outs, ctx, m, names):
    from scipy import ndimage
    p = outs[0][0, 0]; lab, n = ndimage.label(p > 0.3); boxes = []
    for i, sl in enumerate(ndimage.find_objects(lab)):
        sc = float(p[sl][lab[sl] == i + 1].mean())
        hh, ww = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if sc < 0.5 or min(hh, ww) < 3: continue
        # axis-aligned unclip approximation: distance = area*1.6/perimeter
        d = (hh * ww) * 1.6 / (2 * (hh + ww))
        x0, y0, x1, y1 = sl[1].start - d, sl[0].start - d, sl[1].stop + d, sl[0].stop + d
        boxes.append({"score": round(sc, 4), "box_xyxy": [round(x0 * ctx["sx"], 1), round(y0 * ctx["sy"], 1), round(x1 * ctx["sx"], 1), round(y1 * ctx["sy"], 1)]})
    boxes.sort(key=lambda b: -b["score"])
    return {"boxes_axis_aligned": boxes[:20], "n_boxes": len(boxes)}

def pre_ocr_line(img, m, H=48, maxW=320):
    w, h = img.size; W = min(maxW, max(8, math.ceil(H * w / h)))
    a = np.asarray(img.resize((W, H), Image.BILINEAR), np.float32)[..., ::-1]
    x = norm(a, m["input"]); pad = np.zeros((1, 3, H, maxW if m["id"] == "ppocr_cls_v2" else W), np.float32)
    pad[..., :W] = x; return pad, {}

def dec_ctc(outs, ctx, m, names):
    p = outs[0][0]; idx = p.argmax(1); conf = p.max(1); txt = []; cs = []; prev = -1
    for i, c in zip(idx, conf):
        if i != prev and i != 0: txt.append(names[i]); cs.append(c)
        prev = i
    return {"text": "".join(txt), "mean_conf": float(np.mean(cs)) if cs else 0.0}

def pre_mtcnn_pnet(img, m):
    w, h = img.size; s = 12 / 20 * 0.709 ** 4  # one fixed pyramid level for parity checks
    im = img.resize((math.ceil(w * s), math.ceil(h * s)), Image.BILINEAR)
    a = (np.asarray(im, np.float32) - 127.5) * 0.0078125
    return a.transpose(1, 0, 2)[None].copy(), {"scale": s}

def dec_mtcnn_pnet(outs, ctx, m, names):
    prob = outs[1][0, :, :, 1]
    return {"pyramid_scale": ctx["scale"], "cells_over_0.6": int((prob > 0.6).sum()), "max_face_prob": float(prob.max())}

def face_crop(img, photo, pad=0.2):
    """Largest BlazeFace box of the photo (from blazeface reference), enlarged by pad."""
    ref = FACES.get(photo)
    if not ref: return None
    x0, y0, x1, y1 = ref; w, h = x1 - x0, y1 - y0
    return img.crop((int(x0 - pad * w), int(y0 - pad * h), int(x1 + pad * w), int(y1 + pad * h)))

FACES = {}

def pre_face_attr(img, m, photo):
    c = face_crop(img, photo)
    if c is None: return None, {}
    H, W = m["input"]["size"]
    if m["id"] == "mtcnn_rnet" or m["id"] == "mtcnn_onet":
        a = (np.asarray(c.resize((W, H), Image.BILINEAR), np.float32) - 127.5) * 0.0078125
        return a.transpose(1, 0, 2)[None].copy(), {}
    return norm(np.asarray(c.resize((W, H), Image.BILINEAR), np.float32), m["input"]), {}

def dec_classify(outs, ctx, m, names):
    p = outs[0].reshape(-1)
    if m["id"].startswith(("efficientnet", "mobilenet")): p = softmax(p)
    r = {"top5": top5(p, names)}
    if m["id"] == "age_v1":
        w = np.array([0.25] + list(range(1, 81)), np.float64); r["expected_age"] = float((p * w).sum())
    return r

def dec_mtcnn_stage(outs, ctx, m, names):
    return {"face_prob": float(outs[-1][0, 1]), "bbox_reg": [float(v) for v in outs[0][0]]}

def dec_hand(outs, ctx, m, names):
    return {"hand_presence": float(outs[1].reshape(-1)[0]), "handedness_right": float(outs[2].reshape(-1)[0])}

# ---------------------------------------------------------------------
def run_one(sess, m, img, photo):
    mid = m["id"]
    if mid == "nudenet_320n": x, ctx = pre_nudenet(img, m); dec = dec_nudenet
    elif mid == "blazeface_short": x, ctx = pre_blazeface(img, m); dec = dec_blazeface
    elif mid in ("ppocr_v4_det", "ppocr_v5_det"): x, ctx = pre_ocr_det(img, m); dec = dec_ocr_det
    elif mid in ("ppocr_v4_rec", "ppocr_v5_rec", "ppocr_cls_v2"):
        # text line: crop of the best detection of ppocr_v4_det on this photo, else the whole photo
        box = OCR_LINES.get(photo)
        line = img.crop(tuple(int(v) for v in box)) if box else img
        x, ctx = pre_ocr_line(line, m); dec = dec_classify if mid == "ppocr_cls_v2" else dec_ctc
    elif mid == "mtcnn_pnet": x, ctx = pre_mtcnn_pnet(img, m); dec = dec_mtcnn_pnet
    elif mid in ("age_v1", "gender_v1", "mtcnn_rnet", "mtcnn_onet"):
        x, ctx = pre_face_attr(img, m, photo); dec = dec_mtcnn_stage if mid.startswith("mtcnn") else dec_classify
        if x is None: return None, None
    elif mid == "hand_landmark_lite": x, ctx = pre_classifier(img, m); dec = dec_hand
    else: x, ctx = pre_classifier(img, m); dec = dec_classify
    outs = sess.run(None, {sess.get_inputs()[0].name: x})
    return x, (outs, dec(outs, ctx, m, labels(m)))

OCR_LINES = {}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", default="/tmp/zoo/files"); ap.add_argument("--photos", default="/work/shared/photos")
    ap.add_argument("--ids", nargs="*"); ap.add_argument("--no-latency", action="store_true")
    a = ap.parse_args()
    man = {m["id"]: m for m in tomllib.load(open(os.path.join(MODELS_DIR, "manifest.toml"), "rb"))["model"]}
    order = ["blazeface_short", "ppocr_v4_det"] + [k for k in man if k not in ("blazeface_short", "ppocr_v4_det")]
    lat_path = os.path.join(MODELS_DIR, "reference", "latency_ort.json")
    lat = json.load(open(lat_path)) if os.path.exists(lat_path) else {}
    os.makedirs(os.path.join(MODELS_DIR, "reference"), exist_ok=True)
    for mid in order:
        m = man[mid]
        if m["format"] != "onnx" or (a.ids and mid not in a.ids and mid not in ("blazeface_short", "ppocr_v4_det")):
            continue
        path = os.path.join(a.files, mid, m["file"])
        so = ort.SessionOptions(); sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        res = {"id": mid, "file": m["file"], "sha256": m["sha256"], "onnxruntime": ort.__version__, "photos": {}}
        first_x = None
        for photo in PHOTOS:
            img = Image.open(os.path.join(a.photos, photo)).convert("RGB")
            x, r = run_one(sess, m, img, photo)
            if x is None: res["photos"][photo] = {"skipped": "no face found by blazeface_short"}; continue
            outs, dec = r
            first_x = first_x if first_x is not None else x
            res["photos"][photo] = {"input": stats(x), "raw_outputs": {o.name: stats(v) for o, v in zip(sess.get_outputs(), outs)}, "decoded": dec}
            if mid == "blazeface_short" and dec["detections"]:
                best = max(dec["detections"], key=lambda d: (d["box_xyxy"][2] - d["box_xyxy"][0]) * d["score"])
                FACES[photo] = best["box_xyxy"]
            if mid == "ppocr_v4_det" and dec["boxes_axis_aligned"]:
                OCR_LINES[photo] = max(dec["boxes_axis_aligned"], key=lambda b: (b["box_xyxy"][2] - b["box_xyxy"][0]) * b["score"])["box_xyxy"]
        with open(os.path.join(MODELS_DIR, "reference", mid + ".json"), "w") as f:
            json.dump(res, f, indent=1, ensure_ascii=False)
        print(mid, json.dumps({p: v.get("decoded") for p, v in res["photos"].items()}, ensure_ascii=False)[:300])
        if not a.no_latency and first_x is not None and (not a.ids or mid in a.ids):
            lat[mid] = {"input_shape": list(first_x.shape)}
            for name, th in (("threads_1", 1), ("threads_default", 0)):
                so = ort.SessionOptions(); so.intra_op_num_threads = th; so.inter_op_num_threads = 1
                s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]); feed = {s.get_inputs()[0].name: first_x}
                for _ in range(2): s.run(None, feed)
                t = time.perf_counter()
                for _ in range(10): s.run(None, feed)
                lat[mid][name + "_ms"] = round((time.perf_counter() - t) * 100, 3)
    lat["_machine"] = {"cpus": os.cpu_count(), "onnxruntime": ort.__version__, "note": "mean of 10 runs after 2 warm-ups, first photo input"}
    json.dump(lat, open(lat_path, "w"), indent=1)

if __name__ == "__main__":
    main()
