//! `emotion_human` (Oarriaga's mini-Xception trained on FER-2013, as shipped by
//! @vladmandic/human 3.3.6, MIT): facial expression per face, family `face_attr`, run from its
//! TensorFlow.js graph ([`super::tfjs`]).
//!
//! Like [`super::face_attr`], each face comes from the labeler's own MTCNN detector
//! ([`super::mtcnn`], the `mtcnn_*` weights), squared with [`chip_box`] and cropped with
//! [`face_crop`] (20 % margin each side: 1.4× the square, human's BlazeFace `scale` too). The crop
//! is resized to 64×64 (triangle filter), turned grey on 0..1 with human's weights
//! (`0.2989 R + 0.5870 G + 0.1140 B`, src/tfjs/constants.ts) and mapped to −1..1 (the manifest's
//! mean 0.5, std 0.5); the graph ends in a softmax over angry, disgust, fear, happy, sad,
//! surprise, neutral. **The cost includes a full MTCNN detection**, as for the other face
//! attributes.
//!
//! FER-2013 is 48×48 grey webcam-style faces and the network is small: it is weak on photos.
//! Measured on the 123 MTCNN faces of `../shared/faces` and coco128 (crops looked at one by
//! one): of `happy` ≥ 0.9, 32 of 34 are smiles (the misses: a neutral face with red lipstick, a
//! surprised one); of `happy` between 0.5 and 0.9 a third or more are wrong (lipstick, blurred
//! or non-faces, helmets); all 16 other expressions ≥ 0.5 (sad, angry, fear) were wrong and
//! none reached 0.9. Hence the manifest threshold 0.9: in practice the labeler says `happy`,
//! and `neutral`, which the vocabulary ignores. Each prediction carries the face box. Main
//! type: [`Emotion`].

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use image::RgbImage;

use super::face_attr::{chip_box, face_crop, labelled_faces};
use super::graph::Graph;
use super::manifest::ModelSpec;
use super::mtcnn::{Face, Mtcnn};
use super::nudenet::relative_box;
use super::stages::{PhotoStages, StageScope};
use super::{Labeler, Prediction};
use crate::error::{Error, Result};

/// The graph's output node (softmax over the 7 expressions).
pub const OUTPUT: &str = "Identity";
/// RGB weights of the grey conversion (human `src/tfjs/constants.ts`, MATLAB's rgb2gray).
pub const GREY: [f32; 3] = [0.2989, 0.5870, 0.1140];

/// The expression classifier (network + its own MTCNN face detector) as a [`Labeler`].
#[derive(Debug)]
pub struct Emotion {
    id: String,
    graph: Graph,
    mtcnn: Mtcnn,
    size: u32,
    /// Grey value → input: `(g · scale − mean) / std`, g on 0..255.
    scale: f32,
    mean: f32,
    std: f32,
    labels: Vec<String>,
    threshold: f32,
}

/// The one number of a one-channel `mean` or `std` entry.
fn one_value(spec: &ModelSpec, values: &[toml::Value], what: &str) -> Result<f32> {
    match values {
        [toml::Value::Float(f)] => Ok(*f as f32),
        [toml::Value::Integer(i)] => Ok(*i as f32),
        _ => Err(Error::Manifest(format!(
            "{}: {what} must be one number (grey input)",
            spec.id
        ))),
    }
}

impl Emotion {
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
        Ok(Emotion {
            id: spec.id.clone(),
            graph: model.graph(&spec.id, &[OUTPUT], device)?,
            mtcnn: Mtcnn::load(cache_dir, device)?,
            size,
            scale: spec.input.scale as f32,
            mean: one_value(spec, &spec.input.mean, "mean")?,
            std: one_value(spec, &spec.input.std, "std")?,
            labels: spec.label_list()?,
            threshold: spec.threshold,
        })
    }

    /// The network input for a face crop: resized, grey, normalised, `[1, 64, 64, 1]`.
    pub fn input(&self, crop: &RgbImage) -> Tensor<4> {
        let s = self.size;
        let r = super::resize::bilinear(crop, s, s);
        let v: Vec<f32> = r
            .pixels()
            .map(|px| {
                let g: f32 = GREY.iter().zip(px.0).map(|(w, c)| w * f32::from(c)).sum();
                (g * self.scale - self.mean) / self.std
            })
            .collect();
        Tensor::from_data(
            TensorData::new(v, [1, s as usize, s as usize, 1]),
            self.graph.device(),
        )
    }

    /// Probabilities in label order for an input tensor `[1, 64, 64, 1]` (grey −1..1).
    pub fn probabilities_of(&self, input: Tensor<4>) -> Result<Vec<f32>> {
        self.graph.run_first_vec(input)
    }

    /// Probabilities in label order for a face crop.
    pub fn probabilities(&self, crop: &RgbImage) -> Result<Vec<f32>> {
        self.probabilities_of(self.input(crop))
    }

    /// The label of class `i`.
    pub fn label(&self, i: usize) -> Option<&str> {
        self.labels.get(i).map(String::as_str)
    }

    /// The faces that get labelled (as [`super::face_attr::FaceAttr::faces`]).
    pub fn faces(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<Face>> {
        Ok(labelled_faces(&self.mtcnn.faces_shared(img, stages)?))
    }

    /// Each face's probabilities with its box (photo pixels).
    pub fn face_probabilities(
        &self,
        img: &RgbImage,
        stages: &StageScope<'_>,
    ) -> Result<Vec<(Face, Vec<f32>)>> {
        self.faces(img, stages)?
            .into_iter()
            .map(|face| {
                let probs = self.probabilities(&face_crop(img, &chip_box(&face.xyxy)))?;
                Ok((face, probs))
            })
            .collect()
    }
}

impl Labeler for Emotion {
    fn id(&self) -> &str {
        &self.id
    }

    /// Per face, the most probable expression when its probability reaches the manifest
    /// threshold (the network is weak: a lower one mostly adds wrong labels), with the face box.
    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        self.run_shared(img, &PhotoStages::new().scope())
    }

    fn run_shared(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<Prediction>> {
        let mut out = Vec::new();
        for (face, probs) in self.face_probabilities(img, stages)? {
            let Some(&(i, p)) = super::classify::top_k(&probs, 1).first() else {
                continue;
            };
            if p < self.threshold {
                continue;
            }
            if let Some(label) = self.label(i) {
                out.push(Prediction {
                    label: label.to_owned(),
                    confidence: p,
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
    assert_send_sync::<Emotion>();
};
