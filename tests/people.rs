//! People: face embeddings (`faceres` on MTCNN faces aligned on their landmarks) and the
//! grouping of faces into people, measured on `../shared/faces` (34 portraits of 7 people,
//! `identities.csv`, plus two group photos of unknown people; `PHOTOLABEL_FACES` to read
//! another folder), read in place. The weights are fetched through the real fetch step into
//! the shared test cache. Every photo is embedded once per test process and shared by the
//! tests below. `PHOTOLABEL_SKIP_MODEL_TESTS=1` skips them (each says so).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;

use common::zoo::{cache_dir, skip};
use common::{TempLib, run_ok};
use photolabel::people::cluster::Params;
use photolabel::people::faceset::{FaceSet, main_face};
use photolabel::people::grouping;
use photolabel::people::verify::{Pairs, grouping_score};
use photolabel::zoo::device::{self, DeviceChoice};
use photolabel::zoo::faceres::{DIM, FaceEmbedding, FaceRes, cosine};
use photolabel::zoo::manifest::Manifest;
use photolabel::zoo::stages::PhotoStages;
use photolabel::zoo::{self, weights};

fn faces_dir() -> PathBuf {
    match std::env::var_os("PHOTOLABEL_FACES") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/faces"),
    }
}

fn embedder() -> &'static FaceRes {
    static NET: OnceLock<FaceRes> = OnceLock::new();
    NET.get_or_init(|| {
        let manifest = Manifest::embedded().unwrap();
        for id in zoo::weight_ids("faceres") {
            weights::fetch(&cache_dir(), manifest.get(id).unwrap())
                .unwrap_or_else(|e| panic!("{e:#}"));
        }
        let dev = device::select_with(DeviceChoice::Cpu).unwrap().device;
        FaceRes::load_cached(&cache_dir(), &dev).unwrap_or_else(|e| panic!("{e:#}"))
    })
}

/// One photo of the folder, embedded.
struct Photo {
    file: String,
    /// Who the photo is of (`None`: a group photo of unknown people).
    person: Option<String>,
    dims: (u32, u32),
    faces: Vec<FaceEmbedding>,
    /// Index in `faces` of the photo's subject (its largest face).
    subject: usize,
}

/// Every photo of the folder: those of `identities.csv` in its order, then the others sorted.
fn embedded() -> &'static Vec<Photo> {
    static ALL: OnceLock<Vec<Photo>> = OnceLock::new();
    ALL.get_or_init(|| {
        let set = FaceSet::read(&faces_dir()).unwrap();
        let mut files: Vec<(String, Option<String>)> = set
            .photos
            .iter()
            .map(|(f, p)| (f.clone(), Some(p.clone())))
            .collect();
        let mut others: Vec<String> = std::fs::read_dir(&set.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".jpg") && !set.photos.iter().any(|(k, _)| k == f))
            .collect();
        others.sort();
        files.extend(others.into_iter().map(|f| (f, None)));
        let net = embedder();
        files
            .into_iter()
            .map(|(file, person)| {
                let img = zoo::load_photo(&set.dir.join(&file)).unwrap();
                let faces = net.embed_faces(&img, &PhotoStages::new().scope()).unwrap();
                let boxes: Vec<_> = faces.iter().map(|f| f.face).collect();
                let main = main_face(&boxes).unwrap_or_else(|| panic!("{file}: no face"));
                let subject = boxes.iter().position(|f| *f == main).unwrap();
                Photo {
                    file,
                    person,
                    dims: img.dimensions(),
                    faces,
                    subject,
                }
            })
            .collect()
    })
}

/// The photos of known people.
fn portraits() -> impl Iterator<Item = (&'static str, &'static FaceEmbedding)> {
    embedded()
        .iter()
        .filter_map(|p| Some((p.person.as_deref()?, &p.faces[p.subject])))
}

#[test]
fn mtcnn_landmarks_sit_on_the_face() {
    if skip("mtcnn_landmarks_sit_on_the_face") {
        return;
    }
    for photo in embedded().iter().filter(|p| p.person.is_some()) {
        let (person, faces) = (&photo.file, &photo.faces);
        let f = &faces[photo.subject].face;
        let [le, re, nose, ml, mr] = f.landmarks;
        let inside = |p: [f32; 2]| {
            p[0] >= f.xyxy[0] && p[0] <= f.xyxy[2] && p[1] >= f.xyxy[1] && p[1] <= f.xyxy[3]
        };
        assert!(
            f.landmarks.iter().all(|&p| inside(p)),
            "{person}: {f:?} landmarks outside the box"
        );
        assert!(le[0] < re[0] && ml[0] < mr[0], "{person}: {f:?} left/right");
        assert!(
            le[1].max(re[1]) < nose[1] && nose[1] < ml[1].min(mr[1]),
            "{person}: {f:?} eyes, nose, mouth not top to bottom"
        );
        assert!(!faces.is_empty());
    }
}

