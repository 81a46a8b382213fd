//! ImageNet-1k classifiers as a [`Labeler`]: preprocess the photo as the manifest says, run the
//! network, softmax the 1000 logits on the host, keep the top classes above the model's
//! threshold. Main type: [`ImagenetClassifier`].

use std::path::Path;

use burn::tensor::{Device, Tensor};
use image::RgbImage;

use super::efficientnet_lite::{EfficientNetLite, EfficientNetLiteConfig};
use super::manifest::ModelSpec;
use super::mobilenet_v2::{MobileNetV2, MobileNetV2Config};
use super::native;
use super::preprocess::Preprocess;
use super::stages::StageScope;
use super::{Labeler, Prediction};
use crate::error::{Error, Result};

/// Most labels one classifier reports per photo.
pub const TOP_K: usize = 5;

/// The networks behind ImageNet classifiers.
#[derive(Debug)]
enum Network {
    MobileNetV2(MobileNetV2),
    EfficientNetLite(EfficientNetLite),
}

impl Network {
    /// Loads the network of `spec` from its burnpack, converting the verified source file at
    /// `path` first if needed (see [`super::native`]).
    fn load(spec: &ModelSpec, path: &Path, device: &Device) -> Result<Self> {
        let id = spec.id.as_str();
        Ok(match id {
            "mobilenet_v2" => Network::MobileNetV2(native::load_or_convert(
                spec,
                path,
                || MobileNetV2Config::new().init(device),
                || MobileNetV2::load(id, path, device),
            )?),
            _ => {
                let config = EfficientNetLiteConfig::for_id(id)
                    .ok_or_else(|| Error::ModelNotImplemented(id.to_owned()))?;
                Network::EfficientNetLite(native::load_or_convert(
                    spec,
                    path,
                    || config.init(device),
                    || EfficientNetLite::load(id, path, device),
                )?)
            }
        })
    }
}

/// Makes sure the burnpack of ImageNet classifier `spec` exists and is fresh, converting the
/// verified source at `path` if not (for `models fetch`).
pub fn convert(spec: &ModelSpec, path: &Path, device: &Device) -> Result<()> {
    Network::load(spec, path, device).map(drop)
}

/// An ImageNet-1k classifier ready to run.
#[derive(Debug)]
pub struct ImagenetClassifier {
    id: String,
    net: Network,
    pre: Preprocess,
    labels: Vec<String>,
    threshold: f32,
    device: Device,
}

impl ImagenetClassifier {
    /// Builds the network for `spec` and loads the weight file at `path` onto `device`.
    pub fn load(spec: &ModelSpec, path: &Path, device: &Device) -> Result<Self> {
        let net = Network::load(spec, path, device)?;
        let labels = spec.label_list()?;
        if labels.len() != 1000 {
            return Err(Error::Manifest(format!(
                "{}: expected 1000 labels",
                spec.id
            )));
        }
        Ok(ImagenetClassifier {
            id: spec.id.clone(),
            net,
            pre: Preprocess::from_spec(spec)?,
            labels,
            threshold: spec.threshold,
            device: device.clone(),
        })
    }

    /// Raw logits for a photo: 1000 floats, ImageNet class order.
    pub fn logits(&self, img: &RgbImage) -> Result<Vec<f32>> {
        self.logits_of(self.pre.tensor(img, &self.device))
    }

    /// Logits of a preprocessed input `[1, 3, H, W]`.
    fn logits_of(&self, x: Tensor<4>) -> Result<Vec<f32>> {
        let y = match &self.net {
            Network::MobileNetV2(n) => n.forward(x),
            Network::EfficientNetLite(n) => n.forward(x),
        }; // [1, 1000]
        let data = y
            .try_into_data_as::<f32>()
            .map_err(|e| self.fail(e.to_string()))?;
        data.try_into_vec::<f32>()
            .map_err(|e| self.fail(format!("{e:?}")))
    }

    /// [`Self::logits`] of several photos in one forward pass (a batch): what batching photos
    /// waiting for the same model would run. `benches/zoo.rs` (`batch` rows) measures whether
    /// it pays on a device.
    pub fn logits_batch(&self, imgs: &[&RgbImage]) -> Result<Vec<Vec<f32>>> {
        if imgs.is_empty() {
            return Ok(Vec::new());
        }
        let x = Tensor::cat(
            imgs.iter()
                .map(|img| self.pre.tensor(img, &self.device))
                .collect(),
            0,
        ); // [N, 3, H, W]
        let y = match &self.net {
            Network::MobileNetV2(n) => n.forward(x),
            Network::EfficientNetLite(n) => n.forward(x),
        }; // [N, 1000]
        let data = y
            .try_into_data_as::<f32>()
            .map_err(|e| self.fail(e.to_string()))?
            .try_into_vec::<f32>()
            .map_err(|e| self.fail(format!("{e:?}")))?;
        Ok(data
            .chunks(data.len() / imgs.len())
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// Class probabilities (softmax of [`Self::logits`]).
    pub fn probabilities(&self, img: &RgbImage) -> Result<Vec<f32>> {
        Ok(softmax(&self.logits(img)?))
    }

    /// The label of class `index`.
    pub fn label(&self, index: usize) -> Option<&str> {
        self.labels.get(index).map(String::as_str)
    }

    fn fail(&self, msg: String) -> Error {
        Error::Inference {
            model: self.id.clone(),
            msg,
        }
    }
}

impl Labeler for ImagenetClassifier {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        Ok(self.predictions(&self.probabilities(img)?))
    }

    /// [`Self::run`] from the photo's shared resized view: classifiers with the same input
    /// (and the orientation model) resize the photo once.
    fn run_shared(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<Prediction>> {
        let x = self.pre.tensor_shared(img, &self.device, stages);
        Ok(self.predictions(&softmax(&self.logits_of(x)?)))
    }
}

impl ImagenetClassifier {
    fn predictions(&self, probs: &[f32]) -> Vec<Prediction> {
        top_k(probs, TOP_K)
            .into_iter()
            .filter(|&(_, p)| p >= self.threshold)
            .map(|(i, p)| Prediction {
                label: self.labels[i].clone(),
                confidence: p,
                bbox: None,
            })
            .collect()
    }
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// The `k` highest (index, value) pairs, highest first (ties by lower index).
pub fn top_k(values: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<(usize, f32)> = values.iter().copied().enumerate().collect();
    idx.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    idx.truncate(k);
    idx
}

// The engine moves loaded models to worker threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ImagenetClassifier>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_top_k() {
        let p = softmax(&[1.0, 3.0, 2.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(
            top_k(&p, 2).iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }
}
