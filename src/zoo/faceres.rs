//! `faceres` (HSE FaceRes, A. Savchenko's MobileNet face network as shipped by
//! @vladmandic/human 3.3.6, MIT): a 1024-d face descriptor per face, the embedding that tells
//! whether two faces show the same person (the People feature), run from
//! its TensorFlow.js graph ([`super::tfjs`]), cut at `global_pooling/Mean` (the gender and age
//! heads after it are not computed).
//!
//! Each face comes from the labeler's own MTCNN detector ([`super::mtcnn`], shared stage
//! [`super::stages::FACES`]) and is aligned on its five landmarks ([`super::align`]) into a
//! 224×224 chip ([`CHIP`]); the chip goes in as NHWC RGB 0..255 (human's `enhance`: the 0..1
//! crop × 255; the manifest's scale, mean, std). The descriptor is L2-normalised, so the
//! cosine similarity of two faces is their dot product ([`cosine`]). Faces under
//! [`MIN_FACE_SIDE`] pixels or MTCNN score [`super::face_attr::MIN_FACE_SCORE`] are not
//! embedded: their descriptors are mostly noise and would only pollute the groups.
//! Main types: [`FaceRes`], [`FaceEmbedding`].

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use image::RgbImage;

use super::align::{ChipTemplate, aligned_chip};
use super::face_attr::{chip_box, face_crop, labelled_faces};
use super::graph::Graph;
use super::manifest::ModelSpec;
use super::mtcnn::{Face, Mtcnn};
use super::nudenet::relative_box;
use super::stages::{PhotoStages, StageScope};
use super::{Labeler, Prediction};
use crate::error::{Error, Result};

/// The graph node whose output is the descriptor (`[N, 1024]`).
pub const DESCRIPTOR: &str = "global_pooling/Mean";
/// Length of the descriptor.
pub const DIM: usize = 1024;
/// Chip framing: 224 px, ArcFace's template as it is. Measured with `examples/faces.rs` on
/// `../shared/faces`: zoom 1.0 and the padded detector box both separate the 7 people almost
/// perfectly (EER 0.2–0.3 %), looser framings do worse (0.8: 2.8 %, 0.65: 4.8 %, 0.5: 15 %).
pub const CHIP: ChipTemplate = ChipTemplate {
    size: 224,
    zoom: 1.0,
};
/// Smallest face (shorter side of the MTCNN box, photo pixels) that is embedded.
pub const MIN_FACE_SIDE: f32 = 24.0;
/// The label the labeler gives each face it embedded well enough to be grouped (its
/// confidence is the face's grouping quality, [`crate::people::quality`]): what the scheduler
/// values this model for, the faces that can get a person. Not a tag of its own (the
/// vocabulary ignores it): the person's name becomes the tag once the face is grouped.
pub const LABEL: &str = "recognisable face";
/// Key under which a run publishes its [`FacesFound`] for the store
/// ([`StageScope::publish`]).
pub const PUBLISHED: &str = "faceres.faces";

/// Every face a run embedded on a photo, published for the store (faces, then grouping).
#[derive(Debug, Clone, PartialEq)]
pub struct FacesFound {
    /// The upright photo's size in pixels (the faces' coordinates are on it).
    pub size: (u32, u32),
    pub faces: Vec<FaceEmbedding>,
}

/// One embedded face: the detection and its L2-normalised descriptor.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceEmbedding {
    pub face: Face,
    pub embedding: Vec<f32>,
}

