//! One library, one writer: a process that writes to a library (the app, `scan`, `label`,
//! `retrain`) holds an exclusive advisory lock on `LIBRARY.lock` beside the database for as long
//! as it runs; a second writer is refused with a message naming the holder's pid. Read-only
//! commands (search, show, stats) take no lock: SQLite's WAL lets them read while the writer
//! works. The operating system drops the lock when the holder exits, even on `kill -9`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held library lock; dropping it releases the library.
#[derive(Debug)]
pub struct LibraryLock {
    _file: File,
    path: PathBuf,
}

/// The lock file of the library at `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    db.with_file_name(name)
}

impl LibraryLock {
    /// Takes the library's writer lock, or says who holds it.
    pub fn acquire(db: &Path) -> Result<Self> {
        let path = lock_path(db);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::library_write("cannot create the library folder", dir, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::library_write("cannot open the library lock", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(Error::LibraryLocked {
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid.into()
                    },
                    path: db.to_path_buf(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io("cannot lock the library", &path, e));
            }
        }
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush());
        if let Err(e) = written {
            log::warn!("cannot write the pid into {}: {e}", path.display());
        }
        Ok(LibraryLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.sqlite");
        let first = LibraryLock::acquire(&db).unwrap();
        assert_eq!(first.path(), dir.path().join("library.sqlite.lock"));
        // A second open file description conflicts even in the same process (flock semantics).
        let err = LibraryLock::acquire(&db).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(matches!(err, Error::LibraryLocked { .. }));
        drop(first);
        LibraryLock::acquire(&db).unwrap();
    }
}
