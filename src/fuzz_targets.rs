//! Entry points for fuzzing every parser of outside data: photos (detection, header and
//! dimension checks, EXIF, embedded XMP/IPTC, thumbnail decode), search queries, scheduler
//! traces, ONNX protobufs, tfjs `model.json`/manifests (and nsfwjs' JS-wrapped ones) and XMP
//! packets. A user's library and cache can hold anything, so none of these may panic, hang or
//! allocate without bound on any input.
//!
//! Both fuzzers call these same functions, so they cannot drift apart: the AFL++ targets in
//! `fuzz/` (instrumented, run by hand or nightly, see `fuzz/README.md`) and the uninstrumented
//! short run `tests/fuzz_smoke.rs` in the ordinary test suite. Each takes arbitrary bytes,
//! returns nothing and panics only on a bug (including the few invariants asserted here).

use std::io::Cursor;
use std::path::Path;

use crate::scan::{detect, exif, thumb};
use crate::sched::trace::Trace;
use crate::store::PhotoMeta;
use crate::store::query::{FtsPlan, Query, fold_words};
use crate::xmp::{dom, merge, read};
use crate::zoo::onnx::OnnxWeights;
use crate::zoo::tfjs::{TfjsModel, js_literal, translate};

/// A fuzz target: any bytes in, a panic only on a bug.
pub type Target = fn(&[u8]);

/// Every target by name (the names of the AFL binaries and of the seed corpus folders).
pub const TARGETS: &[(&str, Target)] = &[
    ("photo", photo),
    ("thumbnail", thumbnail),
    ("query", query),
    ("trace", trace),
    ("onnx", onnx),
    ("tfjs", tfjs),
    ("xmp", xmp),
];

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A file's content as the scanner examines it: detection by magic bytes, completeness and
/// header dimensions (bombs refused), EXIF, place tags, embedded XMP and IPTC keywords.
pub fn photo(data: &[u8]) {
    let head = &data[..data.len().min(detect::SNIFF_LEN)];
    let detect::Detected::Image(format) = detect::detect(head) else {
        return;
    };
    if let Ok(meta) = crate::scan::examine_image(data, format) {
        assert!(meta.width > 0 && meta.height > 0, "{meta:?}");
        assert!(u64::from(meta.width) * u64::from(meta.height) <= detect::MAX_PIXELS);
        if let (Some(lat), Some(lon)) = (meta.latitude, meta.longitude) {
            assert!(lat.abs() <= 90.0 && lon.abs() <= 180.0, "{lat} {lon}");
        }
    }
    for k in read::embedded_keywords(data) {
        assert!(!k.keyword.trim().is_empty());
    }
}

/// A photo decoded for its thumbnail (JPEGs at a DCT scale, other formats whole), turned
/// upright by its EXIF orientation and encoded as the cached JPEG. Not gated by
/// [`photo`]'s checks: the decoders must refuse bombs by themselves.
pub fn thumbnail(data: &[u8]) {
    let head = &data[..data.len().min(detect::SNIFF_LEN)];
    let detect::Detected::Image(format) = detect::detect(head) else {
        return;
    };
    let mut meta = PhotoMeta::default();
    exif::read_exif(data, &mut meta);
    if let Ok(jpeg) = thumb::make_thumbnail(data, format, meta.orientation) {
        let small = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
            .expect("a thumbnail we encoded decodes");
        assert!(small.width().max(small.height()) <= thumb::THUMB_SIZE);
    }
}

