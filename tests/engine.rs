//! The engine over a real library: scanning through commands, pause and resume, and the
//! plumbing that the labeller and the trainer will plug into. The labeller and trainer here
//! are small test doubles standing in for components that are not built yet; everything they
//! produce goes through the real store.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use photolabel::config::Paths;
use photolabel::engine::{
    Command, Engine, Event, Figure, LabelOutcome, LabelSettings, Labeller, Plugins, SendError,
    TrainProgress, TrainReport, Trainer,
};
use photolabel::fixtures::generate_library;
use photolabel::store::{LabelStatus, NewLabel, Photo, PhotoOrder, RunStatus, Store};

use common::TempLib;

fn paths(lib: &TempLib) -> Paths {
    Paths {
        db: lib.db(),
        cache_dir: lib.dir.path().join("cache"),
        data_dir: lib.dir.path().to_path_buf(),
    }
}

/// Waits for an event matching `f`, returning it.
fn wait_for(engine: &Engine, what: &str, f: impl Fn(&Event) -> bool) -> Event {
    let start = Instant::now();
    loop {
        if let Some(ev) = engine.try_recv() {
            if f(&ev) {
                return ev;
            }
        } else {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn add_paths_scans_and_lists_the_photos() {
    let lib = TempLib::new();
    let photos = lib.photos();
    generate_library(&photos, 8, (64, 48)).unwrap();
    let engine = Engine::start(paths(&lib), Plugins::default()).unwrap();
    engine
        .send(Command::AddPaths(vec![photos.clone()]))
        .unwrap();
    wait_for(&engine, "scan start", |e| {
        matches!(e, Event::ScanStarted(_))
    });
    let Event::ScanFinished(s) =
        wait_for(&engine, "scan end", |e| matches!(e, Event::ScanFinished(_)))
    else {
        unreachable!()
    };
    assert_eq!((s.new, s.thumbnails, s.cancelled), (8, 8, false));
    engine.send(Command::ListPhotos(PhotoOrder::Taken)).unwrap();
    let Event::PhotoIds { ids, .. } =
        wait_for(&engine, "ids", |e| matches!(e, Event::PhotoIds { .. }))
    else {
        unreachable!()
    };
    assert_eq!(ids.len(), 8);
    // Without a trainer, retraining is refused up front with the reason.
    assert!(matches!(
        engine.send(Command::Retrain),
        Err(SendError::Unavailable(_))
    ));
}

#[test]
fn a_missing_folder_is_reported_calmly() {
    let lib = TempLib::new();
    let engine = Engine::start(paths(&lib), Plugins::default()).unwrap();
    engine
        .send(Command::AddPaths(vec![lib.dir.path().join("nope")]))
        .unwrap();
    let Event::Error(msg) = wait_for(&engine, "an error", |e| matches!(e, Event::Error(_))) else {
        unreachable!()
    };
    assert!(msg.contains("nope"), "{msg}");
}

#[test]
fn pause_stops_the_scan_and_resume_finishes_it() {
    let lib = TempLib::new();
    let photos = lib.photos();
    generate_library(&photos, 600, (320, 240)).unwrap();
    let engine = Engine::start(paths(&lib), Plugins::default()).unwrap();
    engine
        .send(Command::AddPaths(vec![photos.clone()]))
        .unwrap();
    wait_for(&engine, "scan start", |e| {
        matches!(e, Event::ScanStarted(_))
    });
    engine.send(Command::PauseScan).unwrap();
    let Event::ScanFinished(s) =
        wait_for(&engine, "pause", |e| matches!(e, Event::ScanFinished(_)))
    else {
        unreachable!()
    };
    assert!(s.cancelled);
    engine.send(Command::ResumeScan).unwrap();
    let Event::ScanFinished(s) = wait_for(&engine, "resumed scan", |e| {
        matches!(e, Event::ScanFinished(_))
    }) else {
        unreachable!()
    };
    assert!(!s.cancelled);
    assert_eq!(
        Store::open(&lib.db()).unwrap().stats().unwrap().photos_ok,
        600
    );
}

/// Stands in for the model zoo + scheduler: one label from the photo's real size, and a
/// failure for one file.
struct SizeLabeller;

impl Labeller for SizeLabeller {
    fn backend(&self) -> String {
        "test".into()
    }
    fn label(&mut self, photo: &Photo, _s: &LabelSettings) -> anyhow::Result<LabelOutcome> {
        if photo.path.ends_with("IMG_000001.jpg") {
            anyhow::bail!("model crashed");
        }
        Ok(LabelOutcome {
            labels: vec![NewLabel {
                label: if photo.meta.width > photo.meta.height {
                    "landscape"
                } else {
                    "portrait"
                }
                .into(),
                model: "shape".into(),
                confidence: 1.0,
                bbox: None,
            }],
            runs: vec![],
            context: Some(format!("{{\"width\":{}}}", photo.meta.width)),
            deadline_ms: Some(250.0),
            faces: None,
        })
    }
}

#[test]
fn an_installed_labeller_labels_scanned_photos_and_failures_are_recorded() {
    let lib = TempLib::new();
    let photos = lib.photos();
    generate_library(&photos, 4, (64, 48)).unwrap();
    let plugins = Plugins {
        labeller: Some(Box::new(SizeLabeller)),
        trainer: None,
    };
    let engine = Engine::start(paths(&lib), plugins).unwrap();
    assert_eq!(engine.info().backend.as_deref(), Some("test"));
    engine
        .send(Command::AddPaths(vec![photos.clone()]))
        .unwrap();
    let mut done = 0;
    let mut failed = 0;
    while done < 4 {
        if let Event::LabellingDone { error, .. } = wait_for(&engine, "labelling", |e| {
            matches!(e, Event::LabellingDone { .. })
        }) {
            done += 1;
            failed += usize::from(error.is_some());
        }
    }
    assert_eq!(failed, 1);
    let store = Store::open(&lib.db()).unwrap();
    let bad = store
        .photo_by_path(&std::fs::canonicalize(photos.join("album000/IMG_000001.jpg")).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(bad.label_status, LabelStatus::Failed);
    let runs = store.runs_for(bad.id).unwrap();
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert_eq!(runs[0].reason.as_deref(), Some("model crashed"));
    assert_eq!(store.stats().unwrap().photos_labelled, 3);
    // The engine path stores the scheduler's context and the deadline with each photo.
    let good = store
        .photo_by_path(&std::fs::canonicalize(photos.join("album000/IMG_000000.jpg")).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        store.sched_run(good.id).unwrap(),
        (
            Some(format!("{{\"width\":{}}}", good.meta.width)),
            Some(250.0)
        )
    );
    assert_eq!(store.sched_run(bad.id).unwrap(), (None, None));
}

/// Stands in for the RL trainer.
struct CountingTrainer;

impl Trainer for CountingTrainer {
    fn train(
        &mut self,
        db: &Path,
        progress: &mut dyn FnMut(TrainProgress),
        _c: &AtomicBool,
    ) -> anyhow::Result<TrainReport> {
        let photos = Store::open_readonly(db)?.stats()?.photos_ok as f64;
        for step in 1..=3 {
            progress(TrainProgress {
                step,
                total: 3,
                loss: None,
                phase: "training".into(),
            });
        }
        Ok(TrainReport {
            figures: vec![Figure {
                name: "photos".into(),
                before: photos,
                after: photos,
                unit: String::new(),
                higher_is_better: true,
            }],
            decisions: 0,
        })
    }
    fn keep(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    fn roll_back(&mut self) -> anyhow::Result<()> {
        anyhow::bail!("nothing to roll back to")
    }
}

#[test]
fn an_installed_trainer_reports_progress_and_the_keep_or_roll_back_choice() {
    let lib = TempLib::new();
    let plugins = Plugins {
        labeller: None,
        trainer: Some(Box::new(CountingTrainer)),
    };
    let engine = Engine::start(paths(&lib), plugins).unwrap();
    assert!(engine.info().can_retrain);
    engine.send(Command::Retrain).unwrap();
    let Event::TrainFinished(Ok(report)) = wait_for(&engine, "training", |e| {
        matches!(e, Event::TrainFinished(_))
    }) else {
        panic!("training failed")
    };
    assert_eq!(report.figures[0].name, "photos");
    engine.send(Command::KeepTrained).unwrap();
    assert!(matches!(
        wait_for(&engine, "keep", |e| matches!(e, Event::TrainDecided(_))),
        Event::TrainDecided(true)
    ));
    engine.send(Command::RollBackTrained).unwrap();
    let Event::Error(msg) = wait_for(&engine, "roll back error", |e| matches!(e, Event::Error(_)))
    else {
        unreachable!()
    };
    assert!(msg.contains("nothing to roll back"));
}

/// Labels every photo after a pause, like a slow model.
struct SlowLabeller;

impl Labeller for SlowLabeller {
    fn backend(&self) -> String {
        "test".into()
    }
    fn label(&mut self, _photo: &Photo, _s: &LabelSettings) -> anyhow::Result<LabelOutcome> {
        std::thread::sleep(Duration::from_millis(40));
        Ok(LabelOutcome {
            labels: vec![NewLabel {
                label: "Golden Retriever".into(),
                model: "mobilenet_v2".into(),
                confidence: 0.9,
                bbox: None,
            }],
            runs: vec![],
            context: None,
            deadline_ms: None,
            faces: None,
        })
    }
}

/// Issue #17, concurrent use: while the app's engine scans and labels a library, the CLI's
/// read-only commands answer at once (WAL readers never wait for the writer) and its writing
/// commands are refused with the lock's message instead of interleaving with the app.
#[test]
fn cli_readers_answer_while_the_app_writes_and_cli_writers_are_refused() {
    let lib = TempLib::new();
    let photos = lib.photos();
    generate_library(&photos, 300, (64, 48)).unwrap();
    let plugins = Plugins {
        labeller: Some(Box::new(SlowLabeller)),
        trainer: None,
    };
    let engine = Engine::start(paths(&lib), plugins).unwrap();
    engine
        .send(Command::AddPaths(vec![photos.clone()]))
        .unwrap();
    let cli = |args: &[&str]| {
        let t = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_photolabel"))
            .env("PHOTOLABEL_DB", lib.db())
            .env("PHOTOLABEL_CACHE_DIR", lib.dir.path().join("cache"))
            .env("PHOTOLABEL_DATA_DIR", lib.dir.path())
            .args(args)
            .output()
            .unwrap();
        (out, t.elapsed())
    };
    wait_for(&engine, "the first labelled photo", |e| {
        matches!(e, Event::LabellingDone { .. })
    });
    let mut slowest = Duration::ZERO;
    let mut rounds = 0;
    let mut found_while_labelling = 0;
    let start = Instant::now();
    while rounds < 10 && start.elapsed() < Duration::from_secs(120) {
        for args in [
            &["stats", "--json"][..],
            &["--json", "search", "dog"],
            &["--json", "tags"],
        ] {
            let (out, took) = cli(args);
            // 4 = nothing found yet; anything else must succeed.
            assert!(
                out.status.success() || out.status.code() == Some(4),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if args[1] == "search" && out.status.success() {
                found_while_labelling += 1;
            }
            slowest = slowest.max(took);
        }
        let (out, _) = cli(&["scan", photos.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("open in another photolabel"), "{stderr}");
        rounds += 1;
    }
    let labelled = Store::open_readonly(&lib.db())
        .unwrap()
        .stats()
        .unwrap()
        .photos_labelled;
    assert!(
        labelled < 300,
        "labelling ended before the readers were tried"
    );
    assert!(
        found_while_labelling > 0,
        "search never saw the labels being written"
    );
    // A reader blocked behind the writer would wait for SQLite's busy timeout (10 s).
    assert!(
        slowest < Duration::from_secs(5),
        "slowest read took {slowest:?}"
    );
    println!("{rounds} rounds of CLI reads while labelling; slowest {slowest:?}");
}
