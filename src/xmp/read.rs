//! Keywords other programs wrote about a photo, read at scan time: from its XMP sidecar (either
//! naming), from the XMP packet embedded in the photo and from its IPTC keywords (IPTC-IIM
//! 2:25), in JPEG, PNG, WebP and TIFF files (where each keeps them: [`super::embedded`]). The scanner
//! stores them as user tags whose model says where they came from (`xmp`, `iptc`).
//!
//! Everything here reads only; a sidecar or block that does not parse gives no keywords and a
//! logged warning, never a failed scan.

use std::path::Path;

use super::{Naming, dom, merge, sidecar_path};
use crate::store::{ImportedKeyword, KeywordOrigin};

/// Keywords from a photo's sidecars and its embedded XMP and IPTC blocks (`bytes` is the
/// photo's content), each once (case-insensitive), sidecar first.
pub fn photo_keywords(path: &Path, bytes: &[u8]) -> Vec<ImportedKeyword> {
    let mut out: Vec<ImportedKeyword> = Vec::new();
    for naming in [Naming::Ext, Naming::Replace] {
        let sidecar = sidecar_path(path, naming);
        let Ok(text) = std::fs::read_to_string(&sidecar) else {
            continue;
        };
        match dom::parse(&text) {
            Ok(doc) => {
                for k in merge::foreign_keywords(&doc) {
                    push(&mut out, k, KeywordOrigin::Xmp);
                }
            }
            Err(e) => log::warn!("XMP sidecar is not valid XML ({e}): {}", sidecar.display()),
        }
    }
    embedded(&mut out, bytes, path);
    out
}

/// Keywords from a photo's embedded XMP and IPTC blocks (`bytes` is its content), each once.
pub fn embedded_keywords(bytes: &[u8]) -> Vec<ImportedKeyword> {
    let mut out = Vec::new();
    embedded(&mut out, bytes, Path::new("(embedded)"));
    out
}

/// Adds a keyword unless it is blank or already there (case-insensitive).
fn push(out: &mut Vec<ImportedKeyword>, keyword: String, origin: KeywordOrigin) {
    let k = keyword.trim();
    if !k.is_empty()
        && !out
            .iter()
            .any(|o| o.keyword.to_lowercase() == k.to_lowercase())
    {
        out.push(ImportedKeyword {
            keyword: k.to_string(),
            origin,
        });
    }
}

/// Adds the keywords of the embedded XMP and IPTC blocks of `bytes` (the photo at `path`, for
/// warnings), whatever the container ([`super::embedded::blocks`]).
fn embedded(out: &mut Vec<ImportedKeyword>, bytes: &[u8], path: &Path) {
    let blocks = super::embedded::blocks(bytes);
    for packet in &blocks.xmp {
        let text = String::from_utf8_lossy(packet);
        match dom::parse(text.trim_end_matches(['\0', ' ', '\n', '\r', '\t'])) {
            Ok(doc) => {
                for k in merge::foreign_keywords(&doc) {
                    push(out, k, KeywordOrigin::Xmp);
                }
            }
            Err(e) => log::warn!("embedded XMP is not valid XML ({e}): {}", path.display()),
        }
    }
    let photoshop: Vec<u8> = blocks.photoshop.concat();
    let iim = blocks.iim.iter().flat_map(|d| iim_keywords(d));
    for k in iptc_keywords(&photoshop).into_iter().chain(iim) {
        push(out, k, KeywordOrigin::Iptc);
    }
}

/// The payloads of a JPEG's APP1 and APP13 segments, up to the image data. Empty for other
/// formats or a damaged header.
pub fn jpeg_app_segments(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return out;
    }
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            break;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xD9 || marker == 0xDA {
            break; // end of image, start of scan
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        let Some(seg) = bytes.get(i + 4..i + 2 + len) else {
            break;
        };
        if len < 2 {
            break;
        }
        if marker == 0xE1 || marker == 0xED {
            out.push(seg);
        }
        i += 2 + len;
    }
    out
}

