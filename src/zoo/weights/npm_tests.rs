//! Fetch tests of multi-file models from npm tarballs (a TensorFlow.js `model.json` plus weight
//! shards) with a fake `npm pack`: every file lands in the model's cache directory, checked;
//! hostile tarballs and a wrong pin are refused with nothing extracted; one corrupt shard
//! fails [`verify`] and the next fetch repairs it from the cached tarball.

use std::path::PathBuf;

use super::fixtures::{
    Format, Item, Item::File as F, Item::Symlink, fetch_msg, fetch_serving, files_under,
    pkg_archive, sha, spec_for, tar_gz_bytes,
};
use super::*;
use crate::zoo::manifest::ExtraFile;

const MODEL_JSON: &[u8] = br#"{"weightsManifest":[{"paths":["a.bin","b.bin"]}]}"#;
const SHARD_A: &[u8] = b"shard a bytes";
const SHARD_B: &[u8] = b"shard b, longer bytes";

/// The files of a good three-file model tarball, with unrelated package files around them.
fn good_items() -> Vec<Item<'static>> {
    vec![
        F("package/package.json", b"{}"),
        F("package/models/m.json", MODEL_JSON),
        F("package/models/b.bin", SHARD_B),
        F("package/models/a.bin", SHARD_A),
        F("package/dist/index.js", b"module.exports = 1"),
    ]
}

/// A manifest entry for the model `m.json` + `a.bin` + `b.bin` in the npm tarball `tarball`.
fn multi_spec(tarball: &[u8]) -> ModelSpec {
    let mut spec = spec_for(Format::Npm, tarball);
    spec.source_path = "package/models/m.json".into();
    spec.source_sha256 = sha(MODEL_JSON);
    spec.source_size = MODEL_JSON.len() as u64;
    spec.file = "m.json".into();
    spec.sha256 = spec.source_sha256.clone();
    spec.size = spec.source_size;
    spec.format = "tfjs".into();
    spec.extra_files = [("a.bin", SHARD_A), ("b.bin", SHARD_B)]
        .into_iter()
        .map(|(file, bytes)| ExtraFile {
            source_path: format!("package/models/{file}"),
            file: file.into(),
            sha256: sha(bytes),
            size: bytes.len() as u64,
        })
        .collect();
    spec
}

fn cached(names: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = names
        .iter()
        .map(|n| PathBuf::from("cache/models/fake").join(n))
        .chain([pkg_archive(Format::Npm)])
        .collect();
    files.sort();
    files
}

#[test]
fn fetches_every_file_of_a_multi_file_npm_model_in_manifest_order() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let tarball = tar_gz_bytes(&good_items());
    let spec = multi_spec(&tarball);
    let mut steps = Vec::new();
    let mut calls = 0;
    let mut download = |spec: &ModelSpec, dir: &Path| {
        calls += 1;
        std::fs::write(dir.join(&spec.archive_file), &tarball).map_err(|e| e.to_string())
    };
    let path = fetch_using(&cache, &spec, &mut |s| steps.push(s), &mut download).unwrap();
    assert_eq!(calls, 1);
    assert_eq!(steps, [FetchStep::Downloading, FetchStep::Extracting]);
    assert_eq!(path, weight_path(&cache, &spec));
    assert_eq!(std::fs::read(&path).unwrap(), MODEL_JSON);
    let extras = extra_file_paths(&cache, &spec);
    assert_eq!(
        extras,
        [
            cache.join("models/fake/a.bin"),
            cache.join("models/fake/b.bin")
        ]
    );
    assert_eq!(std::fs::read(&extras[0]).unwrap(), SHARD_A);
    assert_eq!(std::fs::read(&extras[1]).unwrap(), SHARD_B);
    // Only the model's files and the tarball: no `.part`, no other package file.
    assert_eq!(
        files_under(tmp.path()),
        cached(&["a.bin", "b.bin", "m.json"])
    );
    assert_eq!(verify(&cache, &spec).unwrap(), path);
}

#[test]
fn a_corrupt_or_missing_extra_file_fails_verify_and_fetch_repairs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let tarball = tar_gz_bytes(&good_items());
    let spec = multi_spec(&tarball);
    fetch_serving(&cache, &spec, &tarball).0.unwrap();
    let shard_b = extra_file_paths(&cache, &spec).remove(1);

    std::fs::write(&shard_b, b"shard b, LONGER bytes").unwrap();
    let err = verify(&cache, &spec).unwrap_err();
    assert!(
        matches!(&err, Error::WeightsCorrupt { path, expected, .. }
            if *path == shard_b && *expected == sha(SHARD_B)),
        "{err}"
    );
    assert!(err.to_string().contains("photolabel models fetch fake"));
    // Repaired from the cached tarball, which is re-checked, without a download.
    let (result, calls) = fetch_serving(&cache, &spec, b"never served");
    result.unwrap();
    assert_eq!(calls, 0);
    assert_eq!(std::fs::read(&shard_b).unwrap(), SHARD_B);

    std::fs::remove_file(&shard_b).unwrap();
    let err = verify(&cache, &spec).unwrap_err();
    assert!(
        matches!(&err, Error::WeightsMissing { path, .. } if *path == shard_b),
        "{err}"
    );
    fetch_serving(&cache, &spec, b"never served").0.unwrap();
    verify(&cache, &spec).unwrap();
    assert_eq!(
        files_under(tmp.path()),
        cached(&["a.bin", "b.bin", "m.json"])
    );
}

