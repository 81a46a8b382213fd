//! The writer thread: folder, tag and people edits on its own connection, and the scan
//! lifecycle. Finding faces (a model over every photo) runs on a thread of its own.
//! A scan runs on a separate thread (with its own connection) so that edits stay quick while
//! it works; pausing sets the scan's cancel flag, resuming starts an incremental rescan of
//! every folder, and folders added during a scan are picked up by a rescan right after it.
//!
//! With [`EngineOptions::watch_folders`] the writer also owns the folder watcher: a change
//! under a library folder starts the same incremental rescan as the Rescan button, of that
//! folder only (so the GUI gets the same events, and a big library is not walked again for one
//! new photo), and every few seconds it checks which folders are offline (their
//! path is gone: an unplugged drive) and rescans those that came back. Offline folders are
//! never scanned, so their photos are kept as they were.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use crossbeam_channel::{Receiver, Sender, bounded, never, select, tick, unbounded};

use super::command::{Command, Event};
use super::labelling::LabelMsg;
use super::{EngineOptions, EventSink};
use crate::config::Paths;
use crate::people::cluster::Params;
use crate::people::grouping;
use crate::people::service::{self, FindReport};
use crate::scan::watch::FolderWatcher;
use crate::scan::{self, Examined, ScanEvent, ScanOptions, ScanSummary};
use crate::store::Store;

/// How often offline folders are looked for again while watching.
const OFFLINE_CHECK: Duration = Duration::from_secs(3);

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
    /// The folders the next scan must cover, once the running one ends (folders added or
    /// changed meanwhile); `None` when no scan is waiting.
    pending: Option<ScanScope>,
    done_tx: Sender<()>,
    /// Watches the library's folders (when the options ask for it).
    watcher: Option<FolderWatcher>,
    /// Library folders whose path is gone now (reported once when they go).
    offline: BTreeSet<PathBuf>,
    /// Whether scans leave freedesktop shared thumbnails (the user's setting).
    share_thumbs: bool,
    /// Where the face models' weights live (finding faces).
    cache_dir: PathBuf,
    /// Whether a face-finding thread is running.
    finding_faces: Arc<AtomicBool>,
    /// Set to stop the running face search after its current photo.
    stop_finding: Arc<AtomicBool>,
}

/// What the writer thread starts with.
pub(crate) struct WriterSetup {
    pub paths: Paths,
    pub options: EngineOptions,
    pub cancel: Arc<AtomicBool>,
    pub label_tx: Option<Sender<LabelMsg>>,
}

