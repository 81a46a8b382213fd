//! Shared fixtures for integration tests: a throw-away library (database + thumbnail cache)
//! in a temporary folder, and helpers to scan generated photos into it.

#![allow(dead_code)]

pub mod xvfb;
pub mod zoo;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use photolabel::scan::{self, ScanOptions, ScanSummary};
use photolabel::store::Store;

/// A temporary library: photos under `photos/`, the database and caches beside them.
pub struct TempLib {
    pub dir: tempfile::TempDir,
}

impl TempLib {
    /// The `photolabel` binary on this library (its database and data dir), with weights from
    /// `cache`, on the CPU.
    pub fn cli(&self, cache: &Path) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_photolabel"));
        c.env("PHOTOLABEL_DB", self.db())
            .env("PHOTOLABEL_CACHE_DIR", cache)
            .env("PHOTOLABEL_DATA_DIR", self.dir.path().join("data"))
            .env("PHOTOLABEL_DEVICE", "cpu");
        c
    }

    pub fn new() -> Self {
        TempLib {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn photos(&self) -> PathBuf {
        let p = self.dir.path().join("photos");
        std::fs::create_dir_all(&p).expect("photos dir");
        p
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("library.sqlite")
    }

    pub fn thumbs(&self) -> PathBuf {
        self.dir.path().join("thumbs")
    }

    pub fn store(&self) -> Store {
        Store::open(&self.db()).expect("open store")
    }

    /// Default scan options, except that the machine's own shared thumbnails
    /// (`~/.cache/thumbnails`) are neither read nor written: tests stay hermetic.
    pub fn options(&self) -> ScanOptions {
        let mut opts = ScanOptions::new(self.thumbs());
        opts.shared_thumbs = None;
        opts
    }

    /// Scans `roots` with [`Self::options`] and returns the summary.
    pub fn scan(&self, store: &mut Store, roots: &[&Path]) -> ScanSummary {
        let roots: Vec<PathBuf> = roots.iter().map(|p| p.to_path_buf()).collect();
        scan::scan(
            store,
            &roots,
            &self.options(),
            None,
            &AtomicBool::new(false),
        )
        .expect("scan")
    }
}

/// Runs `c`, which must succeed (else the test fails with its stderr); its standard output.
pub fn run_ok(c: &mut std::process::Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
