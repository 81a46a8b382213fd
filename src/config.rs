//! Where photolabel keeps its files: the library database in the platform data directory and
//! derived files (thumbnails, converted models) in the platform cache directory. Environment
//! variables override both so tests and scripts never touch a user's real library.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Overrides the database file (also `--db` on the command line).
pub const ENV_DB: &str = "PHOTOLABEL_DB";
/// Overrides the cache directory (thumbnails, converted model weights).
pub const ENV_CACHE_DIR: &str = "PHOTOLABEL_CACHE_DIR";
/// Overrides the data directory (database, logs, settings).
pub const ENV_DATA_DIR: &str = "PHOTOLABEL_DATA_DIR";

/// Resolved locations of photolabel's own files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The SQLite library database.
    pub db: PathBuf,
    /// Root of derived, re-creatable files.
    pub cache_dir: PathBuf,
    /// Root of files that must survive (database, logs, settings).
    pub data_dir: PathBuf,
}

impl Paths {
    /// Resolves paths from the environment, falling back to the platform directories.
    /// `db_override` (from `--db`) wins over everything for the database file; when it is given
    /// and no cache override exists, the cache sits beside the database so that throw-away
    /// libraries stay self-contained.
    pub fn resolve(db_override: Option<PathBuf>) -> Result<Self> {
        let dirs = directories::ProjectDirs::from("org", "photolabel", "photolabel");
        let data_dir = match std::env::var_os(ENV_DATA_DIR) {
            Some(d) => PathBuf::from(d),
            None => dirs
                .as_ref()
                .map(|d| d.data_dir().to_path_buf())
                .ok_or(Error::NoDataDir)?,
        };
        let db_override = db_override.or_else(|| std::env::var_os(ENV_DB).map(PathBuf::from));
        let cache_dir = match (std::env::var_os(ENV_CACHE_DIR), &db_override) {
            (Some(c), _) => PathBuf::from(c),
            (None, Some(db)) => db.with_extension("cache"),
            (None, None) => dirs
                .as_ref()
                .map(|d| d.cache_dir().to_path_buf())
                .ok_or(Error::NoDataDir)?,
        };
        let db = db_override.unwrap_or_else(|| data_dir.join("library.sqlite"));
        Ok(Paths {
            db,
            cache_dir,
            data_dir,
        })
    }

    /// Directory of cached thumbnails.
    pub fn thumbs_dir(&self) -> PathBuf {
        self.cache_dir.join("thumbs")
    }
}
