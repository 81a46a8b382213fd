//! The background engine between the GUI and the core: every database read and write, scan,
//! image decode, labelling and retraining happens on its threads, so the GUI never waits on
//! I/O. The GUI sends [`Command`]s through [`Engine::send`] (never blocks) and drains
//! [`Event`]s with [`Engine::try_recv`] each frame; every event sent calls the installed
//! [`Waker`] (the GUI's `request_repaint`).
//!
//! Threads, each with its own bounded command channel:
//! - `reader`: a read-only connection answering queries (ids, rows, search, detail, summary);
//! - `writer`: the connection for edits (folders, tags, people) that also starts and pauses
//!   scans; the scan itself runs on its own thread with its own connection, and so does
//!   finding faces ([`crate::people::service::find_faces`]); with
//!   [`EngineOptions::watch_folders`] it also watches the library's folders
//!   ([`crate::scan::watch`]) and rescans when they change or come back online;
//! - `images`: decodes thumbnails (latest wants first), full images and face crops;
//! - `labelling` and `trainer`: only when a [`Labeller`] / [`Trainer`] is plugged in.
//!
//! Design note: the architecture asks for one SQLite writer. Scans, tag edits and labelling
//! each hold a write connection here, because a 100,000-photo scan must not hold a tag edit
//! back for minutes; SQLite serialises their short transactions (busy timeout 10 s, scans
//! commit every 256 files), so each write waits at most one batch.

pub mod command;
mod images;
mod labelling;
pub mod plugins;
mod reader;
pub mod settings;
mod train;
mod writer;
pub mod zoo_plugins;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::config::Paths;
use crate::error::Result;
use crate::label::lock::LibraryLock;
use crate::store::Store;

pub use command::{
    Command, DecodedImage, Event, FaceCropRequest, LabelProgress, LibrarySnapshot, PhotoDetail,
    ThumbRequest,
};
pub use plugins::{
    BudgetStatus, Figure, LabelOutcome, Labeller, ModelStatus, ModelStep, Plugins, StatusSink,
    TrainProgress, TrainReport, Trainer,
};
pub use settings::{LabelSettings, ModelSetting};

/// Called after every event so the GUI wakes up and drains it.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Capacity of the event channel; progress events are dropped rather than wait when it is full.
const EVENT_CAPACITY: usize = 4096;
/// Capacity of each command channel.
const COMMAND_CAPACITY: usize = 256;

/// The engine's end of the event channel, shared by its threads.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: Sender<Event>,
    waker: Arc<RwLock<Option<Waker>>>,
}

impl EventSink {
    /// Sends an event, waiting while the GUI catches up. Fails only when the GUI is gone.
    pub(crate) fn send(&self, ev: Event) -> bool {
        let ok = self.tx.send(ev).is_ok();
        self.wake();
        ok
    }

    /// Sends an event unless the channel is full (for progress, which the next one replaces).
    pub(crate) fn offer(&self, ev: Event) {
        if self.tx.try_send(ev).is_ok() {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Ok(w) = self.waker.read()
            && let Some(w) = w.as_ref()
        {
            w();
        }
    }
}

/// Why [`Engine::send`] did not accept a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The worker's queue is full; try again shortly.
    #[error("photolabel is busy; try again in a moment")]
    Busy,
    /// The worker stopped (it reported why as an event).
    #[error("a background worker has stopped")]
    Stopped,
    /// No worker can do this in this build.
    #[error("{0}")]
    Unavailable(&'static str),
}

/// What the engine runs with, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub paths: Paths,
    /// The labeller's backend, when one is installed.
    pub backend: Option<String>,
    /// Whether a trainer is installed.
    pub can_retrain: bool,
}

/// How the engine looks after the library's folders.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// Watch the library's folders while the engine runs and rescan (incrementally) when
    /// photos are added, changed, moved or deleted; offline folders are checked every few
    /// seconds and rescanned when they come back.
    pub watch_folders: bool,
    /// Rescan every library folder in the background as soon as the engine starts.
    pub rescan_at_start: bool,
    /// How long watched folders must be quiet before their changes are scanned.
    pub debounce: std::time::Duration,
}

impl Default for EngineOptions {
    /// Neither watching nor a rescan at start (what tools and tests built on the engine
    /// expect); the desktop app uses [`EngineOptions::desktop`].
    fn default() -> Self {
        EngineOptions {
            watch_folders: false,
            rescan_at_start: false,
            debounce: std::time::Duration::from_millis(1500),
        }
    }
}

impl EngineOptions {
    /// The desktop app's: folders watched, rescanned at start.
    pub fn desktop() -> Self {
        EngineOptions {
            watch_folders: true,
            rescan_at_start: true,
            ..EngineOptions::default()
        }
    }
}

/// A handle on the running engine. Dropping it stops the workers (a running scan stops after
/// the files in flight; everything written so far stays).
pub struct Engine {
    reader: Sender<Command>,
    writer: Sender<Command>,
    images: Sender<Command>,
    trainer: Option<Sender<Command>>,
    labelling: Option<Sender<labelling::LabelMsg>>,
    events: Receiver<Event>,
    waker: Arc<RwLock<Option<Waker>>>,
    cancel_scan: Arc<AtomicBool>,
    info: EngineInfo,
    /// This process is the library's one writer while the engine runs.
    _lock: LibraryLock,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("info", &self.info).finish()
    }
}

