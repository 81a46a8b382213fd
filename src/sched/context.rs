//! Cheap context for the scheduler's first pick, known before any model runs: EXIF fields from
//! the store and statistics of a small version of the image (colour, saturation, edges, skin
//! tones).

use image::RgbImage;

use super::trace::{Context, ThumbStats};
use crate::store::PhotoMeta;

/// Context from a photo's metadata and (optionally) its pixels.
pub fn context(meta: &PhotoMeta, image: Option<&RgbImage>) -> Context {
    Context {
        flash: meta.flash,
        exposure_s: meta.exposure_s,
        focal_mm: meta.focal_mm,
        iso: meta.iso,
        gps: meta.gps,
        hour: meta
            .taken_at
            .as_deref()
            .and_then(|t| t.get(11..13))
            .and_then(|h| h.parse().ok()),
        width: meta.width,
        height: meta.height,
        thumb: image.map(thumb_stats),
    }
}

/// Statistics of an image, computed on at most about 64x64 samples.
pub fn thumb_stats(img: &RgbImage) -> ThumbStats {
    let (w, h) = img.dimensions();
    let step = (w.max(h) / 64).max(1);
    let mut n = 0f64;
    let mut sum = [0f64; 3];
    let mut sq = [0f64; 3];
    let (mut sat, mut skin, mut edges, mut edge_n) = (0f64, 0f64, 0f64, 0f64);
    let luma = |p: &image::Rgb<u8>| {
        0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
    };
    for y in (0..h).step_by(step as usize) {
        for x in (0..w).step_by(step as usize) {
            let p = img.get_pixel(x, y);
            let [r, g, b] = p.0.map(|c| f64::from(c) / 255.0);
            for (k, c) in [r, g, b].into_iter().enumerate() {
                sum[k] += c;
                sq[k] += c * c;
            }
            let max = r.max(g).max(b);
            let min = r.min(g).min(b);
            sat += if max > 0.0 { (max - min) / max } else { 0.0 };
            // A classic RGB skin-tone rule.
            let (ri, gi, bi) = (p[0] as i32, p[1] as i32, p[2] as i32);
            if ri > 95
                && gi > 40
                && bi > 20
                && ri > gi
                && ri > bi
                && (ri - gi).abs() > 15
                && (max - min) * 255.0 > 15.0
            {
                skin += 1.0;
            }
            if x + step < w && y + step < h {
                let l = luma(p);
                let dx = (luma(img.get_pixel(x + step, y)) - l).abs();
                let dy = (luma(img.get_pixel(x, y + step)) - l).abs();
                if dx.max(dy) > 24.0 {
                    edges += 1.0;
                }
                edge_n += 1.0;
            }
            n += 1.0;
        }
    }
    let n = n.max(1.0);
    let mean = sum.map(|s| (s / n) as f32);
    let std = [0, 1, 2].map(|k| ((sq[k] / n - (sum[k] / n).powi(2)).max(0.0).sqrt()) as f32);
    ThumbStats {
        mean,
        std,
        saturation: (sat / n) as f32,
        edges: (edges / edge_n.max(1.0)) as f32,
        skin: (skin / n) as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_images_have_no_edges_and_stripes_do() {
        let flat = RgbImage::from_pixel(100, 80, image::Rgb([200, 150, 120]));
        let s = thumb_stats(&flat);
        assert_eq!(s.edges, 0.0);
        assert!((s.mean[0] - 200.0 / 255.0).abs() < 1e-3);
        assert!(s.std[0] < 1e-3);
        assert!(s.skin > 0.99, "that colour is a skin tone");
        let stripes = RgbImage::from_fn(100, 80, |x, _| {
            if (x / 2) % 2 == 0 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([255, 255, 255])
            }
        });
        let s = thumb_stats(&stripes);
        assert!(s.edges > 0.3, "{}", s.edges);
        assert_eq!(s.saturation, 0.0);
    }

    #[test]
    fn exif_fields_become_context() {
        let meta = PhotoMeta {
            flash: Some(true),
            taken_at: Some("2021-07-04T21:30:05".into()),
            gps: true,
            width: 4000,
            height: 3000,
            ..PhotoMeta::default()
        };
        let c = context(&meta, None);
        assert_eq!((c.flash, c.hour, c.gps), (Some(true), Some(21), true));
    }
}
