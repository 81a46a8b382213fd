//! Shared thumbnails: the freedesktop.org Thumbnail Managing Standard lets every program reuse
//! the thumbnails file managers and viewers already made (`~/.cache/thumbnails/large/
//! MD5(uri).png`). Decoding the full photo dominates a first scan; when a valid shared
//! thumbnail exists (its `Thumb::URI` is the photo's URI and its `Thumb::MTime` the photo's
//! modification time) the scan makes ours from it instead. Only thumbnails at least as large
//! as ours are used (`large`, `x-large`, `xx-large`; `normal` is 128 px and would look
//! blurred in the grid), and only when their shape matches the upright photo (a thumbnail made
//! without the EXIF orientation is ignored). We never write there.

use std::io::Read;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use super::thumb::THUMB_SIZE;

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
        let text = png_text(&png);
        let field = |key: &str| text.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let fresh = field("Thumb::URI") == Some(uri.as_str())
            && field("Thumb::MTime").and_then(parse_mtime) == Some(mtime_s);
        if !fresh {
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
