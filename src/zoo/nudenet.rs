//! NudeNet v3 (`nudenet==3.4.2`, `320n.onnx`): an Ultralytics YOLOv8n detector with 18 body-part
//! classes, written by hand in burn and loaded from the ONNX file's initializers (BN is already
//! fused into the conv biases). The network's fields are named after the Ultralytics layer
//! indices (`l0` … `l21`, `detect`) so ONNX names map by prefix (`model.4.m.1.cv2.conv.weight`
//! → `l4.m.1.cv2.conv.weight`). Decoding follows the package: anchor-free boxes from the DFL
//! head, class scores through a sigmoid, score ≥ 0.25, class-agnostic NMS at IoU 0.45.
//! Main types: [`YoloV8`], [`YoloV8Config`], [`NudeNet`] (the [`Labeler`]).

use std::path::Path;

use burn::module::Initializer;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, silu, softmax};
use image::RgbImage;

use super::manifest::ModelSpec;
use super::onnx::{Layout, OnnxWeights};
use super::preprocess::Preprocess;
use super::{Labeler, Prediction};
use crate::error::{Error, Result};

/// DFL bins per box side.
const REG_MAX: usize = 16;
/// Detection strides of the three heads (P3, P4, P5).
const STRIDES: [usize; 3] = [8, 16, 32];
/// Most detections reported per photo (as the reference keeps).
const MAX_DETECTIONS: usize = 20;

fn conv2d(cin: usize, cout: usize, k: usize, stride: usize, bias: bool, dev: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(bias)
        .with_initializer(Initializer::Zeros)
        .init(dev)
}

/// Conv (BN fused, with bias) → SiLU.
#[derive(Module, Debug)]
pub struct ConvSilu {
    pub conv: Conv2d,
}

impl ConvSilu {
    fn new(cin: usize, cout: usize, k: usize, stride: usize, dev: &Device) -> Self {
        ConvSilu {
            conv: conv2d(cin, cout, k, stride, true, dev),
        }
    }

    /// `[N, C_in, H, W]` → `[N, C_out, H/stride, W/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        silu(self.conv.forward(x))
    }
}

/// Two 3×3 convs with an optional residual.
#[derive(Module, Debug)]
pub struct Bottleneck {
    pub cv1: ConvSilu,
    pub cv2: ConvSilu,
    pub shortcut: bool,
}

impl Bottleneck {
    /// `[N, C, H, W]` → `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.cv2.forward(self.cv1.forward(x.clone()));
        if self.shortcut { x + y } else { y }
    }
}

/// C2f: 1×1 conv, split in two, a chain of bottlenecks on the second half, concat all, 1×1 conv.
#[derive(Module, Debug)]
pub struct C2f {
    pub cv1: ConvSilu,
    pub m: Vec<Bottleneck>,
    pub cv2: ConvSilu,
    pub hidden: usize,
}

impl C2f {
    fn new(cin: usize, cout: usize, n: usize, shortcut: bool, dev: &Device) -> Self {
        let c = cout / 2;
        C2f {
            cv1: ConvSilu::new(cin, 2 * c, 1, 1, dev),
            m: (0..n)
                .map(|_| Bottleneck {
                    cv1: ConvSilu::new(c, c, 3, 1, dev),
                    cv2: ConvSilu::new(c, c, 3, 1, dev),
                    shortcut,
                })
                .collect(),
            cv2: ConvSilu::new((2 + n) * c, cout, 1, 1, dev),
            hidden: c,
        }
    }

    /// `[N, C_in, H, W]` → `[N, C_out, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.cv1.forward(x); // [N, 2c, H, W]
        let c = self.hidden;
        let mut last = y.clone().narrow(1, c, c); // [N, c, H, W]
        let mut parts = vec![y.narrow(1, 0, c), last.clone()];
        for b in &self.m {
            last = b.forward(last);
            parts.push(last.clone());
        }
        self.cv2.forward(Tensor::cat(parts, 1)) // [N, (2+n)c, H, W] → [N, C_out, H, W]
    }
}

