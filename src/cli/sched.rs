//! The scheduler's commands: `trace` (record every model on every photo), `bench-sched`
//! (replay the policies on traces) and `retrain` (a new network from the library's log or from
//! traces; `--out` writes it to a file instead, which is how the shipped default is made).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use photolabel::config::Paths;
use photolabel::label::library::{apply_corrections, store_trace};
use photolabel::label::lock::LibraryLock;
use photolabel::rl::TrainConfig;
use photolabel::rl::bench::{BenchConfig, bench_sched as run_bench, generalisation};
use photolabel::rl::retrain::{retrain as run_retrain, roll_back};
use photolabel::sched::record;
use photolabel::sched::trace::{Trace, TraceHeader, TraceModel};
use photolabel::store::Store;
use photolabel::zoo::{self, Labeler, Manifest};

use super::output::bar;

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
    /// Traces of another library to test on (generalisation); empty: split `--traces`.
    pub test: Vec<PathBuf>,
    /// With `test`: retraining set sizes taken from the test traces.
    pub retrain_on: Vec<usize>,
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
    let mut progress = |step: &str| {
        if !json {
            eprintln!("... {step}");
        }
    };
    if !o.test.is_empty() {
        let library = read_traces(&o.test)?;
        let ids = |t: &Trace| {
            t.header
                .models
                .iter()
                .map(|m| m.id.clone())
                .collect::<Vec<_>>()
        };
        if ids(&library) != ids(&trace) {
            anyhow::bail!("--test traces record other models than --traces");
        }
        let reports = generalisation(&trace, &library, &o.retrain_on, &cfg, &mut progress)?;
        if json {
            let v: Vec<_> = reports
                .iter()
                .map(|(scenario, report)| serde_json::json!({"scenario": scenario, "report": report}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            for (scenario, report) in &reports {
                println!("== {scenario}");
                print!("{}", report.table());
                println!();
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = run_bench(&trace, &cfg, &mut progress)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `photolabel retrain`.
pub struct RetrainOptions {
    pub traces: Vec<PathBuf>,
    pub epochs: Option<usize>,
    pub dry_run: bool,
    pub force: bool,
    pub roll_back: bool,
    /// Write the trained network here instead of installing it.
    pub out: Option<PathBuf>,
}

pub fn retrain(paths: &Paths, o: &RetrainOptions, json: bool) -> anyhow::Result<ExitCode> {
    let RetrainOptions {
        traces,
        epochs,
        dry_run,
        force,
        roll_back: roll,
        out,
    } = o;
    let (epochs, dry_run, force, roll) = (*epochs, *dry_run || out.is_some(), *force, *roll);
    let _lock = if out.is_none() {
        Some(LibraryLock::acquire(&paths.db)?)
    } else {
        None
    };
    if roll {
        roll_back(&paths.data_dir)?;
        println!("the previous value network is back in place");
        return Ok(ExitCode::SUCCESS);
    }
    let data = if traces.is_empty() {
        let mut store = Store::open(&paths.db)?;
        if !dry_run {
            apply_corrections(&mut store)?;
        }
        store_trace(&store)?
    } else {
        read_traces(traces)?
    };
    let mut cfg = TrainConfig::default();
    if let Some(e) = epochs {
        cfg.epochs = e;
    }
    let pb = bar(cfg.epochs as u64, json);
    let (report, ckpt) = run_retrain(
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
    if let Some(out) = out {
        ckpt.save(out)?;
        eprintln!("wrote the network to {}", out.display());
    }
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
