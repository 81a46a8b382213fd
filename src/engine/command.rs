//! The engine's vocabulary: [`Command`]s the GUI sends and [`Event`]s the engine answers with,
//! plus the plain data they carry. No egui types here: images travel as [`DecodedImage`] RGBA
//! buffers that the GUI turns into textures.

use std::path::PathBuf;

use crate::people::service::{FindReport, PeopleOverview, PhotoFace};
use crate::scan::{ScanProgress, ScanSummary};
use crate::store::{
    Label, Photo, PhotoOrder, RunRecord, RunSummary, SearchHit, Stats, tags::TagNode,
};

use super::plugins::{ModelStatus, TrainProgress, TrainReport};
use super::settings::LabelSettings;

/// Requests from the GUI to the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Add folders (and single image files) to the library and start scanning at once.
    AddPaths(Vec<PathBuf>),
    /// Forget a library folder and its photos; the files on disk are never touched.
    RemoveFolder(PathBuf),
    /// Pause the running scan (it stops after the files in flight; resuming rescans).
    PauseScan,
    /// Resume scanning: an incremental rescan of every library folder.
    ResumeScan,
    /// List photo ids in this order; answered by [`Event::PhotoIds`].
    ListPhotos(PhotoOrder),
    /// Run a query in the search language; answered by [`Event::SearchResults`].
    Search(String),
    /// Tags starting with a prefix; answered by [`Event::Suggestions`].
    Suggest(String),
    /// Fetch photo rows by id; answered by [`Event::Photos`].
    FetchPhotos(Vec<i64>),
    /// Load one photo's row, labels and decision log; answered by [`Event::Detail`].
    LoadDetail(i64),
    /// Load folders, counts, the tag tree and the run summary; answered by [`Event::Library`].
    LoadLibrary,
    /// The thumbnails wanted now, most wanted first; replaces every earlier want.
    WantThumbnails(Vec<ThumbRequest>),
    /// Decode a photo's full image upright; answered by [`Event::Image`].
    LoadImage {
        photo_id: i64,
        path: PathBuf,
        /// EXIF orientation to apply (1..=8).
        orientation: Option<u16>,
    },
    /// Add a user tag to a photo.
    AddTag { photo_id: i64, label: String },
    /// Remove one label (user tag or model label) from a photo.
    RemoveLabel { photo_id: i64, label_id: i64 },
    /// Use these labelling settings from now on.
    ApplySettings(LabelSettings),
    /// Label the photos waiting now (and those scanned meanwhile) within this time, spending
    /// more on the photos that promise more (`sched::budget`); `None` goes back to the
    /// per-photo deadline.
    SetLabelBudget(Option<std::time::Duration>),
    /// Pause labelling after the photo in hand.
    PauseLabelling,
    /// Resume labelling.
    ResumeLabelling,
    /// Label again the photos that failed for a reason that can go away (weights missing, a
    /// fetch or device error), trying the models that could not be had again.
    RetryLabelling,
    /// Retrain the scheduler on this library (needs an installed trainer).
    Retrain,
    /// Keep the scheduler the last retraining produced.
    KeepTrained,
    /// Discard the scheduler the last retraining produced and restore the previous one.
    RollBackTrained,
    /// Load the persons with their best faces; answered by [`Event::People`].
    LoadPeople,
    /// The photos showing a person, newest first; answered by [`Event::PersonPhotos`].
    ListPersonPhotos(i64),
    /// Name (or rename; empty: forget the name of) a person; confirms its faces.
    NamePerson { person: i64, name: String },
    /// Merge persons `from` into `into`, which keeps its name.
    MergePersons { into: i64, from: Vec<i64> },
    /// Face `face` is not person `person`: it leaves the person, who never gets it back.
    RejectFace { face: i64, person: i64 },
    /// Face `face` is person `person` (confirmed).
    ConfirmFace { face: i64, person: i64 },
    /// Find and embed the faces of the photos not looked at yet, grouping them as they come
    /// (what `photolabel people find` does), in the background: [`Event::FacesProgress`], then
    /// [`Event::FacesFinished`].
    FindFaces,
    /// Stop finding faces after the photo in hand (what was found so far is kept and
    /// grouped); [`Event::FacesFinished`] then says it stopped.
    StopFindingFaces,
    /// Group the unsorted faces (`full`: redo every automatic assignment), as `people group`.
    GroupFaces { full: bool },
    /// The face crops wanted now (for the People view's tiles); replaces earlier wants.
    WantFaceCrops(Vec<FaceCropRequest>),
}

/// One face crop the People view wants decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceCropRequest {
    pub face_id: i64,
    /// The photo.
    pub path: PathBuf,
    /// EXIF orientation to apply (the box is on the upright photo).
    pub orientation: Option<u16>,
    /// (x, y, w, h) relative to the upright photo.
    pub bbox: [f32; 4],
}

