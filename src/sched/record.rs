//! Recording traces (`photolabel trace DIR --out FILE`): every model on every photo of a folder,
//! with outputs and measured time, appended photo by photo so an interrupted recording keeps
//! what it did. The ground truth for training and evaluating the scheduler.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::context::context;
use super::trace::{ModelRun, Output, PhotoTrace, TraceHeader, TraceModel, TraceWriter};
use crate::error::{Error, Result};
use crate::scan::{detect, exif, thumb, walk};
use crate::store::PhotoMeta;
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
    let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read photo", path, e))?;
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

/// Runs one model on an image, timing it.
pub fn run_model(model: &dyn Labeler, image: &image::RgbImage) -> ModelRun {
    let t = Instant::now();
    let result = model.run(image);
    let time_ms = t.elapsed().as_secs_f64() * 1e3;
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
        },
        Err(e) => ModelRun {
            model: model.id().to_string(),
            time_ms,
            peak_mem_bytes: None,
            outputs: Vec::new(),
            error: Some(format!("{e:#}")),
        },
    }
}

/// What a recording did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RecordSummary {
    pub photos: usize,
    pub failed: usize,
    pub seconds: f64,
}

/// Records every model in `models` (with the given trace metadata) on every image under
/// `dir` into `out`. `progress(done, total)` is called after each photo.
pub fn record(
    dir: &Path,
    models: &[Box<dyn Labeler>],
    meta: Vec<TraceModel>,
    device: String,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<RecordSummary> {
    let start = Instant::now();
    let files = images_under(dir);
    let mut writer = TraceWriter::create(out, &TraceHeader::new(device, meta))?;
    let mut summary = RecordSummary::default();
    // Warm every model once so first-run compilation does not count as its cost.
    if let Some(first) = files.first()
        && let Ok(p) = decode_photo(first)
    {
        for m in models {
            let _ = m.run(&p.image);
        }
    }
    for (i, path) in files.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        match decode_photo(path) {
            Ok(p) => {
                let runs = models
                    .iter()
                    .map(|m| run_model(m.as_ref(), &p.image))
                    .collect();
                let rel = path.strip_prefix(dir).unwrap_or(path);
                writer.append(&PhotoTrace {
                    photo: rel.to_string_lossy().into_owned(),
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