/// Cosine similarity of two L2-normalised descriptors (their dot product), in −1..1.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `v` scaled to unit length (unchanged when it is zero).
pub fn l2_normalised(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

/// The face embedder (network + its own MTCNN detector).
#[derive(Debug)]
pub struct FaceRes {
    id: String,
    graph: Graph,
    mtcnn: Mtcnn,
    template: ChipTemplate,
    scale: f32,
    mean: [f32; 3],
    std: [f32; 3],
    /// Least grouping quality for a face's [`LABEL`].
    threshold: f32,
}

impl FaceRes {
    /// Loads the tfjs graph (`model.json` at `json`, weight shards `shards` in manifest order)
    /// and the MTCNN stages from `cache_dir`.
    pub fn load(
        spec: &ModelSpec,
        json: &Path,
        shards: &[PathBuf],
        cache_dir: &Path,
        device: &Device,
    ) -> Result<Self> {
        let model = super::tfjs::read_json(&spec.id, json, shards)?;
        let size = spec
            .input
            .fixed_size()
            .ok_or_else(|| Error::Manifest(format!("{}: input size is not fixed", spec.id)))?[0];
        if size != CHIP.size {
            return Err(Error::Manifest(format!(
                "{}: input side {size}, the chip is {}",
                spec.id, CHIP.size
            )));
        }
        let (mean, std) = spec.input.mean_std()?;
        Ok(FaceRes {
            id: spec.id.clone(),
            graph: model.graph(&spec.id, &[DESCRIPTOR], device)?,
            mtcnn: Mtcnn::load(cache_dir, device)?,
            template: CHIP,
            scale: spec.input.scale as f32,
            mean,
            std,
            threshold: spec.threshold,
        })
    }

    /// Loads `faceres` and the MTCNN stages from the weight cache `cache_dir` (sha256-checked;
    /// missing weights are [`Error::WeightsMissing`] naming `photolabel models fetch faceres`).
    pub fn load_cached(cache_dir: &Path, device: &Device) -> Result<Self> {
        let spec = super::Manifest::embedded()?.get("faceres")?;
        let json = super::weights::verify(cache_dir, spec)?;
        let shards = super::weights::extra_file_paths(cache_dir, spec);
        Self::load(spec, &json, &shards, cache_dir, device)
    }

    /// The same embedder framing its chips with `template` (for measurements).
    pub fn with_template(mut self, template: ChipTemplate) -> Self {
        self.template = ChipTemplate {
            size: CHIP.size,
            ..template
        };
        self
    }

    /// The network input for chips of the input size: NHWC `[N, 224, 224, 3]`, 0..255.
    pub fn input(&self, chips: &[RgbImage]) -> Tensor<4> {
        let s = self.template.size;
        let mut v = Vec::with_capacity(chips.len() * (s * s * 3) as usize);
        for chip in chips {
            let resized;
            let chip = if chip.dimensions() == (s, s) {
                chip
            } else {
                resized = super::resize::bilinear(chip, s, s);
                &resized
            };
            for px in chip.pixels() {
                for c in 0..3 {
                    v.push((f32::from(px.0[c]) * self.scale - self.mean[c]) / self.std[c]);
                }
            }
        }
        Tensor::from_data(
            TensorData::new(v, [chips.len(), s as usize, s as usize, 3]),
            self.graph.device(),
        )
    }

    /// L2-normalised descriptors of face chips, in order (one network run for all).
    pub fn embed_chips(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        if chips.is_empty() {
            return Ok(Vec::new());
        }
        let flat = self.graph.run_first_vec(self.input(chips))?;
        if flat.len() != chips.len() * DIM {
            return Err(Error::Inference {
                model: self.id.clone(),
                msg: format!(
                    "descriptor of {} values for {} faces, expected {DIM} each",
                    flat.len(),
                    chips.len()
                ),
            });
        }
        Ok(flat
            .chunks_exact(DIM)
            .map(|d| l2_normalised(d.to_vec()))
            .collect())
    }

    /// The aligned chip of `face` on `img`; a face without usable landmarks falls back to its
    /// squared, padded box ([`chip_box`], [`face_crop`]).
    pub fn chip(&self, img: &RgbImage, face: &Face) -> RgbImage {
        aligned_chip(img, &face.landmarks, &self.template)
            .unwrap_or_else(|| face_crop(img, &chip_box(&face.xyxy)))
    }

    /// Whether a detected face is worth embedding (score and size, see the module docs).
    pub fn embeddable(face: &Face) -> bool {
        let side = (face.xyxy[2] - face.xyxy[0]).min(face.xyxy[3] - face.xyxy[1]);
        side >= MIN_FACE_SIDE
    }

    /// The photo's faces ([`labelled_faces`] of the shared detection that are
    /// [`Self::embeddable`]) with their descriptors, best detection first.
    pub fn embed_faces(
        &self,
        img: &RgbImage,
        stages: &StageScope<'_>,
    ) -> Result<Vec<FaceEmbedding>> {
        let faces: Vec<Face> = labelled_faces(&self.mtcnn.faces_shared(img, stages)?)
            .into_iter()
            .filter(Self::embeddable)
            .collect();
        let chips: Vec<RgbImage> = faces.iter().map(|f| self.chip(img, f)).collect();
        let embeddings = self.embed_chips(&chips)?;
        Ok(faces
            .into_iter()
            .zip(embeddings)
            .map(|(face, embedding)| FaceEmbedding { face, embedding })
            .collect())
    }
}

impl Labeler for FaceRes {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        self.run_shared(img, &PhotoStages::new().scope())
    }

    /// A [`LABEL`] with its box per embedded face whose grouping quality reaches the
    /// threshold, best first; every embedded face with its descriptor is published for the
    /// store ([`PUBLISHED`], [`FacesFound`]), the low-quality ones too (they wait unsorted).
    fn run_shared(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<Prediction>> {
        let faces = self.embed_faces(img, stages)?;
        let mut labels: Vec<Prediction> = faces
            .iter()
            .map(|e| Prediction {
                label: LABEL.to_owned(),
                confidence: crate::people::quality(&e.face),
                bbox: Some(relative_box(&e.face.xyxy, img.width(), img.height())),
            })
            .filter(|p| p.confidence >= self.threshold)
            .collect();
        labels.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        stages.publish(
            PUBLISHED,
            FacesFound {
                size: img.dimensions(),
                faces,
            },
        );
        Ok(labels)
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FaceRes>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_normalised_vectors() {
        let a = l2_normalised(vec![3.0, 4.0]);
        assert!((a[0] - 0.6).abs() < 1e-6 && (a[1] - 0.8).abs() < 1e-6);
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-6);
        let b = l2_normalised(vec![-4.0, 3.0]);
        assert!(cosine(&a, &b).abs() < 1e-6);
        assert_eq!(l2_normalised(vec![0.0, 0.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn small_faces_are_not_embedded() {
        assert!(FaceRes::embeddable(&Face::new(
            [0.0, 0.0, 30.0, 40.0],
            0.99
        )));
        assert!(!FaceRes::embeddable(&Face::new(
            [0.0, 0.0, 20.0, 40.0],
            0.99
        )));
    }
}