#[test]
fn faceres_descriptors_are_unit_length_and_batch_like_single_runs() {
    if skip("faceres_descriptors_are_unit_length_and_batch_like_single_runs") {
        return;
    }
    let net = embedder();
    let img = zoo::load_photo(&faces_dir().join("couple.jpg")).unwrap();
    let faces = net.embed_faces(&img, &PhotoStages::new().scope()).unwrap();
    assert!(faces.len() >= 2, "couple.jpg: {} faces", faces.len());
    for f in &faces {
        assert_eq!(f.embedding.len(), DIM);
        assert!((cosine(&f.embedding, &f.embedding) - 1.0).abs() < 1e-4);
        let alone = net.embed_chips(&[net.chip(&img, &f.face)]).unwrap();
        let same = cosine(&alone[0], &f.embedding);
        assert!(same > 0.999, "batched vs single: cosine {same}");
    }
    // The two people of the couple are not the same person.
    let s = cosine(&faces[0].embedding, &faces[1].embedding);
    assert!(s < 0.6, "couple.jpg: the two faces have cosine {s}");
}

/// Same-person pairs are clearly more similar than different-person pairs: the floors are
/// well under what was measured (`examples/faces.rs`: TAR 100 % at 1 % FAR, EER 0.3 %,
/// mean cosine 0.76 vs 0.41), so they fail on a broken alignment, input scaling or model.
#[test]
fn faceres_tells_the_shared_people_apart() {
    if skip("faceres_tells_the_shared_people_apart") {
        return;
    }
    let who: Vec<&str> = portraits().map(|(p, _)| p).collect();
    let emb: Vec<Vec<f32>> = portraits().map(|(_, f)| f.embedding.clone()).collect();
    let pairs = Pairs::of(&who, &emb);
    let op = pairs.tar_at_far(0.01);
    let (eer, eer_t) = pairs.eer();
    eprintln!(
        "faceres on {} photos: same {:.3} diff {:.3}; TAR {:.1} % at FAR {:.1} % (cos > {:.3}); EER {:.1} % at {:.3}; AUC {:.3}",
        who.len(),
        pairs.mean_same(),
        pairs.mean_different(),
        op.tar * 100.0,
        op.far * 100.0,
        op.threshold,
        eer * 100.0,
        eer_t,
        pairs.auc()
    );
    assert!(pairs.mean_same() > pairs.mean_different() + 0.2);
    assert!(op.tar >= 0.85, "TAR at 1 % FAR {}", op.tar);
    assert!(eer <= 0.06, "EER {eer}");
}

/// The whole People path on a scanned library: photos arrive one by one, their faces go into
/// the store and grouping runs after each (incrementally, default thresholds). Each of at
/// least 5 of the 7 people must end in one group of their own (person05 has 2 photos, fewer
/// than a group needs); the group photos' unknown faces arrive too, as noise.
#[test]
fn grouping_gives_most_shared_people_a_group_of_their_own() {
    if skip("grouping_gives_most_shared_people_a_group_of_their_own") {
        return;
    }
    let lib = TempLib::new();
    let mut store = lib.store();
    let dir = std::fs::canonicalize(faces_dir()).unwrap();
    let summary = lib.scan(&mut store, &[&dir]);
    assert_eq!(summary.failed, 0, "{summary:?}");
    let params = Params::default();
    let mut subjects = Vec::new();
    for photo in embedded() {
        let id = store
            .photo_by_path(&dir.join(&photo.file))
            .unwrap()
            .unwrap_or_else(|| panic!("{} not scanned", photo.file))
            .id;
        let ids =
            grouping::store_faces(&mut store, id, "faceres", photo.dims, &photo.faces).unwrap();
        grouping::group(&mut store, &params, false).unwrap();
        if let Some(person) = &photo.person {
            subjects.push((person.clone(), ids[photo.subject]));
        }
    }
    let groups: Vec<Option<i64>> = subjects
        .iter()
        .map(|(_, f)| store.face(*f).unwrap().unwrap().person.map(|p| p.0))
        .collect();
    let who: Vec<&str> = subjects.iter().map(|(p, _)| p.as_str()).collect();
    let score = grouping_score(&who, &groups);
    let persons = store.persons().unwrap();
    eprintln!(
        "grouping: precision {:.3} recall {:.3}; {} groups for {} people among the portraits, {} persons in the library; {} portraits unsorted; separated {:?}",
        score.precision,
        score.recall,
        score.groups,
        score.people,
        persons.len(),
        score.unsorted,
        score.separated
    );
    assert!(score.separated.len() >= 5, "{score:?}");
    assert!(score.precision >= 0.95, "{score:?}");

    // A full regroup gives the same groups, and the user's decisions survive it: name a group,
    // say one of its faces is not that person.
    let (alice, face) = {
        let (_, f) = subjects[0];
        (store.face(f).unwrap().unwrap().person.unwrap().0, f)
    };
    store.name_person(alice, "Alice").unwrap();
    let other = subjects[1].1;
    store.reject_face(other, alice).unwrap();
    grouping::group(&mut store, &params, true).unwrap();
    assert_eq!(store.person_by_name("alice").unwrap(), Some(alice));
    assert_eq!(
        store.face(face).unwrap().unwrap().person.map(|p| p.0),
        Some(alice)
    );
    assert_ne!(
        store.face(other).unwrap().unwrap().person.map(|p| p.0),
        Some(alice)
    );
}

