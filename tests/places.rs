//! Places from GPS (issue 16): a photo whose EXIF has a GPS position written by ExifTool is
//! scanned, its position stored, and it is found by `search paris` / `search france`, with the
//! place tags under the `place` category of the tag tree. A copy of a photo is changed, never
//! an original.
//!
//! ExifTool must be installed (Debian: libimage-exiftool-perl, which `.ci/run` installs), as
//! for tests/xmp.rs: these tests fail, never skip, without it.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::TempLib;
use photolabel::fixtures;
use photolabel::store::Store;
use photolabel::store::query::Query;

/// Runs exiftool with `args`, asserting that it is there and succeeds.
fn exiftool_run(args: &[&str]) {
    let out = Command::new("exiftool").args(args).output();
    let Ok(out) = out else {
        panic!(
            "ExifTool is missing: these tests write GPS positions with it; install it \
             (Debian/Ubuntu: apt-get install libimage-exiftool-perl)"
        );
    };
    assert!(
        out.status.success(),
        "exiftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A JPEG with a camera EXIF block and, when given, a GPS position written by ExifTool.
fn photo_at(path: &Path, seed: u64, gps: Option<[&str; 4]>) {
    let img = fixtures::pattern_image(64, 48, seed);
    let bytes = fixtures::jpeg_bytes(&img, Some(&fixtures::exif_for(seed)));
    std::fs::write(path, bytes).unwrap();
    if let Some([lat, lat_ref, lon, lon_ref]) = gps {
        let file = path.to_string_lossy().into_owned();
        exiftool_run(&[
            "-overwrite_original",
            &format!("-GPSLatitude={lat}"),
            &format!("-GPSLatitudeRef={lat_ref}"),
            &format!("-GPSLongitude={lon}"),
            &format!("-GPSLongitudeRef={lon_ref}"),
            "-GPSAltitude=35",
            "-GPSAltitudeRef=0",
            &file,
        ]);
    }
}

fn found(store: &Store, query: &str) -> Vec<String> {
    let mut names: Vec<String> = store
        .search(&Query::parse(query).unwrap(), 10, 0)
        .unwrap()
        .into_iter()
        .map(|h| h.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_photo_taken_in_paris_is_found_by_paris_and_france() {
    let lib = TempLib::new();
    let photos = lib.photos();
    photo_at(
        &photos.join("eiffel.jpg"),
        1,
        Some(["48.8566", "N", "2.3522", "E"]),
    );
    photo_at(
        &photos.join("sydney.jpg"),
        2,
        Some(["33.8688", "S", "151.2093", "E"]),
    );
    photo_at(&photos.join("nowhere.jpg"), 3, None);
    let mut store = lib.store();
    let s = lib.scan(&mut store, &[&photos]);
    assert_eq!((s.new, s.failed), (3, 0));

    let eiffel = store
        .photo_by_path(&photos.canonicalize().unwrap().join("eiffel.jpg"))
        .unwrap()
        .unwrap();
    let m = &eiffel.meta;
    assert!(m.gps);
    assert!((m.latitude.unwrap() - 48.8566).abs() < 1e-4, "{m:?}");
    assert!((m.longitude.unwrap() - 2.3522).abs() < 1e-4, "{m:?}");
    assert!((m.altitude_m.unwrap() - 35.0).abs() < 1e-6, "{m:?}");
    let sydney = store
        .photo_by_path(&photos.canonicalize().unwrap().join("sydney.jpg"))
        .unwrap()
        .unwrap();
    assert!(sydney.meta.latitude.unwrap() < 0.0, "south is negative");

    assert_eq!(found(&store, "paris"), ["eiffel.jpg"]);
    assert_eq!(found(&store, "france"), ["eiffel.jpg"]);
    assert_eq!(found(&store, "tag:ile-de-france"), ["eiffel.jpg"]);
    assert_eq!(found(&store, "australia"), ["sydney.jpg"]);
    assert_eq!(found(&store, "place"), ["eiffel.jpg", "sydney.jpg"]);

    // The tag browser groups them under `place`.
    let tree = store.tag_tree().unwrap();
    let place = tree.iter().find(|n| n.tag == "place").expect("place root");
    let mut under: Vec<&str> = place.children.iter().map(|c| c.tag.as_str()).collect();
    under.sort_unstable();
    for t in ["paris", "ile-de-france", "france", "sydney", "australia"] {
        assert!(under.contains(&t), "{t} not under place: {under:?}");
    }
}

#[test]
fn a_rescan_keeps_places_once_and_a_removed_position_removes_them() {
    let lib = TempLib::new();
    let photos = lib.photos();
    let file = photos.join("trip.jpg");
    photo_at(&file, 4, Some(["48.8566", "N", "2.3522", "E"]));
    let mut store = lib.store();
    lib.scan(&mut store, &[&photos]);
    assert_eq!(found(&store, "paris"), ["trip.jpg"]);
    let id = store
        .photo_by_path(&file.canonicalize().unwrap())
        .unwrap()
        .unwrap()
        .id;
    let places = |store: &Store| {
        store
            .labels_for(id)
            .unwrap()
            .into_iter()
            .filter(|l| l.model == "place")
            .count()
    };
    assert_eq!(places(&store), 3);

    // Touch the file so the rescan reads it again: the places are replaced, not duplicated.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let s = lib.scan(&mut store, &[&photos]);
    assert_eq!(s.updated, 1);
    assert_eq!(places(&store), 3);

    // Position removed (by another program, on this copy): the place tags go.
    let path = file.to_string_lossy().into_owned();
    exiftool_run(&["-overwrite_original", "-gps:all=", &path]);
    lib.scan(&mut store, &[&photos]);
    assert_eq!(places(&store), 0);
    assert!(found(&store, "tag:paris").is_empty());
}
