//! Thumbnails: small upright JPEGs in the cache directory, keyed by content hash so that moved
//! or renamed photos keep theirs. JPEGs take a fast path that decodes at 1/2, 1/4 or 1/8 scale
//! in the inverse DCT, which dominates scan time otherwise.
//!
//! Memory: a large photo is never held at full size when a smaller decode serves. A baseline
//! JPEG decodes at the DCT scale (a 249.6 MP one, just under the decompression-bomb limit
//! [`MAX_PIXELS`](super::detect::MAX_PIXELS), at 1/8: 2000 x 1950 pixels); a non-interlaced
//! PNG has no reduced decoding but is read row by row and box-averaged by a whole factor as it
//! decodes, so only one row and the reduced image are held. Other formats (and interlaced PNGs,
//! progressive JPEGs' coefficients) hold their full decoded pixels once, at most 4 bytes per
//! pixel for 8-bit RGBA: 1 GB at the pixel limit. tests/memory_bounds.rs measures the peak.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, RgbImage, imageops};

use super::detect::{ImageFormat, check_dimensions, check_format_dimensions};

/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIZE: u32 = 256;

/// Where the thumbnail of content `hash` lives.
pub fn thumb_path(thumbs_dir: &Path, hash: &str) -> PathBuf {
    let prefix = hash.get(..2).unwrap_or("00");
    thumbs_dir.join(prefix).join(format!("{hash}.jpg"))
}

/// Decodes an image so that its longest side is at least `min_side` (cheaply, when the format
/// allows), then applies the EXIF orientation. Refuses decompression bombs by dimensions first.
pub fn decode_upright(
    bytes: &[u8],
    format: ImageFormat,
    orientation: Option<u16>,
    min_side: u32,
) -> Result<DynamicImage, String> {
    let img = match format {
        ImageFormat::Jpeg => decode_jpeg_scaled(bytes, min_side)?,
        ImageFormat::Png => match decode_png_scaled(bytes, min_side)? {
            Some(img) => img,
            None => decode_generic(bytes, format)?,
        },
        _ => decode_generic(bytes, format)?,
    };
    let mut img = img;
    if let Some(o) = orientation
        .and_then(|o| u8::try_from(o).ok())
        .and_then(image::metadata::Orientation::from_exif)
    {
        img.apply_orientation(o);
    }
    Ok(img)
}

/// Makes a thumbnail (longest side [`THUMB_SIZE`]) as JPEG bytes.
pub fn make_thumbnail(
    bytes: &[u8],
    format: ImageFormat,
    orientation: Option<u16>,
) -> Result<Vec<u8>, String> {
    thumbnail_jpeg(decode_upright(bytes, format, orientation, THUMB_SIZE)?)
}

/// Scales an upright image down to a thumbnail (longest side [`THUMB_SIZE`]) as JPEG bytes.
/// An 8-bit RGB image is scaled in place of a copy (`into_rgb8`), so its pixels are held once.
pub fn thumbnail_jpeg(img: DynamicImage) -> Result<Vec<u8>, String> {
    let rgb = img.into_rgb8();
    let (w, h) = rgb.dimensions();
    let scale = THUMB_SIZE as f32 / w.max(h) as f32;
    let small = if scale < 1.0 {
        let tw = ((w as f32 * scale).round() as u32).max(1);
        let th = ((h as f32 * scale).round() as u32).max(1);
        imageops::thumbnail(&rgb, tw, th)
    } else {
        rgb
    };
    encode_jpeg(&small)
}

/// Writes thumbnail bytes atomically (temp file + rename), creating folders as needed.
pub fn store_thumbnail(thumbs_dir: &Path, hash: &str, jpeg: &[u8]) -> std::io::Result<PathBuf> {
    let path = thumb_path(thumbs_dir, hash);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, jpeg)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

fn encode_jpeg(img: &RgbImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82);
    img.write_with_encoder(enc)
        .map_err(|e| format!("cannot encode thumbnail: {e}"))?;
    Ok(out)
}