/// IPTC-IIM keywords (record 2, dataset 25) inside Photoshop image resources (`8BIM`
/// resource 0x0404). UTF-8 when declared (1:90 `ESC % G`) or valid, else Latin-1.
pub fn iptc_keywords(resources: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 12 <= resources.len() {
        if &resources[i..i + 4] != b"8BIM" {
            break;
        }
        let id = u16::from_be_bytes([resources[i + 4], resources[i + 5]]);
        // Pascal name, padded to an even length (length byte included).
        let name_len = usize::from(resources[i + 6]);
        let j = i + 6 + ((name_len + 2) & !1);
        let Some(size) = resources.get(j..j + 4) else {
            break;
        };
        let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
        let start = j + 4;
        let Some(data) = resources.get(start..start.saturating_add(size)) else {
            break;
        };
        if id == 0x0404 {
            out.extend(iim_keywords(data));
        }
        i = start + size + size % 2;
    }
    out
}

/// Keywords of an IPTC-IIM stream.
fn iim_keywords(data: &[u8]) -> Vec<String> {
    let mut raw: Vec<&[u8]> = Vec::new();
    let mut utf8 = false;
    let mut i = 0;
    while i + 5 <= data.len() && data[i] == 0x1C {
        let (record, dataset) = (data[i + 1], data[i + 2]);
        let len = usize::from(u16::from_be_bytes([data[i + 3], data[i + 4]]));
        if len & 0x8000 != 0 {
            break; // extended datasets are not used for keywords
        }
        let Some(value) = data.get(i + 5..i + 5 + len) else {
            break;
        };
        match (record, dataset) {
            (1, 90) => utf8 = value == b"\x1b%G",
            (2, 25) => raw.push(value),
            _ => {}
        }
        i += 5 + len;
    }
    raw.into_iter()
        .map(|v| match std::str::from_utf8(v) {
            Ok(s) => s.to_string(),
            // Declared UTF-8 but broken: keep what can be read.
            Err(_) if utf8 => String::from_utf8_lossy(v).into_owned(),
            Err(_) => v.iter().map(|&b| char::from(b)).collect(),
        })
        .map(|s| {
            s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iim(keywords: &[&[u8]]) -> Vec<u8> {
        let mut d = vec![0x1C, 2, 0, 0, 2, 0, 4];
        for k in keywords {
            d.extend_from_slice(&[0x1C, 2, 25]);
            d.extend_from_slice(&(k.len() as u16).to_be_bytes());
            d.extend_from_slice(k);
        }
        d
    }

    fn resources(iim: &[u8]) -> Vec<u8> {
        let mut r = b"8BIM".to_vec();
        r.extend_from_slice(&0x03EDu16.to_be_bytes());
        r.extend_from_slice(&[0, 0]); // empty name, padded
        r.extend_from_slice(&3u32.to_be_bytes());
        r.extend_from_slice(&[1, 2, 3, 0]); // odd size, padded
        r.extend_from_slice(b"8BIM");
        r.extend_from_slice(&0x0404u16.to_be_bytes());
        r.extend_from_slice(&[3, b'a', b'b', b'c']); // named, already even
        r.extend_from_slice(&(iim.len() as u32).to_be_bytes());
        r.extend_from_slice(iim);
        r
    }

    #[test]
    fn iptc_keywords_are_found_after_other_resources() {
        let r = resources(&iim(&[b"grandma", b"caf\xe9", "smørrebrød".as_bytes()]));
        assert_eq!(iptc_keywords(&r), ["grandma", "café", "smørrebrød"]);
        assert!(
            iptc_keywords(&r[..r.len() - 3]).is_empty(),
            "truncated: nothing"
        );
        assert!(iptc_keywords(b"junk").is_empty());
    }

    #[test]
    fn jpeg_segments_stop_at_the_image_data() {
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2];
        j.extend_from_slice(&[0xFF, 0xED, 0, 6, b'a', b'b', b'c', b'd']);
        j.extend_from_slice(&[0xFF, 0xDA, 0, 4, 0, 0, 0xFF, 0xE1, 0, 3, 9]);
        assert_eq!(jpeg_app_segments(&j), vec![b"abcd".as_slice()]);
        assert!(jpeg_app_segments(b"\x89PNG").is_empty());
        assert!(jpeg_app_segments(&[0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF]).is_empty());
    }
}
