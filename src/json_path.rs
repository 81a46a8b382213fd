//! How paths appear in JSON output (`--json`, the labelled-library exports). A file name on
//! Linux is bytes, not text: a path that is UTF-8 is written as its string, any other as
//! `{"bytes": BASE64, "lossy": TEXT}` (the convention of ripgrep's JSON output), so a photo
//! named in Latin-1 survives the round trip instead of failing the whole command.
//!
//! Use `#[serde(serialize_with = "crate::json_path::path")]` on fields (`option`, `vec` for
//! those shapes) and [`JsonPath`] inside `serde_json::json!`.

use std::path::Path;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};

/// A path that serialises as described in the module docs.
pub struct JsonPath<'a>(pub &'a Path);

impl serde::Serialize for JsonPath<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        path(self.0, s)
    }
}

/// Serialises one path.
pub fn path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    match p.to_str() {
        Some(text) => s.serialize_str(text),
        None => {
            let mut m = s.serialize_map(Some(2))?;
            m.serialize_entry("bytes", &base64(p.as_os_str().as_encoded_bytes()))?;
            m.serialize_entry("lossy", &p.to_string_lossy())?;
            m.end()
        }
    }
}

/// Serialises an optional path (`null` when absent).
pub fn option<S: Serializer, P: AsRef<Path>>(p: &Option<P>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => path(p.as_ref(), s),
        None => s.serialize_none(),
    }
}

/// Serialises a list of paths.
pub fn vec<S: Serializer, P: AsRef<Path>>(ps: &[P], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(ps.len()))?;
    for p in ps {
        seq.serialize_element(&JsonPath(p.as_ref()))?;
    }
    seq.end()
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
    }

    #[cfg(unix)]
    #[test]
    fn utf8_paths_are_strings_and_others_keep_their_bytes() {
        let ok = serde_json::to_value(JsonPath(Path::new("/photos/café.jpg"))).unwrap();
        assert_eq!(ok, serde_json::json!("/photos/café.jpg"));
        use std::os::unix::ffi::OsStrExt;
        let latin1 = Path::new(std::ffi::OsStr::from_bytes(b"/photos/caf\xe9.jpg"));
        let v = serde_json::to_value(JsonPath(latin1)).unwrap();
        assert_eq!(v["bytes"], base64(b"/photos/caf\xe9.jpg"));
        assert_eq!(v["lossy"], "/photos/caf\u{fffd}.jpg");
    }
}