impl Engine {
    /// Opens (creating if needed) the library at `paths.db` and starts the workers. Fails
    /// with [`crate::Error::LibraryLocked`] when another photolabel writes to that library.
    pub fn start(paths: Paths, plugins: Plugins) -> Result<Engine> {
        Engine::start_with(paths, plugins, EngineOptions::default())
    }

    /// [`Engine::start`] with folder watching and the rescan at start as `options` say.
    pub fn start_with(paths: Paths, plugins: Plugins, options: EngineOptions) -> Result<Engine> {
        let lock = LibraryLock::acquire(&paths.db)?;
        // Create and migrate the database before the read-only reader opens it (each thread
        // then opens its own connection: a Store is not Send).
        drop(Store::open(&paths.db)?);
        let (ev_tx, ev_rx) = bounded(EVENT_CAPACITY);
        let waker: Arc<RwLock<Option<Waker>>> = Arc::new(RwLock::new(None));
        let sink = EventSink {
            tx: ev_tx,
            waker: Arc::clone(&waker),
        };
        let cancel_scan = Arc::new(AtomicBool::new(false));
        let info = EngineInfo {
            paths: paths.clone(),
            backend: plugins.labeller.as_ref().map(|l| l.backend()),
            can_retrain: plugins.trainer.is_some(),
        };

        let label_tx = plugins
            .labeller
            .map(|l| labelling::spawn(paths.db.clone(), l, sink.clone()));
        let trainer = plugins
            .trainer
            .map(|t| train::spawn(paths.db.clone(), t, sink.clone()));

        let (reader, reader_rx) = bounded(COMMAND_CAPACITY);
        reader::spawn(paths.db.clone(), reader_rx, sink.clone());
        let (writer, writer_rx) = bounded(COMMAND_CAPACITY);
        writer::spawn(
            writer::WriterSetup {
                paths: paths.clone(),
                options,
                cancel: Arc::clone(&cancel_scan),
                label_tx: label_tx.clone(),
            },
            writer_rx,
            sink.clone(),
        );
        let (images, images_rx) = bounded(COMMAND_CAPACITY);
        images::spawn(images_rx, sink);

        Ok(Engine {
            reader,
            writer,
            images,
            trainer,
            labelling: label_tx,
            events: ev_rx,
            waker,
            cancel_scan,
            info,
            _lock: lock,
        })
    }

    /// Installs the function called after every event (the GUI's `request_repaint`).
    pub fn set_waker(&self, waker: Waker) {
        if let Ok(mut w) = self.waker.write() {
            *w = Some(waker);
        }
    }

    /// What the engine runs with.
    pub fn info(&self) -> &EngineInfo {
        &self.info
    }

    /// Hands a command to the worker that does it. Never blocks.
    pub fn send(&self, cmd: Command) -> std::result::Result<(), SendError> {
        let tx = match &cmd {
            Command::ListPhotos(_)
            | Command::Search(_)
            | Command::Suggest(_)
            | Command::FetchPhotos(_)
            | Command::LoadDetail(_)
            | Command::LoadLibrary
            | Command::LoadPeople
            | Command::ListPersonPhotos(_) => &self.reader,
            Command::WantThumbnails(_) | Command::LoadImage { .. } | Command::WantFaceCrops(_) => {
                &self.images
            }
            Command::Retrain | Command::KeepTrained | Command::RollBackTrained => {
                match &self.trainer {
                    Some(t) => t,
                    None => {
                        return Err(SendError::Unavailable(
                            "no scheduler trainer is installed in this build",
                        ));
                    }
                }
            }
            Command::PauseLabelling
            | Command::ResumeLabelling
            | Command::RetryLabelling
            | Command::SetLabelBudget(_) => {
                let Some(tx) = &self.labelling else {
                    return Err(SendError::Unavailable(
                        "no labeller is installed in this build",
                    ));
                };
                let msg = match cmd {
                    Command::PauseLabelling => labelling::LabelMsg::Pause,
                    Command::ResumeLabelling => labelling::LabelMsg::Resume,
                    Command::SetLabelBudget(d) => labelling::LabelMsg::Budget(d),
                    _ => labelling::LabelMsg::Retry,
                };
                return tx.try_send(msg).map_err(|e| match e {
                    TrySendError::Full(_) => SendError::Busy,
                    TrySendError::Disconnected(_) => SendError::Stopped,
                });
            }
            Command::PauseScan => {
                // Takes effect at once, even while the writer is busy.
                self.cancel_scan.store(true, Ordering::SeqCst);
                &self.writer
            }
            Command::AddPaths(_)
            | Command::RemoveFolder(_)
            | Command::ResumeScan
            | Command::AddTag { .. }
            | Command::RemoveLabel { .. }
            | Command::ApplySettings(_)
            | Command::NamePerson { .. }
            | Command::MergePersons { .. }
            | Command::RejectFace { .. }
            | Command::ConfirmFace { .. }
            | Command::FindFaces
            | Command::StopFindingFaces
            | Command::GroupFaces { .. } => &self.writer,
        };
        tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => SendError::Busy,
            TrySendError::Disconnected(_) => SendError::Stopped,
        })
    }

    /// The next event, if one is waiting.
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.cancel_scan.store(true, Ordering::SeqCst);
    }
}