/// SPPF: 1×1 conv, three chained 5×5 max pools, concat, 1×1 conv.
#[derive(Module, Debug)]
pub struct Sppf {
    pub cv1: ConvSilu,
    pub cv2: ConvSilu,
    pub pool: MaxPool2d,
}

impl Sppf {
    /// `[N, C, H, W]` → `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.cv1.forward(x); // [N, C/2, H, W]
        let p1 = self.pool.forward(x.clone());
        let p2 = self.pool.forward(p1.clone());
        let p3 = self.pool.forward(p2.clone());
        self.cv2.forward(Tensor::cat(vec![x, p1, p2, p3], 1)) // [N, 2C, H, W] → [N, C, H, W]
    }
}

/// One head branch: two 3×3 ConvSilu and a plain 1×1 conv.
#[derive(Module, Debug)]
pub struct HeadBranch {
    pub a: ConvSilu,
    pub b: ConvSilu,
    pub c: Conv2d,
}

impl HeadBranch {
    fn new(cin: usize, hidden: usize, cout: usize, dev: &Device) -> Self {
        HeadBranch {
            a: ConvSilu::new(cin, hidden, 3, 1, dev),
            b: ConvSilu::new(hidden, hidden, 3, 1, dev),
            c: conv2d(hidden, cout, 1, 1, true, dev),
        }
    }

    /// `[N, C_in, H, W]` → `[N, C_out, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.c.forward(self.b.forward(self.a.forward(x)))
    }
}

/// YOLOv8 detect head: box (DFL) and class branches per level, and the DFL projection.
#[derive(Module, Debug)]
pub struct Detect {
    pub boxes: Vec<HeadBranch>,
    pub classes: Vec<HeadBranch>,
    /// 1×1 conv 16 → 1 whose weights are 0..15 (expectation over the DFL bins).
    pub dfl: Conv2d,
}

/// YOLOv8n, layers numbered as in Ultralytics' `yolov8.yaml`.
#[derive(Module, Debug)]
pub struct YoloV8 {
    pub l0: ConvSilu,
    pub l1: ConvSilu,
    pub l2: C2f,
    pub l3: ConvSilu,
    pub l4: C2f,
    pub l5: ConvSilu,
    pub l6: C2f,
    pub l7: ConvSilu,
    pub l8: C2f,
    pub l9: Sppf,
    pub l12: C2f,
    pub l15: C2f,
    pub l16: ConvSilu,
    pub l18: C2f,
    pub l19: ConvSilu,
    pub l21: C2f,
    pub detect: Detect,
}

/// YOLOv8 size: `n` scale (widths 16…256, depths 1/2/2/1).
#[derive(Config, Debug)]
pub struct YoloV8Config {
    #[config(default = 18)]
    pub num_classes: usize,
}

impl YoloV8Config {
    /// Builds the network with zeroed parameters; use [`YoloV8::load`] for real weights.
    pub fn init(&self, dev: &Device) -> YoloV8 {
        let nc = self.num_classes;
        let cls_hidden = 64.max(nc.min(100));
        let head_in = [64, 128, 256];
        YoloV8 {
            l0: ConvSilu::new(3, 16, 3, 2, dev),
            l1: ConvSilu::new(16, 32, 3, 2, dev),
            l2: C2f::new(32, 32, 1, true, dev),
            l3: ConvSilu::new(32, 64, 3, 2, dev),
            l4: C2f::new(64, 64, 2, true, dev),
            l5: ConvSilu::new(64, 128, 3, 2, dev),
            l6: C2f::new(128, 128, 2, true, dev),
            l7: ConvSilu::new(128, 256, 3, 2, dev),
            l8: C2f::new(256, 256, 1, true, dev),
            l9: Sppf {
                cv1: ConvSilu::new(256, 128, 1, 1, dev),
                cv2: ConvSilu::new(512, 256, 1, 1, dev),
                pool: MaxPool2dConfig::new([5, 5])
                    .with_strides([1, 1])
                    .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                    .init(),
            },
            l12: C2f::new(384, 128, 1, false, dev),
            l15: C2f::new(192, 64, 1, false, dev),
            l16: ConvSilu::new(64, 64, 3, 2, dev),
            l18: C2f::new(192, 128, 1, false, dev),
            l19: ConvSilu::new(128, 128, 3, 2, dev),
            l21: C2f::new(384, 256, 1, false, dev),
            detect: Detect {
                boxes: head_in
                    .iter()
                    .map(|&c| HeadBranch::new(c, 64, 4 * REG_MAX, dev))
                    .collect(),
                classes: head_in
                    .iter()
                    .map(|&c| HeadBranch::new(c, cls_hidden, nc, dev))
                    .collect(),
                dfl: conv2d(REG_MAX, 1, 1, 1, false, dev),
            },
        }
    }
}

