//! `photolabel label`: a folder is scanned into the library and its photos labelled by the
//! core's labelling service (the same as the app's: models, shipped or retrained network, cost
//! profile, store writes, retries); a single photo runs the chosen models and prints their
//! labels and times without touching the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use photolabel::config::Paths;
use photolabel::engine::LabelSettings;
use photolabel::json_path::JsonPath;
use photolabel::label::lock::LibraryLock;
use photolabel::label::models::{ModelStatus, ModelStep};
use photolabel::label::service::{LabelService, ServiceOptions};
use photolabel::people::grouping::Regroup;
use photolabel::scan::{self, ScanOptions};
use photolabel::store::{LabelStatus, PhotoStatus, RunStatus, Store};
use photolabel::zoo;

use super::exit;
use super::output::bar;

/// Arguments of `photolabel label`.
#[derive(Args, Debug)]
pub struct LabelArgs {
    /// A photo (print its labels), or a folder: scan it into the library and label its
    /// photos with the adaptive scheduler, writing labels and decisions to the library.
    pub photo: PathBuf,
    /// Run every implemented model (on a folder: skip the scheduler).
    #[arg(long)]
    pub all: bool,
    /// Run these models (repeatable; single photos only).
    #[arg(long = "model", value_name = "ID")]
    pub models: Vec<String>,
    /// Per-photo deadline in milliseconds (folders; default: the app's, 1000).
    #[arg(long, conflicts_with = "no_deadline")]
    pub deadline_ms: Option<f64>,
    /// No per-photo deadline: the scheduler stops only when nothing left is worth running.
    #[arg(long)]
    pub no_deadline: bool,
    /// Share of photos that run every model to keep training data unbiased (folders; default:
    /// the app's, 0.05).
    #[arg(long)]
    pub exploration: Option<f64>,
    /// Share of each photo's valuable labels to find before stopping, in percent (folders;
    /// default: the app's, 95): the early stop chosen for it on validation photos.
    #[arg(long, value_parser = clap::value_parser!(u8).range(50..=100))]
    pub thoroughness: Option<u8>,
    /// Label the folder's photos within this time (e.g. `45m`, `2h`, `90s`; folders): each
    /// photo's deadline then comes from the time left and the photos left, and models must be
    /// worth a price on time that follows the pace (replaces --deadline-ms).
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["deadline_ms", "no_deadline"])]
    pub within: Option<std::time::Duration>,
    /// Relabel photos that already have labels (folders).
    #[arg(long)]
    pub relabel: bool,
    /// Run models concurrently within this much device memory (MiB), with the anchor/fill
    /// rule (folders; on a GPU: the CPU runs models one after the other).
    #[arg(long)]
    pub memory_budget_mb: Option<u64>,
}

impl LabelArgs {
    /// The service options of these arguments: the app's default settings with the flags
    /// given applied (the one place the CLI builds them).
    pub fn options(&self) -> ServiceOptions {
        let mut o = LabelSettings::default().service_options();
        if let Some(d) = self.deadline_ms {
            o.config.deadline_ms = Some(d);
        }
        if self.no_deadline {
            o.config.deadline_ms = None;
        }
        if let Some(t) = self.thoroughness {
            o.config.thoroughness = Some(f64::from(t) / 100.0);
        }
        if let Some(e) = self.exploration {
            o.config.exploration = e.clamp(0.0, 1.0);
        }
        if let Some(m) = self.memory_budget_mb {
            o.config.memory_budget = Some(m << 20);
        }
        o.config.run_all = self.all;
        o
    }
}

/// `photolabel label PATH`.
pub fn run(paths: &Paths, args: &LabelArgs, json: bool) -> anyhow::Result<ExitCode> {
    if args.photo.is_dir() {
        label_dir(paths, &args.photo, args, json)
    } else {
        label_one(paths, &args.photo, args.all, args.models.clone(), json)
    }
}

/// Model preparation as lines on stderr.
fn report(status: ModelStatus) {
    match status {
        ModelStatus::Preparing {
            model,
            step: ModelStep::Downloading,
            ..
        } => eprintln!("photolabel: fetching the weights of {model}"),
        ModelStatus::Failed { model, error } => {
            eprintln!("photolabel: skipping model {model}: {error}");
        }
        ModelStatus::DeviceChanged { device, reason } => {
            eprintln!("photolabel: {reason}; models moved to {device}");
        }
        _ => {}
    }
}

