//! Watched library folders: while the app runs, changes under the library's folders (photos
//! copied in, edited, moved, deleted; sidecars rewritten) are noticed by the operating system's
//! file notifications (`notify`: inotify, FSEvents, ReadDirectoryChangesW) and reported,
//! debounced, so that the caller runs the ordinary incremental [`super::scan`] over them. The
//! watcher itself never touches the store: the scan stays the one code path that decides what
//! is new, changed, moved or missing.
//!
//! A library folder whose path does not exist (an unplugged drive) cannot be watched: it is
//! *offline*. So is an empty folder the library holds photos from: the mount folder an
//! unmounted drive leaves behind looks exactly like that, and scanning it would mark every
//! photo of the drive missing ([`is_offline`]). [`FolderWatcher::sync`] watches the folders that are there, forgets those that
//! went away and says which are offline and which came back, so the caller can show them and
//! rescan the ones that returned. Main type: [`FolderWatcher`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, unbounded};
use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::error::{Error, Result};

/// Decides whether a changed path is of no interest (the library's own database or cache
/// inside a watched folder): returns true to ignore it.
pub type IgnoreFn = Box<dyn Fn(&Path) -> bool + Send>;

/// Called from the watcher's thread with the changed paths (sorted, no repeats) once the
/// folders have been quiet for the debounce time.
pub type ChangeFn = Box<dyn Fn(Vec<PathBuf>) + Send>;

/// How long changes may keep arriving before they are reported anyway (a long copy is
/// reported in steps instead of only at its end).
const MAX_DELAY_FACTOR: u32 = 5;

/// What [`FolderWatcher::sync`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Library folders that do not exist now (unplugged drive, renamed folder).
    pub offline: Vec<PathBuf>,
    /// Folders that were offline at the previous sync and are back (rescan them).
    pub back_online: Vec<PathBuf>,
    /// Folders that exist but could not be watched, with why (too many inotify watches).
    pub failed: Vec<(PathBuf, String)>,
}

/// Watches library folders recursively and reports their changes, debounced. Dropping it
/// stops the watching and its thread.
pub struct FolderWatcher {
    watcher: RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
    offline: BTreeSet<PathBuf>,
}

impl std::fmt::Debug for FolderWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderWatcher")
            .field("watched", &self.watched)
            .field("offline", &self.offline)
            .finish()
    }
}

/// Whether a notification says something the scan could care about. Reads (the scan's own
/// opens) are not changes: reporting them would make every scan start the next one.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Any
        | EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Other => true,
    }
}

impl FolderWatcher {
    /// Starts a watcher (watching nothing yet) whose changes are reported to `on_change`
    /// after `debounce` of quiet (at most five times `debounce` after the first change).
    pub fn new(debounce: Duration, ignore: IgnoreFn, on_change: ChangeFn) -> Result<Self> {
        let (tx, rx) = unbounded::<notify::Result<notify::Event>>();
        let watcher = notify::recommended_watcher(move |ev| {
            let _ = tx.send(ev);
        })
        .map_err(|e| Error::Watch {
            path: PathBuf::new(),
            detail: format!("{e}"),
        })?;
        std::thread::Builder::new()
            .name("photolabel-watch".into())
            .spawn(move || debounce_loop(&rx, debounce, &ignore, &on_change))
            .map_err(|e| Error::io("cannot start the folder watcher", "<thread>", e))?;
        Ok(FolderWatcher {
            watcher,
            watched: BTreeSet::new(),
            offline: BTreeSet::new(),
        })
    }

    /// Makes the watched set `roots`: folders that are there are watched (recursively),
    /// folders no longer in `roots` are forgotten, and offline ones ([`is_offline`]; `holding`
    /// are the folders the library holds photos from) are reported.
    pub fn sync(&mut self, roots: &[PathBuf], holding: &BTreeSet<PathBuf>) -> SyncOutcome {
        let mut out = SyncOutcome::default();
        let wanted: BTreeSet<&PathBuf> = roots.iter().collect();
        let offline: BTreeSet<&PathBuf> = roots
            .iter()
            .filter(|r| is_offline(r, holding.contains(*r)))
            .collect();
        let gone: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|r| !wanted.contains(r) || offline.contains(r))
            .cloned()
            .collect();
        for root in gone {
            // A vanished folder's watch is already gone; the error says so and is fine.
            let _ = self.watcher.unwatch(&root);
            self.watched.remove(&root);
        }
        self.offline.retain(|r| wanted.contains(r));
        for root in roots {
            if offline.contains(root) {
                self.offline.insert(root.clone());
                out.offline.push(root.clone());
                continue;
            }
            if self.offline.remove(root) {
                out.back_online.push(root.clone());
            }
            if self.watched.contains(root) {
                continue;
            }
            match self.watcher.watch(root, RecursiveMode::Recursive) {
                Ok(()) => {
                    self.watched.insert(root.clone());
                }
                Err(e) => out.failed.push((root.clone(), format!("{e}"))),
            }
        }
        out
    }

    /// The folders being watched now.
    pub fn watched(&self) -> impl Iterator<Item = &Path> {
        self.watched.iter().map(PathBuf::as_path)
    }
}

