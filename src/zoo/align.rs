//! Face alignment: a face chip cut out of a photo by the similarity transform (rotation,
//! uniform scale, shift; no shear, no mirror) that maps the detector's five landmarks
//! ([`super::mtcnn::Face::landmarks`]) best, in the least-squares sense, onto a fixed
//! template. Recognition networks compare faces far better when eyes and mouth always fall on
//! the same chip pixels than on loose detector boxes, whose framing moves with pose and with
//! the detector's own jitter.
//!
//! The template is the 5-point one of InsightFace/ArcFace (112×112 chips), scaled to the
//! chip size and zoomed out by [`ChipTemplate::zoom`] (below 1 keeps more of the head around
//! the face). Sampling is bilinear, black outside the photo; a face much larger than the chip
//! is first shrunk with a triangle filter so the bilinear step does not alias. Main types:
//! [`Similarity`], [`ChipTemplate`]; main function: [`aligned_chip`].

use image::{Rgb, RgbImage};

use super::mtcnn::crop_padded;

/// The ArcFace 5-point template on a 112×112 chip (left eye, right eye, nose, mouth corners).
pub const ARCFACE_112: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// `p ↦ [a −b; b a] p + t`: rotation by atan2(b, a), scale √(a² + b²), shift t.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub t: [f32; 2],
}

impl Similarity {
    /// The least-squares similarity taking `src[i]` to `dst[i]` (Umeyama's closed form in
    /// 2-D); `None` when the source points all coincide.
    pub fn fit(src: &[[f32; 2]], dst: &[[f32; 2]]) -> Option<Self> {
        let n = src.len().min(dst.len());
        if n == 0 {
            return None;
        }
        let mean = |p: &[[f32; 2]]| {
            let s = p[..n].iter().fold([0f64; 2], |s, q| {
                [s[0] + f64::from(q[0]), s[1] + f64::from(q[1])]
            });
            [s[0] / n as f64, s[1] / n as f64]
        };
        let (ms, md) = (mean(src), mean(dst));
        let (mut dot, mut cross, mut norm) = (0f64, 0f64, 0f64);
        for (s, d) in src[..n].iter().zip(&dst[..n]) {
            let (sx, sy) = (f64::from(s[0]) - ms[0], f64::from(s[1]) - ms[1]);
            let (dx, dy) = (f64::from(d[0]) - md[0], f64::from(d[1]) - md[1]);
            dot += sx * dx + sy * dy;
            cross += sx * dy - sy * dx;
            norm += sx * sx + sy * sy;
        }
        if norm < 1e-9 {
            return None;
        }
        let (a, b) = (dot / norm, cross / norm);
        let t = [
            md[0] - (a * ms[0] - b * ms[1]),
            md[1] - (b * ms[0] + a * ms[1]),
        ];
        Some(Similarity {
            a: a as f32,
            b: b as f32,
            t: [t[0] as f32, t[1] as f32],
        })
    }

    /// The image of point `p`.
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [
            self.a * p[0] - self.b * p[1] + self.t[0],
            self.b * p[0] + self.a * p[1] + self.t[1],
        ]
    }

    /// The scale factor √(a² + b²).
    pub fn scale(&self) -> f32 {
        self.a.hypot(self.b)
    }

    /// The inverse transform; `None` for a zero scale.
    pub fn inverse(&self) -> Option<Self> {
        let d = self.a * self.a + self.b * self.b;
        if d <= f32::EPSILON {
            return None;
        }
        let (a, b) = (self.a / d, -self.b / d);
        let t = [
            -(a * self.t[0] - b * self.t[1]),
            -(b * self.t[0] + a * self.t[1]),
        ];
        Some(Similarity { a, b, t })
    }
}

/// Where the five landmarks go on a square chip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChipTemplate {
    /// Chip side in pixels.
    pub size: u32,
    /// Template zoom around the chip centre: 1 is ArcFace's tight framing, smaller keeps more
    /// of the head (0.8: the face spans 80 % of what it spans at 1).
    pub zoom: f32,
}

impl ChipTemplate {
    /// The template points on this chip.
    pub fn points(&self) -> [[f32; 2]; 5] {
        let k = self.size as f32 / 112.0;
        let c = self.size as f32 / 2.0;
        ARCFACE_112.map(|p| {
            [
                c + (p[0] * k - c) * self.zoom,
                c + (p[1] * k - c) * self.zoom,
            ]
        })
    }
}

/// Bilinear sample of `img` at `(x, y)` (pixel-index coordinates), black outside.
fn sample(img: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let px = |xi: i64, yi: i64| -> [f32; 3] {
        if xi < 0 || yi < 0 || xi >= w || yi >= h {
            [0.0; 3]
        } else {
            img.get_pixel(xi as u32, yi as u32).0.map(f32::from)
        }
    };
    let (p00, p10, p01, p11) = (
        px(x0, y0),
        px(x0 + 1, y0),
        px(x0, y0 + 1),
        px(x0 + 1, y0 + 1),
    );
    Rgb(std::array::from_fn(|c| {
        let top = p00[c] + (p10[c] - p00[c]) * fx;
        let bottom = p01[c] + (p11[c] - p01[c]) * fx;
        (top + (bottom - top) * fy).round().clamp(0.0, 255.0) as u8
    }))
}

/// Warps `img` into a `size`×`size` chip: chip pixel `q` shows photo point `to_photo(q)`.
pub fn warp(img: &RgbImage, to_photo: &Similarity, size: u32) -> RgbImage {
    RgbImage::from_fn(size, size, |u, v| {
        let p = to_photo.apply([u as f32, v as f32]);
        sample(img, p[0], p[1])
    })
}

