//! Store queries added for the GUI: ordered ids, rows by id, removing one label (user or model,
//! with the tag index following) and the library-wide run summary.

#![allow(clippy::unwrap_used)]

mod common;

use photolabel::fixtures::generate_library;
use photolabel::store::{NewLabel, PhotoOrder, RunRecord, RunStatus, query::Query};

use common::TempLib;

fn run(model: &str, seq: u32, status: RunStatus, ms: Option<f64>) -> RunRecord {
    RunRecord {
        model: model.into(),
        seq,
        predicted_value: Some(0.5),
        actual_value: None,
        start_ms: ms.map(|_| 0.0),
        duration_ms: ms,
        peak_mem_bytes: None,
        status,
        reason: None,
        stage: None,
    }
}

#[test]
fn photo_ids_follow_both_orders_and_rows_come_back_in_the_order_asked() {
    let lib = TempLib::new();
    let photos = lib.photos();
    generate_library(&photos, 10, (32, 32)).unwrap();
    let mut store = lib.store();
    lib.scan(&mut store, &[&photos]);
    let by_taken = store.photo_ids(PhotoOrder::Taken).unwrap();
    assert_eq!(by_taken.len(), 10);
    let newest: Vec<i64> = store
        .photos_newest_first(10, 0)
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(by_taken, newest);
    let by_added = store.photo_ids(PhotoOrder::Added).unwrap();
    let mut a = by_added.clone();
    a.sort();
    let mut b = by_taken.clone();
    b.sort();
    assert_eq!(a, b);
    let ask = vec![by_taken[3], by_taken[0], 999_999, by_taken[7]];
    let rows: Vec<i64> = store
        .photos_by_ids(&ask)
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(rows, vec![by_taken[3], by_taken[0], by_taken[7]]);
}

#[test]
fn removing_a_model_label_drops_it_from_search() {
    let lib = TempLib::new();
    let photos = lib.photos();
    generate_library(&photos, 2, (32, 32)).unwrap();
    let mut store = lib.store();
    lib.scan(&mut store, &[&photos]);
    let id = store.photo_ids(PhotoOrder::Taken).unwrap()[0];
    let label = |l: &str| NewLabel {
        label: l.into(),
        model: "m".into(),
        confidence: 0.8,
        bbox: None,
    };
    store
        .write_photo_results(id, &[label("dog"), label("cat")], &[], false)
        .unwrap();
    store.add_user_label(id, "holiday").unwrap();
    let q = |s: &str| {
        store
            .search(&Query::parse(s).unwrap(), 10, 0)
            .unwrap()
            .len()
    };
    assert_eq!(q("dog"), 1);
    let dog = store
        .labels_for(id)
        .unwrap()
        .into_iter()
        .find(|l| l.label == "dog")
        .unwrap();
    assert!(store.remove_label(id, dog.id).unwrap());
    assert!(!store.remove_label(id, dog.id).unwrap(), "already gone");
    let q = |s: &str| {
        store
            .search(&Query::parse(s).unwrap(), 10, 0)
            .unwrap()
            .len()
    };
    assert_eq!(q("dog"), 0);
    assert_eq!(q("cat"), 1);
    let user = store
        .labels_for(id)
        .unwrap()
        .into_iter()
        .find(|l| l.label == "holiday")
        .unwrap();
    store.remove_label(id, user.id).unwrap();
    let q = |s: &str| {
        store
            .search(&Query::parse(s).unwrap(), 10, 0)
            .unwrap()
            .len()
    };
    assert_eq!(q("holiday"), 0);
    // A label id of another photo is not removed through this one.
    let other = store.photo_ids(PhotoOrder::Taken).unwrap()[1];
    let cat = store.labels_for(id).unwrap()[0].id;
    assert!(!store.remove_label(other, cat).unwrap());
}

#[test]
fn run_summary_counts_decisions_and_estimates_time_saved() {
    let lib = TempLib::new();
    let photos = lib.photos();
    generate_library(&photos, 2, (32, 32)).unwrap();
    let mut store = lib.store();
    lib.scan(&mut store, &[&photos]);
    assert_eq!(store.run_summary().unwrap().ran_share(), None);
    let ids = store.photo_ids(PhotoOrder::Taken).unwrap();
    store
        .write_photo_results(
            ids[0],
            &[],
            &[
                run("a", 0, RunStatus::Ran, Some(10.0)),
                run("b", 1, RunStatus::Ran, Some(30.0)),
            ],
            false,
        )
        .unwrap();
    store
        .write_photo_results(
            ids[1],
            &[],
            &[
                run("a", 0, RunStatus::Ran, Some(20.0)),
                run("b", 1, RunStatus::Skipped, None),
            ],
            false,
        )
        .unwrap();
    let s = store.run_summary().unwrap();
    assert_eq!(s.photos, 2);
    assert_eq!(s.models.len(), 2);
    assert_eq!(
        (
            s.models[0].model.as_str(),
            s.models[0].ran,
            s.models[0].skipped
        ),
        ("a", 2, 0)
    );
    assert_eq!(s.models[0].mean_ms, Some(15.0));
    assert_eq!((s.models[1].ran, s.models[1].skipped), (1, 1));
    assert_eq!(s.ran_ms(), 60.0);
    assert_eq!(s.saved_ms(), 30.0);
    assert_eq!(s.ran_share(), Some(0.75));
}
