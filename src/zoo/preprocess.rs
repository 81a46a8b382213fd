//! Turns a photo into a model's input tensor the way the model was trained to see it: resize
//! (short side + centre crop, stretch, or letterbox, as the manifest says), scale, mean/std,
//! RGB or BGR order, NCHW layout. Pure CPU code apart from the final upload, so it is tested
//! without a device. Main type: [`Preprocess`].

use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};
use image::{RgbImage, imageops};

use super::manifest::ModelSpec;
use super::resize::bilinear;
use super::stages::StageScope;
use crate::error::{Error, Result};

/// How the photo is brought to the input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// Scale so the short side is `short`, then cut the centre `[height, width]` (torchvision
    /// `Resize(short)` + `CenterCrop`).
    ShortSideCrop { short: u32 },
    /// Scale each side independently to the input size (aspect ratio lost).
    Stretch,
    /// Pad with black to a square (right/bottom, or centred), then scale to the input size.
    Letterbox { centred: bool },
}

impl ResizeMode {
    /// Parses the manifest's `resize` text (`"short-side 256 + center-crop 224"`,
    /// `"stretch …"`, `"letterbox: pad right/bottom …"`, `"letterbox centred …"`).
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_ascii_lowercase();
        if let Some(rest) = t.strip_prefix("short-side ") {
            let short = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Error::Manifest(format!("bad resize {text:?}")))?;
            return Ok(Self::ShortSideCrop { short });
        }
        if t.starts_with("stretch") {
            return Ok(Self::Stretch);
        }
        if t.starts_with("letterbox") {
            return Ok(Self::Letterbox {
                centred: t.contains("centred") || t.contains("centered"),
            });
        }
        Err(Error::Manifest(format!("unsupported resize {text:?}")))
    }
}

/// A model's input recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// Input `[height, width]`.
    pub size: [u32; 2],
    pub resize: ResizeMode,
    /// Multiplies 0..255 pixel values first.
    pub scale: f32,
    /// Subtracted per channel (in the model's channel order) after scaling.
    pub mean: [f32; 3],
    /// Divides per channel after subtracting the mean.
    pub std: [f32; 3],
    /// Channel order BGR instead of RGB.
    pub bgr: bool,
    /// The model takes NHWC (TensorFlow, tfjs) rather than NCHW.
    pub nhwc: bool,
}

impl Preprocess {
    /// The recipe from the manifest (fixed-size NCHW RGB/BGR inputs only).
    pub fn from_spec(spec: &ModelSpec) -> Result<Self> {
        let input = &spec.input;
        let size = input
            .fixed_size()
            .ok_or_else(|| Error::Manifest(format!("{}: input size is not fixed", spec.id)))?;
        let nhwc = input.layout.starts_with("NHWC");
        if !input.layout.starts_with("NCHW") && !nhwc {
            return Err(Error::Manifest(format!(
                "{}: layout {} unsupported",
                spec.id, input.layout
            )));
        }
        let bgr = match input.colour.as_str() {
            "RGB" => false,
            "BGR" => true,
            other => {
                return Err(Error::Manifest(format!(
                    "{}: colour {other} unsupported",
                    spec.id
                )));
            }
        };
        let (mean, std) = input.mean_std()?;
        Ok(Preprocess {
            size,
            resize: ResizeMode::parse(&input.resize)?,
            scale: input.scale as f32,
            mean,
            std,
            bgr,
            nhwc,
        })
    }

    /// The photo resized to the input size (before normalisation).
    pub fn resize(&self, img: &RgbImage) -> RgbImage {
        let [h, w] = self.size;
        match self.resize {
            ResizeMode::Stretch => bilinear(img, w, h),
            ResizeMode::ShortSideCrop { short } => {
                let (iw, ih) = img.dimensions();
                let (iw, ih) = (iw.max(1), ih.max(1));
                // torchvision Resize(int): short side = `short`, long side truncated.
                let (rw, rh) = if iw <= ih {
                    (
                        short,
                        ((short as u64 * ih as u64) / iw as u64).max(1) as u32,
                    )
                } else {
                    (
                        ((short as u64 * iw as u64) / ih as u64).max(1) as u32,
                        short,
                    )
                };
                let resized = bilinear(img, rw, rh);
                let (cw, ch) = (w.min(rw), h.min(rh));
                // Centre crop, offsets rounded down (as tools/reference does; torchvision rounds
                // half to even, at most one pixel away).
                let x = (rw - cw) / 2;
                let y = (rh - ch) / 2;
                let crop = imageops::crop_imm(&resized, x, y, cw, ch).to_image();
                if (cw, ch) == (w, h) {
                    crop
                } else {
                    bilinear(&crop, w, h)
                }
            }
            ResizeMode::Letterbox { centred } => {
                let (iw, ih) = img.dimensions();
                let side = iw.max(ih).max(1);
                let mut square = RgbImage::new(side, side);
                let (x, y) = if centred {
                    ((side - iw) / 2, (side - ih) / 2)
                } else {
                    (0, 0)
                };
                imageops::replace(&mut square, img, x as i64, y as i64);
                bilinear(&square, w, h)
            }
        }
    }

    /// [`Self::resize`], made once per photo for every model resizing the same way.
    pub fn resize_shared(&self, img: &RgbImage, stages: &StageScope<'_>) -> Arc<RgbImage> {
        let [h, w] = self.size;
        stages.view(format!("{:?} {w}x{h}", self.resize), || self.resize(img))
    }

    /// The normalised input as NCHW floats, shape `[1, 3, height, width]`.
    pub fn nchw(&self, img: &RgbImage) -> Vec<f32> {
        self.nchw_of(&self.resize(img))
    }

