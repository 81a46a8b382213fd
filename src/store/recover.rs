//! A damaged library and the way out of it. The photos on disk are the truth and the database
//! only what was learnt about them, so a damaged database is never patched in place: it is
//! recognised ([`damaged`] turns SQLite's "not a database" / "corrupt" into
//! [`Error::LibraryDamaged`], which says what to do), kept aside for inspection, and replaced by
//! the newest backup that opens, or by an empty library ([`recover`]). A backup is written
//! before every schema migration ([`backup`]), the one change a newer build cannot undo.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};

use super::Store;
use crate::error::{Error, Result};

/// `err` as [`Error::LibraryDamaged`] when SQLite says the file at `path` is not a database or
/// is corrupt; any other error unchanged.
pub(crate) fn damaged(err: Error, path: &Path) -> Error {
    match &err {
        Error::Sqlite(rusqlite::Error::SqliteFailure(f, msg))
            if matches!(f.code, ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) =>
        {
            Error::LibraryDamaged {
                path: path.to_path_buf(),
                detail: msg.clone().unwrap_or_else(|| f.to_string()),
            }
        }
        _ => err,
    }
}

/// Where the backup taken before migrating from `version` lives: `library.sqlite.bak-v3`.
pub fn backup_path(db: &Path, version: i64) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".bak-v{version}"));
    db.with_file_name(name)
}

/// Writes a consistent copy of the open library (schema `version`) beside it, once per version:
/// into a temporary file, renamed into place when complete, so a crash never leaves a torn
/// backup under the final name.
pub(crate) fn backup(conn: &Connection, db: &Path, version: i64) -> Result<()> {
    let dest = backup_path(db, version);
    if dest.exists() {
        return Ok(());
    }
    let mut part = dest.clone().into_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    if part.exists() {
        std::fs::remove_file(&part).map_err(|e| Error::io("removing", &part, e))?;
    }
    conn.execute("VACUUM INTO ?1", [part.to_string_lossy().as_ref()])?;
    std::fs::rename(&part, &dest)
        .map_err(|e| Error::io("moving the backup into place", &dest, e))?;
    log::info!(
        "backed up the library (schema {version}) before migrating: {}",
        dest.display()
    );
    Ok(())
}

/// The backups beside `db`, newest schema first.
pub fn backups(db: &Path) -> Vec<(i64, PathBuf)> {
    let Some(dir) = db.parent() else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(
        "{}.bak-v",
        db.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut found: Vec<(i64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let v = name.strip_prefix(&prefix)?.parse::<i64>().ok()?;
            Some((v, e.path()))
        })
        .collect();
    found.sort_by_key(|b| std::cmp::Reverse(b.0));
    found
}

/// What [`recover`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// Where the damaged database (and its -wal/-shm files) now is.
    pub moved_to: PathBuf,
    /// The backup the library was restored from; `None`: it starts empty.
    pub restored_from: Option<PathBuf>,
    /// Folders of the restored library (rescan them to bring it up to date).
    pub roots: Vec<PathBuf>,
    pub photos: i64,
}

/// Moves the damaged database at `db` aside (`library.sqlite.damaged-UNIXTIME`, with its
/// `-wal` and `-shm`), then restores the newest backup that opens (a copy: backups stay) or
/// creates an empty library. The caller holds the library lock.
pub fn recover(db: &Path) -> Result<Recovery> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let aside = |suffix: &str| {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".damaged-{stamp}{suffix}"));
        db.with_file_name(name)
    };
    let moved_to = aside("");
    for suffix in ["", "-wal", "-shm"] {
        let mut from = db.as_os_str().to_os_string();
        from.push(suffix);
        let from = PathBuf::from(from);
        if from.exists() {
            let to = aside(suffix);
            std::fs::rename(&from, &to)
                .map_err(|e| Error::io("moving the damaged library aside", &from, e))?;
        }
    }
    for (_, bak) in backups(db) {
        std::fs::copy(&bak, db).map_err(|e| Error::io("restoring the backup", &bak, e))?;
        match Store::open(db) {
            Ok(store) => {
                return Ok(Recovery {
                    moved_to,
                    restored_from: Some(bak),
                    roots: store.roots()?,
                    photos: store.stats()?.photos_ok,
                });
            }
            Err(e) => {
                log::warn!("backup {} does not open either: {e}", bak.display());
                drop(std::fs::remove_file(db));
            }
        }
    }
    let store = Store::open(db)?;
    Ok(Recovery {
        moved_to,
        restored_from: None,
        roots: store.roots()?,
        photos: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_damaged_and_recovery_starts_empty_keeping_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.sqlite");
        std::fs::write(&db, vec![0x5a; 8192]).unwrap();
        let err = Store::open(&db).unwrap_err();
        assert!(matches!(err, Error::LibraryDamaged { .. }), "{err}");
        assert!(err.to_string().contains("photolabel recover"), "{err}");
        assert!(matches!(
            Store::open_readonly(&db).unwrap_err(),
            Error::LibraryDamaged { .. }
        ));
        let r = recover(&db).unwrap();
        assert_eq!(r.restored_from, None);
        assert_eq!(std::fs::read(&r.moved_to).unwrap(), vec![0x5a; 8192]);
        assert_eq!(Store::open(&db).unwrap().stats().unwrap().photos_ok, 0);
    }

    #[test]
    fn a_migration_leaves_a_backup_that_recovery_restores() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.sqlite");
        // A library at schema 1 with one folder, as an older build left it.
        {
            let conn = Connection::open(&db).unwrap();
            conn.execute_batch(super::super::schema::MIGRATIONS[0])
                .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO roots (path, added_at) VALUES (?1, 0)",
                [b"/photos/2019".as_slice()],
            )
            .unwrap();
        }
        drop(Store::open(&db).unwrap());
        let baks = backups(&db);
        assert_eq!(baks.len(), 1, "{baks:?}");
        assert_eq!(baks[0].0, 1);
        assert!(!dir.path().join("library.sqlite.bak-v1.part").exists());
        // Opening the migrated library again takes no second backup.
        drop(Store::open(&db).unwrap());
        assert_eq!(backups(&db).len(), 1);
        // Damage the library: the backup brings the folder back.
        std::fs::write(&db, b"SQLite format 3\0 and then garbage").unwrap();
        assert!(matches!(
            Store::open(&db).unwrap_err(),
            Error::LibraryDamaged { .. }
        ));
        let r = recover(&db).unwrap();
        assert_eq!(r.restored_from.as_deref(), Some(baks[0].1.as_path()));
        assert_eq!(r.roots, vec![PathBuf::from("/photos/2019")]);
        assert!(baks[0].1.exists(), "the backup itself is kept");
        assert!(r.moved_to.exists());
    }
}
