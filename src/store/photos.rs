//! The photos table: what the scanner learnt about each file (identity, metadata, scan status)
//! and the writes that keep it in step with the disk: new files, changed files, moves/renames
//! (same content at a new path) and files that disappeared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::{Store, now_secs, path_from_bytes, path_to_bytes};
use crate::error::Result;

/// Metadata read from a photo's header and EXIF block.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PhotoMeta {
    /// Detected container format ("jpeg", "png", ...).
    pub format: String,
    pub width: u32,
    pub height: u32,
    /// EXIF DateTimeOriginal as written by the camera (local time, no zone).
    pub taken_at: Option<String>,
    /// `taken_at` as seconds since the epoch (read as UTC), for ordering.
    pub taken_ts: Option<i64>,
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    /// EXIF orientation 1..=8 (1 = upright).
    pub orientation: Option<u16>,
    pub exposure_s: Option<f64>,
    pub f_number: Option<f64>,
    pub flash: Option<bool>,
    pub focal_mm: Option<f64>,
    pub iso: Option<u32>,
    pub gps: bool,
    /// GPS position in degrees (WGS 84; south and west negative), when EXIF has one.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// GPS altitude in metres above sea level (negative below).
    pub altitude_m: Option<f64>,
    /// Place tags reverse-geocoded from the position (town, region, country), stored as
    /// labels from [`crate::scan::places::PLACE_MODEL`]; not read back from the photos table.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<String>,
    /// Keywords other programs wrote (XMP sidecar, embedded XMP, IPTC), read at scan and
    /// stored as user tags; not read back from the photos table.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<ImportedKeyword>,
}

impl PhotoMeta {
    /// The GPS position as "48.85660, 2.35220 (35 m)", when there is one.
    pub fn position_text(&self) -> Option<String> {
        let (lat, lon) = (self.latitude?, self.longitude?);
        let alt = self
            .altitude_m
            .map(|a| format!(" ({a:.0} m)"))
            .unwrap_or_default();
        Some(format!("{lat:.5}, {lon:.5}{alt}"))
    }
}

/// Where an imported keyword was found; stored as the `model` of a user label, so the photo
/// detail shows it and a rescan replaces exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeywordOrigin {
    /// An XMP sidecar or the photo's embedded XMP packet.
    Xmp,
    /// The photo's IPTC-IIM keywords.
    Iptc,
}

impl KeywordOrigin {
    /// The `model` its labels are stored under.
    pub fn model(self) -> &'static str {
        match self {
            KeywordOrigin::Xmp => "xmp",
            KeywordOrigin::Iptc => "iptc",
        }
    }
}

/// A keyword another program wrote about a photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportedKeyword {
    pub keyword: String,
    pub origin: KeywordOrigin,
}

/// One file as the scanner found it: identity plus either its metadata or why it is unusable.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRecord {
    pub path: PathBuf,
    pub root_id: Option<i64>,
    pub size: u64,
    pub mtime_ns: i64,
    /// Content hash (blake3 hex); `None` when the file could not be read at all.
    pub hash: Option<String>,
    /// Metadata, or the error that makes the file unusable.
    pub meta: std::result::Result<PhotoMeta, String>,
    /// Whether a thumbnail was written to the cache.
    pub thumb: bool,
}

/// Scan state of a photo row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotoStatus {
    /// Readable image with metadata.
    Ok,
    /// The file exists but cannot be used; `Photo::error` says why.
    Error,
    /// The file is gone from disk (kept so labels survive if it comes back or was moved).
    Missing,
}

impl PhotoStatus {
    fn parse(s: &str) -> Self {
        match s {
            "ok" => Self::Ok,
            "missing" => Self::Missing,
            _ => Self::Error,
        }
    }
}

/// Labelling state of a photo row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelStatus {
    Pending,
    Labelled,
    Failed,
}