/// Nearest-neighbour 2× upsampling: `[N, C, H, W]` → `[N, C, 2H, 2W]`.
fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h, 1, w, 1])
        .expand([n, c, h, 2, w, 2])
        .reshape([n, c, 2 * h, 2 * w])
}

/// Maps an Ultralytics ONNX initializer name onto this module's parameter path.
fn param_path(onnx: &str) -> Option<String> {
    let rest = onnx.strip_prefix("model.")?;
    let (idx, rest) = rest.split_once('.')?;
    if idx != "22" {
        return Some(format!("l{idx}.{rest}"));
    }
    if rest == "dfl.conv.weight" {
        return Some("detect.dfl.weight".to_owned());
    }
    let (branch, rest) = rest.split_once('.')?;
    let branch = match branch {
        "cv2" => "boxes",
        "cv3" => "classes",
        _ => return None,
    };
    let (level, rest) = rest.split_once('.')?;
    let (layer, rest) = rest.split_once('.')?;
    let layer = match layer {
        "0" => "a",
        "1" => "b",
        "2" => "c",
        _ => return None,
    };
    Some(format!("detect.{branch}.{level}.{layer}.{rest}"))
}

impl YoloV8 {
    /// Builds the network and loads the Ultralytics ONNX export at `path`. Every float
    /// initializer named `model.*` must map onto a parameter and every parameter must be set.
    pub fn load(model_id: &str, path: &Path, num_classes: usize, dev: &Device) -> Result<Self> {
        let onnx = OnnxWeights::read(model_id, path)?;
        let mut map = Vec::new();
        for name in onnx.tensors.keys().filter(|n| n.starts_with("model.")) {
            let to = param_path(name).ok_or_else(|| Error::WeightsLoad {
                model: model_id.to_owned(),
                msg: format!("unexpected initializer {name:?}"),
            })?;
            map.push((name.clone(), to, Layout::AsIs));
        }
        let mut net = YoloV8Config::new().with_num_classes(num_classes).init(dev);
        onnx.apply(model_id, &mut net, &map)?;
        Ok(net)
    }

    /// Loads the network from its burnpack, converting the verified ONNX file at `path` first
    /// if needed (see [`super::native`]).
    pub fn load_converted(
        spec: &ModelSpec,
        path: &Path,
        num_classes: usize,
        dev: &Device,
    ) -> Result<Self> {
        super::native::load_or_convert(
            spec,
            path,
            || YoloV8Config::new().with_num_classes(num_classes).init(dev),
            || YoloV8::load(&spec.id, path, num_classes, dev),
        )
    }

    /// `[N, 3, H, W]` (H, W multiples of 32, RGB in 0..1) → per anchor
    /// (`A = H/8·W/8 + H/16·W/16 + H/32·W/32`): box side distances `[N, 4, A]` (left, top,
    /// right, bottom in stride units) and class probabilities `[N, classes, A]`.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<3>, Tensor<3>) {
        let x = self.l1.forward(self.l0.forward(x)); // [N, 32, H/4, W/4]
        let x = self.l2.forward(x);
        let p3 = self.l4.forward(self.l3.forward(x)); // [N, 64, H/8, W/8]
        let p4 = self.l6.forward(self.l5.forward(p3.clone())); // [N, 128, H/16, W/16]
        let x = self.l8.forward(self.l7.forward(p4.clone())); // [N, 256, H/32, W/32]
        let p5 = self.l9.forward(x); // [N, 256, H/32, W/32]
        let n12 = self
            .l12
            .forward(Tensor::cat(vec![upsample2(p5.clone()), p4], 1)); // [N, 128, H/16, W/16]
        let o3 = self
            .l15
            .forward(Tensor::cat(vec![upsample2(n12.clone()), p3], 1)); // [N, 64, H/8, W/8]
        let o4 = self
            .l18
            .forward(Tensor::cat(vec![self.l16.forward(o3.clone()), n12], 1)); // [N, 128, H/16, W/16]
        let o5 = self
            .l21
            .forward(Tensor::cat(vec![self.l19.forward(o4.clone()), p5], 1)); // [N, 256, H/32, W/32]

