//! `nsfw_mid` (nsfwjs 4.4.0's MobileNetV2 "mid", MIT): a whole-photo safety classifier over
//! Drawing, Hentai, Neutral, Porn and Sexy, run from its TensorFlow.js graph
//! ([`super::tfjs::read_js`]: nsfwjs ships the model as JavaScript with base64 shards).
//! MIT-licensed, unlike NudeNet's AGPL-3.0 weights, so a build that must not ship AGPL weights
//! still has a safety model. Input: the photo stretched to 224×224 with the antialiased resize
//! every other model uses (nsfwjs itself samples bilinearly with aligned corners; the network
//! matches tfjs within 0.05 either way, `tests/zoo_tfjs.rs`), RGB scaled to 0..1 (the graph's
//! first nodes map it to -1..1).
//!
//! The model is weak on ordinary photos (measured on the 628 shared photos, none explicit, and
//! confirmed with tfjs): Porn ≥ 0.7 on 6 of them (a cardigan, a crossword puzzle), Drawing ≥ 0.9
//! on 106 real photos. So `Drawing` and `Neutral` are never reported (neither is a finding a
//! user searches for, and Drawing is wrong a third of the time), and the others only at the
//! manifest threshold (0.9). Main type: [`NsfwClassifier`].

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::RgbImage;

use super::graph::Graph;
use super::manifest::ModelSpec;
use super::preprocess::Preprocess;
use super::{Labeler, Prediction};
use crate::error::Result;

/// The graph's output node (softmax over the 5 classes).
pub const OUTPUT: &str = "Identity";
/// Classes never reported (see the module docs).
pub const NOT_REPORTED: [&str; 2] = ["Drawing", "Neutral"];

/// The nsfwjs classifier as a [`Labeler`].
#[derive(Debug)]
pub struct NsfwClassifier {
    id: String,
    graph: Graph,
    pre: Preprocess,
    labels: Vec<String>,
    threshold: f32,
}

impl NsfwClassifier {
    /// Loads the JS-wrapped tfjs model (`model.min.js` at `model_js`, shard files in order).
    pub fn load(
        spec: &ModelSpec,
        model_js: &Path,
        shards: &[PathBuf],
        device: &Device,
    ) -> Result<Self> {
        let model = super::tfjs::read_js(&spec.id, model_js, shards)?;
        Ok(NsfwClassifier {
            id: spec.id.clone(),
            graph: model.graph(&spec.id, &[OUTPUT], device)?,
            pre: Preprocess::from_spec(spec)?,
            labels: spec.label_list()?,
            threshold: spec.threshold,
        })
    }

    /// Class probabilities in label order.
    pub fn probabilities(&self, img: &RgbImage) -> Result<Vec<f32>> {
        self.probabilities_of(self.pre.tensor(img, self.graph.device()))
    }

    /// Class probabilities for an input tensor `[1, 224, 224, 3]` (RGB 0..1).
    pub fn probabilities_of(&self, input: Tensor<4>) -> Result<Vec<f32>> {
        self.graph.run_first_vec(input)
    }

    /// The label of class `i`.
    pub fn label(&self, i: usize) -> Option<&str> {
        self.labels.get(i).map(String::as_str)
    }
}

impl Labeler for NsfwClassifier {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        let probs = self.probabilities(img)?;
        Ok(super::classify::top_k(&probs, probs.len())
            .into_iter()
            .filter(|&(_, p)| p >= self.threshold)
            .filter_map(|(i, p)| {
                let label = self.label(i)?;
                if NOT_REPORTED.contains(&label) {
                    return None;
                }
                Some(Prediction {
                    label: label.to_owned(),
                    confidence: p,
                    bbox: None,
                })
            })
            .collect())
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<NsfwClassifier>();
};
