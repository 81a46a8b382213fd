//! `movenet_lightning` (Google's MoveNet SinglePose Lightning v4 as shipped by
//! @vladmandic/human 3.3.6, MIT / Apache-2.0): 17 COCO body keypoints of the most central
//! person, run from its TensorFlow.js graph ([`super::tfjs`]), family `pose`.
//!
//! The graph ends in its own decoding (ArgMax, GatherNd, Pack, Unpack over int32 indices); it is
//! cut at the four heads instead and decoded here exactly as the graph does ([`decode`]):
//! the centre heatmap (already multiplied by the graph's centre-weight constant) gives the
//! person's cell `(cy, cx)` by argmax; the regression head there gives a first guess per
//! keypoint `k`, `(cy + reg[2k], cx + reg[2k+1])`; each keypoint heatmap divided by the distance
//! to that guess plus the graph's `add_5/y` is argmax'ed to `(yk, xk)`; the offset head there
//! refines it, and `((yk + oy)·s, (xk + ox)·s)` (`s` the graph's `Reshape_13`, 1/48 in float16)
//! is the normalised position, `heat[yk, xk, k]` its score. Constants are read from the loaded
//! model, not written here ([`DecodeConsts`]; the distance grids are checked to be cell indices).
//!
//! Input: the photo letterboxed (centred, black bars) to 192×192, RGB 0..255 as float (the
//! graph's own `Cast` of its int32 input is the identity on whole numbers); positions are mapped
//! back through the letterbox to the photo. Labels ([`pose_labels`]): nothing unless at least
//! [`MIN_KEYPOINTS`] keypoints reach [`GATE_SCORE`]; then `person pose` (box of the keypoints
//! at the manifest threshold, their mean score) and, when the pose supports it, `full body` or
//! `upper body`.
//! One prediction per pose rather than per body part: a part's point box says little a search
//! can use, and the raw 17 × (y, x, score) stay available through [`MoveNet::pose`]. Main type:
//! [`MoveNet`].

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::RgbImage;

use super::graph::Graph;
use super::manifest::ModelSpec;
use super::nudenet::relative_box;
use super::preprocess::{Preprocess, ResizeMode};
use super::tfjs::{TfData, TfjsModel};
use super::{Labeler, Prediction};
use crate::error::{Error, Result};

/// The graph nodes the cut keeps: keypoint heatmaps `[1, 48, 48, 17]` (sigmoid), the weighted
/// centre heatmap `[1, 48, 48, 1]`, keypoint regression and offsets `[1, 48, 48, 34]`.
pub const HEADS: [&str; 4] = [
    "StatefulPartitionedCall/Sigmoid",
    "StatefulPartitionedCall/truediv_2",
    "StatefulPartitionedCall/kpt_regress_0/conv2d_6/BiasAdd",
    "StatefulPartitionedCall/kpt_offset_0/conv2d_7/BiasAdd",
];
/// The constant added to the distance before a keypoint heatmap is divided by it.
pub const DIST_OFFSET_NODE: &str = "StatefulPartitionedCall/add_5/y";
/// The `[1, 1, 1, 2]` factors from grid cells to normalised (y, x).
pub const SCALE_NODE: &str = "StatefulPartitionedCall/Reshape_13";
/// The `[H, W, 1]` row and column index grids the graph measures distances on.
pub const GRID_NODES: [&str; 2] = [
    "StatefulPartitionedCall/strided_slice_3",
    "StatefulPartitionedCall/strided_slice_4",
];
/// Fewest keypoints scoring at least [`GATE_SCORE`] for a pose to be reported at all.
pub const MIN_KEYPOINTS: usize = 5;
/// The score [`MIN_KEYPOINTS`] keypoints must reach. At the manifest's 0.3 (human's display
/// threshold) MoveNet finds five "keypoints" on most animal photos; of the 628 shared photos,
/// every one with five keypoints ≥ 0.5 shows a person but the teddy bear's, and no COCO photo
/// without a person has even one.
pub const GATE_SCORE: f32 = 0.5;

/// Label of every reported pose.
pub const PERSON_POSE: &str = "person pose";
/// Shoulders, hips, knees and ankles visible.
pub const FULL_BODY: &str = "full body";
/// Head and both shoulders visible, no knee or ankle.
pub const UPPER_BODY: &str = "upper body";

