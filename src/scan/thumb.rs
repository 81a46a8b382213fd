//! Thumbnails: small upright JPEGs in the cache directory, keyed by content hash so that moved
//! or renamed photos keep theirs. JPEGs take a fast path that decodes at 1/2, 1/4 or 1/8 scale
//! in the inverse DCT, which dominates scan time otherwise.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, RgbImage, imageops};

use super::detect::{ImageFormat, check_dimensions};

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
pub fn thumbnail_jpeg(img: DynamicImage) -> Result<Vec<u8>, String> {
    let rgb = img.to_rgb8();
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

fn decode_generic(bytes: &[u8], format: ImageFormat) -> Result<DynamicImage, String> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format.to_image());
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(2 * 1024 * 1024 * 1024);
    reader.limits(limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| format!("corrupt {}: {e}", format.name()))?;
    let (w, h) = decoder.dimensions();
    check_dimensions(w, h)?;
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
