//! Recording traces (`photolabel trace DIR --out FILE`): every model on every photo of a folder,
//! with outputs and measured time, appended photo by photo so an interrupted recording keeps
//! what it did. The ground truth for training and evaluating the scheduler.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::context::context;
use super::trace::{ModelRun, Output, PhotoTrace, Trace, TraceHeader, TraceModel, TraceWriter};
use crate::error::{Error, Result};
use crate::scan::{detect, exif, thumb, walk};
use crate::store::PhotoMeta;
use crate::zoo::stages::PhotoStages;
use crate::zoo::{DECODE_MIN_SIDE, Labeler};

/// Image files under `dir` (by content), sorted so traces are deterministic.
pub fn images_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk::walk(dir, false, |item| {
        if let walk::WalkItem::File(f) = item {
            let mut head = [0u8; detect::SNIFF_LEN];
            let n = std::fs::File::open(&f.path)
                .and_then(|mut file| std::io::Read::read(&mut file, &mut head))
                .unwrap_or(0);
            if matches!(detect::detect(&head[..n]), detect::Detected::Image(_)) {
                out.push(f.path);
            }
        }
        true
    });
    out.sort();
    out
}

/// A photo decoded for the models, with its metadata.
pub struct DecodedPhoto {
    pub image: image::RgbImage,
    pub meta: PhotoMeta,
    pub hash: String,
}

/// Reads, hashes, decodes (upright) and reads EXIF of a photo.
pub fn decode_photo(path: &Path) -> Result<DecodedPhoto> {
    let bytes =
        crate::scan::read::read_photo(path).map_err(|e| Error::io("cannot read photo", path, e))?;
    let err = |msg: String| Error::Image {
        msg,
        path: path.to_path_buf(),
    };
    let format = match detect::detect(&bytes) {
        detect::Detected::Image(f) => f,
        _ => return Err(err("not a supported image".into())),
    };
    let mut meta = PhotoMeta::default();
    exif::read_exif(&bytes, &mut meta);
    let (w, h) = thumb::header_dimensions(&bytes, format).map_err(err)?;
    meta.width = w;
    meta.height = h;
    meta.format = format.name().into();
    let image = thumb::decode_upright(&bytes, format, meta.orientation, DECODE_MIN_SIDE)
        .map_err(err)?
        .to_rgb8();
    Ok(DecodedPhoto {
        image,
        meta,
        hash: blake3::hash(&bytes).to_hex().to_string(),
    })
}

/// Runs one model on an image, timing it. A model that panics (a lost wgpu device, a bug in an
/// op) is caught here, at the run boundary: the run fails with the panic's message and the
/// other models go on.
///
/// `stages` are the photo's shared stages: what this run computes there is recorded with it
/// ([`ModelRun::stages`]), and what earlier runs computed is reused.
pub fn run_model(model: &dyn Labeler, image: &image::RgbImage, stages: &PhotoStages) -> ModelRun {
    let t = Instant::now();
    let scope = stages.scope();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        model.run_shared(image, &scope)
    }))
    .unwrap_or_else(|payload| {
        let msg = panic_message(payload.as_ref());
        Err(Error::Model(format!("{PANIC_PREFIX}{msg}")))
    });
    let time_ms = t.elapsed().as_secs_f64() * 1e3;
    let stages = scope.into_computed();
    match result {
        Ok(preds) => ModelRun {
            model: model.id().to_string(),
            time_ms,
            peak_mem_bytes: None,
            outputs: preds
                .into_iter()
                .map(|p| Output {
                    label: p.label,
                    confidence: p.confidence,
                    bbox: p.bbox,
                })
                .collect(),
            error: None,
            stages,
        },
        Err(e) => ModelRun {
            model: model.id().to_string(),
            time_ms,
            peak_mem_bytes: None,
            outputs: Vec::new(),
            error: Some(format!("{e:#}")),
            stages,
        },
    }
}

/// A stage that a reused run of the same photo already recorded is charged there: a new run
/// that computed it again (its results were not kept) keeps only its own time, so each stage
/// counts once per photo.
fn forget_recorded_stages(run: &mut ModelRun, earlier: &[ModelRun]) {
    run.stages.retain(|st| {
        let recorded = earlier
            .iter()
            .flat_map(|r| &r.stages)
            .any(|e| e.stage == st.stage);
        if recorded {
            run.time_ms = (run.time_ms - st.time_ms).max(0.0);
        }
        !recorded
    });
}

/// How the error of a run that panicked starts (see [`run_model`]).
pub const PANIC_PREFIX: &str = "the model panicked: ";

/// The text of a panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// What a recording did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RecordSummary {
    pub photos: usize,
    pub failed: usize,
    /// Photos found in the reused trace (only their missing models ran).
    pub reused: usize,
    pub seconds: f64,
}

