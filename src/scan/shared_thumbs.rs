//! Shared thumbnails: the freedesktop.org Thumbnail Managing Standard lets every program reuse
//! the thumbnails file managers and viewers already made (`~/.cache/thumbnails/large/
//! MD5(uri).png`). Decoding the full photo dominates a first scan; when a valid shared
//! thumbnail exists (its `Thumb::URI` is the photo's URI and its `Thumb::MTime` the photo's
//! modification time) the scan makes ours from it instead. Only thumbnails at least as large
//! as ours are used (`large`, `x-large`, `xx-large`; `normal` is 128 px and would look
//! blurred in the grid), and only when their shape matches the upright photo (a thumbnail made
//! without the EXIF orientation is ignored).
//!
//! With the setting on ([`super::ScanOptions::write_shared_thumbs`]) the scan also leaves a
//! `large` thumbnail there for every photo it decodes, so that file managers and viewers need
//! not decode it again: a PNG with the keys the standard requires, written to a temporary file
//! in the same folder and renamed, readable by the user only (mode 600, folders 700). We never
//! write a `fail/` entry: a photo we could not read is not one we thumbnail.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use image::DynamicImage;
use md5::{Digest, Md5};

use super::thumb::THUMB_SIZE;

/// The longest side of a `large` shared thumbnail (the standard's 256×256 box).
pub const LARGE_SIZE: u32 = 256;

/// Shared thumbnail folders to look in, best first.
const SIZES: &[&str] = &["large", "x-large", "xx-large"];

/// A shared thumbnail bigger than this is not read (xx-large PNGs are about 1 MiB).
const MAX_PNG_BYTES: u64 = 8 << 20;

/// The shared thumbnail folder: `$XDG_CACHE_HOME/thumbnails`, else `~/.cache/thumbnails`.
pub fn default_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("thumbnails"))
}

/// The `file://` URI of an absolute path as GLib writes it (the spec's key): bytes outside
/// the unreserved set and the characters allowed in a path are percent-encoded.
pub fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for &b in crate::store::path_to_bytes(path).iter() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b);
        if keep {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

/// The path a shared thumbnail of `uri` has in the folder of one size.
pub fn thumbnail_path(dir: &Path, size: &str, uri: &str) -> PathBuf {
    let hash = Md5::digest(uri.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    dir.join(size).join(format!("{hex}.png"))
}

/// Our thumbnail (JPEG bytes) made from a valid shared thumbnail of `photo`, if there is one.
/// `mtime_ns` is the photo's modification time and `upright` its size once the EXIF
/// orientation is applied.
pub fn reuse(dir: &Path, photo: &Path, mtime_ns: i64, upright: (u32, u32)) -> Option<Vec<u8>> {
    let uri = file_uri(photo);
    let mtime_s = mtime_ns.div_euclid(1_000_000_000);
    SIZES.iter().find_map(|size| {
        let path = thumbnail_path(dir, size, &uri);
        let png = read_small(&path)?;
        if !is_fresh(&png, &uri, mtime_s) {
            return None;
        }
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).ok()?;
        let (w, h) = (img.width(), img.height());
        let wanted = THUMB_SIZE.min(upright.0.max(upright.1));
        // Smaller than ours would be, or another shape (made sideways): not usable.
        let same_shape = (f64::from(w) / f64::from(h.max(1))
            - f64::from(upright.0) / f64::from(upright.1.max(1)))
        .abs()
            < 0.05 * f64::from(upright.0) / f64::from(upright.1.max(1)) + 0.02;
        if w.max(h) + 1 < wanted || !same_shape {
            return None;
        }
        super::thumb::thumbnail_jpeg(img).ok()
    })
}

/// The photo a shared thumbnail is written for: its path, modification time (ns), size in
/// bytes and MIME type.
#[derive(Debug, Clone, Copy)]
pub struct ThumbSource<'a> {
    pub path: &'a Path,
    pub mtime_ns: i64,
    pub size: u64,
    pub mime: &'a str,
}

