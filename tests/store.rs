//! Store integration tests on real SQLite files: migrations and version refusal, atomic photo
//! results, concurrent readers, and tag search end to end (language, hierarchy, ordering).

#![allow(clippy::unwrap_used)] // helpers beside the tests panic on setup failure

mod common;

use common::TempLib;
use photolabel::Error;
use photolabel::fixtures;
use photolabel::store::query::Query;
use photolabel::store::{NewLabel, RunRecord, RunStatus, Store};

fn label(name: &str, conf: f32) -> NewLabel {
    NewLabel {
        label: name.into(),
        model: "m".into(),
        confidence: conf,
        bbox: None,
    }
}

#[test]
fn a_newer_schema_is_refused_and_an_older_one_migrates() {
    let lib = TempLib::new();
    {
        let store = lib.store();
        assert_eq!(
            store.schema_version().unwrap(),
            photolabel::store::SCHEMA_VERSION
        );
    }
    // An empty (version 0) file migrates on open.
    let old = lib.dir.path().join("old.sqlite");
    rusqlite::Connection::open(&old).unwrap();
    assert_eq!(
        Store::open(&old).unwrap().schema_version().unwrap(),
        photolabel::store::SCHEMA_VERSION
    );
    // A file from the future is refused, untouched.
    let conn = rusqlite::Connection::open(lib.db()).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Store::open(&lib.db()).unwrap_err();
    assert!(
        matches!(err, Error::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade photolabel"));
    let conn = rusqlite::Connection::open(lib.db()).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99);
}

#[test]
fn wal_mode_and_a_reader_beside_the_writer() {
    let lib = TempLib::new();
    let root = lib.photos();
    fixtures::generate_library(&root, 5, (16, 16)).unwrap();
    let mut writer = lib.store();
    lib.scan(&mut writer, &[&root]);
    let reader = Store::open_readonly(&lib.db()).unwrap();
    let mode: String = rusqlite::Connection::open(lib.db())
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(reader.stats().unwrap().photos_ok, 5);
    let id = writer.photos_newest_first(1, 0).unwrap()[0].id;
    writer
        .write_photo_results(id, &[label("cat", 0.9)], &[], false)
        .unwrap();
    assert_eq!(reader.labels_for(id).unwrap().len(), 1);
    assert!(reader.integrity_check().unwrap() == vec!["ok".to_string()]);
}

#[test]
fn photo_results_replace_model_labels_keep_user_labels_and_log_runs() {
    let lib = TempLib::new();
    let root = lib.photos();
    fixtures::generate_library(&root, 2, (16, 16)).unwrap();
    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let id = store.photos_newest_first(1, 0).unwrap()[0].id;
    let runs = vec![
        RunRecord {
            model: "objects".into(),
            seq: 0,
            predicted_value: Some(0.7),
            actual_value: Some(0.9),
            start_ms: Some(0.0),
            duration_ms: Some(12.5),
            peak_mem_bytes: Some(1 << 20),
            status: RunStatus::Ran,
            reason: None,
            stage: None,
        },
        RunRecord {
            model: "faces".into(),
            seq: 1,
            predicted_value: Some(0.01),
            actual_value: None,
            start_ms: None,
            duration_ms: None,
            peak_mem_bytes: None,
            status: RunStatus::Skipped,
            reason: Some("low value".into()),
            stage: None,
        },
    ];
    store
        .write_photo_results(id, &[label("dog", 0.9), label("grass", 0.6)], &runs, false)
        .unwrap();
    store.add_user_label(id, "Rex").unwrap();
    assert_eq!(store.runs_for(id).unwrap(), runs);
    store
        .write_photo_results(id, &[label("cat", 0.8)], &runs[..1], false)
        .unwrap();
    let names: Vec<String> = store
        .labels_for(id)
        .unwrap()
        .into_iter()
        .map(|l| l.label)
        .collect();
    assert_eq!(names, vec!["Rex", "cat"]);
    assert_eq!(store.runs_for(id).unwrap().len(), 1);
    let find = |q: &str| {
        store
            .search(&Query::parse(q).unwrap(), 10, 0)
            .unwrap()
            .len()
    };
    assert_eq!(find("dog"), 0, "old model labels leave the index");
    assert_eq!((find("cat"), find("rex")), (1, 1));
    assert_eq!(store.stats().unwrap().photos_labelled, 1);
}

#[test]
fn cost_profiles_are_mean_p95_and_peak_of_the_latest_runs() {
    let lib = TempLib::new();
    let root = lib.photos();
    fixtures::generate_library(&root, 20, (16, 16)).unwrap();
    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let ids: Vec<i64> = store
        .photos_newest_first(20, 0)
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let run = |model: &str, ms: f64, mem: i64, status: RunStatus| RunRecord {
        model: model.into(),
        seq: 0,
        predicted_value: None,
        actual_value: None,
        start_ms: Some(0.0),
        duration_ms: Some(ms),
        peak_mem_bytes: Some(mem),
        status,
        reason: None,
        stage: None,
    };
    // Photo k: "det" took 10 + k ms (the first photo an outlier, 500 ms); "ocr" was skipped.
    for (k, id) in ids.iter().enumerate() {
        let ms = if k == 0 { 500.0 } else { 10.0 + k as f64 };
        let runs = [
            run("det", ms, 1000 + k as i64, RunStatus::Ran),
            run("ocr", 1.0, 1, RunStatus::Skipped),
        ];
        store.write_photo_results(*id, &[], &runs, false).unwrap();
    }
    let all = store.model_profiles(1000).unwrap();
    assert_eq!(all.len(), 1, "skipped runs are not a cost: {all:?}");
    let p = &all[0];
    assert_eq!((p.model.as_str(), p.runs, p.window), ("det", 20, 20));
    let mean = (500.0 + (1..20).map(|k| 10.0 + f64::from(k)).sum::<f64>()) / 20.0;
    assert!((p.mean_ms - mean).abs() < 1e-9, "{}", p.mean_ms);
    // Nearest rank: the 19th of 20 sorted durations.
    assert_eq!(p.p95_ms, 29.0);
    assert_eq!(p.peak_mem_bytes, Some(1019));
    // Only the latest runs count: the outlier (written first) leaves a window of 10.
    let recent = &store.model_profiles(10).unwrap()[0];
    assert_eq!((recent.runs, recent.window), (20, 10));
    assert_eq!(recent.p95_ms, 29.0);
    assert!((recent.mean_ms - 24.5).abs() < 1e-9, "{}", recent.mean_ms);
}

#[test]
fn a_shared_stage_is_costed_apart_from_the_models_that_computed_it() {
    let lib = TempLib::new();
    let root = lib.photos();
    fixtures::generate_library(&root, 4, (16, 16)).unwrap();
    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let ids: Vec<i64> = store
        .photos_newest_first(4, 0)
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let run = |model: &str, seq: u32, ms: f64, stage: Option<f64>| RunRecord {
        model: model.into(),
        seq,
        predicted_value: None,
        actual_value: None,
        start_ms: Some(0.0),
        duration_ms: Some(ms),
        peak_mem_bytes: None,
        status: RunStatus::Ran,
        reason: None,
        stage: stage.map(|s| ("faces".to_string(), s)),
    };
    // On even photos "age" ran first and computed the faces (100 + k ms of its time); on odd
    // ones "boxes" did, and "age" found them done.
    for (k, id) in ids.iter().enumerate() {
        let faces = 100.0 + k as f64;
        let runs = if k % 2 == 0 {
            [
                run("age", 0, 20.0 + faces, Some(faces)),
                run("boxes", 1, 4.0, None),
            ]
        } else {
            [
                run("boxes", 0, 4.0 + faces, Some(faces)),
                run("age", 1, 20.0, None),
            ]
        };
        store.write_photo_results(*id, &[], &runs, false).unwrap();
    }
    let costs = store.model_costs().unwrap();
    assert_eq!(
        costs,
        vec![("age".to_string(), 20.0, 4), ("boxes".to_string(), 4.0, 4)]
    );
    assert_eq!(
        store.stage_costs().unwrap(),
        vec![("faces".to_string(), 101.5, 4)]
    );
    // The decision log keeps which run computed the stage.
    let runs = store.runs_for(ids[1]).unwrap();
    assert_eq!(runs[0].stage, Some(("faces".to_string(), 101.0)));
    assert_eq!(runs[1].stage, None);
}

/// A library of photos with known labels and dates for search tests. Returns the store and the
/// ids, oldest photo first.
fn labelled_library(lib: &TempLib) -> (Store, Vec<i64>) {
    let root = lib.photos();
    fixtures::generate_library(&root, 6, (16, 16)).unwrap();
    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let mut photos = store.photos_newest_first(100, 0).unwrap();
    photos.reverse();
    let tags: [&[(&str, f32)]; 6] = [
        &[("dog", 0.95), ("grass", 0.7)],
        &[("cat", 0.6), ("sofa", 0.9)],
        &[("traffic light", 0.85), ("car", 0.9), ("person", 0.8)],
        &[("golden retriever", 0.75), ("person", 0.99)],
        &[("hot dog", 0.9)],
        &[("light", 0.5), ("Café", 0.9)],
    ];
    for (p, t) in photos.iter().zip(tags) {
        let labels: Vec<NewLabel> = t.iter().map(|(n, c)| label(n, *c)).collect();
        store
            .write_photo_results(p.id, &labels, &[], false)
            .unwrap();
    }
    store
        .set_label_parents(&[
            ("dog".into(), "animal".into()),
            ("cat".into(), "animal".into()),
            ("golden retriever".into(), "dog".into()),
            ("car".into(), "vehicle".into()),
        ])
        .unwrap();
    store.rebuild_tag_index().unwrap();
    (store, photos.iter().map(|p| p.id).collect())
}

fn ids(store: &Store, q: &str) -> Vec<i64> {
    let q = Query::parse(q).unwrap();
    store
        .search(&q, 100, 0)
        .unwrap()
        .iter()
        .map(|h| h.photo_id)
        .collect()
}

#[test]
fn search_language_end_to_end() {
    let lib = TempLib::new();
    let (store, p) = labelled_library(&lib);
    // Newest first: photos were generated with increasing dates.
    assert_eq!(ids(&store, "person"), vec![p[3], p[2]]);
    assert_eq!(ids(&store, "PERS"), vec![p[3], p[2]], "prefix, any case");
    assert_eq!(ids(&store, "person car"), vec![p[2]]);
    assert_eq!(ids(&store, "cat OR car"), vec![p[2], p[1]]);
    assert_eq!(ids(&store, "person -car"), vec![p[3]]);
    assert_eq!(ids(&store, "person NOT car"), vec![p[3]]);
    assert_eq!(ids(&store, "\"traffic light\""), vec![p[2]]);
    assert_eq!(
        ids(&store, "\"light car\""),
        Vec::<i64>::new(),
        "phrases stay in one tag"
    );
    assert_eq!(ids(&store, "person conf>0.9"), vec![p[3]]);
    assert_eq!(ids(&store, "cafe"), vec![p[5]], "accents fold");
    assert_eq!(ids(&store, "-person -dog"), vec![p[5], p[1]]);
    assert_eq!(ids(&store, "").len(), 6);
}

#[test]
fn search_hierarchy_finds_children_and_reports_the_way() {
    let lib = TempLib::new();
    let (store, p) = labelled_library(&lib);
    assert_eq!(ids(&store, "animal"), vec![p[3], p[1], p[0]]);
    assert_eq!(
        ids(&store, "dog"),
        vec![p[4], p[3], p[0]],
        "hot dog matches by word too"
    );
    assert_eq!(ids(&store, "vehicle"), vec![p[2]]);
    let hits = store
        .search(&Query::parse("animal").unwrap(), 10, 0)
        .unwrap();
    let retriever = &hits[0].matched[0];
    assert_eq!(retriever.label, "golden retriever");
    assert_eq!(retriever.via.as_deref(), Some("animal"));
    // Paging.
    let page2 = store
        .search(&Query::parse("animal").unwrap(), 1, 1)
        .unwrap();
    assert_eq!(page2[0].photo_id, p[1]);
}

#[test]
fn suggestions_come_from_existing_tags() {
    let lib = TempLib::new();
    let (store, _) = labelled_library(&lib);
    // Friendly tags and the categories above them: "pet" is the category of dog and cat
    // (through the vocabulary), so it counts three photos.
    let s = store.suggest_tags("pe", 5).unwrap();
    assert_eq!(s, vec![("pet".to_string(), 3), ("person".to_string(), 2)]);
}

fn model_label(name: &str, model: &str, conf: f32) -> NewLabel {
    NewLabel {
        label: name.into(),
        model: model.into(),
        confidence: conf,
        bbox: None,
    }
}

/// Three photos labelled by real labelers' raw classes: a golden retriever, three faces, a
/// recognised word "goldfish" on a sign.
fn vocab_library(lib: &TempLib) -> (Store, Vec<i64>) {
    let root = lib.photos();
    fixtures::generate_library(&root, 3, (16, 16)).unwrap();
    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let mut photos = store.photos_newest_first(100, 0).unwrap();
    photos.reverse();
    let ids: Vec<i64> = photos.iter().map(|p| p.id).collect();
    let face = || model_label("face", "mtcnn_onet", 0.99);
    store
        .write_photo_results(
            ids[0],
            &[
                model_label("Golden Retriever", "mobilenet_v2", 0.8),
                model_label("wool", "mobilenet_v2", 0.5),
            ],
            &[],
            false,
        )
        .unwrap();
    store
        .write_photo_results(ids[1], &[face(), face(), face()], &[], false)
        .unwrap();
    store
        .write_photo_results(
            ids[2],
            &[model_label("goldfish", "ppocr_v4_rec", 0.9)],
            &[],
            false,
        )
        .unwrap();
    (store, ids)
}

#[test]
fn a_golden_retriever_is_found_by_breed_tag_and_every_category() {
    let lib = TempLib::new();
    let (store, p) = vocab_library(&lib);
    for q in [
        "retriever",
        "\"golden retriever\"",
        "dog",
        "pet",
        "animal",
        "DOG",
    ] {
        assert_eq!(ids(&store, q), vec![p[0]], "{q}");
    }
    // Ignored noise classes are not tags; a recognised word is only itself.
    assert!(ids(&store, "wool").is_empty());
    assert_eq!(ids(&store, "goldfish"), vec![p[2]]);
    assert!(
        ids(&store, "fish").is_empty(),
        "a word on a sign is not a fish"
    );
    let hit = &store.search(&Query::parse("pet").unwrap(), 10, 0).unwrap()[0];
    assert_eq!(hit.matched[0].label, "Golden Retriever");
    assert_eq!(hit.matched[0].model, "mobilenet_v2");
    assert_eq!(hit.matched[0].via.as_deref(), Some("pet"));
}

#[test]
fn three_faces_are_a_person_people_and_a_group() {
    let lib = TempLib::new();
    let (store, p) = vocab_library(&lib);
    for q in ["person", "people", "group", "face"] {
        assert_eq!(ids(&store, q), vec![p[1]], "{q}");
    }
    let counts = store.tag_counts(false).unwrap();
    let count = |t: &str| counts.iter().find(|c| c.tag == t).map(|c| c.photos);
    assert_eq!(count("group"), Some(1));
    assert_eq!(count("dog"), Some(1));
    assert_eq!(count("Golden Retriever"), None, "raw classes are left out");
    // The tree puts dog under pet under animal.
    let tree = store.tag_tree().unwrap();
    let animal = tree.iter().find(|n| n.tag == "animal").unwrap();
    let pet = animal.children.iter().find(|n| n.tag == "pet").unwrap();
    assert!(pet.children.iter().any(|n| n.tag == "dog" && n.photos == 1));
    let mut out = Vec::new();
    photolabel::store::tags::write_tags(&store, true, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("animal (1)\n  pet (1)\n    dog (1)\n"),
        "{text}"
    );
}

#[test]
fn a_changed_vocabulary_rebuilds_tags_from_the_stored_raw_labels() {
    let lib = TempLib::new();
    let (mut store, p) = vocab_library(&lib);
    let embedded = photolabel::vocab::Vocabulary::embedded().unwrap();
    assert!(
        !store.apply_vocabulary(embedded).unwrap(),
        "unchanged: no reindex"
    );
    let text = photolabel::vocab::EMBEDDED.replace(
        "\"Golden Retriever\" = { tag = \"dog\" }",
        "\"Golden Retriever\" = { tag = \"puppy\", categories = [\"pet\"] }",
    );
    assert_ne!(text, photolabel::vocab::EMBEDDED);
    let changed = photolabel::vocab::Vocabulary::parse(&text).unwrap();
    assert!(store.apply_vocabulary(&changed).unwrap());
    assert!(!store.apply_vocabulary(&changed).unwrap());
    assert_eq!(ids(&store, "puppy"), vec![p[0]]);
    assert_eq!(ids(&store, "animal"), vec![p[0]]);
    assert!(ids(&store, "dog").is_empty());
    drop(store);
    // Opening again with the embedded vocabulary brings "dog" back.
    let store = Store::open(&lib.db()).unwrap();
    assert_eq!(ids(&store, "dog"), vec![p[0]]);
    assert!(ids(&store, "puppy").is_empty());
}

#[test]
fn removing_a_folder_forgets_its_photos_but_not_the_files() {
    let lib = TempLib::new();
    let (mut store, _) = labelled_library(&lib);
    let root = lib.photos().canonicalize().unwrap();
    assert_eq!(store.remove_root(&root).unwrap(), 6);
    assert_eq!(store.stats().unwrap().photos_ok, 0);
    assert!(ids(&store, "person").is_empty());
    assert_eq!(std::fs::read_dir(root.join("album000")).unwrap().count(), 6);
}

#[test]
fn retryable_failures_are_requeued_until_the_third_and_photo_faults_never() {
    use photolabel::label::write;
    use photolabel::store::{LabelStatus, MAX_LABEL_FAILURES};
    let lib = TempLib::new();
    let root = lib.photos();
    fixtures::generate_library(&root, 2, (16, 16)).unwrap();
    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let ids: Vec<i64> = store
        .photos_newest_first(2, 0)
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let status = |s: &Store, id| s.photo(id).unwrap().unwrap().label_status;
    // Weights missing: the reason can go away, so the photo comes back after a retry.
    let missing = Error::WeightsMissing {
        model: "m".into(),
        path: "/nowhere".into(),
    };
    let unreadable = Error::Image {
        msg: "truncated".into(),
        path: "/p.jpg".into(),
    };
    assert!(write::retryable(&missing) && !write::retryable(&unreadable));
    write::failure(&mut store, ids[0], "labeller", &missing).unwrap();
    write::failure(&mut store, ids[1], "decode", &unreadable).unwrap();
    assert_eq!(store.retryable_failures().unwrap(), 1);
    assert_eq!(status(&store, ids[0]), LabelStatus::Failed);
    assert_eq!(store.requeue_retryable().unwrap(), 1);
    assert_eq!(status(&store, ids[0]), LabelStatus::Pending);
    // The photo's own fault is final.
    assert_eq!(status(&store, ids[1]), LabelStatus::Failed);
    // Failing the same way again and again: the third failure is final.
    for n in 2..=MAX_LABEL_FAILURES {
        write::failure(&mut store, ids[0], "labeller", &missing).unwrap();
        assert_eq!(store.label_failures(ids[0]).unwrap(), n);
        let requeued = store.requeue_retryable().unwrap();
        assert_eq!(requeued, usize::from(n < MAX_LABEL_FAILURES), "failure {n}");
    }
    assert_eq!(status(&store, ids[0]), LabelStatus::Failed);
    // Labelled at last (e.g. after an update): the count starts afresh.
    store
        .write_photo_results(ids[0], &[label("cat", 0.9)], &[], false)
        .unwrap();
    assert_eq!(store.label_failures(ids[0]).unwrap(), 0);
}
