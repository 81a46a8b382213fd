//! The `photolabel` binary end to end: exit codes, JSON output, and a scan killed with
//! SIGKILL that resumes without redoing committed work or leaving half a photo.

#![allow(clippy::unwrap_used)] // helpers beside the tests panic on setup failure

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TempLib;
use photolabel::fixtures;
use photolabel::store::Store;

fn cli(lib: &TempLib) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_photolabel"));
    c.env("PHOTOLABEL_DB", lib.db())
        .env("PHOTOLABEL_CACHE_DIR", lib.dir.path().join("cache"))
        .env("PHOTOLABEL_DATA_DIR", lib.dir.path().join("data"));
    c
}

#[test]
fn scan_search_show_stats_with_meaningful_exit_codes() {
    let lib = TempLib::new();
    let root = lib.photos();
    let paths = fixtures::generate_library(&root, 4, (32, 24)).unwrap();

    let out = cli(&lib)
        .args(["scan", "--json"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["new"], 4);
    assert_eq!(summary["thumbnails"], 4);

    // A bad file makes the scan finish with code 3 ("partial").
    fixtures::write_bad_files(&root.join("bad")).unwrap();
    let out = cli(&lib).arg("scan").arg(&root).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("truncated JPEG") && stderr.contains("truncated.jpg"),
        "{stderr}"
    );

    let out = cli(&lib)
        .args(["show", "--json"])
        .arg(&paths[0])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["photo"]["meta"]["camera_make"], "Canon");
    assert_eq!(v["photo"]["status"], "ok");

    let out = cli(&lib)
        .args(["show"])
        .arg(root.join("nope.jpg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));

    // Label a photo through the library, then find it from the command line.
    let mut store = Store::open(&lib.db()).unwrap();
    let id = store
        .photo_by_path(&paths[1].canonicalize().unwrap())
        .unwrap()
        .unwrap()
        .id;
    let dog = photolabel::store::NewLabel {
        label: "dog".into(),
        model: "m".into(),
        confidence: 0.9,
        bbox: None,
    };
    store.write_photo_results(id, &[dog], &[], false).unwrap();
    let out = cli(&lib).args(["search", "do"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("dog (0.90)") && text.contains("IMG_000001.jpg"),
        "{text}"
    );
    let out = cli(&lib).args(["search", "unicorn"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let out = cli(&lib).args(["search", "(dog"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid search query"));

    let out = cli(&lib).args(["stats", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["photos_ok"].as_i64(), v["photos_error"].as_i64()),
        (Some(4), Some(4))
    );

    let out = cli(&lib).args(["scan", "--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_scan_killed_mid_way_resumes_without_redoing_work() {
    let lib = TempLib::new();
    let root = lib.photos();
    let total = 2500u64;
    fixtures::generate_library(&root, total as usize, (320, 240)).unwrap();

    let mut child = cli(&lib)
        .args(["scan", "--jobs", "1"])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until at least one batch is committed, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(120);
    let committed = loop {
        std::thread::sleep(Duration::from_millis(50));
        let n = Store::open_readonly(&lib.db())
            .and_then(|s| s.stats())
            .map(|s| s.photos_ok)
            .unwrap_or(0);
        if n > 0 || Instant::now() > deadline {
            break n;
        }
    };
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(committed > 0, "nothing committed within the deadline");

    let store = Store::open(&lib.db()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
    let before = store.stats().unwrap().photos_ok as u64;
    assert!(
        before < total,
        "the scan finished before it was killed; make it bigger"
    );
    drop(store);

    let out = cli(&lib)
        .args(["scan", "--json"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        s["unchanged"].as_u64(),
        Some(before),
        "committed work is not redone"
    );
    assert_eq!(s["new"].as_u64(), Some(total - before));
    let store = Store::open(&lib.db()).unwrap();
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.photos_ok as u64, stats.thumbnails as u64),
        (total, total)
    );
}

/// `models fetch` converts a hand-written network's verified weights to burnpack right after
/// the sha256 check; `models list` and `models verify` say whether the burnpack is fresh, and
/// report a stale one (which the next load converts again). Uses MTCNN's small P-Net, fetched
/// into the zoo tests' shared cache first and copied into this library's cache.
#[test]
fn models_fetch_converts_and_list_verify_report_it() {
    if std::env::var("PHOTOLABEL_SKIP_MODEL_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("skipped (PHOTOLABEL_SKIP_MODEL_TESTS=1)");
        return;
    }
    use photolabel::zoo::{Manifest, native, weights};
    let lib = TempLib::new();
    let spec = Manifest::embedded().unwrap().get("mtcnn_pnet").unwrap();
    let shared = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("zoo-cache");
    let src = weights::fetch(&shared, spec).unwrap_or_else(|e| panic!("{e:#}"));
    let cache = lib.dir.path().join("cache");
    let dest = weights::weight_path(&cache, spec);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(&src, &dest).unwrap();
    let bpk = native::burnpack_path(&cache, spec);

    let list = |lib: &TempLib| -> serde_json::Value {
        let out = cli(lib)
            .args(["--json", "models", "list"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "mtcnn_pnet")
            .unwrap()
            .clone()
    };
    let row = list(&lib);
    assert_eq!(row["fetched"], true);
    assert_eq!(row["converted"], "missing");
    let gender = cli(&lib)
        .args(["--json", "models", "list"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&gender.stdout).unwrap();
    let g = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "gender_v1")
        .unwrap();
    assert!(
        g["converted"].is_null(),
        "ONNX graph models are not converted: {g}"
    );

    let out = cli(&lib)
        .args(["models", "fetch", "mtcnn_pnet"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("converted"), "{stdout}");
    assert!(bpk.is_file(), "fetch wrote {}", bpk.display());
    assert_eq!(list(&lib)["converted"], "fresh");
    let out = cli(&lib)
        .args(["models", "verify", "mtcnn_pnet"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("mtcnn_pnet\tok\tconverted: fresh"),
        "{stdout}"
    );

    // A damaged burnpack is reported (verify still passes: the source is intact and the next
    // load converts again), and fetch converts it again.
    std::fs::write(&bpk, b"BPK\0").unwrap();
    assert_eq!(list(&lib)["converted"], "stale");
    let out = cli(&lib)
        .args(["models", "verify", "mtcnn_pnet"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("converted: stale"), "{stdout}");
    let out = cli(&lib)
        .args(["models", "fetch", "mtcnn_pnet"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(list(&lib)["converted"], "fresh");
}

/// `photolabel models list | head -0`: the reader is gone before the first line is printed;
/// the command ends quietly with status 141 instead of a panic message.
#[test]
fn a_closed_stdout_ends_quietly() {
    let lib = TempLib::new();
    let mut child = cli(&lib)
        .args(["models", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}

/// Issue #17: a damaged library gives a clear message and a way out. A library left by an
/// older build is backed up when it is migrated; after the file is damaged, `stats` names
/// `photolabel recover`, which keeps the damaged file aside, restores the backup (its folder)
/// and rescans it, so every photo is back; the photos themselves are never changed. A query
/// nested 10,000 deep is refused with a message, not a stack overflow.
#[test]
fn a_damaged_library_is_recovered_from_its_backup_and_rescanned() {
    let lib = TempLib::new();
    let root = lib.photos();
    let files = fixtures::generate_library(&root, 4, (32, 24)).unwrap();
    let hashes = |files: &[std::path::PathBuf]| -> Vec<Vec<u8>> {
        files.iter().map(|f| std::fs::read(f).unwrap()).collect()
    };
    let before = hashes(&files);
    // Schema 1 with the folder recorded, as an older build left it.
    {
        let conn = rusqlite::Connection::open(lib.db()).unwrap();
        conn.execute_batch(photolabel::store::schema::MIGRATIONS[0])
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let path = root.as_os_str().as_encoded_bytes().to_vec();
        conn.execute("INSERT INTO roots (path, added_at) VALUES (?1, 0)", [path])
            .unwrap();
    }
    let out = cli(&lib).arg("scan").arg(&root).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let backup = photolabel::store::recover::backup_path(&lib.db(), 1);
    assert!(backup.exists(), "no backup before the migration");

    // Damage the library (as a bad disk or a half-copied file would).
    let mut bytes = std::fs::read(lib.db()).unwrap();
    bytes[..100].fill(0xee);
    std::fs::write(lib.db(), &bytes).unwrap();
    let _ = std::fs::remove_file(lib.db().with_extension("sqlite-wal"));
    let out = cli(&lib).arg("stats").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is damaged") && stderr.contains("photolabel recover"),
        "{stderr}"
    );

    let out = cli(&lib).args(["recover", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["restored_from"], backup.to_string_lossy().as_ref());
    let moved = std::path::PathBuf::from(first["moved_to"].as_str().unwrap());
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        bytes,
        "the damaged file is kept"
    );
    let store = Store::open(&lib.db()).unwrap();
    assert_eq!(store.stats().unwrap().photos_ok, 4, "rescanned");
    assert_eq!(hashes(&files), before, "originals unchanged");

    let deep = format!("{}dog{}", "(".repeat(10_000), ")".repeat(10_000));
    let out = cli(&lib).arg("search").arg(&deep).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("too long") || stderr.contains("too deep"),
        "{stderr}"
    );
    let deep = format!("{}dog", "NOT ".repeat(1_000));
    let out = cli(&lib).arg("search").arg(&deep).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("too deep"), "{stderr}");
}

/// Issue #17: a photo whose file name is not UTF-8 (Latin-1 here) is scanned, tagged and found,
/// and `--json` output names it by its bytes instead of failing.
#[cfg(unix)]
#[test]
fn a_non_utf8_file_name_survives_json_output() {
    use std::os::unix::ffi::OsStrExt;
    let lib = TempLib::new();
    let root = lib.photos();
    let made = fixtures::generate_library(&root, 1, (32, 24)).unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.jpg");
    let photo = made[0].with_file_name(name);
    std::fs::rename(&made[0], &photo).unwrap();
    let out = cli(&lib).arg("scan").arg(&root).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut store = Store::open(&lib.db()).unwrap();
    let id = store.photos_newest_first(10, 0).unwrap()[0].id;
    store.add_user_label(id, "holiday").unwrap();
    drop(store);
    let encoded = {
        let v: serde_json::Value =
            serde_json::to_value(photolabel::json_path::JsonPath(&photo)).unwrap();
        v["bytes"].as_str().unwrap().to_string()
    };
    for args in [vec!["search", "--json", "holiday"], vec!["show", "--json"]] {
        let mut c = cli(&lib);
        c.args(&args);
        if args[0] == "show" {
            c.arg(&photo);
        }
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(&encoded), "{args:?}: {text}");
        let _: serde_json::Value = serde_json::from_str(&text).unwrap();
    }
}

/// `people list|name|merge` and person search, on a library whose faces were stored through
/// the store (no model runs): grouping makes two unnamed persons, the CLI names and merges
/// them, and search finds the photos by the name.
#[test]
fn people_are_listed_named_merged_and_searched_by_name() {
    use photolabel::people::cluster::Params;
    use photolabel::people::grouping;
    use photolabel::store::NewFace;
    let lib = TempLib::new();
    let root = lib.photos();
    fixtures::generate_library(&root, 6, (32, 24)).unwrap();
    let out = cli(&lib).arg("scan").arg(&root).output().unwrap();
    assert!(out.status.success());
    let mut store = lib.store();
    let ids = store
        .photo_ids(photolabel::store::PhotoOrder::default())
        .unwrap();
    // Photos 0–2 show one person, 3–5 another (orthogonal descriptors).
    for (k, id) in ids.iter().enumerate() {
        let mut e = vec![0.0f32; 4];
        e[usize::from(k >= 3)] = 1.0;
        e[2 + k % 2] = 0.1;
        let face = NewFace {
            model: "faceres".into(),
            bbox: [0.2, 0.2, 0.5, 0.5],
            landmarks: [[0.3, 0.3]; 5],
            score: 0.99,
            quality: 1.0,
            embedding: photolabel::zoo::faceres::l2_normalised(e),
        };
        store.replace_faces(*id, "faceres", &[face]).unwrap();
    }
    grouping::group(&mut store, &Params::default(), false).unwrap();
    drop(store);

    let out = cli(&lib)
        .args(["people", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let persons = v["persons"].as_array().unwrap();
    assert_eq!(persons.len(), 2, "{v}");
    assert!(
        persons
            .iter()
            .all(|p| p["faces"] == 3 && p["name"].is_null())
    );
    let (a, b) = (
        persons[0]["id"].as_i64().unwrap(),
        persons[1]["id"].as_i64().unwrap(),
    );

    let run = |args: &[&str]| {
        let out = cli(&lib).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["people", "name", &a.to_string(), "Alice"]);
    run(&["people", "name", &b.to_string(), "Bob"]);
    let listed = run(&["people", "list"]);
    assert!(
        listed.contains("Alice") && listed.contains("Bob"),
        "{listed}"
    );
    assert_eq!(run(&["search", "Alice"]).lines().count(), 3);
    assert_eq!(run(&["search", "person:bob"]).lines().count(), 3);
    let out = cli(&lib).args(["search", "Alice", "Bob"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "nobody shows both");
    run(&["people", "merge", &a.to_string(), &b.to_string()]);
    assert_eq!(run(&["search", "Alice"]).lines().count(), 6);
    let out = cli(&lib).args(["search", "person:Bob"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
}
