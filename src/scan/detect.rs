//! Image detection by content (magic bytes), never by file name, plus the cheap structural
//! checks that catch broken files before anything decodes them: empty files, decompression
//! bombs (by header dimensions) and truncated JPEG/PNG streams.

use std::path::Path;

/// Container formats photolabel reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    WebP,
    Gif,
    Tiff,
    Bmp,
}

impl ImageFormat {
    /// Lower-case short name stored in the database.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::WebP => "webp",
            ImageFormat::Gif => "gif",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Bmp => "bmp",
        }
    }

    /// The MIME type (as the freedesktop thumbnail standard's `Thumb::Mime` wants it).
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::WebP => "image/webp",
            ImageFormat::Gif => "image/gif",
            ImageFormat::Tiff => "image/tiff",
            ImageFormat::Bmp => "image/bmp",
        }
    }

    /// The matching `image` crate format.
    pub fn to_image(self) -> image::ImageFormat {
        match self {
            ImageFormat::Jpeg => image::ImageFormat::Jpeg,
            ImageFormat::Png => image::ImageFormat::Png,
            ImageFormat::WebP => image::ImageFormat::WebP,
            ImageFormat::Gif => image::ImageFormat::Gif,
            ImageFormat::Tiff => image::ImageFormat::Tiff,
            ImageFormat::Bmp => image::ImageFormat::Bmp,
        }
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    Image(ImageFormat),
    /// A known image container photolabel cannot decode (HEIC, AVIF, JPEG XL).
    Unsupported(&'static str),
    NotImage,
}

/// Bytes needed by [`detect`].
pub const SNIFF_LEN: usize = 32;

/// Largest image decoded, in pixels (250 MP); larger ones are refused from their header.
pub const MAX_PIXELS: u64 = 250_000_000;

/// Identifies an image format from the first bytes of a file.
pub fn detect(head: &[u8]) -> Detected {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        Detected::Image(ImageFormat::Jpeg)
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Detected::Image(ImageFormat::Png)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Detected::Image(ImageFormat::Gif)
    } else if head.len() >= 12 && starts(b"RIFF") && &head[8..12] == b"WEBP" {
        Detected::Image(ImageFormat::WebP)
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Detected::Image(ImageFormat::Tiff)
    } else if head.len() >= 14 && starts(b"BM") && is_bmp_header(head) {
        Detected::Image(ImageFormat::Bmp)
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" {
        match &head[8..12] {
            b"heic" | b"heix" | b"hevc" | b"mif1" | b"msf1" => Detected::Unsupported("HEIC"),
            b"avif" | b"avis" => Detected::Unsupported("AVIF"),
            _ => Detected::NotImage,
        }
    } else if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        Detected::Unsupported("JPEG XL")
    } else {
        Detected::NotImage
    }
}

/// "BM" alone is too weak (text files start with it); also require the reserved fields to be
/// zero and a known DIB header size.
fn is_bmp_header(head: &[u8]) -> bool {
    let reserved_zero = head[6..10].iter().all(|&b| b == 0);
    let dib = head
        .get(14..18)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    reserved_zero && matches!(dib, None | Some(12 | 40 | 52 | 56 | 64 | 108 | 124))
}

/// Whether the file name suggests an image (used only to decide whether a non-image file is
/// worth reporting as broken, e.g. a text file named `.jpg`).
pub fn has_image_extension(path: &Path) -> bool {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return false;
    };
    matches!(
        ext.to_ascii_lowercase().as_str(),
        "jpg"
            | "jpeg"
            | "jpe"
            | "jfif"
            | "png"
            | "webp"
            | "gif"
            | "tif"
            | "tiff"
            | "bmp"
            | "heic"
            | "heif"
            | "avif"
            | "jxl"
    )
}

/// Refuses images whose header claims more than [`MAX_PIXELS`].
pub fn check_dimensions(width: u32, height: u32) -> Result<(), String> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        return Err(format!("invalid image dimensions {width} x {height}"));
    }
    if pixels > MAX_PIXELS {
        return Err(format!(
            "image too large: {width} x {height} pixels exceeds the {} megapixel limit; not decoded",
            MAX_PIXELS / 1_000_000
        ));
    }
    Ok(())
}

/// The largest GIF canvas decoded. GIF is a 256-colour format no camera writes; a canvas
/// over this is a bomb: the decoder paints every frame onto a full canvas, so a 300-byte file
/// claiming 100 megapixels took 13 s and 690 MB (found by fuzzing).
pub const GIF_MAX_PIXELS: u64 = 32_000_000;

