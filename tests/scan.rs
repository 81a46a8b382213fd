//! Scanner integration tests on generated libraries: metadata and thumbnails, every kind of
//! bad input, incremental rescans (changes, moves, deletions) and walk edge cases.

#![allow(clippy::unwrap_used)] // helpers beside the tests panic on setup failure

mod common;

use std::path::Path;

use common::TempLib;
use photolabel::fixtures;
use photolabel::scan::{self, Examined, thumb};
use photolabel::store::{NewLabel, PhotoStatus};

#[test]
fn scan_records_exif_dimensions_and_upright_thumbnails() {
    let lib = TempLib::new();
    let root = lib.photos();
    let paths = fixtures::generate_library(&root, 12, (64, 48)).unwrap();
    let mut store = lib.store();
    let s = lib.scan(&mut store, &[&root]);
    assert_eq!((s.seen, s.new, s.failed, s.thumbnails), (12, 12, 0, 12));

    for (i, path) in paths.iter().enumerate() {
        let p = store
            .photo_by_path(&path.canonicalize().unwrap())
            .unwrap()
            .unwrap();
        let spec = fixtures::exif_for(i as u64);
        assert_eq!(p.status, PhotoStatus::Ok);
        assert_eq!((p.meta.width, p.meta.height), (64, 48));
        assert_eq!(p.meta.format, "jpeg");
        assert_eq!(p.meta.camera_make.as_deref(), Some(spec.make.as_str()));
        assert_eq!(p.meta.orientation, Some(spec.orientation));
        assert_eq!(p.meta.iso, Some(u32::from(spec.iso)));
        assert_eq!(p.meta.gps, spec.gps);
        assert_eq!(p.meta.flash, Some(spec.flash));
        let iso = p.meta.taken_at.clone().unwrap();
        assert_eq!(iso.replacen('-', ":", 2).replace('T', " "), spec.datetime);
        assert!(p.thumb);
        // Orientation 6 and 8 rotate by 90 degrees: the thumbnail is portrait.
        let t = image::open(thumb::thumb_path(&lib.thumbs(), p.hash.as_ref().unwrap())).unwrap();
        let portrait = matches!(spec.orientation, 6 | 8);
        assert_eq!(
            t.height() > t.width(),
            portrait,
            "orientation {}",
            spec.orientation
        );
    }
}

#[test]
fn bad_files_get_clear_errors_and_the_scan_goes_on() {
    let lib = TempLib::new();
    let root = lib.photos();
    fixtures::generate_library(&root, 3, (32, 32)).unwrap();
    let bad = fixtures::write_bad_files(&root.join("bad")).unwrap();
    let mut store = lib.store();
    let s = lib.scan(&mut store, &[&root]);
    assert_eq!(s.new, 3 + bad.len() as u64);
    assert_eq!(s.failed, bad.len() as u64);
    for (path, why) in &bad {
        let p = store
            .photo_by_path(&path.canonicalize().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(p.status, PhotoStatus::Error, "{}", path.display());
        let err = p.error.unwrap();
        assert!(err.contains(why), "{}: {err}", path.display());
    }
    assert_eq!(store.stats().unwrap().photos_ok, 3);
}

#[test]
fn a_corrupt_jpeg_body_fails_at_decoding_with_its_reason() {
    let lib = TempLib::new();
    let root = lib.photos();
    // Valid headers and end marker, garbage entropy data in between.
    let good = fixtures::jpeg_bytes(&fixtures::pattern_image(64, 64, 3), None);
    let sos = good.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let mut broken = good[..sos + 14].to_vec();
    broken.extend(std::iter::repeat_n(0xFFu8, 200).chain([0x12, 0x34]));
    broken.extend_from_slice(&[0xFF, 0xD9]);
    std::fs::write(root.join("garbage.jpg"), &broken).unwrap();
    let Examined::Record(rec) = scan::examine_file(&root.join("garbage.jpg"), &lib.options())
    else {
        panic!("a JPEG must give a record");
    };
    let err = rec.meta.unwrap_err();
    assert!(err.contains("JPEG"), "{err}");
}

#[test]
fn content_decides_not_the_extension() {
    let lib = TempLib::new();
    let root = lib.photos();
    let jpeg = fixtures::jpeg_bytes(&fixtures::pattern_image(16, 16, 1), None);
    std::fs::write(root.join("disguised.txt"), &jpeg).unwrap();
    std::fs::write(root.join("readme.txt"), b"just text").unwrap();
    std::fs::write(
        root.join("pic.png"),
        fixtures::png_bytes(&fixtures::pattern_image(20, 10, 2)),
    )
    .unwrap();
    let mut store = lib.store();
    let s = lib.scan(&mut store, &[&root]);
    assert_eq!((s.new, s.not_images, s.failed), (2, 1, 0));
    let p = store
        .photo_by_path(&root.canonicalize().unwrap().join("disguised.txt"))
        .unwrap()
        .unwrap();
    assert_eq!(p.meta.format, "jpeg");
}

#[test]
fn a_file_deleted_before_it_is_read_is_reported_as_vanished() {
    let lib = TempLib::new();
    let gone = lib.photos().join("gone.jpg");
    assert_eq!(
        scan::examine_file(&gone, &lib.options()),
        Examined::Vanished
    );
}

#[cfg(unix)]
#[test]
fn walk_survives_links_hidden_folders_and_odd_names() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let lib = TempLib::new();
    let root = lib.photos();
    let jpeg = fixtures::jpeg_bytes(&fixtures::pattern_image(16, 16, 1), None);
    let odd = root.join(OsStr::from_bytes(b"caf\xe9 \xff.jpg"));
    std::fs::write(&odd, &jpeg).unwrap();
    std::fs::create_dir_all(root.join(".hidden")).unwrap();
    std::fs::write(root.join(".hidden/secret.jpg"), &jpeg).unwrap();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere.jpg"), root.join("dangling.jpg")).unwrap();
    let mut store = lib.store();
    let s = lib.scan(&mut store, &[&root]);
    assert_eq!(s.new, 1, "only the odd-named file is a photo: {s:?}");
    assert_eq!(s.walk_errors, 2, "the loop and the dangling link: {s:?}");
    let canon = root.canonicalize().unwrap();
    let p = store
        .photo_by_path(&canon.join(OsStr::from_bytes(b"caf\xe9 \xff.jpg")))
        .unwrap()
        .unwrap();
    assert_eq!(p.status, PhotoStatus::Ok);
    let issues = store.scan_issues().unwrap();
    assert!(issues.iter().any(|(_, m)| m.contains("loop")), "{issues:?}");
}