#[test]
fn refuses_a_hostile_npm_tarball_and_writes_none_of_the_model() {
    let evil: Vec<(&str, Vec<Item<'static>>)> = vec![
        ("traversal", vec![F("package/../../../evil", b"pwned")]),
        ("absolute", vec![F("/tmp/photolabel-evil", b"pwned")]),
        // A shard that is a link: a naive extractor would write through it or copy its target.
        (
            "symlink shard",
            vec![Symlink("package/models/a.bin", "/etc/passwd")],
        ),
    ];
    for (what, extra) in evil {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        // The hostile entry after the good ones (and, for the link, in place of shard a).
        let mut items: Vec<Item<'static>> = good_items()
            .into_iter()
            .filter(|i| !(what == "symlink shard" && matches!(i, F("package/models/a.bin", _))))
            .collect();
        items.extend(extra);
        let tarball = tar_gz_bytes(&items);
        let spec = multi_spec(&tarball);
        let msg = fetch_msg(fetch_serving(&cache, &spec, &tarball).0);
        assert!(
            msg.contains("refusing the archive") || msg.contains("not a regular file"),
            "{what}: {msg}"
        );
        // Not even the files extracted before the hostile entry was met are left.
        assert_eq!(
            files_under(tmp.path()),
            [pkg_archive(Format::Npm)],
            "{what}"
        );
    }
}

#[test]
fn refuses_an_npm_tarball_whose_sha256_is_not_the_pinned_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let good = tar_gz_bytes(&good_items());
    let spec = multi_spec(&good);
    // Same model files, one more script in the package.
    let mut items = good_items();
    items.push(F("package/install.js", b"require('child_process')"));
    let other = tar_gz_bytes(&items);
    let (result, calls) = fetch_serving(&cache, &spec, &other);
    let msg = fetch_msg(result);
    assert_eq!(calls, 1);
    assert!(
        msg.contains(&sha(&other)) && msg.contains(&spec.archive_sha256),
        "{msg}"
    );
    assert!(msg.contains("deleted it unopened"), "{msg}");
    assert_eq!(files_under(tmp.path()), Vec::<PathBuf>::new());
}

#[test]
fn an_extra_file_that_differs_from_its_pin_keeps_the_old_files_and_writes_no_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let tarball = tar_gz_bytes(&good_items());
    let mut spec = multi_spec(&tarball);
    spec.extra_files[1].sha256 = sha(b"another shard");
    let err = fetch_serving(&cache, &spec, &tarball).0.unwrap_err();
    assert!(
        matches!(&err, Error::WeightsCorrupt { expected, found, .. }
            if *expected == sha(b"another shard") && *found == sha(SHARD_B)),
        "{err}"
    );
    assert_eq!(files_under(tmp.path()), [pkg_archive(Format::Npm)]);
    // Larger than its manifest size: refused while copying.
    let mut spec = multi_spec(&tarball);
    spec.extra_files[0].size = 3;
    let msg = fetch_msg(fetch_serving(&cache, &spec, &tarball).0);
    assert!(msg.contains("package/models/a.bin is 13 bytes"), "{msg}");
    assert_eq!(files_under(tmp.path()), [pkg_archive(Format::Npm)]);
}

#[test]
fn extra_file_names_must_be_plain_and_distinct() {
    let tarball = tar_gz_bytes(&good_items());
    for bad in [
        "../a.bin",
        "sub/a.bin",
        "m.json",
        "b.bin",
        "a.bin.part",
        "fake.bpk",
        "",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut spec = multi_spec(&tarball);
        spec.extra_files[0].file = bad.into();
        let (result, calls) = fetch_serving(&tmp.path().join("cache"), &spec, &tarball);
        let msg = fetch_msg(result);
        assert!(
            msg.contains("file name") || msg.contains("twice"),
            "{bad}: {msg}"
        );
        assert_eq!(calls, 0, "{bad}");
        assert_eq!(files_under(tmp.path()), Vec::<PathBuf>::new(), "{bad}");
    }
}