/// Copies the shared faces `files` into `root`.
fn copy_faces(root: &Path, files: &[&str]) {
    for f in files {
        std::fs::copy(faces_dir().join(f), root.join(f)).unwrap();
    }
}

/// The person of the largest face on photo `file` under `root`.
fn person_of_main_face(store: &photolabel::store::Store, root: &Path, file: &str) -> Option<i64> {
    let photo = store
        .photo_by_path(&root.canonicalize().unwrap().join(file))
        .unwrap()
        .unwrap_or_else(|| panic!("{file} not in the library"));
    let faces = store.faces_of_photo(photo.id).unwrap();
    let main = faces
        .iter()
        .max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])))
        .unwrap_or_else(|| panic!("{file}: no face stored"));
    main.person.map(|p| p.0)
}

/// Issue #15: the face embedder is a labeler like the others. In the app's engine with the
/// real labeller, labelling stores each photo's described faces and groups them once the
/// queue is empty (PeopleChanged), without "Find faces": two people's photos end in two
/// persons, each photo's face in its person's.
#[test]
fn labelling_in_the_app_stores_faces_and_groups_them_into_persons() {
    use photolabel::engine::zoo_plugins::SchedulerLabeller;
    use photolabel::engine::{Command, Engine, Event, LabelSettings, ModelSetting, Plugins};
    use std::time::{Duration, Instant};
    if skip("labelling_in_the_app_stores_faces_and_groups_them_into_persons") {
        return;
    }
    let first = ["img1.jpg", "img2.jpg", "img4.jpg", "img5.jpg"];
    let second = ["img8.jpg", "img9.jpg", "img47.jpg"];
    let lib = TempLib::new();
    let root = lib.photos();
    copy_faces(&root, &first);
    copy_faces(&root, &second);
    let paths = photolabel::config::Paths {
        db: lib.db(),
        cache_dir: cache_dir(),
        data_dir: lib.dir.path().join("data"),
    };
    let engine = Engine::start(
        paths.clone(),
        Plugins {
            labeller: Some(Box::new(SchedulerLabeller::new(paths))),
            trainer: None,
        },
    )
    .unwrap();
    // The face models only, every one on every photo (exploration): the test is about what
    // happens to the faces, not about the pick.
    let settings = LabelSettings {
        exploration: 1.0,
        models: zoo::IMPLEMENTED
            .iter()
            .map(|id| ModelSetting {
                id: (*id).to_string(),
                enabled: matches!(*id, "mtcnn_onet" | "faceres"),
                ..ModelSetting::default()
            })
            .collect(),
        ..LabelSettings::default()
    };
    engine.send(Command::ApplySettings(settings)).unwrap();
    engine.send(Command::AddPaths(vec![root.clone()])).unwrap();
    let n = first.len() + second.len();
    let (mut labelled, mut grouped) = (0, false);
    let start = Instant::now();
    while labelled < n {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "timed out: {labelled} of {n} labelled"
        );
        match engine.try_recv() {
            Some(Event::LabellingDone { error, .. }) => {
                assert_eq!(error, None);
                labelled += 1;
            }
            Some(Event::PeopleChanged) => grouped = true,
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    // The last grouping (the queue is empty) follows the last photo.
    let store = lib.store();
    let placed = |store: &photolabel::store::Store| {
        first
            .iter()
            .chain(&second)
            .all(|f| person_of_main_face(store, &root, f).is_some())
    };
    let labelled_at = Instant::now();
    while !grouped || !placed(&store) {
        if labelled_at.elapsed() > Duration::from_secs(60) {
            break;
        }
        if let Some(Event::PeopleChanged) = engine.try_recv() {
            grouped = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(grouped, "no grouping after labelling");
    for photo in store.photos_newest_first(100, 0).unwrap() {
        let runs = store.runs_for(photo.id).unwrap();
        assert!(
            runs.iter().any(|r| r.model == "faceres"),
            "{}: {runs:?}",
            photo.path.display()
        );
    }
    let a: Vec<Option<i64>> = first
        .iter()
        .map(|f| person_of_main_face(&store, &root, f))
        .collect();
    let b: Vec<Option<i64>> = second
        .iter()
        .map(|f| person_of_main_face(&store, &root, f))
        .collect();
    assert!(a[0].is_some() && a.iter().all(|p| *p == a[0]), "{a:?}");
    assert!(b[0].is_some() && b.iter().all(|p| *p == b[0]), "{b:?}");
    assert_ne!(a[0], b[0], "two people, two persons");
    // "Find faces" has nothing left to look at: labelling recorded every photo as looked at.
    assert_eq!(
        store.photos_without_faces_scan("faceres").unwrap(),
        Vec::<i64>::new()
    );
}

/// The CLI's `label DIR` stores and groups faces the same way, and says so.
#[test]
fn labelling_a_folder_from_the_cli_groups_its_faces() {
    if skip("labelling_a_folder_from_the_cli_groups_its_faces") {
        return;
    }
    // Three photos of one person, alike enough to seed a group (cosine 0.82-0.85).
    let files = ["img2.jpg", "img4.jpg", "img5.jpg"];
    let lib = TempLib::new();
    let root = lib.photos();
    copy_faces(&root, &files);
    let out = run_ok(
        lib.cli(&cache_dir())
            .args(["label", "--json", "--all", "--no-deadline"])
            .arg(&root),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["faces"].as_u64().unwrap() >= 3, "{v}");
    assert_eq!(v["persons"], 1, "{v}");
    let store = lib.store();
    let persons: Vec<Option<i64>> = files
        .iter()
        .map(|f| person_of_main_face(&store, &root, f))
        .collect();
    assert!(
        persons[0].is_some() && persons.iter().all(|p| *p == persons[0]),
        "{persons:?}"
    );
}

/// "Find faces" in the app can be stopped: the search ends after the photo in hand, says it
/// stopped, and keeps what it found; a later search goes on with the photos left.
#[test]
fn a_running_face_search_stops_when_asked_and_keeps_its_faces() {
    use photolabel::engine::{Command, Engine, Event, Plugins};
    use std::time::{Duration, Instant};
    if skip("a_running_face_search_stops_when_asked_and_keeps_its_faces") {
        return;
    }
    let lib = TempLib::new();
    let root = lib.photos();
    let files = [
        "img1.jpg",
        "img2.jpg",
        "img8.jpg",
        "img9.jpg",
        "img13.jpg",
        "img14.jpg",
    ];
    copy_faces(&root, &files);
    let paths = photolabel::config::Paths {
        db: lib.db(),
        cache_dir: cache_dir(),
        data_dir: lib.dir.path().join("data"),
    };
    let engine = Engine::start(paths, Plugins::default()).unwrap();
    engine.send(Command::AddPaths(vec![root.clone()])).unwrap();
    let start = Instant::now();
    let next = |what: &str| loop {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "timed out: {what}"
        );
        match engine.try_recv() {
            Some(e) => return e,
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    while !matches!(next("the scan"), Event::ScanFinished { .. }) {}
    engine.send(Command::FindFaces).unwrap();
    let report = loop {
        match next("the search") {
            Event::FacesProgress { done: 1, .. } => {
                engine.send(Command::StopFindingFaces).unwrap();
            }
            Event::FacesFinished(r) => break r.unwrap(),
            _ => {}
        }
    };
    assert!(report.stopped, "{report:?}");
    assert!(report.photos < files.len(), "{report:?}");
    let store = lib.store();
    let looked_at = files.len() - store.photos_without_faces_scan("faceres").unwrap().len();
    assert_eq!(looked_at, report.photos, "every photo looked at is kept");
    // The next search takes the rest.
    engine.send(Command::FindFaces).unwrap();
    let rest = loop {
        if let Event::FacesFinished(r) = next("the second search") {
            break r.unwrap();
        }
    };
    assert!(!rest.stopped);
    assert_eq!(report.photos + rest.photos, files.len());
}
