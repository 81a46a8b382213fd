//! Scheduled labelling end to end with the real models and real photos: `label DIR` writes
//! labels and the decision log into the library, `trace` records every model's outputs,
//! `retrain` learns a value network from the trace, and a deadline then makes the scheduler
//! skip models with a recorded reason.
//!
//! Needs the model weights (fetched through the real fetch step into the test cache shared
//! with tests/zoo.rs) and ../shared/photos; `PHOTOLABEL_SKIP_MODEL_TESTS=1` skips it.

#![allow(clippy::unwrap_used)] // setup failures should panic with their message

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::TempLib;
use photolabel::store::{RunStatus, Store};
use photolabel::zoo::{self, Manifest, weights};

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("zoo-cache")
}

fn cli(lib: &TempLib) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_photolabel"));
    c.env("PHOTOLABEL_DB", lib.db())
        .env("PHOTOLABEL_CACHE_DIR", cache_dir())
        .env("PHOTOLABEL_DATA_DIR", lib.dir.path().join("data"))
        .env("PHOTOLABEL_DEVICE", "cpu");
    c
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn label_trace_retrain_and_schedule_under_a_deadline() {
    if std::env::var("PHOTOLABEL_SKIP_MODEL_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("skipped (PHOTOLABEL_SKIP_MODEL_TESTS=1)");
        return;
    }
    let manifest = Manifest::embedded().unwrap();
    for id in zoo::IMPLEMENTED.iter().flat_map(|id| zoo::weight_ids(id)) {
        weights::fetch(&cache_dir(), manifest.get(id).unwrap()).unwrap();
    }
    let lib = TempLib::new();
    let root = lib.photos();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/photos/imagenet-sample");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files.iter().step_by(50).take(10) {
        std::fs::copy(f, root.join(f.file_name().unwrap())).unwrap();
    }

    // Cold start (no network yet): every model runs, cheapest first, all logged.
    let out = run_ok(
        cli(&lib)
            .args(["label", "--json", "--exploration", "0"])
            .arg(&root),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let n_models = zoo::IMPLEMENTED.len() as u64;
    assert_eq!(v["photos"], 10);
    assert_eq!(v["models_ran"].as_u64(), Some(10 * n_models));
    let store = Store::open(&lib.db()).unwrap();
    let tench = store
        .photo_by_path(&root.canonicalize().unwrap().join("n01440764_tench.JPEG"))
        .unwrap()
        .unwrap();
    let labels = store.labels_for(tench.id).unwrap();
    assert!(labels.iter().any(|l| l.label == "tench"), "{labels:?}");
    let runs = store.runs_for(tench.id).unwrap();
    assert_eq!(runs.len() as u64, n_models);
    assert!(
        runs.iter()
            .all(|r| r.status == RunStatus::Ran && r.duration_ms.unwrap() > 0.0)
    );
    assert_eq!(store.stats().unwrap().photos_labelled, 10);
    // The CLI path stores the scheduler's context and the deadline (none here).
    let (ctx, deadline) = store.sched_run(tench.id).unwrap();
    assert!(ctx.unwrap().contains("\"width\""));
    assert_eq!(deadline, None);
    drop(store);
    // Every model's cost profile on this device, from that log.
    let costs: serde_json::Value =
        serde_json::from_str(&run_ok(cli(&lib).args(["--json", "models", "costs"]))).unwrap();
    let costs = costs.as_array().unwrap();
    assert_eq!(costs.len() as u64, n_models, "{costs:?}");
    for c in costs {
        let (mean, p95) = (
            c["mean_ms"].as_f64().unwrap(),
            c["p95_ms"].as_f64().unwrap(),
        );
        assert_eq!(c["runs"], 10, "{c}");
        assert!(
            mean > 0.0 && p95 >= mean * 0.5 && c["peak_mem_bytes"].as_i64() > Some(0),
            "{c}"
        );
    }

    // Record a trace and train on it.
    let trace = lib.dir.path().join("t.jsonl");
    run_ok(cli(&lib).arg("trace").arg(&root).arg("--out").arg(&trace));
    let t = photolabel::sched::trace::Trace::read(&trace).unwrap();
    assert_eq!(t.photos.len(), 10);
    assert!(t.photos.iter().all(|p| p.runs.len() as u64 == n_models));
    let out = run_ok(
        cli(&lib)
            .args(["retrain", "--json", "--epochs", "5", "--traces"])
            .arg(&trace),
    );
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["installed"], true);
    assert!(lib.dir.path().join("data/scheduler/current.json").exists());

    // A deadline below one photo's run-all time forces skips, each with its reason.
    let out = run_ok(
        cli(&lib)
            .args([
                "label",
                "--json",
                "--relabel",
                "--exploration",
                "0",
                "--deadline-ms",
                "120",
            ])
            .arg(&root),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["models_skipped"].as_u64().unwrap() > 0, "{v}");
    let store = Store::open(&lib.db()).unwrap();
    assert_eq!(store.sched_run(tench.id).unwrap().1, Some(120.0));
    let runs = store.runs_for(tench.id).unwrap();
    let skipped: Vec<_> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Skipped)
        .collect();
    assert!(!skipped.is_empty(), "{runs:?}");
    assert!(
        skipped
            .iter()
            .all(|r| r.reason.is_some() && r.predicted_value.is_some())
    );
    assert!(
        runs.iter()
            .filter(|r| r.status == RunStatus::Ran)
            .all(|r| r.predicted_value.is_some())
    );
}