/// Collects notifications until `debounce` passes without one (or the first one is five
/// debounce times old), then reports the changed paths. Ends when the watcher is dropped.
fn debounce_loop(
    rx: &Receiver<notify::Result<notify::Event>>,
    debounce: Duration,
    ignore: &IgnoreFn,
    on_change: &ChangeFn,
) {
    let mut pending: BTreeSet<PathBuf> = BTreeSet::new();
    let mut first: Option<Instant> = None;
    loop {
        let max_delay = debounce * MAX_DELAY_FACTOR;
        if first.is_some_and(|t| t.elapsed() >= max_delay) {
            // Changes kept coming: report what is there so far.
            first = None;
            on_change(std::mem::take(&mut pending).into_iter().collect());
            continue;
        }
        let msg = if pending.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            let oldest = first.map_or(Duration::ZERO, |t| t.elapsed());
            let cap = max_delay.saturating_sub(oldest);
            rx.recv_timeout(debounce.min(cap))
        };
        match msg {
            Ok(Ok(ev)) if is_change(&ev.kind) => {
                let before = pending.len();
                pending.extend(ev.paths.into_iter().filter(|p| !ignore(p)));
                if before == 0 && !pending.is_empty() {
                    first = Some(Instant::now());
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                // Lost events (queue overflow) or a watch error: report a change of everything
                // watched, which the caller answers with a full rescan.
                log::warn!("folder watcher: {e}");
                pending.extend(e.paths);
                if first.is_none() {
                    first = Some(Instant::now());
                }
                if pending.is_empty() {
                    pending.insert(PathBuf::new());
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                first = None;
                on_change(std::mem::take(&mut pending).into_iter().collect());
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Whether a library folder is offline: its path is gone or is not a folder (an unplugged
/// drive whose mount folder was removed), or it is an empty folder although the library holds
/// photos from it (`holds_photos`: the mount folder a drive leaves behind when it is not
/// mounted). An offline folder is neither scanned nor watched, and keeps its photos.
pub fn is_offline(root: &Path, holds_photos: bool) -> bool {
    if !root.is_dir() {
        return true;
    }
    holds_photos && std::fs::read_dir(root).is_ok_and(|mut entries| entries.next().is_none())
}

/// Splits library folders into those that are there and those that are offline
/// ([`is_offline`]; `holding` are the folders the library holds photos from).
pub fn split_offline(
    roots: Vec<PathBuf>,
    holding: &BTreeSet<PathBuf>,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    roots
        .into_iter()
        .partition(|r| !is_offline(r, holding.contains(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind};

    #[test]
    fn an_empty_folder_is_offline_only_when_the_library_holds_photos_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mnt");
        assert!(is_offline(&root, false), "a missing path");
        std::fs::create_dir(&root).unwrap();
        assert!(is_offline(&root, true), "an empty mount folder");
        assert!(!is_offline(&root, false), "a new, still empty folder");
        std::fs::write(root.join("a.jpg"), b"x").unwrap();
        assert!(!is_offline(&root, true), "a mounted drive");
        let holding: BTreeSet<PathBuf> = [root.clone()].into();
        std::fs::remove_file(root.join("a.jpg")).unwrap();
        let (present, offline) = split_offline(vec![root.clone(), dir.path().into()], &holding);
        assert_eq!(present, vec![dir.path().to_path_buf()]);
        assert_eq!(offline, vec![root]);
    }

    #[test]
    fn reads_are_not_changes_but_writes_are() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Read
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Modify(ModifyKind::Any)));
    }
}