/// Records every model in `models` (with the given trace metadata) on every image under
/// `dir` into `out`. `progress(done, total)` is called after each photo.
///
/// With `reuse` (an earlier trace of the same folder), a photo recorded there with the same
/// relative path and content hash keeps the runs it has for models in `models`, and only the
/// missing models run: adding a model to the zoo extends a trace without re-running the others.
#[allow(clippy::too_many_arguments)]
pub fn record(
    dir: &Path,
    models: &[Box<dyn Labeler>],
    meta: Vec<TraceModel>,
    device: String,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
    reuse: Option<&Trace>,
) -> Result<RecordSummary> {
    let start = Instant::now();
    let files = images_under(dir);
    let mut writer = TraceWriter::create(out, &TraceHeader::new(device, meta))?;
    let mut summary = RecordSummary::default();
    let earlier: HashMap<(&str, &str), &PhotoTrace> = reuse
        .map(|t| {
            t.photos
                .iter()
                .map(|p| ((p.photo.as_str(), p.hash.as_str()), p))
                .collect()
        })
        .unwrap_or_default();
    // Warm every model once so first-run compilation does not count as its cost.
    if let Some(first) = files.first()
        && let Ok(p) = decode_photo(first)
    {
        for m in models {
            let _ = m.run(&p.image);
        }
        // Stages are shared from here on: a photo's first model needing one computes it.
    }
    for (i, path) in files.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        match decode_photo(path) {
            Ok(p) => {
                let rel = path.strip_prefix(dir).unwrap_or(path);
                let rel = rel.to_string_lossy().into_owned();
                let before = earlier.get(&(rel.as_str(), p.hash.as_str()));
                let stages = PhotoStages::new();
                let mut runs: Vec<ModelRun> = Vec::with_capacity(models.len());
                for m in models {
                    let reused = before.and_then(|b| b.runs.iter().find(|r| r.model == m.id()));
                    let run = match reused {
                        Some(r) => r.clone(),
                        None => {
                            let mut run = run_model(m.as_ref(), &p.image, &stages);
                            forget_recorded_stages(&mut run, &runs);
                            run
                        }
                    };
                    runs.push(run);
                }
                if before.is_some() {
                    summary.reused += 1;
                }
                writer.append(&PhotoTrace {
                    photo: rel,
                    hash: p.hash,
                    context: context(&p.meta, Some(&p.image)),
                    runs,
                })?;
                summary.photos += 1;
            }
            Err(e) => {
                log::warn!("{e:#}");
                summary.failed += 1;
            }
        }
        progress(i + 1, files.len());
    }
    writer.finish()?;
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    /// A labeler that counts its runs (tests the recorder's bookkeeping, not a model).
    struct Counting {
        id: &'static str,
        runs: Arc<AtomicUsize>,
    }

    impl Labeler for Counting {
        fn id(&self) -> &str {
            self.id
        }
        fn run(&self, _img: &image::RgbImage) -> Result<Vec<crate::zoo::Prediction>> {
            self.runs.fetch_add(1, Ordering::Relaxed);
            Ok(vec![crate::zoo::Prediction {
                label: format!("{} label", self.id),
                confidence: 0.9,
                bbox: None,
            }])
        }
    }

    fn counting(id: &'static str) -> (Box<dyn Labeler>, Arc<AtomicUsize>) {
        let runs = Arc::new(AtomicUsize::new(0));
        let m = Counting {
            id,
            runs: runs.clone(),
        };
        (Box::new(m), runs)
    }

    fn meta(ids: &[&str]) -> Vec<TraceModel> {
        ids.iter()
            .map(|id| TraceModel {
                id: (*id).to_owned(),
                family: "test".into(),
                threshold: 0.5,
            })
            .collect()
    }

    #[test]
    fn extending_a_trace_runs_only_the_missing_models() {
        let dir = tempfile::tempdir().unwrap();
        let photos = dir.path().join("photos");
        crate::fixtures::generate_library(&photos, 3, (64, 48)).unwrap();
        let cancel = AtomicBool::new(false);
        let first = dir.path().join("a.jsonl");
        let (m1, _) = counting("m1");
        let s = record(
            &photos,
            &[m1],
            meta(&["m1"]),
            "cpu".into(),
            &first,
            &mut |_, _| {},
            &cancel,
            None,
        )
        .unwrap();
        assert_eq!((s.photos, s.reused), (3, 0));
        let old = Trace::read(&first).unwrap();

        // One photo changes content: it is recorded afresh for every model.
        let changed = images_under(&photos)[0].clone();
        let img = crate::fixtures::pattern_image(64, 48, 99);
        std::fs::write(&changed, crate::fixtures::jpeg_bytes(&img, None)).unwrap();
        let (m1, runs1) = counting("m1");
        let (m2, runs2) = counting("m2");
        let second = dir.path().join("b.jsonl");
        let s = record(
            &photos,
            &[m1, m2],
            meta(&["m1", "m2"]),
            "cpu".into(),
            &second,
            &mut |_, _| {},
            &cancel,
            Some(&old),
        )
        .unwrap();
        assert_eq!((s.photos, s.reused), (3, 2));
        // One warm-up run each, then m1 only on the changed photo, m2 on all three.
        assert_eq!(runs1.load(Ordering::Relaxed), 1 + 1);
        assert_eq!(runs2.load(Ordering::Relaxed), 1 + 3);
        let t = Trace::read(&second).unwrap();
        assert_eq!(t.header.models.len(), 2);
        for p in &t.photos {
            let ids: Vec<&str> = p.runs.iter().map(|r| r.model.as_str()).collect();
            assert_eq!(ids, ["m1", "m2"]);
            match old
                .photos
                .iter()
                .find(|o| o.photo == p.photo && o.hash == p.hash)
            {
                // Unchanged photos keep the earlier m1 run exactly (same measured time).
                Some(o) => assert_eq!(p.runs[0], o.runs[0]),
                None => assert!(changed.ends_with(&p.photo)),
            }
        }
    }
}
