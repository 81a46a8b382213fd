//! The photo resizes the models' inputs need (network inputs, MTCNN's pyramid, face and text
//! crops), with `fast_image_resize`'s SIMD convolution and the bilinear (triangle) filter the
//! models were set up with. `image`'s own `resize` with the same filter gives the same pixels
//! within 1 (rounding) but took 6–22 ms per resize of a 960-px photo on the dev machine, about
//! a tenth of running every model on a photo; this takes 0.1–1.5 ms.

use fast_image_resize as fir;
use image::RgbImage;

/// `img` resized to `w`×`h` with a bilinear (triangle) filter, antialiased when shrinking (as
/// `image::imageops::resize` with `FilterType::Triangle`).
pub fn bilinear(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    if w == 0 || h == 0 || sw == 0 || sh == 0 {
        return RgbImage::new(w, h);
    }
    if (sw, sh) == (w, h) {
        return img.clone();
    }
    let resized = fir::images::ImageRef::new(sw, sh, img.as_raw(), fir::PixelType::U8x3)
        .ok()
        .and_then(|src| {
            let mut dst = fir::images::Image::new(w, h, fir::PixelType::U8x3);
            let opts = fir::ResizeOptions::new()
                .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Bilinear));
            fir::Resizer::new().resize(&src, &mut dst, &opts).ok()?;
            RgbImage::from_raw(w, h, dst.into_vec())
        });
    // The buffer always matches its size; should the crate refuse anyway, image's filter
    // gives the same picture, slower.
    resized.unwrap_or_else(|| {
        image::imageops::resize(img, w, h, image::imageops::FilterType::Triangle)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::imageops::{self, FilterType};

    fn pattern(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 % 251) as u8,
                (y * 13 % 241) as u8,
                ((x * y) % 239) as u8,
            ])
        })
    }

    /// The same filter as image's Triangle: every pixel within 1, shrinking (antialiased),
    /// enlarging (face crops to the network size) and changing the aspect.
    #[test]
    fn bilinear_gives_images_triangle_filter_within_rounding() {
        let img = pattern(320, 240);
        for (w, h) in [
            (160, 120),
            (97, 55),
            (224, 224),
            (640, 480),
            (12, 9),
            (320, 240),
        ] {
            let fast = bilinear(&img, w, h);
            let slow = imageops::resize(&img, w, h, FilterType::Triangle);
            assert_eq!(fast.dimensions(), (w, h));
            let worst = fast
                .as_raw()
                .iter()
                .zip(slow.as_raw())
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap_or(0);
            assert!(worst <= 1, "{w}x{h}: differs by {worst}");
        }
        assert_eq!(bilinear(&img, 0, 5).dimensions(), (0, 5));
        assert_eq!(bilinear(&RgbImage::new(0, 0), 4, 4).dimensions(), (4, 4));
    }
}