#[cfg(unix)]
#[test]
fn an_unreadable_folder_is_reported_and_its_photos_are_not_marked_missing() {
    use std::os::unix::fs::PermissionsExt;
    let lib = TempLib::new();
    let root = lib.photos();
    let locked = root.join("locked");
    fixtures::generate_library(&locked, 2, (16, 16)).unwrap();
    let mut store = lib.store();
    assert_eq!(lib.scan(&mut store, &[&root]).new, 2);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let privileged = std::fs::read_dir(&locked).is_ok();
    let s = lib.scan(&mut store, &[&root]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    if privileged {
        // Root reads through permissions: the folder is readable and nothing changed.
        assert_eq!((s.unchanged, s.missing, s.walk_errors), (2, 0, 0));
    } else {
        assert_eq!((s.walk_errors, s.missing), (1, 0), "{s:?}");
        assert_eq!(store.scan_issues().unwrap().len(), 1);
    }
    assert_eq!(store.stats().unwrap().photos_ok, 2);
}

#[test]
fn rescans_are_incremental_and_follow_changes_moves_and_deletions() {
    let lib = TempLib::new();
    let root = lib.photos();
    let paths = fixtures::generate_library(&root, 20, (32, 32)).unwrap();
    let mut store = lib.store();
    assert_eq!(lib.scan(&mut store, &[&root]).new, 20);

    // Nothing changed: nothing is opened again.
    let s = lib.scan(&mut store, &[&root]);
    assert_eq!((s.unchanged, s.new, s.updated), (20, 0, 0));

    // Label one photo, then move it: the labels follow the content.
    let moved_from = paths[3].canonicalize().unwrap();
    let id = store.photo_by_path(&moved_from).unwrap().unwrap().id;
    let label = NewLabel {
        label: "dog".into(),
        model: "test".into(),
        confidence: 0.9,
        bbox: None,
    };
    store.write_photo_results(id, &[label], &[], false).unwrap();
    let moved_to = root.join("renamed.jpg");
    std::fs::rename(&moved_from, &moved_to).unwrap();

    // Change one file's content, delete another.
    let new_content = fixtures::jpeg_bytes(&fixtures::pattern_image(40, 30, 999), None);
    std::fs::write(&paths[5], new_content).unwrap();
    std::fs::remove_file(&paths[7]).unwrap();

    let s = lib.scan(&mut store, &[&root]);
    assert_eq!(
        (s.moved, s.updated, s.missing, s.new),
        (1, 1, 1, 0),
        "{s:?}"
    );
    assert_eq!(s.unchanged, 17);
    let moved = store
        .photo_by_path(&moved_to.canonicalize().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(moved.id, id, "a move keeps the row");
    assert_eq!(store.labels_for(id).unwrap()[0].label, "dog");
    let changed = store
        .photo_by_path(&paths[5].canonicalize().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((changed.meta.width, changed.meta.height), (40, 30));
    let q = photolabel::store::query::Query::parse("dog").unwrap();
    assert_eq!(store.search(&q, 10, 0).unwrap()[0].photo_id, id);
    let stats = store.stats().unwrap();
    assert_eq!((stats.photos_ok, stats.photos_missing), (19, 1));
}

#[test]
fn a_missing_root_is_a_clear_error() {
    let lib = TempLib::new();
    let mut store = lib.store();
    let missing = lib.dir.path().join("no-such-folder");
    let err = scan::scan(
        &mut store,
        std::slice::from_ref(&missing),
        &lib.options(),
        None,
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cannot open library folder") && err.ends_with("no-such-folder"),
        "{err}"
    );
    assert!(Path::new(&lib.db()).exists());
}
