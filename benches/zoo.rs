//! Model zoo latency: burn (flex CPU by default) per implemented model vs onnxruntime on the CPU
//! on the same model file, input and thread count (burn's rayon pool size, see
//! [`burn_threads`]; `RAYON_NUM_THREADS=1` for one thread), as a ratio from one run.
//!
//! The ORT figures are measured now by `tools/reference/ort_latency.py`, run as a subprocess with
//! the interpreter in `PHOTOLABEL_ORT_PYTHON` (default `python3`) before burn is timed; the input
//! is the same pattern and shape as burn's below. When that interpreter cannot import
//! onnxruntime (or the script fails), the bench falls back to the figures stored in
//! `models/reference/latency_ort.json` (measured earlier by `tools/reference/reference.py` on
//! the first photo's input) and labels them `recorded`: those ratios compare across runs.
//!
//! Each ONNX model runs its network alone (no pre/post-processing) on an input of the shape
//! recorded for ORT (a fixed pattern, not a photo); graph-executor models go through
//! [`photolabel::zoo::graph::Graph`], NudeNet and MTCNN through their hand-written burn
//! networks. The PyTorch ImageNet models have no ORT figure; their row times `logits` on a
//! real photo (preprocessing included). Mean of N runs after one warm-up (N = 10, fewer for slow
//! models: runs stop after ~3 s).
//!
//! The ImageNet classifiers are also timed on batches of 4 and 8 photos in one forward pass
//! (`batch` rows, per photo, with the ratio to the single-photo time).
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

const MTCNN: [&str; 3] = ["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"];

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

/// onnxruntime figures for one bench run: `ms` per model id, and whether they were measured now.
struct OrtFigures {
    ms: std::collections::HashMap<String, f64>,
    measured_now: bool,
    about: String,
}

/// Runs `tools/reference/ort_latency.py` on `(id, file, shape)` and parses its JSON, or says why
/// not.
/// Threads burn's CPU backend uses (its rayon pool): `RAYON_NUM_THREADS`, else every core.
/// onnxruntime gets as many intra-op threads, so the ratio compares like with like; run with
/// `RAYON_NUM_THREADS=1` for the single-thread figures.
fn burn_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn ort_measure(root: &Path, items: &[(String, PathBuf, [usize; 4])]) -> Result<OrtFigures, String> {
    let python = std::env::var("PHOTOLABEL_ORT_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = root.join("tools/reference/ort_latency.py");
    let mut cmd = std::process::Command::new(&python);
    let threads = burn_threads().to_string();
    cmd.arg(&script)
        .args(["--threads", &threads, "--runs", "10", "--warmup", "2"]);
    for (id, file, s) in items {
        cmd.arg(format!(
            "{id}={}:{}x{}x{}x{}",
            file.display(),
            s[0],
            s[1],
            s[2],
            s[3]
        ));
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{python} {}: {} ({})",
            script.display(),
            err.trim(),
            out.status
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("ort_latency.py printed no JSON: {e}"))?;
    let mut ms = std::collections::HashMap::new();
    for (id, _, _) in items {
        match (v[id]["ms"].as_f64(), v[id]["error"].as_str()) {
            (Some(m), _) => {
                ms.insert(id.clone(), m);
            }
            (None, Some(e)) => eprintln!("ORT {id}: {e}"),
            (None, None) => eprintln!("ORT {id}: no figure"),
        }
    }
    Ok(OrtFigures {
        ms,
        measured_now: true,
        about: format!(
            "onnxruntime {} CPU, {threads} intra-op thread(s) like burn's pool, measured now ({python}; mean of {} after {} warm-ups, same input pattern as burn)",
            v["_machine"]["onnxruntime"].as_str().unwrap_or("?"),
            v["_machine"]["runs"],
            v["_machine"]["warmup"]
        ),
    })
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

    // onnxruntime first (alone on the CPU), on the same files and input shapes as burn below.
    let onnx_ids: Vec<&str> = ONNX_GRAPH
        .iter()
        .chain(&["nudenet_320n", "mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"])
        .copied()
        .filter(|id| wanted(id) || (id.starts_with("mtcnn_") && MTCNN.iter().any(|m| wanted(m))))
        .collect();
    let items: Vec<(String, PathBuf, [usize; 4])> = onnx_ids
        .iter()
        .map(|&id| (id.to_owned(), fetch(id), shape_of(id)))
        .collect();
    let recorded = || OrtFigures {
        ms: onnx_ids
            .iter()
            .filter_map(|&id| Some((id.to_owned(), ort[id]["threads_1_ms"].as_f64()?)))
            .collect(),
        measured_now: false,
        about: format!(
            "onnxruntime {} CPU, 1 thread, RECORDED earlier by reference.py on a {}-core machine \
             (first photo's input), not measured in this run; burn uses {} thread(s)",
            ort["_machine"]["onnxruntime"].as_str().unwrap_or("?"),
            ort["_machine"]["cpus"],
            burn_threads()
        ),
    };
    let ort_now = if items.is_empty() {
        recorded()
    } else {
        ort_measure(root, &items).unwrap_or_else(|why| {
            println!("onnxruntime not measured now: {why}");
            recorded()
        })
    };
    println!("ORT figures: {}", ort_now.about);
    let ort_col = if ort_now.measured_now {
        "ort_ms"
    } else {
        "ort_ms(rec)"
    };
    println!(
        "{:<20} {:<16} {:>10} {:>12} {:>7}  runs",
        "model", "input", "burn_ms", ort_col, "ratio"
    );
    let row = |id: &str, shape: &str, ms: f64, n: usize| match ort_now.ms.get(id) {
        Some(o) if ort_now.measured_now => println!(
            "{id:<20} {shape:<16} {ms:>10.1} {o:>12.2} {:>7.1}  {n}",
            ms / o
        ),
        Some(o) => println!(
            "{id:<20} {shape:<16} {ms:>10.1} {:>12} {:>7.1}  {n}",
            format!("{o:.2} rec"),
            ms / o
        ),
        None => println!(
            "{id:<20} {shape:<16} {ms:>10.1} {:>12} {:>7}  {n}",
            "-", "-"
        ),
    };

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
    if MTCNN.iter().any(|id| wanted(id)) {
        for id in MTCNN {
            fetch(id);
        }
        let m = Mtcnn::load(&cache_dir(), &dev.device).unwrap_or_else(|e| panic!("{e:#}"));
        let (p, r, o) = m.nets();
        for id in MTCNN {
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
        // Batches: photos waiting for the same model in one forward pass, per photo, against
        // the single-photo time just measured.
        for size in [4, 8] {
            let batch = vec![img; size];
            let (bms, bn) = time(|| {
                net.logits_batch(&batch).unwrap_or_else(|e| panic!("{e:#}"));
            });
            let per = bms / size as f64;
            println!(
                "{:<20} {:<16} {per:>10.1} {:>12} {:>7}  {bn}   batch of {size}: {:.2}x the single-photo time per photo",
                format!("{id} batch"),
                format!("{size} photos"),
                "-",
                "-",
                per / ms
            );
        }
    }
}