/// The heads of one run, NHWC without the batch axis, flattened.
#[derive(Debug, Clone)]
pub struct Heads {
    /// `[H, W, K]` keypoint heatmaps.
    pub heat: Vec<f32>,
    /// `[H, W]` centre heatmap, centre-weighted.
    pub centre: Vec<f32>,
    /// `[H, W, 2K]` (dy, dx) from the centre cell to each keypoint, in cells.
    pub regress: Vec<f32>,
    /// `[H, W, 2K]` (dy, dx) sub-cell offsets of each keypoint.
    pub offset: Vec<f32>,
    /// `[H, W]` of the grid.
    pub grid: [usize; 2],
    /// Keypoints (17).
    pub keypoints: usize,
}

/// The graph's constants the decoding needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeConsts {
    /// `add_5/y` (1.8 in float16).
    pub dist_offset: f32,
    /// `Reshape_13`: cells → normalised (y, x).
    pub scale: [f32; 2],
}

impl DecodeConsts {
    /// Reads the constants from the loaded model.
    pub fn from_model(model: &TfjsModel) -> std::result::Result<Self, String> {
        let floats = |name: &str| -> std::result::Result<Vec<f32>, String> {
            match model.consts.get(name).map(|c| &c.data) {
                Some(TfData::F(v)) => Ok(v.clone()),
                Some(TfData::I(_)) => Err(format!("constant {name} is not float")),
                None => Err(format!("the model has no constant {name}")),
            }
        };
        let [dist_offset] = <[f32; 1]>::try_from(floats(DIST_OFFSET_NODE)?)
            .map_err(|v| format!("{DIST_OFFSET_NODE} has {} values, expected 1", v.len()))?;
        let scale = <[f32; 2]>::try_from(floats(SCALE_NODE)?)
            .map_err(|v| format!("{SCALE_NODE} has {} values, expected 2", v.len()))?;
        // [`decode`] measures distances in cell indices: check that the graph's grids are those.
        for (axis, name) in GRID_NODES.iter().enumerate() {
            let dims = model.consts.get(*name).map(|c| c.dims.clone());
            let Some([h, w, 1]) = dims.as_deref().and_then(|d| <[usize; 3]>::try_from(d).ok())
            else {
                return Err(format!("{name} has shape {dims:?}, expected [H, W, 1]"));
            };
            let grid = floats(name)?;
            let index = |cell: usize| if axis == 0 { cell / w } else { cell % w };
            if grid.len() != h * w || grid.iter().enumerate().any(|(i, &v)| v != index(i) as f32) {
                return Err(format!(
                    "{name} is not the grid's {} index",
                    ["row", "column"][axis]
                ));
            }
        }
        Ok(DecodeConsts { dist_offset, scale })
    }
}

/// Index of the first maximum (TF's ArgMax), `None` for an empty iterator.
fn argmax(values: impl Iterator<Item = f32>) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, v) in values.enumerate() {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// The graph's own decoding: per keypoint `[y, x, score]`, y and x normalised to the input.
pub fn decode(h: &Heads, c: &DecodeConsts) -> Vec<[f32; 3]> {
    let [gh, gw] = h.grid;
    let k = h.keypoints;
    let Some(centre) = argmax(h.centre.iter().copied()) else {
        return Vec::new();
    };
    let (cy, cx) = (centre / gw, centre % gw);
    (0..k)
        .map(|kp| {
            let reg = |d: usize| h.regress.get(centre * 2 * k + 2 * kp + d).copied();
            let ky = cy as f32 + reg(0).unwrap_or(0.0);
            let kx = cx as f32 + reg(1).unwrap_or(0.0);
            let weighted = (0..gh * gw).map(|cell| {
                let (y, x) = ((cell / gw) as f32, (cell % gw) as f32);
                let dist = ((y - ky) * (y - ky) + (x - kx) * (x - kx)).sqrt();
                h.heat.get(cell * k + kp).copied().unwrap_or(0.0) / (dist + c.dist_offset)
            });
            let cell = argmax(weighted).unwrap_or(0);
            let (yk, xk) = ((cell / gw) as f32, (cell % gw) as f32);
            let off = |d: usize| h.offset.get(cell * 2 * k + 2 * kp + d).copied();
            [
                (yk + off(0).unwrap_or(0.0)) * c.scale[0],
                (xk + off(1).unwrap_or(0.0)) * c.scale[1],
                h.heat.get(cell * k + kp).copied().unwrap_or(0.0),
            ]
        })
        .collect()
}

/// One keypoint in the photo: position relative to its width and height (0..1 inside it; a
/// keypoint may fall in the letterbox bars, outside 0..1) and score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    pub x: f32,
    pub y: f32,
    pub score: f32,
}