    /// [`Self::nchw`] of a photo already resized.
    fn nchw_of(&self, resized: &RgbImage) -> Vec<f32> {
        let [h, w] = self.size;
        let plane = (h * w) as usize;
        let mut out = vec![0f32; 3 * plane];
        for (i, px) in resized.pixels().enumerate() {
            for c in 0..3 {
                let src = if self.bgr { 2 - c } else { c };
                let v = f32::from(px.0[src]) * self.scale;
                out[c * plane + i] = (v - self.mean[c]) / self.std[c];
            }
        }
        out
    }

    /// The normalised input as NHWC floats, shape `[1, height, width, 3]`.
    pub fn nhwc(&self, img: &RgbImage) -> Vec<f32> {
        self.nhwc_of(&self.resize(img))
    }

    /// [`Self::nhwc`] of a photo already resized.
    fn nhwc_of(&self, resized: &RgbImage) -> Vec<f32> {
        let mut out = Vec::with_capacity(resized.len());
        for px in resized.pixels() {
            for c in 0..3 {
                let src = if self.bgr { 2 - c } else { c };
                let v = f32::from(px.0[src]) * self.scale;
                out.push((v - self.mean[c]) / self.std[c]);
            }
        }
        out
    }

    /// The normalised input uploaded to `device`: `[1, 3, height, width]`, or
    /// `[1, height, width, 3]` for an NHWC model.
    pub fn tensor(&self, img: &RgbImage, device: &Device) -> Tensor<4> {
        self.tensor_of(&self.resize(img), device)
    }

    /// [`Self::tensor`] from the photo's shared resized view ([`Self::resize_shared`]).
    pub fn tensor_shared(
        &self,
        img: &RgbImage,
        device: &Device,
        stages: &StageScope<'_>,
    ) -> Tensor<4> {
        self.tensor_of(&self.resize_shared(img, stages), device)
    }

    fn tensor_of(&self, resized: &RgbImage, device: &Device) -> Tensor<4> {
        let [h, w] = self.size;
        let (h, w) = (h as usize, w as usize);
        let data = if self.nhwc {
            TensorData::new(self.nhwc_of(resized), [1, h, w, 3])
        } else {
            TensorData::new(self.nchw_of(resized), [1, 3, h, w])
        };
        Tensor::from_data(data, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pp(resize: ResizeMode, bgr: bool) -> Preprocess {
        Preprocess {
            size: [4, 4],
            resize,
            scale: 1.0 / 255.0,
            mean: [0.5, 0.5, 0.5],
            std: [0.5, 0.5, 0.5],
            bgr,
            nhwc: false,
        }
    }

    #[test]
    fn parses_manifest_modes() {
        assert_eq!(
            ResizeMode::parse("short-side 256 + center-crop 224").unwrap(),
            ResizeMode::ShortSideCrop { short: 256 }
        );
        assert_eq!(
            ResizeMode::parse("stretch of face box").unwrap(),
            ResizeMode::Stretch
        );
        assert_eq!(
            ResizeMode::parse("letterbox centred (keep aspect, pad 0) to 128x128").unwrap(),
            ResizeMode::Letterbox { centred: true }
        );
        assert_eq!(
            ResizeMode::parse("letterbox: pad right/bottom with 0 to square").unwrap(),
            ResizeMode::Letterbox { centred: false }
        );
        assert!(ResizeMode::parse("image pyramid").is_err());
    }

    #[test]
    fn normalises_and_orders_channels() {
        let img = RgbImage::from_pixel(8, 6, image::Rgb([255, 0, 51]));
        let rgb = pp(ResizeMode::ShortSideCrop { short: 4 }, false).nchw(&img);
        assert_eq!(rgb.len(), 3 * 16);
        assert!((rgb[0] - 1.0).abs() < 1e-5); // R plane
        assert!((rgb[16] + 1.0).abs() < 1e-5); // G plane
        assert!((rgb[32] - (0.2 - 0.5) / 0.5).abs() < 1e-5); // B plane
        let bgr = pp(ResizeMode::Stretch, true).nchw(&img);
        assert!((bgr[0] - rgb[32]).abs() < 1e-5);
        let nhwc = pp(ResizeMode::Stretch, false).nhwc(&img);
        assert_eq!(nhwc.len(), 3 * 16);
        assert_eq!(&nhwc[..3], &[rgb[0], rgb[16], rgb[32]]);
    }

    #[test]
    fn letterbox_pads_bottom_right_with_black() {
        let img = RgbImage::from_pixel(8, 4, image::Rgb([255, 255, 255]));
        let out = pp(ResizeMode::Letterbox { centred: false }, false).resize(&img);
        assert_eq!(out.dimensions(), (4, 4));
        assert_eq!(out.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(out.get_pixel(3, 3).0, [0, 0, 0]);
    }

    #[test]
    fn short_side_crop_keeps_the_centre() {
        // Left third red, middle green, right third blue: the centre crop is green.
        let img = RgbImage::from_fn(300, 100, |x, _| match x {
            0..100 => image::Rgb([255, 0, 0]),
            100..200 => image::Rgb([0, 255, 0]),
            _ => image::Rgb([0, 0, 255]),
        });
        let p = Preprocess {
            size: [50, 50],
            ..pp(ResizeMode::ShortSideCrop { short: 50 }, false)
        };
        let out = p.resize(&img);
        assert_eq!(out.dimensions(), (50, 50));
        assert_eq!(out.get_pixel(25, 25).0, [0, 255, 0]);
    }
}
