//! `centernet` (@vladmandic/human's MB3-CenterNet, COCO-80 objects, MIT): the object
//! detector of the zoo, run from its TensorFlow.js graph ([`super::tfjs`]).
//!
//! The graph ends in its own decoding (TopKV2, GatherV2, StridedSlice); it is cut at the heads
//! instead and decoded here exactly as the graph does: a class heatmap `[128, 128, 80]`
//! (sigmoid) kept only where it equals its 3×3 max-pool (the graph's own `MaxPool` node is
//! part of the cut), the 100 best peaks, and for a peak at cell `(x, y)` the box
//! `(4x − l, 4y − t, 4x + r, 4y + b)` in 512-pixel input coordinates from the `wh` head
//! `[128, 128, 4]`. Then, as human does, a score floor and class-agnostic NMS (IoU 0.4).
//! Input: the photo stretched to 512×512, RGB 0..255 (the graph normalises). Main type:
//! [`CenterNet`].

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::RgbImage;

use super::graph::Graph;
use super::manifest::ModelSpec;
use super::nudenet::{Detection, nms, predictions};
use super::preprocess::Preprocess;
use super::{Labeler, Prediction};
use crate::error::{Error, Result};

/// The graph nodes the cut keeps: heatmap, its 3×3 max-pool, box extents.
pub const OUTPUTS: [&str; 3] = [
    "tower_0/keypoints",
    "tower_0/max_pooling2d/MaxPool",
    "tower_0/wh",
];
/// Peaks kept before NMS (the graph's `TopKV2/k`).
pub const TOP_K: usize = 100;
/// Input pixels per heatmap cell.
pub const STRIDE: f32 = 4.0;
/// Class-agnostic NMS overlap (human's `object.iouThreshold`).
pub const NMS_IOU: f32 = 0.4;
/// Detections reported per photo at most.
pub const MAX_DETECTIONS: usize = 30;

/// The heads of one run, NHWC, flattened.
#[derive(Debug, Clone)]
pub struct Heads {
    /// `[H, W, classes]` sigmoid scores.
    pub heat: Vec<f32>,
    /// The graph's 3×3 max-pool of `heat`.
    pub pooled: Vec<f32>,
    /// `[H, W, 4]`: left, top, right, bottom extents in input pixels.
    pub wh: Vec<f32>,
    /// `[H, W]` of the grid.
    pub grid: [usize; 2],
    pub classes: usize,
}

/// Peaks of `heads` (local 3×3 maxima), the best `k` with score ≥ `min_score`, as boxes in
/// input pixels; the order and the box formula are the graph's own.
pub fn decode(heads: &Heads, k: usize, min_score: f32) -> Vec<Detection> {
    let [_, gw] = heads.grid;
    let nc = heads.classes.max(1);
    let mut peaks: Vec<(usize, f32)> = heads
        .heat
        .iter()
        .zip(&heads.pooled)
        .enumerate()
        .filter(|(_, (h, p))| **h >= **p && **h >= min_score)
        .map(|(i, (h, _))| (i, *h))
        .collect();
    // TopKV2 (sorted): highest first, ties by index.
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    peaks.truncate(k);
    peaks
        .into_iter()
        .filter_map(|(i, score)| {
            let class = i % nc;
            let cell = i / nc;
            let (x, y) = ((cell % gw) as f32, (cell / gw) as f32);
            let e = heads.wh.get(cell * 4..cell * 4 + 4)?;
            Some(Detection {
                class,
                score,
                xyxy: [
                    STRIDE * x - e[0],
                    STRIDE * y - e[1],
                    STRIDE * x + e[2],
                    STRIDE * y + e[3],
                ],
            })
        })
        .collect()
}

/// The CenterNet detector as a [`Labeler`].
#[derive(Debug)]
pub struct CenterNet {
    id: String,
    graph: Graph,
    pre: Preprocess,
    labels: Vec<String>,
    threshold: f32,
}