        let (mut boxes, mut classes) = (Vec::new(), Vec::new());
        for (i, feat) in [o3, o4, o5].into_iter().enumerate() {
            let [n, _, h, w] = feat.dims();
            let (Some(bb), Some(cb)) = (self.detect.boxes.get(i), self.detect.classes.get(i))
            else {
                continue;
            };
            boxes.push(
                bb.forward(feat.clone())
                    .reshape([n as i32, -1, (h * w) as i32]),
            ); // [N, 64, hw]
            classes.push(cb.forward(feat).reshape([n as i32, -1, (h * w) as i32])); // [N, nc, hw]
        }
        let boxes = Tensor::cat(boxes, 2); // [N, 64, A]
        let [n, _, a] = boxes.dims();
        let bins = boxes.reshape([n, 4, REG_MAX, a]).swap_dims(1, 2); // [N, 16, 4, A]
        let dist = self.detect.dfl.forward(softmax(bins, 1)).reshape([n, 4, a]); // [N, 4, A]
        (dist, sigmoid(Tensor::cat(classes, 2))) // [N, 4, A], [N, nc, A]
    }
}

/// One detection in input-photo pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub class: usize,
    pub score: f32,
    /// `[x0, y0, x1, y1]` in photo pixels (may extend past the photo, as the package reports).
    pub xyxy: [f32; 4],
}

/// Intersection over union of two xyxy boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter + 1e-9)
}

/// Greedy NMS: highest score first, dropping boxes overlapping a kept one by more than `thr`.
pub fn nms(mut dets: Vec<Detection>, thr: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Detection> = Vec::new();
    for d in dets {
        if keep.iter().all(|k| iou(&k.xyxy, &d.xyxy) <= thr) {
            keep.push(d);
        }
    }
    keep
}

/// The NudeNet detector as a [`Labeler`].
#[derive(Debug)]
pub struct NudeNet {
    id: String,
    net: YoloV8,
    pre: Preprocess,
    labels: Vec<String>,
    threshold: f32,
    nms_iou: f32,
    device: Device,
}

impl NudeNet {
    /// Builds the network for `spec` and loads `path` onto `device`.
    pub fn load(spec: &ModelSpec, path: &Path, device: &Device) -> Result<Self> {
        let labels = spec.label_list()?;
        let net = YoloV8::load_converted(spec, path, labels.len(), device)?;
        Ok(NudeNet {
            id: spec.id.clone(),
            net,
            pre: Preprocess::from_spec(spec)?,
            labels,
            threshold: spec.threshold,
            nms_iou: 0.45,
            device: device.clone(),
        })
    }

    /// The network output as the ONNX model gives it: `[4 + classes, A]` row-major, rows 0–3
    /// = cx, cy, w, h in input pixels, then class probabilities.
    pub fn raw_output(&self, img: &RgbImage) -> Result<(Vec<f32>, usize)> {
        let x = self.pre.tensor(img, &self.device); // [1, 3, 320, 320]
        let [h, w] = self.pre.size;
        let (dist, cls) = self.net.forward(x);
        let dist = self.to_vec(dist.reshape([4, -1]))?; // [4, A]
        let cls = self.to_vec(cls.reshape([self.labels.len() as i32, -1]))?; // [nc, A]
        let a = dist.len() / 4;
        let mut out = vec![0f32; (4 + self.labels.len()) * a];
        let mut i = 0;
        for stride in STRIDES {
            let (gh, gw) = (h as usize / stride, w as usize / stride);
            for gy in 0..gh {
                for gx in 0..gw {
                    if i >= a {
                        break;
                    }
                    let (ax, ay) = (gx as f32 + 0.5, gy as f32 + 0.5);
                    let (l, t, r, b) = (dist[i], dist[a + i], dist[2 * a + i], dist[3 * a + i]);
                    let s = stride as f32;
                    out[i] = (ax + (r - l) / 2.0) * s;
                    out[a + i] = (ay + (b - t) / 2.0) * s;
                    out[2 * a + i] = (l + r) * s;
                    out[3 * a + i] = (t + b) * s;
                    i += 1;
                }
            }
        }
        out[4 * a..].copy_from_slice(&cls);
        Ok((out, a))
    }