/// The chip of the face whose landmarks are `landmarks` (photo pixels), framed by `template`;
/// `None` for degenerate landmarks (all on one point).
pub fn aligned_chip(
    img: &RgbImage,
    landmarks: &[[f32; 2]; 5],
    template: &ChipTemplate,
) -> Option<RgbImage> {
    let to_chip = Similarity::fit(landmarks, &template.points())?;
    let to_photo = to_chip.inverse()?;
    // Photo pixels per chip pixel; above ~1.5 shrink the face region first (anti-aliasing).
    let step = to_photo.scale();
    if step <= 1.5 {
        return Some(warp(img, &to_photo, template.size));
    }
    let s = template.size as f32;
    let corners = [[0.0, 0.0], [s, 0.0], [0.0, s], [s, s]].map(|q| to_photo.apply(q));
    let x0 = corners
        .iter()
        .map(|p| p[0])
        .fold(f32::INFINITY, f32::min)
        .floor();
    let y0 = corners
        .iter()
        .map(|p| p[1])
        .fold(f32::INFINITY, f32::min)
        .floor();
    let x1 = corners
        .iter()
        .map(|p| p[0])
        .fold(f32::NEG_INFINITY, f32::max)
        .ceil();
    let y1 = corners
        .iter()
        .map(|p| p[1])
        .fold(f32::NEG_INFINITY, f32::max)
        .ceil();
    let region = crop_padded(img, x0 as i64, y0 as i64, x1 as i64, y1 as i64);
    let (rw, rh) = (
        ((region.width() as f32 / step).round() as u32).max(1),
        ((region.height() as f32 / step).round() as u32).max(1),
    );
    let small = super::resize::bilinear(&region, rw, rh);
    let (kx, ky) = (
        rw as f32 / region.width() as f32,
        rh as f32 / region.height() as f32,
    );
    let k = (kx + ky) / 2.0;
    // Photo point p lies at ((p − origin) · k) in the shrunk region.
    let moved: Vec<[f32; 2]> = landmarks
        .iter()
        .map(|p| [(p[0] - x0) * k, (p[1] - y0) * k])
        .collect();
    let to_small = Similarity::fit(&moved, &template.points())?.inverse()?;
    Some(warp(&small, &to_small, template.size))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn close(a: [f32; 2], b: [f32; 2], tol: f32) -> bool {
        (a[0] - b[0]).abs() < tol && (a[1] - b[1]).abs() < tol
    }

    #[test]
    fn a_known_similarity_is_recovered_and_inverted() {
        let truth = Similarity {
            a: 0.6,
            b: 0.8,
            t: [10.0, -4.0],
        };
        let src = ARCFACE_112;
        let dst = src.map(|p| truth.apply(p));
        let fit = Similarity::fit(&src, &dst).unwrap();
        assert!(
            (fit.a - 0.6).abs() < 1e-4 && (fit.b - 0.8).abs() < 1e-4,
            "{fit:?}"
        );
        assert!(close(fit.t, [10.0, -4.0], 1e-3));
        let inv = fit.inverse().unwrap();
        for p in src {
            assert!(close(inv.apply(fit.apply(p)), p, 1e-3));
        }
        assert!((fit.scale() - 1.0).abs() < 1e-4);
        assert_eq!(Similarity::fit(&[[1.0, 1.0]; 5], &ARCFACE_112), None);
    }

    #[test]
    fn the_template_zooms_around_the_chip_centre() {
        let t = ChipTemplate {
            size: 224,
            zoom: 1.0,
        };
        assert!(close(t.points()[0], [76.5892, 103.3926], 1e-3));
        let z = ChipTemplate {
            size: 224,
            zoom: 0.5,
        }
        .points();
        assert!(close(
            z[0],
            [112.0 + (76.5892 - 112.0) / 2.0, 112.0 - 8.6074 / 2.0],
            1e-3
        ));
    }

    /// A photo with a dot at each landmark of a rotated, scaled face: the chip has the dots at
    /// the template points whatever the rotation and size.
    #[test]
    fn landmarks_land_on_the_template() {
        let template = ChipTemplate {
            size: 64,
            zoom: 1.0,
        };
        for (angle, scale) in [(0.0f32, 1.0f32), (0.5, 2.0), (-0.3, 5.0)] {
            let place = Similarity {
                a: scale * angle.cos(),
                b: scale * angle.sin(),
                t: [150.0, 120.0],
            };
            let marks = ARCFACE_112.map(|p| place.apply([p[0] - 56.0, p[1] - 56.0]));
            let mut img = RgbImage::new(400, 400);
            for m in &marks {
                let r = (2.0 * scale).ceil() as i64;
                for dy in -r..=r {
                    for dx in -r..=r {
                        let (x, y) = (m[0] as i64 + dx, m[1] as i64 + dy);
                        img.put_pixel(x as u32, y as u32, Rgb([255, 255, 255]));
                    }
                }
            }
            let chip = aligned_chip(&img, &marks, &template).unwrap();
            assert_eq!(chip.dimensions(), (64, 64));
            for p in template.points() {
                let v = chip.get_pixel(p[0].round() as u32, p[1].round() as u32).0[0];
                assert!(v > 100, "angle {angle} scale {scale}: {p:?} is {v}");
            }
            // Far from every landmark the chip is dark.
            assert!(chip.get_pixel(2, 2).0[0] < 50);
        }
    }
}
