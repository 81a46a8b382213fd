//! Reading a file's content with bounded memory. The content hash streams over the file in
//! fixed chunks ([`CHUNK`]), so hashing a file of any size holds one chunk; the bytes are kept
//! for the decoders (header checks, EXIF, thumbnail) only when the whole file is at most
//! [`MAX_FILE_BYTES`]. A larger file is hashed (its moves are still followed) and recorded as
//! too large to decode, never read whole into memory.

use std::io::{self, Read};
use std::path::Path;

/// Files larger than this are hashed but not decoded: their bytes are never held in memory.
/// No camera writes photos this big (a 100 MP camera's JPEG is about 60 MB, its 16-bit TIFF
/// 600 MB); a disk image or a video with a photo's name might be.
pub const MAX_FILE_BYTES: u64 = 512 << 20;

/// How much of a file is read (and hashed) at a time.
pub const CHUNK: usize = 1 << 20;

/// A file's content hash, and its bytes when it is small enough to decode.
#[derive(Debug)]
pub struct Content {
    /// BLAKE3 of the whole file, hex.
    pub hash: String,
    /// The file's bytes, or `None` when it is larger than [`MAX_FILE_BYTES`].
    pub bytes: Option<Vec<u8>>,
    /// How many bytes the file had.
    pub len: u64,
}

/// Reads the rest of `reader` (whose first bytes, `head`, were already read), hashing it in
/// chunks. `size_hint` is the file's size when it was listed: it sizes the buffer, and a file
/// listed (or found while reading) larger than [`MAX_FILE_BYTES`] keeps no bytes.
pub fn read_hashing(reader: &mut impl Read, head: &[u8], size_hint: u64) -> io::Result<Content> {
    read_hashing_up_to(reader, head, size_hint, MAX_FILE_BYTES)
}

fn read_hashing_up_to(
    reader: &mut impl Read,
    head: &[u8],
    size_hint: u64,
    limit: u64,
) -> io::Result<Content> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(head);
    let mut len = head.len() as u64;
    let mut bytes = (size_hint <= limit).then(|| {
        let mut b = Vec::with_capacity(size_hint.max(len) as usize);
        b.extend_from_slice(head);
        b
    });
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let data = chunk.get(..n).unwrap_or_default();
        hasher.update(data);
        len += n as u64;
        if len > limit {
            bytes = None; // it grew past the limit since it was listed
        } else if let Some(b) = bytes.as_mut() {
            b.extend_from_slice(data);
        }
    }
    Ok(Content {
        hash: hasher.finalize().to_hex().to_string(),
        bytes,
        len,
    })
}

/// Reads a whole photo for decoding, refusing (without reading) one larger than
/// [`MAX_FILE_BYTES`].
pub fn read_photo(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_FILE_BYTES {
        return Err(too_large(size));
    }
    let content = read_hashing(&mut file, &[], size)?;
    content.bytes.ok_or_else(|| too_large(content.len))
}

/// The error for a file over [`MAX_FILE_BYTES`].
pub fn too_large(size: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "file too large to decode ({} MiB; the limit is {} MiB)",
            size >> 20,
            MAX_FILE_BYTES >> 20
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_streamed_hash_is_the_hash_of_the_whole_content_and_small_files_keep_their_bytes() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i * 31 % 251) as u8).collect();
        let (head, rest) = data.split_at(40);
        let c = read_hashing(&mut &rest[..], head, data.len() as u64).unwrap();
        assert_eq!(c.hash, blake3::hash(&data).to_hex().to_string());
        assert_eq!(c.bytes.as_deref(), Some(&data[..]));
        assert_eq!(c.len, data.len() as u64);
    }

    #[test]
    fn a_file_listed_or_read_past_the_limit_keeps_no_bytes_but_is_hashed() {
        let data = vec![7u8; 2 * CHUNK];
        let c = read_hashing(&mut &data[..], &[], MAX_FILE_BYTES + 1).unwrap();
        assert!(c.bytes.is_none());
        assert_eq!(c.hash, blake3::hash(&data).to_hex().to_string());
        // Listed small but longer when read: the bytes are dropped once past the limit.
        let limit = (CHUNK * 2) as u64;
        let mut long = io::repeat(1).take(limit + 5);
        let c = read_hashing_up_to(&mut long, b"ab", 10, limit).unwrap();
        assert!(c.bytes.is_none());
        assert_eq!(c.len, limit + 7);
        let c = read_hashing_up_to(&mut io::repeat(1).take(limit - 2), b"ab", 10, limit).unwrap();
        assert_eq!(c.bytes.map(|b| b.len()), Some(CHUNK * 2));
    }
}
