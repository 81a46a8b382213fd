//! XMP sidecars end to end (issue 16), with the real ExifTool as the other program: what we
//! export is what ExifTool reads in `dc:subject`, `digiKam:TagsList` and
//! `lr:hierarchicalSubject`; a sidecar ExifTool wrote keeps its fields and keywords through our
//! writes; keywords ExifTool embedded in a JPEG (IPTC, XMP) become searchable user tags; and no
//! original is ever changed by scan, label or export.
//!
//! ExifTool must be installed (Debian: libimage-exiftool-perl, which `.ci/run` installs): these
//! tests fail, never skip, without it.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::TempLib;
use photolabel::engine::{
    Command as EngineCommand, Engine, Event, LabelOutcome, LabelSettings, Labeller, Plugins,
};
use photolabel::fixtures;
use photolabel::label::write;
use photolabel::store::query::Query;
use photolabel::store::{NewLabel, Photo, Store};
use photolabel::xmp::{Naming, XmpOptions, sidecar_path};

fn exiftool() -> Command {
    let ok = Command::new("exiftool")
        .arg("-ver")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "ExifTool is missing: these tests read our sidecars with it; install it \
         (Debian/Ubuntu: apt-get install libimage-exiftool-perl)"
    );
    Command::new("exiftool")
}