impl LabelStatus {
    fn parse(s: &str) -> Self {
        match s {
            "labelled" => Self::Labelled,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// A photo row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Photo {
    pub id: i64,
    #[serde(serialize_with = "crate::json_path::path")]
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub hash: Option<String>,
    pub status: PhotoStatus,
    pub error: Option<String>,
    pub label_status: LabelStatus,
    pub thumb: bool,
    pub sort_key: i64,
    pub meta: PhotoMeta,
}

/// What the store already knows about a path, for incremental scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownFile {
    pub id: i64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ok: bool,
    pub missing: bool,
    pub thumb: bool,
    /// When it was last examined (seconds since the epoch): a sidecar changed since then is
    /// read again.
    pub scanned_at: i64,
}

/// What [`Store::record_scans`] did with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    Inserted,
    Updated,
    /// Same content found at a new path: the old row (and its labels) moved.
    Moved,
}

pub(crate) const PHOTO_COLUMNS: &str = "id, path, size, mtime_ns, hash, status, error, label_status, thumb, \
     sort_key, format, width, height, taken_at, taken_ts, camera_make, camera_model, orientation, \
     exposure_s, f_number, flash, focal_mm, iso, gps, latitude, longitude, altitude_m";

pub(crate) fn photo_from_row(r: &Row<'_>) -> rusqlite::Result<Photo> {
    Ok(Photo {
        id: r.get(0)?,
        path: path_from_bytes(&r.get::<_, Vec<u8>>(1)?),
        size: r.get::<_, i64>(2)? as u64,
        mtime_ns: r.get(3)?,
        hash: r.get(4)?,
        status: PhotoStatus::parse(&r.get::<_, String>(5)?),
        error: r.get(6)?,
        label_status: LabelStatus::parse(&r.get::<_, String>(7)?),
        thumb: r.get(8)?,
        sort_key: r.get(9)?,
        meta: PhotoMeta {
            format: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
            width: r.get::<_, Option<u32>>(11)?.unwrap_or(0),
            height: r.get::<_, Option<u32>>(12)?.unwrap_or(0),
            taken_at: r.get(13)?,
            taken_ts: r.get(14)?,
            camera_make: r.get(15)?,
            camera_model: r.get(16)?,
            orientation: r.get(17)?,
            exposure_s: r.get(18)?,
            f_number: r.get(19)?,
            flash: r.get(20)?,
            focal_mm: r.get(21)?,
            iso: r.get(22)?,
            gps: r.get(23)?,
            latitude: r.get(24)?,
            longitude: r.get(25)?,
            altitude_m: r.get(26)?,
            places: Vec::new(),
            keywords: Vec::new(),
        },
    })
}

