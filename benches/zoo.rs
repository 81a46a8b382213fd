//! Model zoo latency: burn (flex CPU by default) per implemented model vs the onnxruntime CPU
//! figures stored in `models/reference/latency_ort.json` (measured earlier by
//! `tools/reference/reference.py` on the 2-core dev machine; not re-measured here).
//!
//! Each ONNX model runs its network alone (no pre/post-processing) on an input of the shape
//! recorded for ORT (a fixed pattern, not a photo); graph-executor models go through
//! [`photolabel::zoo::graph::Graph`], NudeNet and MTCNN through their hand-written burn
//! networks. The PyTorch ImageNet models have no ORT figure; their row times `logits` on a
//! real photo (preprocessing included). Mean of N runs after one warm-up (N = 10, fewer for slow
//! models: runs stop after ~3 s).
//!
//! Run: `cargo bench --bench zoo` (release, slow to build on 2 cores) or, in the dev profile
//! (deps at opt-level 3, the crate itself unoptimised), `cargo test --bench zoo`.
//! `PHOTOLABEL_DEVICE=wgpu` times wgpu instead; `-- ID..` limits the models.
//! Weights are fetched into `target/tmp/zoo-cache` (the integration tests' cache).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::prelude::*;
use burn::tensor::TensorData;
use photolabel::zoo::classify::ImagenetClassifier;
use photolabel::zoo::device;
use photolabel::zoo::graph::Graph;
use photolabel::zoo::manifest::Manifest;
use photolabel::zoo::mtcnn::Mtcnn;
use photolabel::zoo::nudenet::YoloV8;
use photolabel::zoo::weights;

const ONNX_GRAPH: &[&str] = &[
    "ppocr_v4_det",
    "ppocr_v5_det",
    "ppocr_v4_rec",
    "ppocr_v5_rec",
    "ppocr_cls_v2",
    "image_orientation",
    "age_v1",
    "gender_v1",
];
const PYTORCH: &[&str] = &[
    "mobilenet_v2",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
];

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("zoo-cache")
}

/// A deterministic input pattern in [-1, 1].
fn pattern(shape: [usize; 4], dev: &Device) -> Tensor<4> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.013).sin()).collect();
    Tensor::from_data(TensorData::new(v, shape), dev)
}

/// Mean milliseconds of `f` after one warm-up.
fn time(mut f: impl FnMut()) -> (f64, usize) {
    f();
    let start = Instant::now();
    let mut n = 0;
    while n < 10 && (n < 2 || start.elapsed() < Duration::from_secs(3)) {
        f();
        n += 1;
    }
    (start.elapsed().as_secs_f64() * 1000.0 / n as f64, n)
}

