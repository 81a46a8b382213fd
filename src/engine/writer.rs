//! The writer thread: folder and tag edits on its own connection, and the scan lifecycle.
//! A scan runs on a separate thread (with its own connection) so that edits stay quick while
//! it works; pausing sets the scan's cancel flag, resuming starts an incremental rescan of
//! every folder, and folders added during a scan are picked up by a rescan right after it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, select};

use super::EventSink;
use super::command::{Command, Event};
use super::labelling::LabelMsg;
use crate::scan::{self, Examined, ScanEvent, ScanOptions, ScanSummary};
use crate::store::Store;

/// Files per scan transaction (the CLI uses 256; the GUI wants photos to show up quickly).
const GUI_SCAN_BATCH: usize = 32;

struct Writer {
    store: Store,
    thumbs_dir: PathBuf,
    sink: EventSink,
    cancel: Arc<AtomicBool>,
    label_tx: Option<Sender<LabelMsg>>,
    /// Whether a scan thread is running.
    scanning: bool,
    /// Another scan is needed once the running one ends (folders were added meanwhile).
    rescan: bool,
    done_tx: Sender<()>,
}

pub(crate) fn spawn(
    db: PathBuf,
    thumbs_dir: PathBuf,
    rx: Receiver<Command>,
    sink: EventSink,
    cancel: Arc<AtomicBool>,
    label_tx: Option<Sender<LabelMsg>>,
) {
    let spawned = std::thread::Builder::new()
        .name("photolabel-writer".into())
        .spawn(move || {
            let store = match Store::open(&db) {
                Ok(s) => s,
                Err(e) => {
                    sink.send(Event::Error(format!("cannot open the library: {e:#}")));
                    return;
                }
            };
            let (done_tx, done_rx) = bounded::<()>(4);
            let mut w = Writer {
                store,
                thumbs_dir,
                sink,
                cancel,
                label_tx,
                scanning: false,
                rescan: false,
                done_tx,
            };
            w.wake_labeller();
            loop {
                select! {
                    recv(rx) -> cmd => match cmd {
                        Ok(cmd) => w.handle(cmd),
                        Err(_) => break,
                    },
                    recv(done_rx) -> _ => w.scan_ended(),
                }
            }
            w.cancel.store(true, Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        log::error!("cannot start the writer thread: {e}");
    }
}

impl Writer {
    fn handle(&mut self, cmd: Command) {
        let result = match cmd {
            Command::AddPaths(paths) => self.add_paths(&paths),
            Command::RemoveFolder(root) => self.remove_folder(&root),
            Command::PauseScan => {
                // The flag was already set by Engine::send; nothing queued to undo.
                self.rescan = false;
                Ok(())
            }
            Command::ResumeScan => {
                self.start_scan();
                Ok(())
            }
            Command::AddTag { photo_id, label } => {
                let label = label.trim().to_string();
                if label.is_empty() {
                    Ok(())
                } else {
                    self.store
                        .add_user_label(photo_id, &label)
                        .map(|()| self.changed(photo_id))
                }
            }
            Command::RemoveLabel { photo_id, label_id } => self
                .store
                .remove_label(photo_id, label_id)
                .map(|_| self.changed(photo_id)),
            Command::ApplySettings(s) => {
                if let Some(tx) = &self.label_tx {
                    let _ = tx.send(LabelMsg::Settings(s.clamped()));
                }
                Ok(())
            }
            other => {
                log::warn!("writer got a command it does not handle: {other:?}");
                Ok(())
            }
        };
        if let Err(e) = result {
            self.sink.send(Event::Error(format!("{e:#}")));
        }
    }

    fn changed(&self, photo_id: i64) {
        self.sink.send(Event::PhotosChanged(vec![photo_id]));
    }

    /// Folders become library roots and are scanned; single files are examined and recorded
    /// here (they belong to no folder).
    fn add_paths(&mut self, paths: &[PathBuf]) -> crate::Result<()> {
        let mut files = Vec::new();
        let mut added_folder = false;
        for path in paths {
            let canon = match std::fs::canonicalize(path) {
                Ok(c) => c,
                Err(e) => {
                    self.sink.send(Event::Error(format!(
                        "cannot open: {e}: {}",
                        path.display()
                    )));
                    continue;
                }
            };
            if canon.is_dir() {
                self.store.add_root(&canon)?;
                added_folder = true;
            } else {
                files.push(canon);
            }
        }
        if !files.is_empty() {
            self.add_files(&files)?;
        }
        if added_folder {
            self.sink.send(Event::LibraryChanged);
            if self.scanning {
                self.rescan = true;
            } else {
                self.start_scan();
            }
        }
        Ok(())
    }

    fn add_files(&mut self, files: &[PathBuf]) -> crate::Result<()> {
        let opts = ScanOptions::new(self.thumbs_dir.clone());
        let mut records = Vec::new();
        for f in files {
            match scan::examine_file(f, &opts) {
                Examined::Record(rec) => records.push(*rec),
                Examined::NotImage => {
                    self.sink.send(Event::ScanFailed {
                        path: f.clone(),
                        message: "not an image".into(),
                    });
                }
                Examined::Vanished => {}
            }
        }
        if !records.is_empty() {
            self.store.record_scans(&records)?;
            self.sink.send(Event::LibraryChanged);
            self.wake_labeller();
        }
        Ok(())
    }

    fn remove_folder(&mut self, root: &Path) -> crate::Result<()> {
        if self.scanning {
            // The scan may be writing photos of this folder; stop it first, rescan after.
            self.cancel.store(true, Ordering::SeqCst);
            self.rescan = true;
        }
        self.store.remove_root(root)?;
        self.sink.send(Event::LibraryChanged);
        Ok(())
    }

    fn start_scan(&mut self) {
        if self.scanning {
            self.rescan = true;
            return;
        }
        let roots = match self.store.roots() {
            Ok(r) => r,
            Err(e) => {
                self.sink.send(Event::Error(format!("{e:#}")));
                return;
            }
        };
        let (present, absent): (Vec<PathBuf>, Vec<PathBuf>) =
            roots.into_iter().partition(|r| r.is_dir());
        for r in &absent {
            self.sink.send(Event::Error(format!(
                "library folder not found (unplugged drive?), skipped: {}",
                r.display()
            )));
        }
        if present.is_empty() {
            return;
        }
        self.cancel.store(false, Ordering::SeqCst);
        self.scanning = true;
        self.rescan = false;
        self.sink.send(Event::ScanStarted(present.clone()));
        let db = self.store.path().to_path_buf();
        let mut opts = ScanOptions::new(self.thumbs_dir.clone());
        // Small batches: photos appear in the window within a second of being read.
        opts.batch = GUI_SCAN_BATCH;
        let sink = self.sink.clone();
        let cancel = Arc::clone(&self.cancel);
        let done = self.done_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("photolabel-scan".into())
            .spawn(move || {
                run_scan(&db, &present, &opts, &sink, &cancel);
                let _ = done.send(());
            });
        if let Err(e) = spawned {
            self.scanning = false;
            self.sink
                .send(Event::Error(format!("cannot start scanning: {e}")));
        }
    }

    fn scan_ended(&mut self) {
        self.scanning = false;
        self.wake_labeller();
        if self.rescan {
            self.start_scan();
        }
    }

    fn wake_labeller(&self) {
        if let Some(tx) = &self.label_tx {
            let _ = tx.try_send(LabelMsg::Wake);
        }
    }
}

/// Runs one scan, forwarding its events; always ends with [`Event::ScanFinished`].
fn run_scan(
    db: &Path,
    roots: &[PathBuf],
    opts: &ScanOptions,
    sink: &EventSink,
    cancel: &AtomicBool,
) {
    let mut store = match Store::open(db) {
        Ok(s) => s,
        Err(e) => {
            sink.send(Event::Error(format!("cannot scan: {e:#}")));
            sink.send(Event::ScanFinished(ScanSummary::default()));
            return;
        }
    };
    let (tx, rx) = bounded::<ScanEvent>(256);
    let forward_sink = sink.clone();
    let forwarder = std::thread::Builder::new()
        .name("photolabel-scan-events".into())
        .spawn(move || forward(rx, &forward_sink));
    let result = scan::scan(&mut store, roots, opts, Some(&tx), cancel);
    drop(tx);
    if let Ok(f) = forwarder {
        let _ = f.join();
    }
    match result {
        Ok(summary) => {
            sink.send(Event::LibraryChanged);
            sink.send(Event::ScanFinished(summary));
        }
        Err(e) => {
            sink.send(Event::Error(format!("scan stopped: {e:#}")));
            sink.send(Event::ScanFinished(ScanSummary::default()));
        }
    }
}

/// Maps scan events to engine events; progress may be dropped when the GUI lags, and the grid
/// is told to refresh at most once a second while photos arrive.
fn forward(rx: Receiver<ScanEvent>, sink: &EventSink) {
    let mut last_refresh = Instant::now();
    let mut last_done = 0;
    for ev in rx {
        match ev {
            ScanEvent::Progress(p) => {
                if p.done != last_done && last_refresh.elapsed() > Duration::from_secs(1) {
                    last_refresh = Instant::now();
                    last_done = p.done;
                    sink.offer(Event::LibraryChanged);
                }
                sink.offer(Event::ScanProgress(p));
            }
            ScanEvent::Failed { path, message } => {
                sink.send(Event::ScanFailed { path, message });
            }
            // run_scan reports the end itself, after the last batch is committed.
            ScanEvent::Finished(_) => {}
        }
    }
}
