//! The `photolabel` binary: with no subcommand it opens the desktop GUI (feature `gui`; a
//! double-click starts it this way), otherwise the command-line interface over the core
//! (scan, search, show, stats). Exit codes: 0 success, 1 error, 2 bad usage, 3 finished but some files failed,
//! 4 nothing found (search without hits, show of an unknown path).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use photolabel::config::Paths;
use photolabel::scan::{self, ScanEvent, ScanOptions};
use photolabel::store::{Store, query::Query};

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
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("photolabel: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = Paths::resolve(cli.db.clone())?;
    let Some(command) = cli.command else {
        return open_gui(paths, cli.open);
    };
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
    }
}

#[cfg(feature = "gui")]
fn open_gui(paths: Paths, mut open: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    if let Some(env) = std::env::var_os("PHOTOLABEL_OPEN") {
        open.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
    }
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