impl CenterNet {
    /// Loads the tfjs graph (`model.json` at `json`, weight shards `shards` in manifest order).
    pub fn load(
        spec: &ModelSpec,
        json: &Path,
        shards: &[PathBuf],
        device: &Device,
    ) -> Result<Self> {
        let model = super::tfjs::read_json(&spec.id, json, shards)?;
        let labels = spec.label_list()?;
        Ok(CenterNet {
            id: spec.id.clone(),
            graph: model.graph(&spec.id, &OUTPUTS, device)?,
            pre: Preprocess::from_spec(spec)?,
            labels,
            threshold: spec.threshold,
        })
    }

    /// Runs the network up to its heads on a photo.
    pub fn heads(&self, img: &RgbImage) -> Result<Heads> {
        self.heads_of(self.pre.tensor(img, self.graph.device()))
    }

    /// Runs the network up to its heads on an input tensor `[1, 512, 512, 3]` (RGB 0..255).
    pub fn heads_of(&self, input: Tensor<4>) -> Result<Heads> {
        let outs = self.graph.run(input)?;
        let fail = |msg: String| Error::Inference {
            model: self.id.clone(),
            msg,
        };
        let [heat, pooled, wh] = <[_; 3]>::try_from(outs)
            .map_err(|o: Vec<_>| fail(format!("{} outputs, expected 3", o.len())))?;
        let dims = heat.dims();
        let [_, h, w, c] = <[usize; 4]>::try_from(dims.as_slice())
            .map_err(|_| fail(format!("heatmap of shape {dims:?}")))?;
        let heads = Heads {
            heat: heat.to_vec().map_err(fail)?,
            pooled: pooled.to_vec().map_err(fail)?,
            wh: wh.to_vec().map_err(fail)?,
            grid: [h, w],
            classes: c,
        };
        if heads.pooled.len() != heads.heat.len() || heads.wh.len() != h * w * 4 {
            return Err(fail("heads of inconsistent shapes".to_owned()));
        }
        Ok(heads)
    }

    /// Detections in photo pixels, best first: score ≥ the manifest threshold, NMS, at most
    /// [`MAX_DETECTIONS`].
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Detection>> {
        let heads = self.heads(img)?;
        let [ih, iw] = self.pre.size;
        let (sx, sy) = (
            img.width() as f32 / iw as f32,
            img.height() as f32 / ih as f32,
        );
        let dets = decode(&heads, TOP_K, self.threshold)
            .into_iter()
            .map(|mut d| {
                d.xyxy = [
                    d.xyxy[0] * sx,
                    d.xyxy[1] * sy,
                    d.xyxy[2] * sx,
                    d.xyxy[3] * sy,
                ];
                d
            })
            .collect();
        let mut keep = nms(dets, NMS_IOU);
        keep.truncate(MAX_DETECTIONS);
        Ok(keep)
    }

    /// The label of class `index` (`person` is 0).
    pub fn label(&self, index: usize) -> Option<&str> {
        self.labels.get(index).map(String::as_str)
    }
}

impl Labeler for CenterNet {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        Ok(predictions(self.detect(img)?, &self.labels, img))
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CenterNet>();
};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decode_keeps_local_maxima_and_builds_boxes_from_the_cell() {
        // 2×3 grid, 2 classes.
        let (gh, gw, nc) = (2, 3, 2);
        let mut heat = vec![0.0; gh * gw * nc];
        heat[(gw + 2) * nc + 1] = 0.9; // cell (x 2, y 1), class 1
        heat[1] = 0.5; // cell (0, 0), class 1: a peak of its own
        heat[nc] = 0.4; // cell (1, 0), class 0
        let mut pooled = heat.clone();
        pooled[nc] = 0.6; // not a local maximum
        let mut wh = vec![0.0; gh * gw * 4];
        wh[(gw + 2) * 4..(gw + 2) * 4 + 4].copy_from_slice(&[1.0, 2.0, 3.0, 4.0]);
        let heads = Heads {
            heat,
            pooled,
            wh,
            grid: [gh, gw],
            classes: nc,
        };
        let d = decode(&heads, 10, 0.3);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].class, d[0].score), (1, 0.9));
        assert_eq!(d[0].xyxy, [7.0, 2.0, 11.0, 8.0]);
        assert_eq!((d[1].class, d[1].score), (1, 0.5));
        assert_eq!(decode(&heads, 1, 0.3).len(), 1);
        assert!(decode(&heads, 10, 0.95).is_empty());
    }
}