/// Writes the `large` shared thumbnail of `photo` from its upright image (scaled to fit
/// 256×256, never enlarged) unless a valid one is already there; returns its path when it
/// wrote one. The file is a PNG with `Thumb::URI`, `Thumb::MTime`, `Thumb::Size`,
/// `Thumb::Mime` and `Software`, made in a temporary file beside it and renamed (readers never
/// see half a file), mode 600 in folders of mode 700.
pub fn write_large(
    dir: &Path,
    photo: ThumbSource<'_>,
    upright: &DynamicImage,
) -> std::io::Result<Option<PathBuf>> {
    let uri = file_uri(photo.path);
    let path = thumbnail_path(dir, "large", &uri);
    let mtime_s = photo.mtime_ns.div_euclid(1_000_000_000);
    if read_small(&path).is_some_and(|png| is_fresh(&png, &uri, mtime_s)) {
        return Ok(None);
    }
    let (w, h) = (upright.width(), upright.height());
    let small = if w.max(h) > LARGE_SIZE {
        upright.thumbnail(LARGE_SIZE, LARGE_SIZE)
    } else {
        upright.clone()
    };
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(small.to_rgb8())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(std::io::Error::other)?;
    let png = png_with_text(
        &png,
        &[
            ("Thumb::URI", uri.as_str()),
            ("Thumb::MTime", &mtime_s.to_string()),
            ("Thumb::Size", &photo.size.to_string()),
            ("Thumb::Mime", photo.mime),
            (
                "Software",
                concat!("photolabel ", env!("CARGO_PKG_VERSION")),
            ),
        ],
    )
    .ok_or_else(|| std::io::Error::other("the PNG encoder wrote no header"))?;
    let folder = dir.join("large");
    private_dir(&folder)?;
    let tmp = folder.join(format!(
        ".{}.photolabel-{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("thumb"),
        std::process::id()
    ));
    let written = private_file(&tmp).and_then(|mut f| {
        f.write_all(&png)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(Some(path))
}

/// Whether a shared thumbnail's keys say it was made from this version of the photo.
fn is_fresh(png: &[u8], uri: &str, mtime_s: i64) -> bool {
    let text = png_text(png);
    let field = |key: &str| text.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    field("Thumb::URI") == Some(uri) && field("Thumb::MTime").and_then(parse_mtime) == Some(mtime_s)
}

/// Creates `dir` (and missing parents) readable by the user only, as the standard asks.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates a new file readable and writable by the user only.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// A PNG with `tEXt` chunks (keyword, Latin-1 text) inserted after its `IHDR` chunk, where
/// thumbnail readers look for them; `None` if `png` does not start with a PNG header.
pub fn png_with_text(png: &[u8], text: &[(&str, &str)]) -> Option<Vec<u8>> {
    // Signature (8) + IHDR chunk (length 4, type 4, data 13, CRC 4).
    const HEADER: usize = 33;
    if png.get(..8) != Some(b"\x89PNG\r\n\x1a\n".as_slice()) || png.get(12..16) != Some(b"IHDR") {
        return None;
    }
    let mut out = png.get(..HEADER)?.to_vec();
    for (key, value) in text {
        let mut data = key.as_bytes().to_vec();
        data.push(0);
        data.extend_from_slice(value.as_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(b"tEXt");
        crc.update(&data);
        out.extend_from_slice(&u32::try_from(data.len()).ok()?.to_be_bytes());
        out.extend_from_slice(b"tEXt");
        out.extend_from_slice(&data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    out.extend_from_slice(&png[HEADER..]);
    Some(out)
}

fn read_small(path: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_PNG_BYTES).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// `Thumb::MTime` is whole seconds; some writers add a fraction.
fn parse_mtime(s: &str) -> Option<i64> {
    let s = s.trim();
    s.parse::<i64>()
        .ok()
        .or_else(|| s.parse::<f64>().ok().map(|f| f.floor() as i64))
}

/// The `tEXt` chunks of a PNG (keyword, text), read before the image data; `iTXt` and `zTXt`
/// are not used for these keys by the thumbnailers we know.
pub fn png_text(png: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if png.get(..8) != Some(b"\x89PNG\r\n\x1a\n".as_slice()) {
        return out;
    }
    let mut at = 8usize;
    while let Some(head) = png.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let Some(data) = png.get(at + 8..at + 8 + len) else {
            break;
        };
        if kind == b"IDAT" || kind == b"IEND" {
            break;
        }
        if kind == b"tEXt"
            && let Some(nul) = data.iter().position(|&b| b == 0)
        {
            // Latin-1 by the PNG spec; the keys and URIs are ASCII.
            let latin1 = |b: &[u8]| b.iter().map(|&c| char::from(c)).collect::<String>();
            out.push((latin1(&data[..nul]), latin1(&data[nul + 1..])));
        }
        at += 12 + len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_escaped_as_glib_does() {
        assert_eq!(
            file_uri(Path::new("/home/ann/My Photos/été #1.jpg")),
            "file:///home/ann/My%20Photos/%C3%A9t%C3%A9%20%231.jpg"
        );
    }

    #[test]
    fn the_spec_example_hash() {
        // From the Thumbnail Managing Standard: file:///home/jens/photos/me.png.
        let p = thumbnail_path(Path::new("/t"), "normal", "file:///home/jens/photos/me.png");
        assert_eq!(
            p,
            Path::new("/t/normal/c6ee772d9e49320e97ec29a7eb5b1697.png")
        );
    }
}