    /// Detections in photo pixels, best first, after thresholding and NMS.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Detection>> {
        let (out, a) = self.raw_output(img)?;
        let side = img.width().max(img.height()) as f32;
        let scale = side / self.pre.size[1] as f32;
        let nc = self.labels.len();
        let mut dets = Vec::new();
        for i in 0..a {
            let (class, score) = (0..nc)
                .map(|c| (c, out[(4 + c) * a + i]))
                .fold((0, f32::MIN), |b, x| if x.1 > b.1 { x } else { b });
            if score < self.threshold {
                continue;
            }
            let (cx, cy, w, h) = (out[i], out[a + i], out[2 * a + i], out[3 * a + i]);
            let xyxy = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0].map(|v| v * scale);
            dets.push(Detection { class, score, xyxy });
        }
        let mut keep = nms(dets, self.nms_iou);
        keep.truncate(MAX_DETECTIONS);
        Ok(keep)
    }

    /// The label of class `index`.
    pub fn label(&self, index: usize) -> Option<&str> {
        self.labels.get(index).map(String::as_str)
    }

    fn to_vec(&self, t: Tensor<2>) -> Result<Vec<f32>> {
        let fail = |msg: String| Error::Inference {
            model: self.id.clone(),
            msg,
        };
        t.try_into_data_as::<f32>()
            .map_err(|e| fail(e.to_string()))?
            .try_into_vec::<f32>()
            .map_err(|e| fail(format!("{e:?}")))
    }
}

/// Photo-relative `[x, y, w, h]` of a pixel xyxy box, clipped to the photo.
pub fn relative_box(xyxy: &[f32; 4], width: u32, height: u32) -> [f32; 4] {
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let x0 = (xyxy[0] / w).clamp(0.0, 1.0);
    let y0 = (xyxy[1] / h).clamp(0.0, 1.0);
    let x1 = (xyxy[2] / w).clamp(0.0, 1.0);
    let y1 = (xyxy[3] / h).clamp(0.0, 1.0);
    [x0, y0, x1 - x0, y1 - y0]
}

/// Detections in photo pixels as labels with photo-relative boxes (class `i` named
/// `labels[i]`; a class without a name is dropped), in the detections' order.
pub fn predictions(dets: Vec<Detection>, labels: &[String], img: &RgbImage) -> Vec<Prediction> {
    dets.into_iter()
        .filter_map(|d| {
            Some(Prediction {
                label: labels.get(d.class)?.clone(),
                confidence: d.score,
                bbox: Some(relative_box(&d.xyxy, img.width(), img.height())),
            })
        })
        .collect()
}

impl Labeler for NudeNet {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        Ok(predictions(self.detect(img)?, &self.labels, img))
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<NudeNet>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_ultralytics_names() {
        assert_eq!(
            param_path("model.4.m.1.cv2.conv.weight").as_deref(),
            Some("l4.m.1.cv2.conv.weight")
        );
        assert_eq!(
            param_path("model.22.cv3.2.2.bias").as_deref(),
            Some("detect.classes.2.c.bias")
        );
        assert_eq!(
            param_path("model.22.dfl.conv.weight").as_deref(),
            Some("detect.dfl.weight")
        );
        assert_eq!(param_path("onnx::Split_138"), None);
    }

    #[test]
    fn nms_drops_overlaps() {
        let d = |score, x0| Detection {
            class: 0,
            score,
            xyxy: [x0, 0.0, x0 + 10.0, 10.0],
        };
        let kept = nms(vec![d(0.5, 1.0), d(0.9, 0.0), d(0.7, 50.0)], 0.45);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].score, 0.7);
    }
}
