//! Command-line front of the scheduler: `label DIR` (scheduled labelling into the library),
//! `trace`, `bench-sched` and `retrain`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use photolabel::config::Paths;
use photolabel::label::{LabelConfig, LibraryLabeller};
use photolabel::rl::bench::{BenchConfig, bench_sched as run_bench};
use photolabel::rl::retrain::{checkpoint_paths, retrain as run_retrain, roll_back};
use photolabel::rl::{Checkpoint, TrainConfig};
use photolabel::scan::{self, ScanOptions};
use photolabel::sched::record;
use photolabel::sched::trace::{Trace, TraceHeader, TraceModel};
use photolabel::store::Store;
use photolabel::zoo::{self, Labeler, Manifest};

fn bar(len: u64, json: bool) -> ProgressBar {
    let bar = if json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Loads every implemented model whose weights are present; the others are reported and
/// skipped (a missing model never stops the rest).
/// Loaded models, their trace metadata, and the device description.
type LoadedModels = (Vec<Box<dyn Labeler>>, Vec<TraceModel>, String);

fn load_models(paths: &Paths) -> anyhow::Result<LoadedModels> {
    let manifest = Manifest::embedded()?;
    let dev = zoo::device::select()?;
    let mut models = Vec::new();
    let mut meta = Vec::new();
    for id in zoo::IMPLEMENTED {
        match zoo::load(id, &paths.cache_dir, &dev.device) {
            Ok(m) => {
                let spec = manifest.get(id)?;
                meta.push(TraceModel {
                    id: id.to_string(),
                    family: spec.family.clone(),
                    threshold: spec.threshold,
                });
                models.push(m);
            }
            Err(e) => eprintln!("photolabel: skipping a model: {e:#}"),
        }
    }
    if models.is_empty() {
        anyhow::bail!("no model could be loaded; run `photolabel models fetch` first");
    }
    Ok((models, meta, dev.describe()))
}

pub struct LabelDirOptions {
    pub all: bool,
    pub deadline_ms: Option<f64>,
    pub exploration: f64,
    pub relabel: bool,
    pub memory_budget: Option<u64>,
}

pub fn label_dir(
    paths: &Paths,
    dir: &Path,
    opts: &LabelDirOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut store = Store::open(&paths.db)?;
    let scan_opts = ScanOptions::new(paths.thumbs_dir());
    let s = scan::scan(
        &mut store,
        &[dir.to_path_buf()],
        &scan_opts,
        None,
        &AtomicBool::new(false),
    )
    .context("scan failed")?;
    if !json {
        println!(
            "scanned {} files: {} new, {} failed",
            s.seen, s.new, s.failed
        );
    }
    let (models, meta, device) = load_models(paths)?;
    let thresholds: HashMap<String, f32> =
        meta.iter().map(|m| (m.id.clone(), m.threshold)).collect();
    let (current, _) = checkpoint_paths(&paths.data_dir);
    let checkpoint = Checkpoint::load(&current).ok();
    if !json {
        println!(
            "device {device}; value network: {}",
            if checkpoint.is_some() {
                current.display().to_string()
            } else {
                "none yet (cold start: cheapest models first; run `photolabel retrain`)".into()
            }
        );
    }
    // Peak memory estimate: weights plus activations, about four times the weight file.
    let manifest = Manifest::embedded()?;
    let model_memory = meta
        .iter()
        .filter_map(|m| manifest.get(&m.id).ok().map(|s| (m.id.clone(), s.size * 4)))
        .collect();
    let cfg = LabelConfig {
        deadline_ms: opts.deadline_ms,
        exploration: opts.exploration,
        run_all: opts.all,
        memory_budget: opts.memory_budget,
        model_memory,
        ..LabelConfig::default()
    };
    let mut labeller = LibraryLabeller::new(models, &thresholds, &store, checkpoint.as_ref(), cfg)?;
    let root = std::fs::canonicalize(dir)?;
    let photos: Vec<_> = store
        .photos_newest_first(usize::MAX >> 1, 0)?
        .into_iter()
        .filter(|p| p.path.starts_with(&root))
        .filter(|p| p.status == photolabel::store::PhotoStatus::Ok)
        .filter(|p| opts.relabel || p.label_status != photolabel::store::LabelStatus::Labelled)
        .collect();
    let pb = bar(photos.len() as u64, json);
    let (mut ran, mut skipped, mut failed, mut ms) = (0usize, 0usize, 0usize, 0f64);
    for p in &photos {
        match labeller.label_into(&mut store, p) {
            Ok(r) => {
                ms += r.elapsed_ms;
                for run in &r.runs {
                    match run.status {
                        photolabel::store::RunStatus::Ran => ran += 1,
                        photolabel::store::RunStatus::Skipped => skipped += 1,
                        photolabel::store::RunStatus::Failed => failed += 1,
                    }
                }
            }
            Err(e) => {
                failed += 1;
                pb.suspend(|| eprintln!("photolabel: {e:#}"));
            }
        }
        pb.inc(1);
        pb.set_message(format!("{ran} runs, {skipped} skipped"));
    }
    pb.finish_and_clear();
    let summary = serde_json::json!({
        "photos": photos.len(), "models_ran": ran, "models_skipped": skipped,
        "failed": failed, "model_time_ms": ms,
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "labelled {} photos: {ran} model runs, {skipped} skipped by the scheduler, {failed} \
             failed, {:.1} s of model time",
            photos.len(),
            ms / 1e3
        );
    }
    Ok(if failed > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn trace(
    paths: &Paths,
    dir: &Path,
    out: &Path,
    extend: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let earlier = extend.map(Trace::read).transpose()?;
    if extend.is_some_and(|e| same_file(e, out)) {
        anyhow::bail!("--extend and --out must be different files");
    }
    let (models, meta, device) = load_models(paths)?;
    let pb = bar(0, json);
    let summary = record::record(
        dir,
        &models,
        meta,
        device,
        out,
        &mut |done, total| {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        },
        &AtomicBool::new(false),
        earlier.as_ref(),
    )?;
    pb.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "recorded {} photos ({} failed, {} extended from the earlier trace) in {:.0}s: {}",
            summary.photos,
            summary.failed,
            summary.reused,
            summary.seconds,
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether two paths name the same existing file (or the same path).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Reads and concatenates traces (they must share their models).
fn read_traces(files: &[PathBuf]) -> anyhow::Result<Trace> {
    let mut all: Option<Trace> = None;
    for f in files {
        let t = Trace::read(f)?;
        match &mut all {
            None => all = Some(t),
            Some(a) => {
                let ids =
                    |h: &TraceHeader| h.models.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
                if ids(&a.header) != ids(&t.header) {
                    anyhow::bail!("traces record different models: {}", f.display());
                }
                a.photos.extend(t.photos);
            }
        }
    }
    all.context("no trace given")
}

pub struct BenchOptions {
    pub train_share: f64,
    pub val_share: f64,
    pub folds: usize,
    pub target_recall: f64,
    pub epochs: Option<usize>,
    pub seed: u64,
    pub rich_dqn: bool,
}

pub fn bench_sched(files: &[PathBuf], o: &BenchOptions, json: bool) -> anyhow::Result<ExitCode> {
    let trace = read_traces(files)?;
    if !(0.0..1.0).contains(&o.val_share) || !(0.0..1.0).contains(&o.train_share) {
        anyhow::bail!("--train-share and --val-share must be in [0, 1)");
    }
    let mut cfg = BenchConfig {
        train_share: o.train_share,
        val_share: o.val_share,
        folds: o.folds,
        target_recall: o.target_recall,
        seed: o.seed,
        rich_dqn: o.rich_dqn,
        ..BenchConfig::default()
    };
    if let Some(e) = o.epochs {
        cfg.ours.epochs = e;
    }
    let report = run_bench(&trace, &cfg, &mut |step| {
        if !json {
            eprintln!("... {step}");
        }
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn retrain(
    paths: &Paths,
    traces: &[PathBuf],
    epochs: Option<usize>,
    dry_run: bool,
    force: bool,
    roll: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if roll {
        roll_back(&paths.data_dir)?;
        println!("the previous value network is back in place");
        return Ok(ExitCode::SUCCESS);
    }
    let data = if traces.is_empty() {
        let store = Store::open(&paths.db)?;
        let manifest = Manifest::embedded()?;
        let models: Vec<(String, f32)> = zoo::IMPLEMENTED
            .iter()
            .filter_map(|id| manifest.get(id).ok().map(|s| (id.to_string(), s.threshold)))
            .collect();
        let header = TraceHeader::new(
            "library log".into(),
            models
                .iter()
                .map(|(id, t)| TraceModel {
                    id: id.clone(),
                    family: manifest
                        .get(id)
                        .map(|s| s.family.clone())
                        .unwrap_or_default(),
                    threshold: *t,
                })
                .collect(),
        );
        Trace {
            header,
            photos: store.export_trace(&models)?,
        }
    } else {
        read_traces(traces)?
    };
    let mut cfg = TrainConfig::default();
    if let Some(e) = epochs {
        cfg.epochs = e;
    }
    let pb = bar(cfg.epochs as u64, json);
    let (report, _) = run_retrain(
        &data,
        &paths.data_dir,
        &cfg,
        !dry_run,
        force,
        &mut |p| {
            pb.set_position(p.epoch as u64);
            pb.set_message(format!("loss {:.3}, return {:.2}", p.loss, p.mean_return));
        },
        &AtomicBool::new(false),
    )?;
    pb.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "trained on {} photos, compared on {} held-out photos",
            report.train_photos, report.held_out_photos
        );
        let line = |name: &str, p: &photolabel::sched::eval::PolicyReport| {
            println!(
                "{name:<8} time to 100% {:>5.1}%  to 95% {:>5.1}%  recall area {:.3}",
                p.time_to_100 * 100.0,
                p.time_to_95 * 100.0,
                p.area
            );
        };
        if let Some(b) = &report.before {
            line("before", b);
        }
        line("after", &report.after);
        println!(
            "{}",
            match (report.installed, report.improved) {
                (true, _) => "installed the new network (roll back with --roll-back)",
                (false, true) => "better, but not installed (--dry-run)",
                (false, false) => "not better than the current network: kept the current one",
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