fn decode_jpeg_scaled(bytes: &[u8], min_side: u32) -> Result<DynamicImage, String> {
    let mut dec = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    dec.read_info().map_err(|e| format!("corrupt JPEG: {e}"))?;
    let info = dec.info().ok_or("corrupt JPEG: no frame header")?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    check_dimensions(w, h)?;
    check_jpeg_data(bytes.len(), w, h)?;
    // Ask for the smallest DCT scale whose longest side still reaches min_side.
    let long = w.max(h).max(1);
    let factor = (min_side as f32 / long as f32).min(1.0);
    let req_w = ((w as f32 * factor).ceil() as u16).max(1);
    let req_h = ((h as f32 * factor).ceil() as u16).max(1);
    let (sw, sh) = dec
        .scale(req_w, req_h)
        .map_err(|e| format!("corrupt JPEG: {e}"))?;
    let pixels = dec.decode().map_err(|e| format!("corrupt JPEG: {e}"))?;
    let info = dec.info().ok_or("corrupt JPEG: no frame header")?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    use jpeg_decoder::PixelFormat as P;
    let img = match info.pixel_format {
        P::RGB24 => RgbImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8),
        P::L8 => image::GrayImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageLuma8),
        P::L16 => {
            let px: Vec<u8> = pixels.chunks_exact(2).map(|c| c[0]).collect();
            image::GrayImage::from_raw(sw, sh, px).map(DynamicImage::ImageLuma8)
        }
        P::CMYK32 => {
            let px: Vec<u8> = pixels
                .chunks_exact(4)
                .flat_map(|c| {
                    let k = u16::from(c[3]);
                    [c[0], c[1], c[2]].map(|v| ((u16::from(v) * k) / 255) as u8)
                })
                .collect();
            RgbImage::from_raw(sw, sh, px).map(DynamicImage::ImageRgb8)
        }
    };
    img.ok_or_else(|| "corrupt JPEG: decoded size mismatch".to_string())
}

/// Refuses a JPEG too small to hold the pixels its header claims: Huffman coding spends at
/// least one bit on every 8x8 block of the first component, so `w` x `h` pixels need at least
/// `w·h/512` bytes. The decoder fills missing data with zeros and would otherwise spend
/// seconds on a few hundred bytes claiming 80 megapixels.
fn check_jpeg_data(len: usize, w: u32, h: u32) -> Result<(), String> {
    let blocks = u64::from(w.div_ceil(8)) * u64::from(h.div_ceil(8));
    if (len as u64).saturating_mul(8) < blocks {
        return Err(format!(
            "corrupt JPEG: {len} bytes cannot hold {w} x {h} pixels (truncated)"
        ));
    }
    Ok(())
}

