//! Watched folders (issue 16), on the real filesystem and a real library: while the engine
//! runs with folder watching, a photo copied into a library folder is scanned in and a deleted
//! one is marked missing within seconds, through the same incremental scan (and the same
//! events) as a manual rescan; a library folder whose path is gone (an unplugged drive) is
//! reported offline and keeps its photos, and is rescanned when it comes back.
//!
//! Waits poll with a deadline instead of sleeping a fixed time.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::TempLib;
use photolabel::config::Paths;
use photolabel::engine::{Command, Engine, EngineOptions, Event, LibrarySnapshot, Plugins};
use photolabel::fixtures::generate_library;
use photolabel::store::{PhotoStatus, Store};

/// The longest any change may take to show up.
const DEADLINE: Duration = Duration::from_secs(20);

fn paths(lib: &TempLib) -> Paths {
    Paths {
        db: lib.db(),
        cache_dir: lib.dir.path().join("cache"),
        data_dir: lib.dir.path().to_path_buf(),
    }
}

fn watching() -> EngineOptions {
    EngineOptions {
        watch_folders: true,
        rescan_at_start: true,
        debounce: Duration::from_millis(300),
    }
}

/// Polls `f` (with the engine's events drained meanwhile, as the GUI does) until it is true.
fn wait_until(engine: &Engine, what: &str, mut f: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
    let start = Instant::now();
    let mut events = Vec::new();
    loop {
        while let Some(ev) = engine.try_recv() {
            events.push(ev);
        }
        if f(&events) {
            return events;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The status of the photo at `path` as a fresh connection reads it.
fn status(db: &Path, path: &Path) -> Option<PhotoStatus> {
    let store = Store::open(db).unwrap();
    store.photo_by_path(path).unwrap().map(|p| p.status)
}

fn snapshot(engine: &Engine) -> LibrarySnapshot {
    engine.send(Command::LoadLibrary).unwrap();
    let mut snap = None;
    wait_until(engine, "the library snapshot", |evs| {
        snap = evs.iter().rev().find_map(|e| match e {
            Event::Library(s) => Some((**s).clone()),
            _ => None,
        });
        snap.is_some()
    });
    snap.unwrap()
}

#[test]
fn a_watched_folder_picks_up_a_copied_in_photo_and_a_deletion() {
    let lib = TempLib::new();
    let photos = lib.photos();
    let made = generate_library(&photos, 3, (64, 48)).unwrap();
    let engine = Engine::start_with(paths(&lib), Plugins::default(), watching()).unwrap();
    engine
        .send(Command::AddPaths(vec![photos.clone()]))
        .unwrap();
    wait_until(&engine, "the first scan", |evs| {
        evs.iter()
            .any(|e| matches!(e, Event::ScanFinished(s) if s.new == 3))
    });
    let root = photos.canonicalize().unwrap();

    // A photo copied in from elsewhere (written to a temporary name, then renamed, as file
    // managers do; and a plain copy) is scanned in, with the events of a rescan.
    let outside = lib.dir.path().join("outside");
    let src = generate_library(&outside, 1, (80, 60)).unwrap().remove(0);
    let copied = root.join("copied-in.jpg");
    std::fs::copy(&src, &copied).unwrap();
    let events = wait_until(&engine, "the copied photo and the end of its scan", |evs| {
        status(&lib.db(), &copied) == Some(PhotoStatus::Ok)
            && evs.iter().any(|e| matches!(e, Event::ScanFinished(_)))
    });
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ScanStarted(r) if r == &vec![root.clone()])),
        "a watch rescan reports like a manual one: {events:?}"
    );

    // A deleted photo is marked missing (its labels kept for when it comes back).
    let gone = made[0].canonicalize().unwrap();
    assert_eq!(status(&lib.db(), &gone), Some(PhotoStatus::Ok));
    std::fs::remove_file(&gone).unwrap();
    wait_until(&engine, "the deletion", |_| {
        status(&lib.db(), &gone) == Some(PhotoStatus::Missing)
    });
    let stats = Store::open(&lib.db()).unwrap().stats().unwrap();
    assert_eq!((stats.photos_ok, stats.photos_missing), (3, 1));
}

