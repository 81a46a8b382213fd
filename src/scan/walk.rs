//! Walking library folders: recursive, following symbolic links without looping, skipping
//! hidden and system folders, yielding each regular file with its size and modification time.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use walkdir::{DirEntry, WalkDir};

/// Folder names skipped by default besides hidden ones (leading dot).
const SYSTEM_DIRS: &[&str] = &[
    "@eaDir",
    "#recycle",
    "$RECYCLE.BIN",
    "System Volume Information",
    "lost+found",
    "__MACOSX",
    "node_modules",
];

/// A file found by the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
}

/// One item of the walk.
#[derive(Debug)]
pub enum WalkItem {
    File(FoundFile),
    /// A folder or file that could not be listed or stat'ed (permissions, a symlink loop, a
    /// dangling link).
    Error {
        path: PathBuf,
        message: String,
    },
}

/// Whether a directory entry below the root should be skipped.
fn skipped(entry: &DirEntry, include_hidden: bool) -> bool {
    if entry.depth() == 0 {
        return false;
    }
    let name = entry.file_name().to_string_lossy();
    let hidden = name.starts_with('.');
    let system = entry.file_type().is_dir() && SYSTEM_DIRS.contains(&name.as_ref());
    (hidden && !include_hidden) || system
}

/// Walks `root`, calling `f` with each file or error; stops early when `f` returns false.
pub fn walk(root: &Path, include_hidden: bool, mut f: impl FnMut(WalkItem) -> bool) {
    let walker = WalkDir::new(root)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| !skipped(e, include_hidden));
    for entry in walker {
        let item = match entry {
            Ok(e) if e.file_type().is_dir() => continue,
            Ok(e) => match e.metadata() {
                Ok(m) if m.is_file() => WalkItem::File(FoundFile {
                    path: e.into_path(),
                    size: m.len(),
                    mtime_ns: m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_nanos() as i64)
                        .unwrap_or(0),
                }),
                Ok(_) => continue, // sockets, fifos, devices
                Err(err) => WalkItem::Error {
                    path: e.into_path(),
                    message: describe(&err),
                },
            },
            Err(err) => {
                let path = err.path().map(Path::to_path_buf).unwrap_or_default();
                WalkItem::Error {
                    path,
                    message: describe(&err),
                }
            }
        };
        if !f(item) {
            return;
        }
    }
}

fn describe(err: &walkdir::Error) -> String {
    if let Some(ancestor) = err.loop_ancestor() {
        return format!("symbolic link loop back to {}", ancestor.display());
    }
    match err.io_error() {
        Some(io) => io.to_string(),
        None => err.to_string(),
    }
}
