//! A full disk or a read-only library folder (issue #17): `scan` and `label` fail with a message
//! that names the cause (no panic), a non-zero exit status, and everything committed before
//! stays (checked by reopening the library: each photo's status, labels and decision log, and
//! `PRAGMA integrity_check`); run again with room, the work completes.
//!
//! A full disk is the kernel's file size limit (`ulimit -f`, with SIGXFSZ ignored so writes fail
//! with a short write or EFBIG as on a full disk instead of killing the process): it needs no
//! privilege or mount, so it runs everywhere. A read-only folder is `chmod a-w`; as root, which
//! chmod does not stop, the command runs as `nobody` (setpriv, util-linux).
//!
//! The labelling case needs the model weights (the test cache shared with tests/label.rs) and
//! ../shared/photos; `PHOTOLABEL_SKIP_MODEL_TESTS=1` skips it.

#![allow(clippy::unwrap_used)] // setup failures should panic with their message

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use photolabel::fixtures;
use photolabel::zoo::{self, Manifest, weights};

/// A library whose database lives in its data folder, `data/`, photos beside it.
struct Lib {
    dir: tempfile::TempDir,
}

impl Lib {
    fn new() -> Self {
        Lib {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn db(&self) -> PathBuf {
        self.data().join("library.sqlite")
    }
    fn photos(&self, sub: &str) -> PathBuf {
        let p = self.dir.path().join("photos").join(sub);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// `photolabel ARGS`, limited to files of `limit_kib` KiB when given, as `user` when given.
    fn run(&self, args: &[&str], limit_kib: Option<u64>, user: Option<&str>) -> Output {
        let bin = env!("CARGO_BIN_EXE_photolabel");
        let mut c = match (limit_kib, user) {
            (Some(kib), None) => {
                // An ignored signal stays ignored across exec: writes past the limit fail.
                let mut c = Command::new("bash");
                c.args(["-c", "trap '' XFSZ; ulimit -f \"$0\" && exec \"$@\""])
                    .arg(kib.to_string())
                    .arg(bin);
                c
            }
            (None, Some(uid)) => {
                let mut c = Command::new("setpriv");
                c.args(["--reuid", uid, "--regid", uid, "--clear-groups", "--"])
                    .arg(bin);
                c
            }
            (None, None) => Command::new(bin),
            (Some(_), Some(_)) => unreachable!("one fault at a time"),
        };
        c.args(args)
            .env("PHOTOLABEL_DB", self.db())
            .env("PHOTOLABEL_DATA_DIR", self.data())
            .env("PHOTOLABEL_CACHE_DIR", cache_dir())
            .env("PHOTOLABEL_DEVICE", "cpu")
            .env("HOME", self.dir.path())
            .env("XDG_CACHE_HOME", self.dir.path().join("xdg-cache"));
        c.output().unwrap()
    }

    fn run_ok(&self, args: &[&str]) {
        let out = self.run(args, None, None);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }

    /// Each photo's label status, labels and number of model runs, read without writing.
    fn snapshot(&self) -> BTreeMap<Vec<u8>, (String, String, i64)> {
        let db = rusqlite::Connection::open_with_flags(
            self.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let mut stmt = db
            .prepare(
                "SELECT p.path, p.label_status,
                    coalesce((SELECT group_concat(label || '/' || source, ',') FROM
                        (SELECT label, source FROM labels l WHERE l.photo_id = p.id
                         ORDER BY label, source)), ''),
                    (SELECT count(*) FROM model_runs r WHERE r.photo_id = p.id)
                 FROM photos p",
            )
            .unwrap();
        stmt.query_map([], |r| {
            let path: Vec<u8> = match r.get_ref(0)? {
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    t.to_vec()
                }
                _ => Vec::new(),
            };
            Ok((path, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("zoo-cache")
}

/// A failure that says why, not a panic (101) nor a signal.
fn assert_fails_naming(out: &Output, causes: &[&str]) -> String {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        causes.iter().any(|c| stderr.contains(c)),
        "the message names none of {causes:?}: {stderr}"
    );
    stderr
}

/// Every photo of `before` is in `after` as it was.
fn assert_kept(before: &BTreeMap<Vec<u8>, (String, String, i64)>, lib: &Lib) {
    let after = lib.snapshot();
    for (path, was) in before {
        assert_eq!(after.get(path), Some(was), "{}", text(path));
    }
}

const FULL: [&str; 2] = [
    "the disk holding the library is full",
    "cannot write the library database",
];

/// The most a file may grow to while the disk is "full": room for the lock and small
/// thumbnails, not for a batch of the scan's writes to the write-ahead log.
const FULL_AT_KIB: u64 = 64;

#[test]
fn a_full_disk_during_a_scan_fails_clearly_and_keeps_what_was_committed() {
    let lib = Lib::new();
    let first = lib.photos("first");
    fixtures::generate_library(&first, 20, (64, 48)).unwrap();
    lib.run_ok(&["scan", &first.to_string_lossy()]);
    let before = lib.snapshot();
    assert_eq!(before.len(), 20);

    let more = lib.photos("more");
    fixtures::generate_library(&more, 600, (64, 48)).unwrap();
    let out = lib.run(&["scan", &more.to_string_lossy()], Some(FULL_AT_KIB), None);
    let stderr = assert_fails_naming(&out, &FULL);
    eprintln!("full disk during a scan: {stderr}");
    assert_kept(&before, &lib);
    let partial = lib.snapshot().len();
    assert!(
        partial < 620,
        "the scan did fail part way ({partial} photos)"
    );

    // With room again the scan completes.
    lib.run_ok(&["scan", &more.to_string_lossy()]);
    assert_eq!(lib.snapshot().len(), 620);
    assert_kept(&before, &lib);
}

/// The uid commands run as to be refused writes: none when not root (chmod is enough),
/// `nobody` as root; `None` (said why) when that is not possible.
fn read_only_user() -> Option<Option<&'static str>> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap();
    if euid != "0" {
        return Some(None);
    }
    match Command::new("setpriv").arg("--version").output() {
        Ok(o) if o.status.success() => Some(Some("65534")),
        _ => {
            eprintln!("skipped: running as root and setpriv (util-linux) is not there");
            None
        }
    }
}

fn set_writable(path: &Path, writable: bool) {
    for entry in walk(path) {
        let mut perm = std::fs::metadata(&entry).unwrap().permissions();
        let mode = if entry.is_dir() { 0o555 } else { 0o444 };
        perm.set_mode(if writable { mode | 0o200 } else { mode });
        std::fs::set_permissions(&entry, perm).unwrap();
    }
}

fn walk(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            out.extend(walk(&e.unwrap().path()));
        }
    }
    out
}

#[test]
fn a_read_only_library_folder_refuses_scan_and_labelling_with_the_cause() {
    let Some(user) = read_only_user() else {
        return;
    };
    let lib = Lib::new();
    let first = lib.photos("first");
    fixtures::generate_library(&first, 10, (64, 48)).unwrap();
    lib.run_ok(&["scan", &first.to_string_lossy()]);
    let more = lib.photos("more");
    fixtures::generate_library(&more, 10, (64, 48)).unwrap();
    let before = lib.snapshot();
    // Another user must reach the photos and the binary; the library folder is read-only.
    for p in walk(lib.dir.path()) {
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        perm.set_mode(perm.mode() | if p.is_dir() { 0o555 } else { 0o444 });
        std::fs::set_permissions(&p, perm).unwrap();
    }
    set_writable(&lib.data(), false);

    let out = lib.run(&["scan", &more.to_string_lossy()], None, user);
    let stderr = assert_fails_naming(&out, &["the library is read-only"]);
    eprintln!("read-only library folder, scan: {stderr}");
    let out = lib.run(&["label", &first.to_string_lossy()], None, user);
    let stderr = assert_fails_naming(&out, &["the library is read-only"]);
    eprintln!("read-only library folder, label: {stderr}");

    set_writable(&lib.data(), true);
    assert_kept(&before, &lib);
    assert_eq!(lib.snapshot().len(), 10);
    lib.run_ok(&["scan", &more.to_string_lossy()]);
    assert_eq!(lib.snapshot().len(), 20);
}

fn weights_or_skip() -> bool {
    if std::env::var("PHOTOLABEL_SKIP_MODEL_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("skipped (PHOTOLABEL_SKIP_MODEL_TESTS=1)");
        return false;
    }
    let manifest = Manifest::embedded().unwrap();
    for id in zoo::IMPLEMENTED.iter().flat_map(|id| zoo::weight_ids(id)) {
        weights::fetch(&cache_dir(), manifest.get(id).unwrap()).unwrap();
    }
    true
}

#[test]
fn a_full_disk_during_labelling_stops_it_with_the_cause_and_keeps_the_labelled_photos() {
    if !weights_or_skip() {
        return;
    }
    let lib = Lib::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/photos/imagenet-sample");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (first, more) = (lib.photos("first"), lib.photos("more"));
    for (i, f) in files.iter().step_by(60).take(6).enumerate() {
        let dir = if i < 2 { &first } else { &more };
        std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
    }
    lib.run_ok(&["label", &first.to_string_lossy()]);
    // Scanned with room, so that only labelling writes under the limit.
    lib.run_ok(&["scan", &more.to_string_lossy()]);
    let before = lib.snapshot();
    let labelled = |s: &BTreeMap<Vec<u8>, (String, String, i64)>| {
        s.values()
            .filter(|(status, _, _)| status == "labelled")
            .count()
    };
    assert_eq!((before.len(), labelled(&before)), (6, 2));

    let out = lib.run(&["label", &more.to_string_lossy()], Some(FULL_AT_KIB), None);
    let stderr = assert_fails_naming(&out, &FULL);
    assert!(stderr.contains("labelling stopped after"), "{stderr}");
    eprintln!("full disk during labelling: {stderr}");
    // What was labelled before is kept as it was; a pending photo may have been labelled in
    // full before the disk filled (checked below for half results).
    let was_labelled: BTreeMap<Vec<u8>, (String, String, i64)> = before
        .iter()
        .filter(|(_, (status, _, _))| status == "labelled")
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect();
    assert_kept(&was_labelled, &lib);
    let after = lib.snapshot();
    assert!(labelled(&after) < 6, "labelling did stop part way");
    // No half results: a labelled photo has its decision log, a pending one neither runs nor
    // model labels.
    for (path, (status, labels, runs)) in &after {
        match status.as_str() {
            "labelled" => assert!(*runs > 0, "{}", text(path)),
            "pending" => assert!(*runs == 0 && !labels.contains("/model"), "{}", text(path)),
            _ => {}
        }
    }

    // With room again the rest is labelled; the photos labelled before keep their results.
    lib.run_ok(&["label", &more.to_string_lossy()]);
    assert_eq!(labelled(&lib.snapshot()), 6);
    let mut done_before = before;
    done_before.retain(|_, (status, _, _)| status == "labelled");
    assert_kept(&done_before, &lib);
}