#[test]
fn a_missing_root_is_offline_and_keeps_its_photos() {
    let lib = TempLib::new();
    let photos = lib.photos();
    generate_library(&photos, 4, (64, 48)).unwrap();
    let root = photos.canonicalize().unwrap();
    {
        let mut store = lib.store();
        assert_eq!(lib.scan(&mut store, &[&photos]).new, 4);
    }

    // The drive is unplugged while photolabel is closed: the folder's path is gone.
    let unplugged = lib.dir.path().join("unplugged");
    std::fs::rename(&photos, &unplugged).unwrap();
    let engine = Engine::start_with(paths(&lib), Plugins::default(), watching()).unwrap();
    wait_until(&engine, "the offline report", |evs| {
        evs.iter()
            .any(|e| matches!(e, Event::Error(m) if m.contains("offline") && m.contains("photos")))
    });
    assert_eq!(snapshot(&engine).offline, vec![root.clone()]);
    // A manual rescan does not empty it either.
    engine.send(Command::ResumeScan).unwrap();
    let stats = snapshot(&engine).stats;
    assert_eq!((stats.photos_ok, stats.photos_missing), (4, 0));

    // The scan itself refuses a missing folder rather than marking its photos gone.
    {
        let mut store = lib.store();
        let r = photolabel::scan::scan(
            &mut store,
            std::slice::from_ref(&root),
            &lib.options(),
            None,
            &std::sync::atomic::AtomicBool::new(false),
        );
        assert!(r.is_err());
        assert_eq!(store.stats().unwrap().photos_missing, 0);
    }

    // Plugged in again: rescanned, still all there, no longer offline.
    std::fs::rename(&unplugged, &photos).unwrap();
    wait_until(&engine, "the rescan of the returned folder", |evs| {
        evs.iter()
            .any(|e| matches!(e, Event::ScanFinished(s) if s.unchanged == 4))
    });
    let snap = snapshot(&engine);
    assert!(snap.offline.is_empty());
    assert_eq!((snap.stats.photos_ok, snap.stats.photos_missing), (4, 0));
}

#[test]
fn a_change_in_one_folder_rescans_that_folder_only() {
    let lib = TempLib::new();
    let (a, b) = (lib.dir.path().join("a"), lib.dir.path().join("b"));
    generate_library(&a, 2, (64, 48)).unwrap();
    generate_library(&b, 2, (64, 48)).unwrap();
    let engine = Engine::start_with(paths(&lib), Plugins::default(), watching()).unwrap();
    engine
        .send(Command::AddPaths(vec![a.clone(), b.clone()]))
        .unwrap();
    // Let the scans of the added folders end before watching for the next one.
    wait_until(&engine, "the first scans to end", |evs| {
        let started = evs
            .iter()
            .filter(|e| matches!(e, Event::ScanStarted(_)))
            .count();
        let finished = evs
            .iter()
            .filter(|e| matches!(e, Event::ScanFinished(_)))
            .count();
        started > 0
            && started == finished
            && Store::open(&lib.db()).unwrap().stats().unwrap().photos_ok == 4
    });
    let a = a.canonicalize().unwrap();
    let src = generate_library(&lib.dir.path().join("outside"), 1, (80, 60))
        .unwrap()
        .remove(0);
    let copied = a.join("new.jpg");
    std::fs::copy(&src, &copied).unwrap();
    let events = wait_until(&engine, "the copied photo", |evs| {
        status(&lib.db(), &copied) == Some(PhotoStatus::Ok)
            && evs.iter().any(|e| matches!(e, Event::ScanFinished(_)))
    });
    let scanned: Vec<&Vec<std::path::PathBuf>> = events
        .iter()
        .filter_map(|e| match e {
            Event::ScanStarted(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(scanned, vec![&vec![a]], "only the changed folder is walked");
}

#[test]
fn an_empty_mount_folder_is_offline_and_keeps_its_photos() {
    let lib = TempLib::new();
    let photos = lib.photos();
    let made = generate_library(&photos, 3, (64, 48)).unwrap();
    let root = photos.canonicalize().unwrap();
    {
        let mut store = lib.store();
        assert_eq!(lib.scan(&mut store, &[&photos]).new, 3);
    }
    // The drive is not mounted: its mount folder is there, and empty.
    let album = made[0].parent().unwrap().to_path_buf();
    let drive = lib.dir.path().join("drive");
    std::fs::rename(&album, &drive).unwrap();
    // A scan (the CLI's, here) keeps the photos and says the folder is offline.
    {
        let mut store = lib.store();
        let s = lib.scan(&mut store, &[&photos]);
        assert_eq!((s.missing, s.offline), (0, 1));
        assert_eq!(store.stats().unwrap().photos_missing, 0);
    }
    let engine = Engine::start_with(paths(&lib), Plugins::default(), watching()).unwrap();
    wait_until(&engine, "the offline report", |evs| {
        evs.iter()
            .any(|e| matches!(e, Event::Error(m) if m.contains("offline")))
    });
    let snap = snapshot(&engine);
    assert_eq!(snap.offline, vec![root.clone()]);
    assert_eq!((snap.stats.photos_ok, snap.stats.photos_missing), (3, 0));

    // Mounted again: rescanned, all there, online.
    std::fs::rename(&drive, &album).unwrap();
    wait_until(&engine, "the rescan of the mounted folder", |evs| {
        evs.iter()
            .any(|e| matches!(e, Event::ScanFinished(s) if s.unchanged == 3))
    });
    let snap = snapshot(&engine);
    assert!(snap.offline.is_empty());
    assert_eq!((snap.stats.photos_ok, snap.stats.photos_missing), (3, 0));
}
