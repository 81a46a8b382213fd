//! Sidecars that changed while their photo did not: a rescan skips an unchanged photo without
//! opening it, so the keywords another program (digiKam, darktable, Lightroom) added to its XMP
//! sidecar since would never be seen. The walk meets the sidecar files anyway; one modified
//! since its photo was last examined has the photo's imported keywords read again (sidecar
//! and embedded blocks, see `crate::xmp::read`), which also marks the photo examined now, so
//! each change is read once.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::store::photos::KnownFile;
use crate::store::{Store, path_from_bytes, path_to_bytes};

/// Whether a file is named like an XMP sidecar.
pub(super) fn is_sidecar(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xmp"))
}

/// Reads the keywords again of every known photo whose sidecar (`photo.jpg.xmp` or
/// `photo.xmp`, among `sidecars` with their modification times) changed since the photo was
/// last examined; photos examined in this scan (`examined`) already have them. Returns how
/// many photos were refreshed.
pub(super) fn refresh(
    store: &mut Store,
    known: &[&HashMap<Vec<u8>, KnownFile>],
    sidecars: &[(PathBuf, i64)],
    examined: &HashSet<PathBuf>,
) -> Result<u64> {
    if sidecars.is_empty() {
        return Ok(0);
    }
    // Known photos by path without extension, for `photo.xmp` sidecars.
    let mut by_stem: HashMap<PathBuf, Vec<(PathBuf, KnownFile)>> = HashMap::new();
    for map in known {
        for (bytes, k) in map.iter() {
            if k.ok && !k.missing {
                let path = path_from_bytes(bytes);
                by_stem
                    .entry(path.with_extension(""))
                    .or_default()
                    .push((path, *k));
            }
        }
    }
    let mut done: HashSet<i64> = HashSet::new();
    for (sidecar, mtime_ns) in sidecars {
        let secs = mtime_ns.div_euclid(1_000_000_000);
        // photo.jpg.xmp -> photo.jpg (and photo.jpg); photo.xmp -> photo.*
        let stem = sidecar.with_extension("");
        let mut photos: Vec<(PathBuf, KnownFile)> = Vec::new();
        let bytes = path_to_bytes(&stem);
        for map in known {
            if let Some(k) = map.get(&bytes).filter(|k| k.ok && !k.missing) {
                photos.push((stem.clone(), *k));
            }
        }
        photos.extend(by_stem.get(&stem).into_iter().flatten().cloned());
        for (photo, k) in photos {
            if secs < k.scanned_at || examined.contains(&photo) || !done.insert(k.id) {
                continue;
            }
            let Ok(content) = std::fs::read(&photo) else {
                continue; // gone or unreadable: the next scan of the photo says so
            };
            let keywords = crate::xmp::read::photo_keywords(&photo, &content);
            store.set_imported_keywords(k.id, &keywords)?;
        }
    }
    if !done.is_empty() {
        log::info!("read the keywords of {} changed sidecars", done.len());
    }
    Ok(done.len() as u64)
}