/// Where the letterboxed square lies over a `width × height` photo: its side and the photo's
/// offset inside it (as [`Preprocess`]'s centred letterbox pads).
pub fn letterbox(width: u32, height: u32) -> (f32, f32, f32) {
    let side = width.max(height).max(1);
    (
        side as f32,
        ((side - width) / 2) as f32,
        ((side - height) / 2) as f32,
    )
}

/// The MoveNet pose estimator as a [`Labeler`].
#[derive(Debug)]
pub struct MoveNet {
    id: String,
    graph: Graph,
    pre: Preprocess,
    consts: DecodeConsts,
    labels: Vec<String>,
    threshold: f32,
}

impl MoveNet {
    /// Loads the tfjs graph (`model.json` at `json`, weight shards `shards` in manifest order).
    pub fn load(
        spec: &ModelSpec,
        json: &Path,
        shards: &[PathBuf],
        device: &Device,
    ) -> Result<Self> {
        let model = super::tfjs::read_json(&spec.id, json, shards)?;
        let fail = |msg: String| Error::WeightsLoad {
            model: spec.id.clone(),
            msg,
        };
        let consts = DecodeConsts::from_model(&model).map_err(fail)?;
        let pre = Preprocess::from_spec(spec)?;
        if pre.resize != (ResizeMode::Letterbox { centred: true }) || !pre.nhwc {
            return Err(Error::Manifest(format!(
                "{}: MoveNet needs a centred letterbox and NHWC input",
                spec.id
            )));
        }
        Ok(MoveNet {
            id: spec.id.clone(),
            graph: model.graph(&spec.id, &HEADS, device)?,
            pre,
            consts,
            labels: spec.label_list()?,
            threshold: spec.threshold,
        })
    }

    /// The decoding constants read from the graph.
    pub fn consts(&self) -> DecodeConsts {
        self.consts
    }

    fn fail(&self, msg: String) -> Error {
        Error::Inference {
            model: self.id.clone(),
            msg,
        }
    }

    /// Runs the network up to its heads on an input tensor `[1, 192, 192, 3]` (RGB 0..255).
    pub fn heads_of(&self, input: Tensor<4>) -> Result<Heads> {
        let outs = self.graph.run(input)?;
        let [heat, centre, regress, offset] = <[_; 4]>::try_from(outs)
            .map_err(|o: Vec<_>| self.fail(format!("{} outputs, expected 4", o.len())))?;
        let dims = heat.dims();
        let Ok([_, gh, gw, k]) = <[usize; 4]>::try_from(dims.as_slice()) else {
            return Err(self.fail(format!("keypoint heatmap of shape {dims:?}")));
        };
        let heads = Heads {
            heat: heat.to_vec().map_err(|e| self.fail(e))?,
            centre: centre.to_vec().map_err(|e| self.fail(e))?,
            regress: regress.to_vec().map_err(|e| self.fail(e))?,
            offset: offset.to_vec().map_err(|e| self.fail(e))?,
            grid: [gh, gw],
            keypoints: k,
        };
        let cells = gh * gw;
        if heads.centre.len() != cells
            || heads.regress.len() != cells * 2 * k
            || heads.offset.len() != cells * 2 * k
            || k != self.labels.len()
        {
            return Err(self.fail(format!(
                "heads of inconsistent shapes for a {gh}×{gw} grid of {k} keypoints"
            )));
        }
        Ok(heads)
    }

    /// The graph's output for an input tensor: per keypoint `[y, x, score]`, normalised to the
    /// 192×192 input (what the uncut graph's `Identity [1, 1, 17, 3]` holds).
    pub fn keypoints_of(&self, input: Tensor<4>) -> Result<Vec<[f32; 3]>> {
        Ok(decode(&self.heads_of(input)?, &self.consts))
    }