/// One thumbnail the grid wants decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbRequest {
    pub photo_id: i64,
    /// The cached thumbnail file.
    pub path: PathBuf,
}

/// An image decoded off the UI thread: RGBA8, row-major, `width * height * 4` bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodedImage {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl std::fmt::Debug for DecodedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DecodedImage({}x{})", self.width, self.height)
    }
}

/// Everything the detail view shows about one photo.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoDetail {
    pub photo: Photo,
    pub labels: Vec<Label>,
    pub runs: Vec<RunRecord>,
    /// The deadline its latest schedule ran under (`None`: none, or labelled before it was
    /// recorded).
    pub deadline_ms: Option<f64>,
    /// The faces found on it, with who they are.
    pub faces: Vec<PhotoFace>,
}

/// Library-wide state for the folders panel, the tag browser and the library timeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LibrarySnapshot {
    pub roots: Vec<PathBuf>,
    /// The folders of `roots` whose path does not exist now (unplugged drive): shown as
    /// offline, not scanned, their photos kept.
    pub offline: Vec<PathBuf>,
    pub stats: Stats,
    pub runs: RunSummary,
    /// The library's friendly tags under their categories, with photo counts.
    pub tags: Vec<TagNode>,
}

/// Where labelling is, for the progress bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelProgress {
    /// Photos labelled since labelling (re)started.
    pub done: u64,
    /// `done` plus the photos still waiting.
    pub total: u64,
    pub photos_per_s: f64,
    /// Time left at the current rate (under a budget: at the budget's pace so far).
    pub eta_s: Option<f64>,
    /// Time left of the library budget, when one is set.
    pub budget_left_s: Option<f64>,
    /// The photo being labelled now.
    pub current: Option<i64>,
    pub paused: bool,
    /// Photos whose labelling failed and can be retried.
    pub retryable_failed: u64,
}

/// What the engine reports back.
#[derive(Debug, Clone)]
pub enum Event {
    /// A scan started over these folders.
    ScanStarted(Vec<PathBuf>),
    /// Scan counters (about ten a second while scanning).
    ScanProgress(ScanProgress),
    /// A file or folder could not be used (also recorded in the library).
    ScanFailed { path: PathBuf, message: String },
    /// The scan ended, finished or paused (`summary.cancelled`).
    ScanFinished(ScanSummary),
    /// Folders, counts and run summary.
    Library(Box<LibrarySnapshot>),
    /// Photo ids in the requested order.
    PhotoIds { order: PhotoOrder, ids: Vec<i64> },
    /// Results of a search (or why the query is invalid).
    SearchResults {
        query: String,
        result: Result<Vec<SearchHit>, String>,
    },
    /// Tag suggestions for a prefix, most used first.
    Suggestions {
        prefix: String,
        tags: Vec<(String, i64)>,
    },
    /// Photo rows that were asked for.
    Photos(Vec<Photo>),
    /// One photo's detail.
    Detail(Box<PhotoDetail>),
    /// A decoded thumbnail (or why it could not be read).
    Thumbnail {
        photo_id: i64,
        image: Result<DecodedImage, String>,
    },
    /// A decoded full image (or why it could not be read).
    Image {
        photo_id: i64,
        image: Result<DecodedImage, String>,
    },
    /// The labeller started on a photo.
    LabellingStarted(i64),
    /// The labeller finished a photo (`error` when it failed).
    LabellingDone {
        photo_id: i64,
        error: Option<String>,
    },
    /// Where labelling is (after every photo, and when it is paused, resumed or retried).
    LabelProgress(LabelProgress),
    /// Preparing the models (first use fetches their weights): progress, failures, the end.
    Model(ModelStatus),
    /// These photos' labels changed (tag edits); views showing them should reload.
    PhotosChanged(Vec<i64>),
    /// The library's photo list changed (folder added or removed, scan batch written).
    LibraryChanged,
    /// Retraining progress.
    TrainProgress(TrainProgress),
    /// Retraining ended with before/after figures, or failed.
    TrainFinished(Result<TrainReport, String>),
    /// The retrained scheduler was kept (`true`) or rolled back (`false`).
    TrainDecided(bool),
    /// The persons of the library with their best faces, and the unsorted faces.
    People(Box<PeopleOverview>),
    /// The photos showing a person, newest first.
    PersonPhotos { person: i64, ids: Vec<i64> },
    /// Persons or faces changed (named, merged, a face rejected or confirmed, faces found or
    /// grouped): the People view, the detail and person searches should reload.
    PeopleChanged,
    /// Finding faces: photos looked at out of the run's total.
    FacesProgress { done: usize, total: usize },
    /// Finding faces ended, with what it did, or failed.
    FacesFinished(Result<FindReport, String>),
    /// A decoded face crop (or why it could not be read).
    FaceCrop {
        face_id: i64,
        image: Result<DecodedImage, String>,
    },
    /// Something failed; the GUI shows it calmly and carries on.
    Error(String),
}