/// Runs exiftool with `args`, asserting success; returns stdout.
fn exiftool_run(args: &[&str]) -> String {
    let out = exiftool().args(args).output().expect("run exiftool");
    assert!(
        out.status.success(),
        "exiftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The three keyword fields (and any other asked for) as ExifTool reads them from `file`.
fn read_fields(file: &Path, extra: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut args = vec![
        "-j",
        "-XMP-dc:Subject",
        "-XMP-digiKam:TagsList",
        "-XMP-lr:HierarchicalSubject",
    ];
    args.extend_from_slice(extra);
    let path = file.to_string_lossy().into_owned();
    args.push(&path);
    let json: serde_json::Value =
        serde_json::from_str(&exiftool_run(&args)).expect("exiftool json");
    let obj = json[0].as_object().expect("one file").clone();
    obj.into_iter()
        .filter(|(k, _)| k != "SourceFile")
        .map(|(k, v)| {
            let list = match v {
                serde_json::Value::Array(a) => a.iter().map(plain).collect(),
                other => vec![plain(&other)],
            };
            (k, list)
        })
        .collect()
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn cli(lib: &TempLib) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_photolabel"));
    c.env("PHOTOLABEL_DB", lib.db())
        .env("PHOTOLABEL_CACHE_DIR", lib.dir.path().join("cache"))
        .env("PHOTOLABEL_DATA_DIR", lib.dir.path().join("data"));
    c
}

/// Runs the CLI with `args` and fails the test, showing stderr, unless it succeeds.
fn run_ok(lib: &TempLib, args: &[&str]) -> std::process::Output {
    let out = cli(lib).args(args).output().expect("run");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write_jpeg(path: &Path, seed: u64) {
    let img = fixtures::pattern_image(64, 48, seed);
    let bytes = fixtures::jpeg_bytes(&img, Some(&fixtures::exif_for(seed)));
    std::fs::write(path, bytes).expect("write jpeg");
}

fn model(label: &str, confidence: f32) -> NewLabel {
    NewLabel {
        label: label.into(),
        model: "efficientnet_lite0".into(),
        confidence,
        bbox: None,
    }
}

/// "Labels" a photo as the labelling service does: its results through `label::write`.
fn label(store: &mut Store, photo: &Path, labels: &[NewLabel]) -> i64 {
    let id = store
        .photo_by_path(&std::fs::canonicalize(photo).expect("canon"))
        .expect("query")
        .expect("photo in library")
        .id;
    write::outcome(store, id, labels, &[], None, None).expect("write results");
    id
}

/// The tags we expect to export for a photo: its friendly tags and categories.
fn friendly_tags(store: &Store, id: i64, min: f32) -> Vec<String> {
    let mut tags: Vec<String> = store
        .photo_tags_for(id)
        .expect("tags")
        .into_iter()
        .filter(|t| t.kind != photolabel::vocab::TagKind::Raw)
        .filter(|t| t.model == "user" || t.confidence >= min)
        .map(|t| t.tag)
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

#[test]
fn exported_tags_are_read_by_exiftool_in_all_three_fields() {
    let lib = TempLib::new();
    let root = lib.photos();
    let photo = root.join("dog.jpg");
    write_jpeg(&photo, 1);
    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let id = label(
        &mut store,
        &photo,
        &[model("Golden Retriever", 0.9), model("tabby cat", 0.2)],
    );
    store.add_user_label(id, "grandpa").expect("user tag");
    let expected = friendly_tags(&store, id, 0.5);
    assert!(expected.contains(&"dog".to_string()), "{expected:?}");
    assert!(expected.contains(&"pet".to_string()), "{expected:?}");
    assert!(expected.contains(&"grandpa".to_string()), "{expected:?}");
    drop(store);

    run_ok(&lib, &["export-xmp", "--all"]);
    let side = sidecar_path(&std::fs::canonicalize(&photo).unwrap(), Naming::Ext);
    assert!(side.ends_with("dog.jpg.xmp"), "{}", side.display());
    let f = read_fields(&side, &[]);
    let subject = &f["Subject"];
    let tags_list = &f["TagsList"];
    let hier = &f["HierarchicalSubject"];
    for tag in &expected {
        assert!(subject.contains(tag), "{tag} not in Subject {subject:?}");
        assert!(
            tags_list
                .iter()
                .any(|p| p.starts_with("photolabel/") && p.split('/').any(|c| c == tag)),
            "{tag} not in TagsList {tags_list:?}"
        );
        assert!(
            hier.iter()
                .any(|p| p.starts_with("photolabel|") && p.split('|').any(|c| c == tag)),
            "{tag} not in HierarchicalSubject {hier:?}"
        );
    }
    // Below the confidence threshold, or a raw model class: not written.
    for absent in ["cat", "Golden Retriever", "tabby cat"] {
        assert!(
            !subject.iter().any(|s| s == absent),
            "{absent} in {subject:?}"
        );
    }
    // Categories lead to the tag: photolabel/…/pet/dog.
    assert!(
        tags_list.iter().any(|p| p.ends_with("/pet/dog")),
        "{tags_list:?}"
    );
    assert!(hier.iter().any(|p| p.ends_with("|pet|dog")), "{hier:?}");

    // --naming replace and a lower threshold: photo.xmp, with the cat this time.
    let root_arg = root.to_str().expect("a UTF-8 temp path");
    run_ok(
        &lib,
        &[
            "export-xmp",
            "--naming",
            "replace",
            "--min-confidence",
            "0.1",
            root_arg,
        ],
    );
    let f = read_fields(&root.join("dog.xmp"), &[]);
    assert!(f["Subject"].contains(&"cat".to_string()), "{f:?}");
}

#[test]
fn a_sidecar_exiftool_wrote_keeps_its_fields_and_only_our_old_tags_are_replaced() {
    let lib = TempLib::new();
    let root = lib.photos();
    let photo = root.join("beach.jpg");
    write_jpeg(&photo, 2);
    let side = sidecar_path(&photo, Naming::Ext);
    exiftool_run(&[
        "-XMP-dc:Title=Beach day",
        "-XMP-xmp:Rating=4",
        "-XMP-dc:Subject=holiday",
        "-XMP-digiKam:TagsList=Places/Seaside",
        "-o",
        &side.to_string_lossy(),
    ]);
    let before = read_fields(&side, &["-XMP-dc:Title", "-XMP-xmp:Rating"]);
    assert_eq!(before["Title"], ["Beach day"]);

    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let id = label(&mut store, &photo, &[model("Golden Retriever", 0.9)]);
    let opts = XmpOptions {
        write_on_label: true,
        ..Default::default()
    };
    // The hook labelling calls when "Write XMP sidecars" is on.
    let written = write::sidecar(&store, id, &opts).expect("sidecar");
    assert_eq!(
        written.as_deref(),
        Some(std::fs::canonicalize(&side).unwrap().as_path())
    );

    let f = read_fields(&side, &["-XMP-dc:Title", "-XMP-xmp:Rating"]);
    assert_eq!(f["Title"], ["Beach day"], "{f:?}");
    assert_eq!(f["Rating"], ["4"], "{f:?}");
    assert!(f["Subject"].contains(&"holiday".to_string()), "{f:?}");
    assert!(f["Subject"].contains(&"dog".to_string()), "{f:?}");
    assert!(
        f["TagsList"].contains(&"Places/Seaside".to_string()),
        "{f:?}"
    );
    assert!(f["TagsList"].iter().any(|p| p.ends_with("/dog")), "{f:?}");

    // The tags change (relabelled: a car now); a second export replaces ours only.
    label(&mut store, &photo, &[model("sports car", 0.8)]);
    drop(store);
    run_ok(&lib, &["export-xmp", "--all"]);
    let f = read_fields(&side, &["-XMP-dc:Title", "-XMP-xmp:Rating"]);
    assert_eq!(f["Title"], ["Beach day"], "{f:?}");
    assert_eq!(f["Rating"], ["4"], "{f:?}");
    assert!(f["Subject"].contains(&"holiday".to_string()), "{f:?}");
    assert!(f["Subject"].contains(&"car".to_string()), "{f:?}");
    for gone in ["dog", "pet"] {
        assert!(!f["Subject"].contains(&gone.to_string()), "{gone}: {f:?}");
        assert!(
            !f["TagsList"].iter().any(|p| p.contains(gone)),
            "{gone}: {f:?}"
        );
        assert!(
            !f["HierarchicalSubject"].iter().any(|p| p.contains(gone)),
            "{gone}: {f:?}"
        );
    }
    assert!(
        f["TagsList"].contains(&"Places/Seaside".to_string()),
        "{f:?}"
    );

    // A new library scanning the folder imports the others' keywords, not ours.
    let mut other = Store::open(&lib.dir.path().join("second.sqlite")).expect("open");
    lib.scan(&mut other, &[&root]);
    let p = other
        .photo_by_path(&std::fs::canonicalize(&photo).unwrap())
        .unwrap()
        .unwrap();
    let mut imported: Vec<(String, String)> = other
        .labels_for(p.id)
        .unwrap()
        .into_iter()
        .map(|l| (l.label, l.model))
        .collect();
    imported.sort();
    assert_eq!(
        imported,
        [
            ("Seaside".to_string(), "xmp".to_string()),
            ("holiday".to_string(), "xmp".to_string())
        ],
        "our own exported tags are not read back as someone else's"
    );
}

#[test]
fn embedded_iptc_and_xmp_keywords_become_searchable_user_tags_kept_through_relabelling() {
    let lib = TempLib::new();
    let root = lib.photos();
    let iptc = root.join("iptc.jpg");
    let xmp = root.join("xmp.jpg");
    write_jpeg(&iptc, 3);
    write_jpeg(&xmp, 4);
    exiftool_run(&[
        "-IPTC:Keywords=grandma",
        "-IPTC:Keywords=garden party",
        "-overwrite_original",
        &iptc.to_string_lossy(),
    ]);
    exiftool_run(&[
        "-XMP-dc:Subject=lighthouse",
        "-overwrite_original",
        &xmp.to_string_lossy(),
    ]);
    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let search = |store: &Store, q: &str| -> Vec<PathBuf> {
        let hits = store.search(&Query::parse(q).unwrap(), 10, 0).unwrap();
        hits.into_iter().map(|h| h.path).collect()
    };
    let iptc_abs = std::fs::canonicalize(&iptc).unwrap();
    let xmp_abs = std::fs::canonicalize(&xmp).unwrap();
    assert_eq!(search(&store, "grandma"), std::slice::from_ref(&iptc_abs));
    assert_eq!(search(&store, "garden"), std::slice::from_ref(&iptc_abs));
    assert_eq!(search(&store, "lighthouse"), std::slice::from_ref(&xmp_abs));
    let id = store.photo_by_path(&iptc_abs).unwrap().unwrap().id;
    let sources: Vec<(String, String)> = store
        .labels_for(id)
        .unwrap()
        .into_iter()
        .map(|l| (l.label, format!("{}/{:?}", l.model, l.source)))
        .collect();
    assert!(
        sources.contains(&("grandma".into(), "iptc/User".into())),
        "{sources:?}"
    );

    // Relabelling replaces model labels only.
    label(&mut store, &iptc, &[model("Golden Retriever", 0.9)]);
    assert_eq!(search(&store, "grandma"), std::slice::from_ref(&iptc_abs));
    assert_eq!(search(&store, "dog"), std::slice::from_ref(&iptc_abs));

    // A rescan, unchanged or with the file rewritten as it was (new mtime), never duplicates.
    lib.scan(&mut store, &[&root]);
    let bytes = std::fs::read(&iptc).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&iptc, &bytes).unwrap();
    let summary = lib.scan(&mut store, &[&root]);
    assert_eq!(summary.updated, 1, "{summary:?}");
    let grandmas = store
        .labels_for(id)
        .unwrap()
        .into_iter()
        .filter(|l| l.label == "grandma")
        .count();
    assert_eq!(grandmas, 1);
    assert_eq!(search(&store, "grandma"), [iptc_abs]);
}

#[test]
fn originals_are_unchanged_after_scan_label_and_export() {
    let lib = TempLib::new();
    let root = lib.photos();
    let paths = fixtures::generate_library(&root, 6, (48, 32)).unwrap();
    // One with embedded keywords, one with a foreign sidecar, one with a broken sidecar.
    exiftool_run(&[
        "-IPTC:Keywords=grandma",
        "-overwrite_original",
        &paths[0].to_string_lossy(),
    ]);
    exiftool_run(&[
        "-XMP-dc:Subject=holiday",
        "-o",
        &sidecar_path(&paths[1], Naming::Ext).to_string_lossy(),
    ]);
    let broken = sidecar_path(&paths[2], Naming::Ext);
    std::fs::write(&broken, "<x:xmpmeta><rdf:RDF>").unwrap();
    let hash = |p: &Path| {
        blake3::hash(&std::fs::read(p).unwrap())
            .to_hex()
            .to_string()
    };
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let before: Vec<(String, std::time::SystemTime)> =
        paths.iter().map(|p| (hash(p), mtime(p))).collect();

    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let opts = XmpOptions {
        write_on_label: true,
        ..Default::default()
    };
    let mut hook_errors = 0;
    for p in &paths {
        let id = label(&mut store, p, &[model("Golden Retriever", 0.9)]);
        hook_errors += usize::from(write::sidecar(&store, id, &opts).is_err());
    }
    assert_eq!(hook_errors, 1, "the broken sidecar only");
    drop(store);
    let out = cli(&lib)
        .args(["export-xmp", "--all"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "partial: {stderr}");
    assert!(stderr.contains("not valid XML"), "{stderr}");
    assert!(stderr.contains("IMG_000002.jpg.xmp"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap(),
        "<x:xmpmeta><rdf:RDF>",
        "a broken sidecar is left alone"
    );

    let after: Vec<(String, std::time::SystemTime)> =
        paths.iter().map(|p| (hash(p), mtime(p))).collect();
    assert_eq!(before, after, "no original was written");
    for p in paths.iter().filter(|p| !p.ends_with("IMG_000002.jpg")) {
        let f = read_fields(&sidecar_path(p, Naming::Ext), &[]);
        assert!(
            f["Subject"].contains(&"dog".to_string()),
            "{}: {f:?}",
            p.display()
        );
    }
    let f = read_fields(&sidecar_path(&paths[1], Naming::Ext), &[]);
    assert!(f["Subject"].contains(&"holiday".to_string()), "{f:?}");
}

/// Stands in for the models: a golden retriever on every photo; remembers whether the sidecar
/// setting ever reached it (it must not: changing it would reload the models).
struct DogLabeller {
    saw_xmp: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Labeller for DogLabeller {
    fn backend(&self) -> String {
        "test".into()
    }
    fn label(&mut self, _photo: &Photo, s: &LabelSettings) -> anyhow::Result<LabelOutcome> {
        if s.xmp != XmpOptions::default() {
            self.saw_xmp
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(LabelOutcome {
            labels: vec![model("Golden Retriever", 0.9)],
            runs: vec![],
            context: None,
            deadline_ms: None,
            faces: None,
        })
    }
}

#[test]
fn with_write_xmp_sidecars_on_the_app_writes_each_sidecar_as_the_photo_is_labelled() {
    let lib = TempLib::new();
    let root = lib.photos();
    let paths = fixtures::generate_library(&root, 3, (48, 32)).unwrap();
    let saw_xmp = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let plugins = Plugins {
        labeller: Some(Box::new(DogLabeller {
            saw_xmp: saw_xmp.clone(),
        })),
        trainer: None,
    };
    let engine = Engine::start(
        photolabel::config::Paths {
            db: lib.db(),
            cache_dir: lib.dir.path().join("cache"),
            data_dir: lib.dir.path().to_path_buf(),
        },
        plugins,
    )
    .unwrap();
    let settings = LabelSettings {
        xmp: XmpOptions {
            write_on_label: true,
            naming: Naming::Replace,
            min_confidence: 0.5,
        },
        ..LabelSettings::default()
    };
    engine.send(EngineCommand::ApplySettings(settings)).unwrap();
    engine
        .send(EngineCommand::AddPaths(vec![root.clone()]))
        .unwrap();
    let start = std::time::Instant::now();
    let mut done = 0;
    while done < paths.len() {
        match engine.try_recv() {
            Some(Event::LabellingDone { error, .. }) => {
                assert_eq!(error, None);
                done += 1;
            }
            Some(Event::Error(e)) => panic!("engine error: {e}"),
            Some(_) => {}
            None => {
                assert!(start.elapsed().as_secs() < 60, "timed out labelling");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
    for p in &paths {
        let side = sidecar_path(p, Naming::Replace);
        assert!(side.exists(), "no sidecar {}", side.display());
        let f = read_fields(&side, &[]);
        assert!(f["Subject"].contains(&"dog".to_string()), "{f:?}");
    }
    assert!(
        !saw_xmp.load(std::sync::atomic::Ordering::SeqCst),
        "the sidecar setting stays out of the labeller's settings"
    );
}

#[test]
fn keywords_added_to_a_sidecar_later_are_found_by_the_next_rescan_once() {
    let lib = TempLib::new();
    let root = lib.photos();
    let photo = root.join("later.jpg");
    write_jpeg(&photo, 5);
    let mut store = lib.store();
    lib.scan(&mut store, &[&root]);
    let abs = std::fs::canonicalize(&photo).unwrap();
    let id = label(&mut store, &photo, &[model("Golden Retriever", 0.9)]);
    let count = |store: &Store, word: &str| {
        store
            .search(&Query::parse(word).unwrap(), 10, 0)
            .unwrap()
            .len()
    };
    assert_eq!(count(&store, "sunset"), 0);
    // Another program tags the photo in its sidecar (the photo itself is unchanged). The
    // scan recorded the photo in this second: make the sidecar clearly newer.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let side = sidecar_path(&photo, Naming::Replace);
    exiftool_run(&["-XMP-dc:Subject=sunset", "-o", &side.to_string_lossy()]);
    let summary = lib.scan(&mut store, &[&root]);
    assert_eq!(summary.unchanged, 1, "{summary:?}");
    assert_eq!(count(&store, "sunset"), 1);
    assert_eq!(count(&store, "dog"), 1, "the model labels stay");
    lib.scan(&mut store, &[&root]);
    let sunsets: Vec<_> = store
        .labels_for(id)
        .unwrap()
        .into_iter()
        .filter(|l| l.label == "sunset")
        .map(|l| l.model)
        .collect();
    assert_eq!(sunsets, ["xmp"], "read once, never duplicated");
    assert_eq!(
        store.photo_by_path(&abs).unwrap().unwrap().label_status,
        photolabel::store::LabelStatus::Labelled,
        "a sidecar change is not a photo change: no relabelling"
    );
}

#[test]
fn keywords_exiftool_embeds_in_png_tiff_and_webp_photos_are_searchable() {
    let lib = TempLib::new();
    let root = lib.photos();
    let img = photolabel::fixtures::pattern_image(96, 64, 5);
    // (file, format, the field ExifTool writes, the keyword)
    let made = [
        (
            "shot.png",
            image::ImageFormat::Png,
            "XMP-dc:Subject",
            "aquarium",
        ),
        (
            "scan.tif",
            image::ImageFormat::Tiff,
            "XMP-dc:Subject",
            "wedding",
        ),
        (
            "pic.webp",
            image::ImageFormat::WebP,
            "XMP-dc:Subject",
            "canyon",
        ),
        (
            "old.tif",
            image::ImageFormat::Tiff,
            "IPTC:Keywords",
            "grandpa",
        ),
    ];
    for (name, format, field, word) in made {
        let path = root.join(name);
        image::DynamicImage::ImageRgb8(img.clone())
            .save_with_format(&path, format)
            .unwrap();
        let tag = format!("-{field}={word}");
        exiftool_run(&[&tag, "-overwrite_original", &path.to_string_lossy()]);
    }
    let mut store = lib.store();
    let s = lib.scan(&mut store, &[&root]);
    assert_eq!((s.new, s.failed), (4, 0), "{s:?}");
    for (name, _, _, word) in made {
        let hits = store.search(&Query::parse(word).unwrap(), 10, 0).unwrap();
        let found: Vec<PathBuf> = hits.into_iter().map(|h| h.path).collect();
        let want = std::fs::canonicalize(root.join(name)).unwrap();
        assert_eq!(found, vec![want], "{word}");
    }
}