    /// The pose in a photo, keypoints in label order, positions relative to the photo.
    pub fn pose(&self, img: &RgbImage) -> Result<Vec<Keypoint>> {
        let raw = self.keypoints_of(self.pre.tensor(img, self.graph.device()))?;
        let (w, h) = (img.width().max(1) as f32, img.height().max(1) as f32);
        let (side, ox, oy) = letterbox(img.width(), img.height());
        Ok(raw
            .into_iter()
            .map(|[y, x, score]| Keypoint {
                x: (x * side - ox) / w,
                y: (y * side - oy) / h,
                score,
            })
            .collect())
    }

    /// The predictions for a pose ([`MoveNet::pose`]), best first ([`pose_labels`]).
    pub fn labels_for(&self, pose: &[Keypoint]) -> Vec<Prediction> {
        pose_labels(&self.labels, self.threshold, pose)
    }
}

/// The predictions for a pose whose keypoints are named `parts` (COCO names, label order):
/// none unless [`MIN_KEYPOINTS`] reach [`GATE_SCORE`] (or `threshold` if higher); then
/// [`PERSON_POSE`] (mean score of the keypoints that reach `threshold`), and [`FULL_BODY`] (confidence: the weakest of the best shoulder, hip, knee and
/// ankle) or else [`UPPER_BODY`] (the weaker of the best head point and the weaker shoulder,
/// when no knee or ankle reaches `threshold`). All carry the box of the keypoints that reach
/// `threshold`; best first.
pub fn pose_labels(parts: &[String], threshold: f32, pose: &[Keypoint]) -> Vec<Prediction> {
    let gate = GATE_SCORE.max(threshold);
    if pose.iter().filter(|k| k.score >= gate).count() < MIN_KEYPOINTS {
        return Vec::new();
    }
    let seen: Vec<&Keypoint> = pose.iter().filter(|k| k.score >= threshold).collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for k in &seen {
        (x0, y0, x1, y1) = (x0.min(k.x), y0.min(k.y), x1.max(k.x), y1.max(k.y));
    }
    let bbox = Some(relative_box(&[x0, y0, x1, y1], 1, 1));
    let score = |name: &str| {
        parts
            .iter()
            .position(|l| l == name)
            .and_then(|i| pose.get(i))
            .map_or(0.0, |k| k.score)
    };
    let side = |p: &str| score(&format!("left_{p}")).max(score(&format!("right_{p}")));
    let mean = seen.iter().map(|k| k.score).sum::<f32>() / seen.len() as f32;
    let mut out = vec![Prediction {
        label: PERSON_POSE.to_owned(),
        confidence: mean,
        bbox,
    }];
    let full = ["shoulder", "hip", "knee", "ankle"]
        .map(side)
        .into_iter()
        .fold(f32::MAX, f32::min);
    let head = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]
        .map(score)
        .into_iter()
        .fold(0.0, f32::max);
    let upper = head
        .min(score("left_shoulder"))
        .min(score("right_shoulder"));
    let legs = side("knee").max(side("ankle"));
    if full >= threshold {
        out.push(Prediction {
            label: FULL_BODY.to_owned(),
            confidence: full,
            bbox,
        });
    } else if upper >= threshold && legs < threshold {
        out.push(Prediction {
            label: UPPER_BODY.to_owned(),
            confidence: upper,
            bbox,
        });
    }
    out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    out
}