pub(crate) fn spawn(setup: WriterSetup, rx: Receiver<Command>, sink: EventSink) {
    let spawned = std::thread::Builder::new()
        .name("photolabel-writer".into())
        .spawn(move || {
            let WriterSetup {
                paths,
                options,
                cancel,
                label_tx,
            } = setup;
            let store = match Store::open(&paths.db) {
                Ok(s) => s,
                Err(e) => {
                    sink.send(Event::Error(format!("cannot open the library: {e:#}")));
                    return;
                }
            };
            let (done_tx, done_rx) = bounded::<()>(4);
            // The watcher's debounced batches of changed paths (a few a second at most).
            let (change_tx, change_rx) = unbounded::<Vec<PathBuf>>();
            // Kept here so that the channel stays open even if the watcher's thread ends.
            let _keep_open = change_tx.clone();
            let watcher = if options.watch_folders {
                let ignore = ignore_own_files(&paths);
                let on_change = Box::new(move |paths: Vec<PathBuf>| {
                    let _ = change_tx.send(paths);
                });
                match FolderWatcher::new(options.debounce, ignore, on_change) {
                    Ok(w) => Some(w),
                    Err(e) => {
                        sink.send(Event::Error(format!(
                            "folders are not watched for changes (use Rescan): {e:#}"
                        )));
                        None
                    }
                }
            } else {
                None
            };
            let offline_check = if watcher.is_some() {
                tick(OFFLINE_CHECK)
            } else {
                never()
            };
            let mut w = Writer {
                store,
                thumbs_dir: paths.thumbs_dir(),
                sink,
                cancel,
                label_tx,
                scanning: false,
                pending: None,
                done_tx,
                watcher,
                offline: BTreeSet::new(),
                share_thumbs: false,
                cache_dir: paths.cache_dir.clone(),
                finding_faces: Arc::new(AtomicBool::new(false)),
                stop_finding: Arc::new(AtomicBool::new(false)),
            };
            w.sync_folders();
            w.wake_labeller();
            if options.rescan_at_start {
                w.start_scan();
            }
            loop {
                select! {
                    recv(rx) -> cmd => match cmd {
                        Ok(cmd) => w.handle(cmd),
                        Err(_) => break,
                    },
                    recv(done_rx) -> _ => w.scan_ended(),
                    recv(change_rx) -> paths => {
                        if let Ok(paths) = paths {
                            w.folders_changed(&paths);
                        }
                    }
                    recv(offline_check) -> _ => {
                        if w.sync_folders() {
                            w.start_scan();
                        }
                    }
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
                // The flag was already set by Engine::send; a waiting rescan is dropped too.
                self.pending = None;
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
                self.share_thumbs = s.share_thumbnails;
                if let Some(tx) = &self.label_tx {
                    let _ = tx.send(LabelMsg::Settings(s.clamped()));
                }
                Ok(())
            }
            Command::NamePerson { person, name } => self
                .store
                .name_person(person, &name)
                .map(|()| self.people_changed()),
            Command::MergePersons { into, from } => {
                service::merge(&mut self.store, into, &from).map(|()| self.people_changed())
            }
            Command::RejectFace { face, person } => self
                .store
                .reject_face(face, person)
                .map(|()| self.people_changed()),
            Command::ConfirmFace { face, person } => self
                .store
                .confirm_face(face, person)
                .map(|()| self.people_changed()),
            Command::GroupFaces { full } => {
                grouping::group(&mut self.store, &Params::default(), full).map(|g| {
                    self.sink.send(Event::FacesFinished(Ok(FindReport {
                        joined: g.joined,
                        new_persons: g.new_persons,
                        in_new_persons: g.in_new_persons,
                        unsorted: g.unsorted,
                        ..FindReport::default()
                    })));
                    self.people_changed();
                })
            }
            Command::FindFaces => {
                self.find_faces();
                Ok(())
            }
            Command::StopFindingFaces => {
                self.stop_finding.store(true, Ordering::SeqCst);
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

    fn people_changed(&self) {
        self.sink.send(Event::PeopleChanged);
    }

    /// Starts finding faces on a thread of its own (with its own connection), unless it runs.
    fn find_faces(&self) {
        if self.finding_faces.swap(true, Ordering::SeqCst) {
            return;
        }
        let db = self.store.path().to_path_buf();
        let cache = self.cache_dir.clone();
        let sink = self.sink.clone();
        let running = Arc::clone(&self.finding_faces);
        let stop = Arc::clone(&self.stop_finding);
        stop.store(false, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("photolabel-faces".into())
            .spawn(move || {
                let result = run_find_faces(&db, &cache, &sink, &stop);
                running.store(false, Ordering::SeqCst);
                sink.send(Event::PeopleChanged);
                sink.send(Event::FacesFinished(result.map_err(|e| format!("{e:#}"))));
            });
        if let Err(e) = spawned {
            self.finding_faces.store(false, Ordering::SeqCst);
            self.sink
                .send(Event::Error(format!("cannot start finding faces: {e}")));
        }
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
            self.sync_folders();
            self.sink.send(Event::LibraryChanged);
            self.start_scan();
        }
        Ok(())
    }

    fn add_files(&mut self, files: &[PathBuf]) -> crate::Result<()> {
        let opts = self.scan_options();
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
            self.request_scan(ScanScope::All);
        }
        self.store.remove_root(root)?;
        self.sync_folders();
        self.sink.send(Event::LibraryChanged);
        Ok(())
    }

    /// Brings the watched folders in line with the library's and notes which folders are
    /// offline: a folder that goes offline is reported once (its photos are kept), and one
    /// that comes back is watched again. Returns whether a folder came back (rescan it).
    fn sync_folders(&mut self) -> bool {
        let roots = match self.store.roots() {
            Ok(r) => r,
            Err(e) => {
                self.sink.send(Event::Error(format!("{e:#}")));
                return false;
            }
        };
        let holding = match self.store.roots_holding_photos() {
            Ok(h) => h,
            Err(e) => {
                self.sink.send(Event::Error(format!("{e:#}")));
                return false;
            }
        };
        let (offline, back) = match &mut self.watcher {
            Some(w) => {
                let out = w.sync(&roots, &holding);
                for (root, why) in &out.failed {
                    self.sink.send(Event::Error(format!(
                        "folder not watched for changes (use Rescan): {why}: {}",
                        root.display()
                    )));
                }
                (out.offline, !out.back_online.is_empty())
            }
            None => (scan::watch::split_offline(roots, &holding).1, false),
        };
        let offline: BTreeSet<PathBuf> = offline.into_iter().collect();
        if offline != self.offline {
            for r in offline.difference(&self.offline) {
                self.sink.send(Event::Error(format!(
                    "library folder offline (unplugged drive?); its photos are kept: {}",
                    r.display()
                )));
            }
            self.offline = offline;
            self.sink.send(Event::LibraryChanged);
        }
        back
    }

    /// Scans every library folder (now, or after the running scan).
    fn start_scan(&mut self) {
        self.request_scan(ScanScope::All);
    }

    /// The watcher saw `paths` change: rescans the library folders they lie in, not the
    /// whole library (an empty path, for lost notifications, rescans everything).
    fn folders_changed(&mut self, paths: &[PathBuf]) {
        let roots = match self.store.roots() {
            Ok(r) => r,
            Err(e) => {
                self.sink.send(Event::Error(format!("{e:#}")));
                return;
            }
        };
        self.request_scan(ScanScope::of_changes(&roots, paths));
    }

    /// Starts a scan of `scope`, or widens the one waiting for the running scan to end.
    fn request_scan(&mut self, scope: ScanScope) {
        let scope = match self.pending.take() {
            Some(waiting) => waiting.merge(scope),
            None => scope,
        };
        if self.scanning {
            self.pending = Some(scope);
            return;
        }
        // Offline folders are not scanned: a scan would find none of their photos and mark
        // them all missing. A folder back online is scanned whatever the scope.
        let scope = if self.sync_folders() {
            ScanScope::All
        } else {
            scope
        };
        let roots = match self.store.roots() {
            Ok(r) => scope.select(r),
            Err(e) => {
                self.sink.send(Event::Error(format!("{e:#}")));
                return;
            }
        };
        let present: Vec<PathBuf> = roots
            .into_iter()
            .filter(|r| !self.offline.contains(r))
            .collect();
        if present.is_empty() {
            return;
        }
        self.cancel.store(false, Ordering::SeqCst);
        self.scanning = true;
        self.sink.send(Event::ScanStarted(present.clone()));
        let db = self.store.path().to_path_buf();
        let mut opts = self.scan_options();
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

    fn scan_options(&self) -> ScanOptions {
        let mut opts = ScanOptions::new(self.thumbs_dir.clone());
        opts.write_shared_thumbs = self.share_thumbs;
        opts
    }

    fn scan_ended(&mut self) {
        self.scanning = false;
        self.wake_labeller();
        if let Some(scope) = self.pending.take() {
            self.request_scan(scope);
        }
    }

    fn wake_labeller(&self) {
        if let Some(tx) = &self.label_tx {
            let _ = tx.try_send(LabelMsg::Wake);
        }
    }
}

/// Which library folders a scan covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ScanScope {
    All,
    /// These library folders only (a watched change lay under them).
    Roots(BTreeSet<PathBuf>),
}

impl ScanScope {
    /// The library folders that hold `changed` paths; everything when a path lies under no
    /// folder (or is empty: the watcher lost notifications).
    fn of_changes(roots: &[PathBuf], changed: &[PathBuf]) -> ScanScope {
        let mut hit = BTreeSet::new();
        for path in changed {
            let under: Vec<&PathBuf> = roots.iter().filter(|r| path.starts_with(r)).collect();
            if path.as_os_str().is_empty() || under.is_empty() {
                return ScanScope::All;
            }
            hit.extend(under.into_iter().cloned());
        }
        ScanScope::Roots(hit)
    }

    fn merge(self, other: ScanScope) -> ScanScope {
        match (self, other) {
            (ScanScope::Roots(mut a), ScanScope::Roots(b)) => {
                a.extend(b);
                ScanScope::Roots(a)
            }
            _ => ScanScope::All,
        }
    }

    /// The library folders (in library order) this scope covers.
    fn select(&self, roots: Vec<PathBuf>) -> Vec<PathBuf> {
        match self {
            ScanScope::All => roots,
            ScanScope::Roots(some) => roots.into_iter().filter(|r| some.contains(r)).collect(),
        }
    }
}

/// Finds faces as `photolabel people find` does, reporting each photo; persons found so far
/// are announced every few seconds. Stops when the GUI is gone or `stop` is set.
fn run_find_faces(
    db: &Path,
    cache: &Path,
    sink: &EventSink,
    stop: &AtomicBool,
) -> crate::Result<FindReport> {
    let mut store = Store::open(db)?;
    sink.send(Event::FacesProgress { done: 0, total: 0 });
    let mut announced = Instant::now();
    service::find_faces(&mut store, cache, None, &mut |step| {
        if let Some(e) = &step.error {
            log::info!("finding faces: {e}");
        }
        if announced.elapsed() > Duration::from_secs(3) {
            announced = Instant::now();
            sink.send(Event::PeopleChanged);
        }
        sink.send(Event::FacesProgress {
            done: step.done,
            total: step.total,
        }) && !stop.load(Ordering::SeqCst)
    })
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

/// The library's own files, which may lie inside a watched folder (`--db` beside the photos):
/// their changes are not photo changes, and reporting them would make every scan start another.
fn ignore_own_files(paths: &Paths) -> scan::watch::IgnoreFn {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let prefixes: Vec<PathBuf> = [
        paths.cache_dir.clone(),
        paths.thumbs_dir(),
        paths.data_dir.join("logs"),
        paths.data_dir.join("gui"),
    ]
    .iter()
    .map(|p| canon(p))
    .collect();
    let db_dir = paths.db.parent().map(canon);
    let db_name = paths
        .db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Box::new(move |p: &Path| {
        if prefixes.iter().any(|pre| p.starts_with(pre)) {
            return true;
        }
        // library.sqlite, -wal, -shm, -journal, .lock and the backups beside it.
        p.parent().map(Path::to_path_buf) == db_dir
            && !db_name.is_empty()
            && p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&db_name))
    })
}
