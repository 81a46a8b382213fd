//! The library database: one SQLite file (WAL mode, foreign keys on) holding photos, their
//! labels, the scheduler's model runs and a full-text tag index. [`Store`] owns one connection;
//! the single writer (scanner or engine) holds one, readers open their own.
//!
//! Submodules split the tables by responsibility: [`photos`] (scan results), [`labels`] (labels,
//! model runs and the tag index they feed), [`query`] (the search language), [`search`] and
//! [`browse`] (what the GUI pages through: ordered ids, rows by id, run summaries), [`tags`]
//! (the vocabulary's tags of each photo: applying a vocabulary, tag counts and the tag tree),
//! [`faces`] (faces, their embeddings and the user's decisions about them), [`persons`] (the
//! people faces are grouped into) and [`person_tags`] (a named person as a search tag).

pub mod browse;
pub mod corrections;
pub mod faces;
pub mod labels;
pub mod person_tags;
pub mod persons;
pub mod photos;
mod places;
pub mod query;
pub mod recover;
pub mod schema;
pub mod search;
pub mod tags;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

pub use browse::{ModelRunSummary, PhotoOrder, RunSummary};
pub use faces::{Assignment, FaceRow, NewFace};
pub use labels::{
    Label, LabelSource, MAX_LABEL_FAILURES, ModelProfile, NewLabel, RunRecord, RunStatus,
};
pub use persons::Person;
pub use photos::{
    ImportedKeyword, KeywordOrigin, LabelStatus, Photo, PhotoMeta, PhotoStatus, ScanRecord,
};
pub use search::{MatchedTag, SearchHit};

/// Newest schema version this build understands.
pub const SCHEMA_VERSION: i64 = schema::MIGRATIONS.len() as i64;