/// A duration as the user writes it: a number with `s`, `m` or `h` (seconds without a unit).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (try 45m, 2h or 90s)"))?;
    let secs = match unit.trim() {
        "s" | "sec" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        u => return Err(format!("unknown unit {u:?} in {s:?} (use s, m or h)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(format!("a duration must be positive: {s:?}"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn label_dir(paths: &Paths, dir: &Path, args: &LabelArgs, json: bool) -> anyhow::Result<ExitCode> {
    let _lock = LibraryLock::acquire(&paths.db)?;
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
    let mut service = LabelService::open(paths, &mut store, args.options(), &report)?;
    if !json {
        println!(
            "device {}; scheduler: {}",
            service.device(),
            service.network()
        );
    }
    let root = std::fs::canonicalize(dir)?;
    let photos: Vec<_> = store
        .photos_newest_first(usize::MAX >> 1, 0)?
        .into_iter()
        .filter(|p| p.path.starts_with(&root))
        .filter(|p| p.status == PhotoStatus::Ok)
        .filter(|p| args.relabel || p.label_status != LabelStatus::Labelled)
        .collect();
    if let Some(d) = args.within {
        service.set_budget(d, photos.len());
    }
    let pb = bar(photos.len() as u64, json);
    let (mut ran, mut late, mut skipped, mut failed, mut ms) =
        (0usize, 0usize, 0usize, 0usize, 0f64);
    let mut regroup = Regroup::new(Duration::from_secs(30));
    let mut faces = 0usize;
    for (done, p) in photos.iter().enumerate() {
        match service.label_photo(&mut store, p, &report) {
            Ok(r) => {
                ms += r.elapsed_ms;
                let found = r.faces.as_ref().map_or(0, |f| f.faces.len());
                faces += found;
                regroup.stored(found);
                regroup.tick(&mut store)?;
                for run in &r.runs {
                    match run.status {
                        RunStatus::Ran => ran += 1,
                        RunStatus::Late => late += 1,
                        RunStatus::Skipped => skipped += 1,
                        RunStatus::Failed => failed += 1,
                    }
                }
            }
            Err(e) if e.is_storage() => {
                // Nothing more can be saved: stop with the cause rather than label the rest in
                // vain. What was written before stays.
                pb.finish_and_clear();
                return Err(anyhow::Error::new(e).context(format!(
                    "labelling stopped after {done} of {} photos",
                    photos.len()
                )));
            }
            Err(e) => {
                failed += 1;
                pb.suspend(|| eprintln!("photolabel: {e:#}"));
            }
        }
        pb.inc(1);
        match service.budget() {
            Some(b) => pb.set_message(format!(
                "{ran} runs, {skipped} skipped; {} s of the budget left, done in ~{} s",
                b.left.as_secs(),
                b.expected.map_or(0, |e| e.as_secs())
            )),
            None => pb.set_message(format!("{ran} runs, {skipped} skipped")),
        }
    }
    regroup.flush(&mut store)?;
    pb.finish_and_clear();
    let unsorted = store.unsorted_face_count()?;
    let persons = store.persons()?.len();
    let summary = serde_json::json!({
        "photos": photos.len(), "models_ran": ran, "models_late": late,
        "models_skipped": skipped, "failed": failed, "model_time_ms": ms,
        "device": service.device(), "scheduler": service.network().to_string(),
        "faces": faces, "persons": persons, "unsorted_faces": unsorted,
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "labelled {} photos: {ran} model runs ({late} finished after the deadline), \
             {skipped} skipped by the scheduler, {failed} failed, {:.1} s of model time",
            photos.len(),
            ms / 1e3
        );
        if faces > 0 {
            println!(
                "{faces} faces described; the library has {persons} persons and {unsorted} \
                 unsorted faces (photolabel people list)"
            );
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(exit::PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

fn label_one(
    paths: &Paths,
    photo: &std::path::Path,
    all: bool,
    models: Vec<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let ids: Vec<String> = if all {
        zoo::IMPLEMENTED.iter().map(|s| s.to_string()).collect()
    } else if !models.is_empty() {
        models
    } else {
        anyhow::bail!("say which models to run: --all or --model ID");
    };
    let t = Instant::now();
    let img = zoo::load_photo(photo)?;
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;
    let dev = zoo::device::select()?;
    if !json {
        println!(
            "{}: {}x{} decoded in {decode_ms:.0} ms; device {}",
            photo.display(),
            img.width(),
            img.height(),
            dev.describe()
        );
    }
    let mut out = Vec::new();
    let mut failed = 0;
    for id in &ids {
        let t = Instant::now();
        let result = zoo::load(id, &paths.cache_dir, &dev.device).and_then(|m| {
            let load_ms = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let preds = m.run(&img)?;
            let first_ms = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            m.run(&img)?;
            let warm_ms = t.elapsed().as_secs_f64() * 1e3;
            Ok((preds, load_ms, first_ms, warm_ms))
        });
        match result {
            Ok((preds, load_ms, first_ms, warm_ms)) => {
                if !json {
                    let labels: Vec<String> = preds
                        .iter()
                        .map(|p| format!("{} ({:.2})", p.label, p.confidence))
                        .collect();
                    println!(
                        "{id:<20} load {load_ms:>6.0} ms  first {first_ms:>6.0} ms  warm {warm_ms:>6.1} ms  {}",
                        if labels.is_empty() {
                            "-".to_owned()
                        } else {
                            labels.join(", ")
                        }
                    );
                }
                out.push(serde_json::json!({
                    "model": id, "predictions": preds, "load_ms": load_ms,
                    "first_run_ms": first_ms, "warm_run_ms": warm_ms,
                }));
            }
            Err(err) => {
                failed += 1;
                eprintln!("photolabel: {err:#}");
                out.push(serde_json::json!({ "model": id, "error": format!("{err:#}") }));
            }
        }
    }
    if json {
        let v = serde_json::json!({ "photo": JsonPath(photo), "device": dev.describe(), "models": out });
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(if failed > 0 {
        ExitCode::from(exit::PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_as_users_write_them() {
        assert_eq!(parse_duration("45m"), Ok(Duration::from_secs(2700)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 20 s "), Ok(Duration::from_secs(20)));
        for bad in ["", "h", "-5m", "3 days", "0s", "inf"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