fn fetch(id: &str) -> PathBuf {
    let spec = Manifest::embedded()
        .and_then(|m| m.get(id))
        .unwrap_or_else(|e| panic!("{e}"));
    weights::fetch(&cache_dir(), spec).unwrap_or_else(|e| panic!("{e:#}"))
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |id: &str| args.is_empty() || args.iter().any(|a| a == id);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ort: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("models/reference/latency_ort.json"))
            .unwrap_or_else(|e| panic!("latency_ort.json: {e}")),
    )
    .unwrap_or_else(|e| panic!("latency_ort.json: {e}"));
    let dev = device::select().unwrap_or_else(|e| panic!("{e}"));
    let profile = if cfg!(debug_assertions) {
        "dev profile (crate unoptimised, deps opt-level 3)"
    } else {
        "release profile"
    };
    println!("burn device: {}; {profile}", dev.describe());
    println!(
        "ORT figures: onnxruntime {} CPU, 1 thread, measured earlier by reference.py on a {}-core machine (not re-measured now)",
        ort["_machine"]["onnxruntime"].as_str().unwrap_or("?"),
        ort["_machine"]["cpus"]
    );
    println!(
        "{:<20} {:<16} {:>10} {:>10} {:>7}  runs",
        "model", "input", "burn_ms", "ort_ms", "ratio"
    );
    let row = |id: &str, shape: &str, ms: f64, n: usize| {
        let ort_ms = ort[id]["threads_1_ms"].as_f64();
        match ort_ms {
            Some(o) => println!(
                "{id:<20} {shape:<16} {ms:>10.1} {o:>10.2} {:>7.1}  {n}",
                ms / o
            ),
            None => println!(
                "{id:<20} {shape:<16} {ms:>10.1} {:>10} {:>7}  {n}",
                "-", "-"
            ),
        }
    };
    let shape_of = |id: &str| -> [usize; 4] {
        let s: Vec<usize> = ort[id]["input_shape"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_u64())
                    .map(|v| v as usize)
                    .collect()
            })
            .unwrap_or_default();
        [s[0], s[1], s[2], s[3]]
    };
    let fmt = |s: [usize; 4]| format!("{}x{}x{}x{}", s[0], s[1], s[2], s[3]);

    for &id in ONNX_GRAPH.iter().filter(|id| wanted(id)) {
        let g = Graph::load(id, &fetch(id), &dev.device).unwrap_or_else(|e| panic!("{e:#}"));
        let shape = shape_of(id);
        let x = pattern(shape, &dev.device);
        let (ms, n) = time(|| {
            let out = g.run(x.clone()).unwrap_or_else(|e| panic!("{e:#}"));
            let _ = out.first().map(|o| o.t.clone().sum().into_scalar::<f32>());
        });
        row(id, &fmt(shape), ms, n);
    }
    if wanted("nudenet_320n") {
        let id = "nudenet_320n";
        let net = YoloV8::load(id, &fetch(id), 18, &dev.device).unwrap_or_else(|e| panic!("{e:#}"));
        let shape = shape_of(id);
        let x = pattern(shape, &dev.device);
        let (ms, n) = time(|| {
            let (a, _) = net.forward(x.clone());
            let _ = a.sum().into_scalar::<f32>();
        });
        row(id, &fmt(shape), ms, n);
    }
    if ["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"]
        .iter()
        .any(|id| wanted(id))
    {
        for id in ["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"] {
            fetch(id);
        }
        let m = Mtcnn::load(&cache_dir(), &dev.device).unwrap_or_else(|e| panic!("{e:#}"));
        let (p, r, o) = m.nets();
        for id in ["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"] {
            // ORT shapes are NHWC; the burn nets take the same data as NCHW.
            let [b, h, w, c] = shape_of(id);
            let x = pattern([b, c, h, w], &dev.device);
            let (ms, n) = time(|| match id {
                "mtcnn_pnet" => {
                    let _ = p.forward(x.clone()).0.sum().into_scalar::<f32>();
                }
                "mtcnn_rnet" => {
                    let _ = r.forward(x.clone()).0.sum().into_scalar::<f32>();
                }
                _ => {
                    let _ = o.forward(x.clone()).0.sum().into_scalar::<f32>();
                }
            });
            row(id, &fmt([b, c, h, w]), ms, n);
        }
    }
    let photo = root.join("../shared/photos/imagenet-sample/n01440764_tench.JPEG");
    let img = photolabel::zoo::load_photo(&photo).ok();
    for &id in PYTORCH.iter().filter(|id| wanted(id)) {
        let Some(img) = &img else {
            println!("{id:<20} (no photo at {})", photo.display());
            continue;
        };
        let spec = Manifest::embedded()
            .and_then(|m| m.get(id))
            .unwrap_or_else(|e| panic!("{e}"));
        let net = ImagenetClassifier::load(spec, &fetch(id), &dev.device)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let (ms, n) = time(|| {
            net.logits(img).unwrap_or_else(|e| panic!("{e:#}"));
        });
        row(id, "photo (+prep)", ms, n);
    }
}