/// A connection to the library database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The label hierarchy, loaded on first search, with the `PRAGMA data_version` it was read
    /// at (another connection's commit changes that number).
    parents_cache: std::cell::RefCell<Option<(i64, std::rc::Rc<search::ParentMap>)>>,
    /// The vocabulary tags are computed with (the embedded one unless
    /// [`Store::apply_vocabulary`] gave another).
    vocab: std::sync::Arc<crate::vocab::Vocabulary>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` for reading and writing, and migrates
    /// it to [`SCHEMA_VERSION`]. Refuses a database from a newer photolabel.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::library_write("cannot create the database folder", dir, e))?;
        }
        let open = || -> Result<Self> {
            let conn = Connection::open(path)?;
            let mut store = Self::configure(conn, path)?;
            store.migrate()?;
            // Tags follow the vocabulary built into this binary: reindexed from the stored raw
            // labels when it differs from the one the library was indexed with.
            store.apply_vocabulary(crate::vocab::Vocabulary::embedded()?)?;
            Ok(store)
        };
        open().map_err(|e| recover::damaged(e, path))
    }

    /// Opens an existing database read-only (a reader beside the writer). Fails if the file
    /// does not exist or is newer than this build.
    pub fn open_readonly(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| recover::damaged(e.into(), path))?;
        let store = Self::configure(conn, path).map_err(|e| recover::damaged(e, path))?;
        let version = store
            .schema_version()
            .map_err(|e| recover::damaged(e, path))?;
        if version > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
                path: path.to_path_buf(),
            });
        }
        Ok(store)
    }

    fn configure(conn: Connection, path: &Path) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(10))?;
        // journal_mode returns a row; a read-only connection keeps whatever the file has.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = NORMAL;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -65536;",
        )?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            parents_cache: std::cell::RefCell::new(None),
            vocab: std::sync::Arc::new(crate::vocab::Vocabulary::embedded()?.clone()),
        })
    }

    /// The schema version stored in the file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<()> {
        let version = self.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
                path: self.path.clone(),
            });
        }
        if version > 0 && (version as usize) < schema::MIGRATIONS.len() {
            // A copy of the library as it was, before a migration this build cannot undo.
            recover::backup(&self.conn, &self.path, version)?;
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
            log::info!("migrated library database to version {}", i + 1);
        }
        Ok(())
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw connection, for modules of this crate that add queries.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Records `root` as a library folder (idempotent) and returns its id.
    pub fn add_root(&mut self, root: &Path) -> Result<i64> {
        let bytes = path_to_bytes(root);
        self.conn.execute(
            "INSERT INTO roots (path, added_at) VALUES (?1, ?2) ON CONFLICT(path) DO NOTHING",
            rusqlite::params![bytes, now_secs()],
        )?;
        Ok(self
            .conn
            .query_row("SELECT id FROM roots WHERE path = ?1", [bytes], |r| {
                r.get(0)
            })?)
    }

    /// Library folders, in the order they were added.
    pub fn roots(&self) -> Result<Vec<PathBuf>> {
        let mut stmt = self.conn.prepare("SELECT path FROM roots ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(path_from_bytes(&row?));
        }
        Ok(out)
    }

    /// Library folders the library holds photos from (photos not marked missing): an empty
    /// folder among them is taken for an unmounted drive (`scan::watch::is_offline`).
    pub fn roots_holding_photos(&self) -> Result<std::collections::BTreeSet<PathBuf>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.path FROM roots r WHERE EXISTS \
             (SELECT 1 FROM photos p WHERE p.root_id = r.id AND p.status != 'missing')",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = std::collections::BTreeSet::new();
        for row in rows {
            out.insert(path_from_bytes(&row?));
        }
        Ok(out)
    }

    /// Forgets a library folder and every photo under it (labels and runs go with them). The
    /// files themselves are never touched.
    pub fn remove_root(&mut self, root: &Path) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM roots WHERE path = ?1",
                [path_to_bytes(root)],
                |r| r.get(0),
            )
            .ok();
        let Some(id) = id else {
            return Ok(0);
        };
        tx.execute(
            "DELETE FROM tag_index WHERE rowid IN (SELECT sort_key FROM photos WHERE root_id = ?1)",
            [id],
        )?;
        let n = tx.execute("DELETE FROM photos WHERE root_id = ?1", [id])?;
        tx.execute("DELETE FROM roots WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(n)
    }

    /// Counts for `photolabel stats`.
    pub fn stats(&self) -> Result<Stats> {
        let c = &self.conn;
        let count = |sql: &str| -> Result<i64> { Ok(c.query_row(sql, [], |r| r.get(0))?) };
        Ok(Stats {
            roots: count("SELECT count(*) FROM roots")?,
            photos_ok: count("SELECT count(*) FROM photos WHERE status = 'ok'")?,
            photos_error: count("SELECT count(*) FROM photos WHERE status = 'error'")?,
            photos_missing: count("SELECT count(*) FROM photos WHERE status = 'missing'")?,
            photos_labelled: count(
                "SELECT count(*) FROM photos WHERE status = 'ok' AND label_status = 'labelled'",
            )?,
            thumbnails: count("SELECT count(*) FROM photos WHERE thumb = 1")?,
            labels: count("SELECT count(*) FROM labels")?,
            distinct_labels: count("SELECT count(DISTINCT label) FROM labels")?,
            runs_ran: count("SELECT count(*) FROM model_runs WHERE status = 'ran'")?,
            runs_skipped: count("SELECT count(*) FROM model_runs WHERE status = 'skipped'")?,
            runs_failed: count("SELECT count(*) FROM model_runs WHERE status = 'failed'")?,
        })
    }

    /// Runs SQLite's integrity check; returns its findings (`["ok"]` when healthy).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Library-wide counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub roots: i64,
    pub photos_ok: i64,
    pub photos_error: i64,
    pub photos_missing: i64,
    pub photos_labelled: i64,
    pub thumbnails: i64,
    pub labels: i64,
    pub distinct_labels: i64,
    pub runs_ran: i64,
    pub runs_skipped: i64,
    pub runs_failed: i64,
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A path as the bytes stored in the database (exact OS bytes on Unix).
pub fn path_to_bytes(path: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy().into_owned().into_bytes()
    }
}

/// Inverse of [`path_to_bytes`].
pub fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_library_migrates_and_keeps_its_photos() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO photos (path, size, mtime_ns, status, sort_key, added_at, scanned_at) \
                 VALUES (x'2f612e6a7067', 1, 1, 'ok', 1, 1, 1)",
                [],
            )
            .unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let p = store.photo_by_path(Path::new("/a.jpg")).unwrap().unwrap();
        store.set_sched_context(p.id, "{}").unwrap();
    }

    #[test]
    fn a_version_2_library_migrates_to_the_latest_and_keeps_rows_and_contexts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
            conn.execute_batch(schema::MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute(
                "INSERT INTO photos (path, size, mtime_ns, status, sort_key, added_at, \
                 scanned_at, sched_context) VALUES (x'2f612e6a7067', 1, 1, 'ok', 1, 1, 1, \
                 '{\"gps\":true}')",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO model_runs (photo_id, model, seq, status, run_at) \
                 VALUES (1, 'm', 0, 'ran', 1)",
                [],
            )
            .unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let p = store.photo_by_path(Path::new("/a.jpg")).unwrap().unwrap();
        assert_eq!(store.runs_for(p.id).unwrap().len(), 1);
        // Version 4: late runs are rows like the others and count towards the model's cost.
        let late = RunRecord {
            model: "m".into(),
            seq: 0,
            predicted_value: None,
            actual_value: Some(0.0),
            start_ms: Some(0.0),
            duration_ms: Some(30.0),
            peak_mem_bytes: None,
            status: RunStatus::Late,
            reason: None,
            stage: None,
        };
        store
            .write_photo_results(p.id, &[], &[late], false)
            .unwrap();
        assert_eq!(store.runs_for(p.id).unwrap()[0].status, RunStatus::Late);
        assert_eq!(
            store.model_costs().unwrap(),
            vec![("m".to_string(), 30.0, 1)]
        );
        assert_eq!(
            store.sched_run(p.id).unwrap(),
            (Some("{\"gps\":true}".to_string()), None)
        );
        store.set_sched_run(p.id, None, Some(250.0)).unwrap();
        assert_eq!(
            store.sched_run(p.id).unwrap(),
            (Some("{\"gps\":true}".to_string()), Some(250.0))
        );
        store.set_sched_run(p.id, Some("{}"), None).unwrap();
        assert_eq!(
            store.sched_run(p.id).unwrap(),
            (Some("{}".to_string()), None)
        );
    }

    #[test]
    fn a_version_3_library_gets_vocabulary_tags_from_its_raw_labels_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &schema::MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute(
                "INSERT INTO photos (path, size, mtime_ns, status, sort_key, added_at, \
                 scanned_at, label_status) VALUES (x'2f612e6a7067', 1, 1, 'ok', 7, 1, 1, \
                 'labelled')",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO labels (photo_id, label, model, confidence, source) \
                 VALUES (1, 'tabby cat', 'efficientnet_lite0', 0.7, 'model')",
                [],
            )
            .unwrap();
            // The version-3 index knew only the raw class.
            conn.execute(
                "INSERT INTO tag_index (rowid, tags) VALUES (7, 'tabby cat')",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        for word in ["tabby", "cat", "pet", "animal"] {
            let q = query::Query::parse(word).unwrap();
            assert_eq!(store.search(&q, 10, 0).unwrap().len(), 1, "{word}");
        }
        let tags: Vec<String> = store
            .photo_tags_for(1)
            .unwrap()
            .into_iter()
            .map(|t| t.tag)
            .collect();
        assert_eq!(tags[0], "cat", "the friendly tag leads: {tags:?}");
    }
}