/// A PNG at least twice `min_side` on its longest side, box-averaged by the largest whole
/// factor that keeps that side at least `min_side`, row by row as it decodes (8-bit, palettes
/// expanded). `None` when it is smaller, interlaced (its rows come in seven passes) or of a
/// colour type this does not reduce: it is then decoded whole.
fn decode_png_scaled(bytes: &[u8], min_side: u32) -> Result<Option<DynamicImage>, String> {
    let err = |e: png::DecodingError| format!("corrupt PNG: {e}");
    let mut dec = png::Decoder::new(Cursor::new(bytes));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(err)?;
    let (w, h, interlaced) = {
        let info = reader.info();
        (info.width, info.height, info.interlaced)
    };
    check_dimensions(w, h)?;
    let factor = w.max(h) / min_side.max(1);
    let channels: usize = match reader.output_color_type() {
        (png::ColorType::Grayscale, png::BitDepth::Eight) => 1,
        (png::ColorType::GrayscaleAlpha, png::BitDepth::Eight) => 2,
        (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
        (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
        _ => return Ok(None),
    };
    if interlaced || factor < 2 {
        return Ok(None);
    }
    let (f, width) = (factor as usize, w as usize);
    let (ow, oh) = (w.div_ceil(factor), h.div_ceil(factor));
    let mut sums = vec![0u64; ow as usize * channels];
    let mut out = Vec::with_capacity(ow as usize * oh as usize * channels);
    let (mut rows, mut band) = (0u32, 0u64);
    while let Some(row) = reader.next_row().map_err(err)? {
        for (x, px) in row.data().chunks_exact(channels).take(width).enumerate() {
            let base = x / f * channels;
            for (sum, v) in sums.iter_mut().skip(base).zip(px) {
                *sum += u64::from(*v);
            }
        }
        rows += 1;
        band += 1;
        if band == u64::from(factor) || rows == h {
            for (ox, px) in sums.chunks_exact_mut(channels).enumerate() {
                let n = (width - ox * f).min(f) as u64 * band;
                out.extend(px.iter().map(|s| ((s + n / 2) / n) as u8));
                px.fill(0);
            }
            band = 0;
        }
    }
    if rows != h {
        return Err(format!("truncated PNG: {rows} of {h} rows"));
    }
    let img = match channels {
        1 => image::GrayImage::from_raw(ow, oh, out).map(DynamicImage::ImageLuma8),
        2 => image::GrayAlphaImage::from_raw(ow, oh, out).map(DynamicImage::ImageLumaA8),
        3 => RgbImage::from_raw(ow, oh, out).map(DynamicImage::ImageRgb8),
        _ => image::RgbaImage::from_raw(ow, oh, out).map(DynamicImage::ImageRgba8),
    };
    img.map(Some)
        .ok_or_else(|| "corrupt PNG: reduced size mismatch".to_string())
}

fn decode_generic(bytes: &[u8], format: ImageFormat) -> Result<DynamicImage, String> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format.to_image());
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(2 * 1024 * 1024 * 1024);
    reader.limits(limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| format!("corrupt {}: {e}", format.name()))?;
    let (w, h) = decoder.dimensions();
    check_format_dimensions(format, w, h)?;
    DynamicImage::from_decoder(decoder).map_err(|e| format!("corrupt {}: {e}", format.name()))
}