/// [`check_dimensions`], plus the limits of formats that need a lower one (GIF).
pub fn check_format_dimensions(format: ImageFormat, width: u32, height: u32) -> Result<(), String> {
    check_dimensions(width, height)?;
    if format == ImageFormat::Gif && u64::from(width) * u64::from(height) > GIF_MAX_PIXELS {
        return Err(format!(
            "GIF too large: {width} x {height} pixels exceeds the {} megapixel limit for GIF; \
             not decoded",
            GIF_MAX_PIXELS / 1_000_000
        ));
    }
    Ok(())
}

/// Cheap completeness check of the stream: a JPEG must reach its end-of-image marker after the
/// first scan (data appended after it, as in motion photos, is fine), a PNG its IEND chunk.
pub fn check_complete(format: ImageFormat, bytes: &[u8]) -> Result<(), String> {
    match format {
        ImageFormat::Jpeg => jpeg_complete(bytes),
        ImageFormat::Png => {
            if memchr::memmem::rfind(bytes, b"IEND").is_some() {
                Ok(())
            } else {
                Err("truncated PNG: no IEND chunk".into())
            }
        }
        _ => Ok(()),
    }
}

fn jpeg_complete(bytes: &[u8]) -> Result<(), String> {
    // Walk the marker segments up to the first start-of-scan.
    let mut i = 2;
    loop {
        let Some(&[ff, marker]) = bytes
            .get(i..i + 2)
            .and_then(|s| <&[u8; 2]>::try_from(s).ok())
        else {
            return Err("truncated JPEG: ends inside its headers".into());
        };
        if ff != 0xFF {
            return Err("corrupt JPEG: bad marker structure".into());
        }
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xD9 {
            return Err("corrupt JPEG: no image data".into());
        }
        let Some(len) = bytes
            .get(i + 2..i + 4)
            .map(|b| usize::from(b[0]) << 8 | usize::from(b[1]))
        else {
            return Err("truncated JPEG: ends inside its headers".into());
        };
        i += 2 + len;
        if marker == 0xDA {
            break;
        }
    }
    // Entropy-coded data escapes 0xFF as 0xFF00, so the first FF D9 is the end of image.
    match bytes.get(i..) {
        Some(rest) if memchr::memmem::find(rest, &[0xFF, 0xD9]).is_some() => Ok(()),
        _ => Err("truncated JPEG: no end-of-image marker".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide_not_names() {
        assert_eq!(
            detect(b"\xFF\xD8\xFF\xE0rest"),
            Detected::Image(ImageFormat::Jpeg)
        );
        assert_eq!(
            detect(b"\x89PNG\r\n\x1a\n...."),
            Detected::Image(ImageFormat::Png)
        );
        assert_eq!(detect(b"GIF89a......"), Detected::Image(ImageFormat::Gif));
        assert_eq!(
            detect(b"RIFF\0\0\0\0WEBPVP8 "),
            Detected::Image(ImageFormat::WebP)
        );
        assert_eq!(
            detect(b"II*\0\x08\0\0\0"),
            Detected::Image(ImageFormat::Tiff)
        );
        assert_eq!(detect(b"\0\0\0\x18ftypheic"), Detected::Unsupported("HEIC"));
        assert_eq!(detect(b"hello, this is text"), Detected::NotImage);
        assert_eq!(
            detect(b"BMW is a car brand, not a bitmap"),
            Detected::NotImage
        );
        assert_eq!(detect(b""), Detected::NotImage);
    }

    #[test]
    fn bombs_are_refused_by_dimensions() {
        assert!(check_dimensions(6000, 4000).is_ok());
        let err = check_dimensions(50_000, 50_000).unwrap_err();
        assert!(err.contains("50000 x 50000"), "{err}");
        assert!(check_dimensions(0, 10).is_err());
    }

    #[test]
    fn jpeg_truncation_is_found() {
        let mut jpeg = Vec::new();
        image::RgbImage::from_pixel(32, 32, image::Rgb([200, 10, 10]))
            .write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        assert!(check_complete(ImageFormat::Jpeg, &jpeg).is_ok());
        let mut with_trailer = jpeg.clone();
        with_trailer.extend_from_slice(b"appended video data");
        assert!(check_complete(ImageFormat::Jpeg, &with_trailer).is_ok());
        let cut = &jpeg[..jpeg.len() - 40];
        assert!(
            check_complete(ImageFormat::Jpeg, cut)
                .unwrap_err()
                .contains("truncated")
        );
        assert!(check_complete(ImageFormat::Jpeg, &jpeg[..10]).is_err());
    }
}
