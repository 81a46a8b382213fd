//! Where each image format keeps the metadata blocks other programs write keywords into, so
//! that a digiKam or Lightroom user's tags are found whatever the photo's format:
//! - JPEG: APP1 `http://ns.adobe.com/xap/1.0/` (XMP) and APP13 `Photoshop 3.0` (IPTC inside
//!   Photoshop image resources);
//! - PNG: the `iTXt` chunk `XML:com.adobe.xmp` (XMP; zlib-compressed or not);
//! - WebP: the RIFF chunk `XMP `;
//! - TIFF: tag 700 (XMP) and tag 33723 (IPTC-IIM) of the first IFD.
//!
//! Only locating happens here, on untrusted bytes: every offset is checked, a compressed
//! packet is inflated to at most [`MAX_PACKET`] bytes, and a damaged container gives fewer
//! blocks, never an error or a panic.

use std::borrow::Cow;
use std::io::Read;

/// The largest XMP packet read (a real one is a few KiB; extended XMP is not read).
pub const MAX_PACKET: usize = 4 << 20;

/// The metadata blocks found in one image.
#[derive(Debug, Default)]
pub struct Blocks<'a> {
    /// XMP packets (RDF/XML), each as stored or inflated.
    pub xmp: Vec<Cow<'a, [u8]>>,
    /// Photoshop image resources (JPEG APP13), holding IPTC in resource 0x0404.
    pub photoshop: Vec<&'a [u8]>,
    /// Bare IPTC-IIM streams (TIFF tag 33723).
    pub iim: Vec<&'a [u8]>,
}

/// The metadata blocks of an image of any supported container (none for other content).
pub fn blocks(bytes: &[u8]) -> Blocks<'_> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        webp(bytes)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        tiff(bytes)
    } else {
        Blocks::default()
    }
}

/// The header of an APP1 segment holding an XMP packet.
const XMP_APP1: &[u8; 29] = b"http://ns.adobe.com/xap/1.0/\0";
/// The header of an APP13 segment holding Photoshop image resources.
const PHOTOSHOP_APP13: &[u8; 14] = b"Photoshop 3.0\0";

fn jpeg(bytes: &[u8]) -> Blocks<'_> {
    let mut out = Blocks::default();
    for seg in super::read::jpeg_app_segments(bytes) {
        if let Some(packet) = seg.strip_prefix(XMP_APP1.as_slice()) {
            out.xmp.push(Cow::Borrowed(packet));
        } else if let Some(data) = seg.strip_prefix(PHOTOSHOP_APP13.as_slice()) {
            out.photoshop.push(data);
        }
    }
    out
}

fn png(bytes: &[u8]) -> Blocks<'_> {
    let mut out = Blocks::default();
    let mut at = 8usize;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let Some(data) = at
            .checked_add(8 + len)
            .and_then(|end| bytes.get(at + 8..end))
        else {
            break;
        };
        if kind == b"IEND" {
            break;
        }
        if kind == b"iTXt"
            && let Some(packet) = png_itxt_xmp(data)
        {
            out.xmp.push(packet);
        }
        at += 12 + len;
    }
    out
}

/// The XMP packet of an `iTXt` chunk with the keyword `XML:com.adobe.xmp`: keyword, NUL,
/// compression flag and method, language tag, NUL, translated keyword, NUL, text.
fn png_itxt_xmp(data: &[u8]) -> Option<Cow<'_, [u8]>> {
    let rest = data.strip_prefix(b"XML:com.adobe.xmp\0")?;
    let (&compressed, rest) = rest.split_first()?;
    let (_method, rest) = rest.split_first()?;
    let lang_end = rest.iter().position(|&b| b == 0)?;
    let rest = &rest[lang_end + 1..];
    let key_end = rest.iter().position(|&b| b == 0)?;
    let text = &rest[key_end + 1..];
    if compressed == 0 {
        return Some(Cow::Borrowed(text));
    }
    let mut inflated = Vec::new();
    flate2::read::ZlibDecoder::new(text)
        .take(MAX_PACKET as u64)
        .read_to_end(&mut inflated)
        .ok()?;
    Some(Cow::Owned(inflated))
}

fn webp(bytes: &[u8]) -> Blocks<'_> {
    let mut out = Blocks::default();
    let mut at = 12usize;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let Some(data) = at
            .checked_add(8 + len)
            .and_then(|end| bytes.get(at + 8..end))
        else {
            break;
        };
        if &head[..4] == b"XMP " {
            out.xmp.push(Cow::Borrowed(data));
        }
        // Chunks are padded to an even length.
        at += 8 + len + len % 2;
    }
    out
}

/// TIFF tags of the first IFD that hold XMP and IPTC.
const TAG_XMP: u16 = 700;
const TAG_IPTC: u16 = 33723;