impl Store {
    /// Every known file under `root` (by path bytes), for deciding what a rescan must touch.
    pub fn known_files(&self, root_id: i64) -> Result<HashMap<Vec<u8>, KnownFile>> {
        let mut stmt = self.conn().prepare(
            "SELECT path, id, size, mtime_ns, status, thumb, scanned_at FROM photos \
             WHERE root_id = ?1",
        )?;
        let rows = stmt.query_map([root_id], |r| {
            let status: String = r.get(4)?;
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                KnownFile {
                    id: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    mtime_ns: r.get(3)?,
                    ok: status == "ok",
                    missing: status == "missing",
                    thumb: r.get(5)?,
                    scanned_at: r.get(6)?,
                },
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (k, v) = row?;
            out.insert(k, v);
        }
        Ok(out)
    }

    /// Writes a batch of scan results in one transaction. Each record is all-or-nothing: a crash
    /// leaves either the old row or the new one, never half a photo.
    /// Returns what happened to each record and the photo id it now has.
    pub fn record_scans(&mut self, records: &[ScanRecord]) -> Result<Vec<(RecordOutcome, i64)>> {
        let tx = self.conn.transaction()?;
        // Place tags are filed under their category before the parents are read.
        let filed = super::places::file_places(&tx, records)?;
        let extra = super::labels::load_parents(&tx)?;
        let mut outcomes = Vec::with_capacity(records.len());
        for rec in records {
            outcomes.push(record_one(&tx, &self.vocab, &extra, rec)?);
        }
        tx.commit()?;
        if filed {
            self.parents_cache.replace(None);
        }
        Ok(outcomes)
    }

    /// Marks photos whose files have disappeared. Their labels stay, and the tag index forgets
    /// them until they come back.
    pub fn mark_missing(&mut self, ids: &[i64]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute(
                "DELETE FROM tag_index WHERE rowid = (SELECT sort_key FROM photos WHERE id = ?1)",
                [id],
            )?;
            tx.execute("DELETE FROM photo_tags WHERE photo_id = ?1", [id])?;
            tx.execute(
                "UPDATE photos SET status = 'missing', scanned_at = ?2 WHERE id = ?1",
                params![id, now_secs()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Replaces the walk problems recorded for a root with this scan's.
    pub fn set_scan_issues(&mut self, root_id: i64, issues: &[(PathBuf, String)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM scan_issues WHERE root_id = ?1", [root_id])?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO scan_issues (path, root_id, message, seen_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (path, message) in issues {
                stmt.execute(params![path_to_bytes(path), root_id, message, now_secs()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Folders and files the last scans could not read, with why.
    pub fn scan_issues(&self) -> Result<Vec<(PathBuf, String)>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT path, message FROM scan_issues ORDER BY path")?;
        let rows = stmt.query_map([], |r| {
            Ok((path_from_bytes(&r.get::<_, Vec<u8>>(0)?), r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Notes that a thumbnail now exists for a photo.
    pub fn set_thumb(&mut self, id: i64, present: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET thumb = ?2 WHERE id = ?1",
            params![id, present],
        )?;
        Ok(())
    }

    /// The photo recorded at `path`, if any.
    pub fn photo_by_path(&self, path: &Path) -> Result<Option<Photo>> {
        let sql = format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE path = ?1");
        Ok(self
            .conn()
            .query_row(&sql, [path_to_bytes(path)], photo_from_row)
            .optional()?)
    }

    /// The photo with this id, if any.
    pub fn photo(&self, id: i64) -> Result<Option<Photo>> {
        let sql = format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE id = ?1");
        Ok(self
            .conn()
            .query_row(&sql, [id], photo_from_row)
            .optional()?)
    }

    /// Photos by sort key, newest first, for the library grid and listings.
    pub fn photos_newest_first(&self, limit: usize, offset: usize) -> Result<Vec<Photo>> {
        let sql = format!(
            "SELECT {PHOTO_COLUMNS} FROM photos WHERE status != 'missing' \
             ORDER BY sort_key DESC LIMIT ?1 OFFSET ?2"
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(params![limit as i64, offset as i64], photo_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Usable photos still waiting for labels, oldest id first.
    pub fn photos_pending_labels(&self, limit: usize) -> Result<Vec<Photo>> {
        let sql = format!(
            "SELECT {PHOTO_COLUMNS} FROM photos WHERE status = 'ok' AND label_status = 'pending' \
             ORDER BY id LIMIT ?1"
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map([limit as i64], photo_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many readable photos wait for labels.
    pub fn count_pending_labels(&self) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM photos WHERE status = 'ok' AND label_status = 'pending'",
            [],
            |r| r.get(0),
        )?)
    }

    /// Photos whose scan failed, with their errors.
    pub fn photos_with_errors(&self) -> Result<Vec<Photo>> {
        let sql = format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE status = 'error' ORDER BY id");
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map([], photo_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn record_one(
    tx: &Transaction<'_>,
    vocab: &crate::vocab::Vocabulary,
    extra: &crate::vocab::ExtraParents,
    rec: &ScanRecord,
) -> Result<(RecordOutcome, i64)> {
    let path = path_to_bytes(&rec.path);
    let existing: Option<(i64, Option<String>)> = tx
        .query_row(
            "SELECT id, hash FROM photos WHERE path = ?1",
            [&path],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;

    let (id, outcome) = match existing {
        Some((id, old_hash)) => {
            if old_hash != rec.hash {
                // New content at a known path: old labels describe another picture.
                tx.execute(
                    "DELETE FROM labels WHERE photo_id = ?1 AND source = 'model'",
                    [id],
                )?;
                tx.execute("DELETE FROM model_runs WHERE photo_id = ?1", [id])?;
                tx.execute(
                    "UPDATE photos SET label_status = 'pending', thumb = 0 WHERE id = ?1",
                    [id],
                )?;
            }
            (id, RecordOutcome::Updated)
        }
        None => match find_moved_from(tx, rec)? {
            Some(id) => {
                tx.execute(
                    "UPDATE photos SET path = ?2, root_id = ?3 WHERE id = ?1",
                    params![id, path, rec.root_id],
                )?;
                (id, RecordOutcome::Moved)
            }
            None => {
                tx.execute(
                    "INSERT INTO photos (path, root_id, size, mtime_ns, status, sort_key, \
                     added_at, scanned_at) VALUES (?1, ?2, 0, 0, 'error', \
                     (SELECT coalesce(min(sort_key), 0) - 1 FROM photos), ?3, ?3)",
                    params![path, rec.root_id, now_secs()],
                )?;
                (tx.last_insert_rowid(), RecordOutcome::Inserted)
            }
        },
    };

    // Drop the tag document under the old sort key; it is re-added under the new one.
    let old_key: i64 = tx.query_row("SELECT sort_key FROM photos WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    tx.execute("DELETE FROM tag_index WHERE rowid = ?1", [old_key])?;
    tx.execute("DELETE FROM photo_tags WHERE photo_id = ?1", [id])?;

    let meta = rec.meta.as_ref().ok();
    let m = meta.cloned().unwrap_or_default();
    let (status, error) = match &rec.meta {
        Ok(_) => ("ok", None),
        Err(e) => ("error", Some(e.as_str())),
    };
    tx.execute(
        "UPDATE photos SET size = ?2, mtime_ns = ?3, hash = ?4, format = ?5, width = ?6, \
         height = ?7, taken_at = ?8, taken_ts = ?9, camera_make = ?10, camera_model = ?11, \
         orientation = ?12, exposure_s = ?13, f_number = ?14, flash = ?15, focal_mm = ?16, \
         iso = ?17, gps = ?18, status = ?19, error = ?20, thumb = ?21, scanned_at = ?22, \
         latitude = ?23, longitude = ?24, altitude_m = ?25 WHERE id = ?1",
        params![
            id,
            rec.size as i64,
            rec.mtime_ns,
            rec.hash,
            meta.map(|m| m.format.as_str()),
            meta.map(|m| m.width),
            meta.map(|m| m.height),
            m.taken_at,
            m.taken_ts,
            m.camera_make,
            m.camera_model,
            m.orientation,
            m.exposure_s,
            m.f_number,
            m.flash,
            m.focal_mm,
            m.iso,
            m.gps,
            status,
            error,
            rec.thumb,
            now_secs(),
            m.latitude,
            m.longitude,
            m.altitude_m,
        ],
    )?;

    let secs = m.taken_ts.unwrap_or(rec.mtime_ns.div_euclid(1_000_000_000));
    let key = assign_sort_key(tx, id, secs)?;
    if status == "ok" {
        super::labels::replace_imported(tx, id, &m.keywords)?;
        super::places::replace_places(tx, id, &m.places)?;
        super::labels::reindex_photo(tx, vocab, extra, id, key)?;
    }
    Ok((outcome, id))
}

/// Finds an existing row with the same content whose file is gone from its old path: that is
/// a move or rename, and the row (with its labels) follows the file.
fn find_moved_from(tx: &Transaction<'_>, rec: &ScanRecord) -> Result<Option<i64>> {
    let Some(hash) = &rec.hash else {
        return Ok(None);
    };
    let mut stmt =
        tx.prepare_cached("SELECT id, path, status FROM photos WHERE hash = ?1 ORDER BY id")?;
    let rows = stmt.query_map([hash], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (id, old_path, status) = row?;
        if status == "missing" || !path_from_bytes(&old_path).exists() {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Gives photo `id` a unique sort key derived from `secs` (so later photos sort later), probing
/// upwards on the rare collision.
fn assign_sort_key(tx: &Transaction<'_>, id: i64, secs: i64) -> Result<i64> {
    let mut key = secs.saturating_mul(1 << 16) + (id & 0xFFFF);
    loop {
        let taken: Option<i64> = tx
            .query_row("SELECT id FROM photos WHERE sort_key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        match taken {
            Some(other) if other == id => return Ok(key),
            Some(_) => key += 1,
            None => {
                tx.execute(
                    "UPDATE photos SET sort_key = ?2 WHERE id = ?1",
                    params![id, key],
                )?;
                return Ok(key);
            }
        }
    }
}
