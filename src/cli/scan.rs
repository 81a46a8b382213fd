//! `photolabel scan DIR...`: add folders to the library and scan them, with a progress bar;
//! and opening an existing library for the read-only commands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use photolabel::config::Paths;
use photolabel::label::lock::LibraryLock;

use photolabel::scan::{self, ScanEvent, ScanOptions};
use photolabel::store::Store;

use super::exit;

/// Scans `dirs` into the library (the writer lock held throughout).
pub fn run(
    paths: &Paths,
    dirs: &[PathBuf],
    opts: &ScanOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let _lock = LibraryLock::acquire(&paths.db)?;
    let mut store = Store::open(&paths.db)?;
    scan_cmd(&mut store, dirs, opts, json)
}

/// Opens the library for reading; an error when there is none yet.
pub fn open_existing(paths: &Paths) -> anyhow::Result<Store> {
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
        if summary.offline > 0 {
            println!(
                "{} library folder(s) gone or empty although their photos were there (a drive \
                 not mounted?): their photos are kept",
                summary.offline
            );
        }
    }
    Ok(if summary.failed + summary.walk_errors > 0 {
        ExitCode::from(exit::PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}