fn tiff(bytes: &[u8]) -> Blocks<'_> {
    let mut out = Blocks::default();
    let big_endian = bytes.starts_with(b"MM");
    let u16_at = |i: usize| {
        bytes.get(i..i + 2).map(|b| {
            let b = [b[0], b[1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        })
    };
    let u32_at = |i: usize| {
        bytes.get(i..i + 4).map(|b| {
            let b = [b[0], b[1], b[2], b[3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        })
    };
    let Some(ifd) = u32_at(4).map(|o| o as usize) else {
        return out;
    };
    let Some(entries) = u16_at(ifd) else {
        return out;
    };
    for k in 0..usize::from(entries) {
        let entry = ifd + 2 + 12 * k;
        let (Some(tag), Some(kind), Some(count)) =
            (u16_at(entry), u16_at(entry + 2), u32_at(entry + 4))
        else {
            break;
        };
        if tag != TAG_XMP && tag != TAG_IPTC {
            continue;
        }
        // BYTE, UNDEFINED (1 byte each) or LONG (4 bytes each: some writers store IPTC so).
        let unit = match kind {
            1 | 7 => 1usize,
            4 => 4,
            _ => continue,
        };
        let Some(len) = (count as usize).checked_mul(unit) else {
            continue;
        };
        let data = if len <= 4 {
            bytes.get(entry + 8..entry + 8 + len)
        } else {
            u32_at(entry + 8).and_then(|o| {
                let o = o as usize;
                bytes.get(o..o.checked_add(len)?)
            })
        };
        match (tag, data) {
            (TAG_XMP, Some(d)) => out.xmp.push(Cow::Borrowed(d)),
            (TAG_IPTC, Some(d)) => out.iim.push(d),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: &[u8] = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>";

    #[test]
    fn a_png_itxt_packet_is_found_plain_and_compressed() {
        let mut chunk = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
        chunk.extend_from_slice(PACKET);
        assert_eq!(png_itxt_xmp(&chunk).as_deref(), Some(PACKET));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, PACKET).unwrap();
        let mut chunk = b"XML:com.adobe.xmp\0\x01\0en\0\0".to_vec();
        chunk.extend_from_slice(&z.finish().unwrap());
        assert_eq!(png_itxt_xmp(&chunk).as_deref(), Some(PACKET));
        assert!(png_itxt_xmp(b"Comment\0\0\0\0\0text").is_none());
    }

    #[test]
    fn a_webp_xmp_chunk_is_found_after_a_padded_chunk() {
        let mut webp = b"RIFF\0\0\0\0WEBP".to_vec();
        webp.extend_from_slice(b"VP8X\x03\0\0\0abc\0");
        webp.extend_from_slice(b"XMP ");
        webp.extend_from_slice(&(PACKET.len() as u32).to_le_bytes());
        webp.extend_from_slice(PACKET);
        let found = blocks(&webp);
        assert_eq!(found.xmp.len(), 1);
        assert_eq!(&*found.xmp[0], PACKET);
    }

    #[test]
    fn tiff_xmp_and_iptc_tags_are_found_in_both_byte_orders() {
        for big in [false, true] {
            let w16 = |v: u16| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            };
            let w32 = |v: u32| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            };
            let iim = b"\x1c\x02\x19\x00\x03dog";
            let mut t = if big {
                b"MM\0*".to_vec()
            } else {
                b"II*\0".to_vec()
            };
            t.extend_from_slice(&w32(8));
            t.extend_from_slice(&w16(2));
            let data_at = 8 + 2 + 2 * 12 + 4;
            for (tag, kind, len, at) in [
                (TAG_XMP, 1u16, PACKET.len(), data_at),
                (TAG_IPTC, 7, iim.len(), data_at + PACKET.len()),
            ] {
                t.extend_from_slice(&w16(tag));
                t.extend_from_slice(&w16(kind));
                t.extend_from_slice(&w32(len as u32));
                t.extend_from_slice(&w32(at as u32));
            }
            t.extend_from_slice(&w32(0));
            t.extend_from_slice(PACKET);
            t.extend_from_slice(iim);
            let found = blocks(&t);
            assert_eq!(found.xmp.len(), 1, "big endian: {big}");
            assert_eq!(&*found.xmp[0], PACKET);
            assert_eq!(found.iim, vec![iim.as_slice()]);
        }
    }

    #[test]
    fn damaged_containers_give_no_blocks() {
        for bytes in [
            b"II*\0\xff\xff\xff\xff".as_slice(),
            b"MM\0*\0\0\0\x08\xff\xff",
            b"RIFF\0\0\0\0WEBPXMP \xff\xff\xff\xff",
            b"\x89PNG\r\n\x1a\n\xff\xff\xff\xffiTXt",
        ] {
            let found = blocks(bytes);
            assert!(found.xmp.is_empty() && found.iim.is_empty());
        }
    }
}