/// A search query as typed: parsed, compiled to an FTS5 `MATCH` string, resolved against
/// words and evaluated against tags made of its own words.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(mut q) = Query::parse(&text) else {
        return;
    };
    let words = fold_words(&text);
    for plan in [
        q.fts_plan(),
        q.fts_plan_with(&|w| Some(words.iter().filter(|x| x.starts_with(w)).cloned().collect())),
    ] {
        if let FtsPlan::Matching(s) | FtsPlan::NotMatching(s) = plan {
            // Terms are quoted folded words: quotes must pair up or FTS5 reads something else.
            assert!(
                s.matches('"').count() % 2 == 0,
                "unbalanced quotes in {s:?}"
            );
            assert_eq!(s.matches('(').count(), s.matches(')').count(), "{s:?}");
        }
    }
    let tags: Vec<(Vec<String>, f32)> = words
        .chunks(2)
        .enumerate()
        .map(|(i, w)| (w.to_vec(), (i % 10) as f32 / 10.0))
        .collect();
    let before = q.matches(&tags);
    q.resolve_words(&|w| words.iter().any(|x| x == w));
    let _ = q.matches(&tags);
    let _ = before;
    for t in q.positive_terms() {
        let _ = t.matches_words(&words);
    }
}

/// A scheduler trace file (JSON lines), then the summaries the scheduler computes from it.
pub fn trace(data: &[u8]) {
    let Ok(t) = Trace::parse(Cursor::new(data), Path::new("fuzz.jsonl")) else {
        return;
    };
    for p in &t.photos {
        for r in &p.runs {
            let _ = p.charge(r, r.stages.first().map(|s| s.stage.as_str()), false);
        }
    }
    let (a, b) = t.split(0.5, 7);
    assert_eq!(a.photos.len() + b.photos.len(), t.photos.len());
}

/// An ONNX model file (protobuf) as the model cache holds it.
pub fn onnx(data: &[u8]) {
    let Ok(w) = OnnxWeights::parse(data) else {
        return;
    };
    let _ = (w.data_inputs(), w.op_types(), w.metadata("character"));
}

/// A tfjs graph model: `model.json` text, a NUL byte, then the weight shards' bytes (one
/// input covers both, as the loader concatenates the shards). The text is also read the way
/// nsfwjs' JavaScript-wrapped model and base64 shards are. A model that parses is translated
/// to the executor's graph up to its last node.
pub fn tfjs(data: &[u8]) {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (json, weights) = (&data[..split], data.get(split + 1..).unwrap_or(&[]));
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) {
        let _ = TfjsModel::shard_names(&value);
        model(&value, weights);
    }
    let text = String::from_utf8_lossy(json);
    if let Ok(value) = js_literal::object_after(&text, "exports=") {
        let _ = TfjsModel::shard_names(&value);
        model(&value, weights);
    }
    if let Ok(b64) = js_literal::string_after(&text, "exports=") {
        let _ = js_literal::base64_decode(&b64);
    }
    let _ = js_literal::base64_decode(&text);
}

fn model(value: &serde_json::Value, weights: &[u8]) {
    let Ok(m) = TfjsModel::from_parts(value, weights) else {
        return;
    };
    if let Some(last) = m.nodes.last() {
        let _ = translate::translate(&m, &[last.name.as_str()]);
    }
}

/// An XMP packet (sidecar or embedded): parsed, its keywords read, our tags merged in and the
/// result written; what we write must parse again and keep the keywords other programs put.
pub fn xmp(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(mut doc) = dom::parse(&text) else {
        return;
    };
    let _ = merge::read_fields(&doc);
    let foreign = merge::foreign_keywords(&doc);
    let tags = merge::OurTags {
        flat: vec!["dog".into(), "beach".into()],
        paths: vec![vec!["animal".into(), "dog".into()]],
    };
    if merge::merge(&mut doc, &tags).is_ok() {
        let written = dom::write(&doc);
        let again = dom::parse(&written)
            .unwrap_or_else(|e| panic!("our own sidecar does not parse ({e}): {written:?}"));
        let kept: Vec<String> = merge::foreign_keywords(&again)
            .iter()
            .map(|k| k.to_lowercase())
            .collect();
        for k in &foreign {
            assert!(kept.contains(&k.to_lowercase()), "lost {k:?}: {written:?}");
        }
    }
}