/// Reads dimensions from the header only (no pixel decoding).
pub fn header_dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), String> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format.to_image());
    // Only the header is read: limits are for decoding, and a bomb must report its size.
    reader.no_limits();
    reader
        .into_dimensions()
        .map_err(|e| format!("corrupt {}: {e}", format.name()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x / 7 % 256) as u8,
                (y / 5 % 256) as u8,
                ((x + y) / 11 % 256) as u8,
            ])
        });
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode_image(&img)
            .unwrap();
        bytes
    }

    /// Found by fuzzing (`fuzz/regressions/thumbnail/jpeg-337-bytes-claiming-82-megapixels.jpg`,
    /// an AFL hang): a tiny JPEG whose header claims 82 megapixels took 3 to 4 seconds to
    /// "decode" (the decoder pads the missing data). Refused from its size, while a real flat
    /// image (the most compressible kind) still decodes.
    #[test]
    fn a_tiny_jpeg_claiming_80_megapixels_is_refused_before_decoding() {
        let mut bytes = jpeg(16, 16);
        let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bytes[sof + 5..sof + 7].copy_from_slice(&9999u16.to_be_bytes());
        bytes[sof + 7..sof + 9].copy_from_slice(&8216u16.to_be_bytes());
        let start = std::time::Instant::now();
        let err = decode_upright(&bytes, ImageFormat::Jpeg, None, THUMB_SIZE).unwrap_err();
        assert!(err.contains("cannot hold 8216 x 9999 pixels"), "{err}");
        assert!(start.elapsed().as_millis() < 500, "{:?}", start.elapsed());
        let mut flat = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut flat, 90)
            .encode_image(&RgbImage::from_pixel(1024, 1024, image::Rgb([90, 90, 90])))
            .unwrap();
        let img = decode_upright(&flat, ImageFormat::Jpeg, None, 1024).unwrap();
        assert_eq!((img.width(), img.height()), (1024, 1024));
    }

    /// Found by fuzzing (`fuzz/regressions/thumbnail/gif-304-bytes-100-megapixel-canvas.gif`,
    /// an AFL hang): a GIF whose canvas is 65285 x 1535 around a 24 x 16 frame took 13 s and
    /// 690 MB to decode. Refused from its header, both by the scan and by the decoder.
    #[test]
    fn a_gif_canvas_of_100_megapixels_is_refused_before_decoding() {
        let bytes = include_bytes!(
            "../../fuzz/regressions/thumbnail/gif-304-bytes-100-megapixel-canvas.gif"
        );
        let start = std::time::Instant::now();
        let err = decode_upright(bytes, ImageFormat::Gif, None, THUMB_SIZE).unwrap_err();
        assert!(err.contains("limit for GIF"), "{err}");
        let err = crate::scan::examine_image(bytes, ImageFormat::Gif).unwrap_err();
        assert!(err.contains("limit for GIF"), "{err}");
        assert!(start.elapsed().as_millis() < 500, "{:?}", start.elapsed());
    }

    /// A large PNG is box-averaged by a whole factor as its rows decode: the longest side
    /// still reaches the requested one, and the averages are those of the full image.
    #[test]
    fn a_large_png_decodes_reduced_row_by_row_to_the_averages_of_the_full_image() {
        let full = RgbImage::from_fn(1001, 601, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 251) as u8])
        });
        let mut bytes = Vec::new();
        full.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        let small = decode_upright(&bytes, ImageFormat::Png, None, 300)
            .unwrap()
            .to_rgb8();
        // 1001 / 300 = 3: 334 x 201, the last column and row averaging what is left.
        assert_eq!(small.dimensions(), (334, 201));
        let mean = |x0: u32, y0: u32, c: usize| {
            let (mut s, mut n) = (0u32, 0u32);
            for y in y0..(y0 + 3).min(601) {
                for x in x0..(x0 + 3).min(1001) {
                    s += u32::from(full.get_pixel(x, y)[c]);
                    n += 1;
                }
            }
            ((s + n / 2) / n) as u8
        };
        for (x, y) in [(0, 0), (10, 20), (333, 200), (333, 0), (100, 200)] {
            for c in 0..3 {
                assert_eq!(
                    small.get_pixel(x, y)[c],
                    mean(x * 3, y * 3, c),
                    "({x}, {y})"
                );
            }
        }
        // A small one decodes whole, as before.
        let whole = decode_upright(&bytes, ImageFormat::Png, None, 600).unwrap();
        assert_eq!((whole.width(), whole.height()), (1001, 601));
        assert_eq!(whole.to_rgb8(), full);
    }

    /// A large JPEG decodes at the smallest DCT scale whose longest side reaches the
    /// requested one (2400 px for 960: 1/2), upright.
    #[test]
    fn a_large_jpeg_decodes_at_the_dct_scale_that_reaches_the_needed_size() {
        let bytes = jpeg(2400, 1800);
        let small = decode_upright(&bytes, ImageFormat::Jpeg, None, 960).unwrap();
        assert_eq!((small.width(), small.height()), (1200, 900));
        let turned = decode_upright(&bytes, ImageFormat::Jpeg, Some(6), 960).unwrap();
        assert_eq!((turned.width(), turned.height()), (900, 1200));
        let smaller = decode_upright(&bytes, ImageFormat::Jpeg, None, 500).unwrap();
        assert_eq!((smaller.width(), smaller.height()), (600, 450));
        // 1500 px reaches 960 only at full scale (1/2 would give 750).
        let mid = decode_upright(&jpeg(1500, 1000), ImageFormat::Jpeg, None, 960).unwrap();
        assert_eq!((mid.width(), mid.height()), (1500, 1000));
    }
}