impl Labeler for MoveNet {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        Ok(self.labels_for(&self.pose(img)?))
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MoveNet>();
};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const K: usize = 3;

    /// A 4×5 grid with 3 keypoints, all heads zero but what the test sets.
    fn heads() -> Heads {
        let cells = 4 * 5;
        Heads {
            heat: vec![0.0; cells * K],
            centre: vec![0.0; cells],
            regress: vec![0.0; cells * 2 * K],
            offset: vec![0.0; cells * 2 * K],
            grid: [4, 5],
            keypoints: K,
        }
    }

    const C: DecodeConsts = DecodeConsts {
        dist_offset: 1.8,
        scale: [0.25, 0.2],
    };

    #[test]
    fn decode_follows_the_centre_regression_and_offsets_as_the_graph_does() {
        let mut h = heads();
        let at = |y: usize, x: usize| y * 5 + x;
        h.centre[at(1, 2)] = 0.9;
        h.centre[at(3, 4)] = 0.9; // a tie: the first maximum wins, as TF's ArgMax
        // Keypoint 0 regressed from the centre (1, 2) to (2.2, 3.6).
        let c = at(1, 2);
        h.regress[c * 2 * K] = 1.2;
        h.regress[c * 2 * K + 1] = 1.6;
        // Its heatmap: a stronger peak far away loses to a weaker one near the guess.
        h.heat[at(0, 0) * K] = 0.9; // distance √(4.84 + 12.96) ≈ 4.2: 0.9 / 6.0 = 0.15
        h.heat[at(2, 4) * K] = 0.5; // distance ≈ 0.45: 0.5 / 2.25 = 0.22
        h.offset[at(2, 4) * 2 * K] = 0.3;
        h.offset[at(2, 4) * 2 * K + 1] = -0.5;
        let kp = decode(&h, &C);
        assert_eq!(kp.len(), K);
        let [y, x, s] = kp[0];
        assert!((y - 2.3 * 0.25).abs() < 1e-6, "{y}");
        assert!((x - 3.5 * 0.2).abs() < 1e-6, "{x}");
        assert_eq!(s, 0.5);
        // Keypoint 1: all-zero heatmap, the first cell, score 0.
        assert_eq!(kp[1], [0.0, 0.0, 0.0]);
        let empty = Heads {
            centre: vec![],
            ..heads()
        };
        assert!(decode(&empty, &C).is_empty());
    }

    #[test]
    fn letterbox_matches_the_centred_padding() {
        assert_eq!(letterbox(481, 640), (640.0, 79.0, 0.0));
        assert_eq!(letterbox(640, 480), (640.0, 0.0, 80.0));
        assert_eq!(letterbox(10, 10), (10.0, 0.0, 0.0));
    }

    fn coco() -> Vec<String> {
        crate::zoo::manifest::label_file("coco17_keypoints.txt")
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn pose(visible: &[&str], score: f32) -> Vec<Keypoint> {
        coco()
            .iter()
            .enumerate()
            .map(|(i, name)| Keypoint {
                x: 0.2 + 0.01 * i as f32,
                y: 0.1 + 0.04 * i as f32,
                score: if visible.contains(&name.as_str()) {
                    score
                } else {
                    0.1
                },
            })
            .collect()
    }

    #[test]
    fn pose_labels_need_enough_keypoints_and_name_the_extent_they_support() {
        let parts = coco();
        let labels = |p: &[Keypoint]| -> Vec<String> {
            pose_labels(&parts, 0.3, p)
                .into_iter()
                .map(|p| p.label)
                .collect()
        };
        assert!(labels(&pose(&["nose", "left_eye", "right_eye", "left_ear"], 0.9)).is_empty());
        // Six keypoints at 0.4: visible, but not enough to tell a person from a dog.
        let six = [
            "nose",
            "left_eye",
            "right_eye",
            "left_ear",
            "right_ear",
            "left_shoulder",
        ];
        assert!(labels(&pose(&six, 0.4)).is_empty());
        let head_and_shoulders = [
            "nose",
            "left_eye",
            "right_eye",
            "left_shoulder",
            "right_shoulder",
        ];
        let p = pose(&head_and_shoulders, 0.8);
        let preds = pose_labels(&parts, 0.3, &p);
        assert_eq!(labels(&p), vec![PERSON_POSE, UPPER_BODY]);
        // The box spans the visible keypoints only (indices 0..=2 and 5..=6).
        let b = preds[0].bbox.unwrap();
        assert!(
            (b[0] - 0.2).abs() < 1e-6 && (b[1] - 0.1).abs() < 1e-6,
            "{b:?}"
        );
        assert!(
            (b[2] - 0.06).abs() < 1e-6 && (b[3] - 0.24).abs() < 1e-6,
            "{b:?}"
        );
        let full = [
            "nose",
            "left_shoulder",
            "right_hip",
            "left_knee",
            "right_ankle",
        ];
        assert_eq!(labels(&pose(&full, 0.7)), vec![PERSON_POSE, FULL_BODY]);
        // Shoulders, hips, a knee but no ankle: neither extent.
        let partial = [
            "left_shoulder",
            "right_shoulder",
            "left_hip",
            "right_hip",
            "left_knee",
        ];
        assert_eq!(labels(&pose(&partial, 0.7)), vec![PERSON_POSE]);
    }
}
