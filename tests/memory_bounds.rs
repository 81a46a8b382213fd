//! Memory bounds of examining a file as the scan does (issue #17), measured as the growth of
//! this process's peak resident set (`VmHWM` in /proc/self/status, reset before each case
//! through /proc/self/clear_refs):
//!
//! - a sparse 1 GiB file with a JPEG header is hashed streaming and refused as too large to
//!   decode, never read whole;
//! - a JPEG just under the decompression-bomb limit ([`MAX_PIXELS`]) is thumbnailed from a
//!   1/8-scale decode;
//! - a PNG just under that limit (PNG has no reduced-size decoding) is read row by row and
//!   box-averaged as it decodes, never held at full size (749 MB of RGB).
//!
//! Its own test binary, so that no other test inflates the figures; its measurements run one
//! at a time.

#![allow(clippy::unwrap_used)] // setup failures should panic with their message

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use photolabel::scan::detect::MAX_PIXELS;
use photolabel::scan::{Examined, ScanOptions, examine_file};

const MIB: u64 = 1 << 20;

/// One measurement at a time: the peak is per process (the files are made in parallel, with
/// little memory).
static ONE: Mutex<()> = Mutex::new(());

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Runs `f` and returns what it returned and how far the peak resident set rose above the
/// resident set before it, in bytes.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let _one = ONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // "5" resets VmHWM to the current resident set (Linux 4.0 and later).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmRSS:");
    assert!(
        status_kib("VmHWM:") <= before + 1024,
        "the peak was not reset"
    );
    let out = f();
    let peak = status_kib("VmHWM:");
    (out, peak.saturating_sub(before) * 1024)
}

fn options(dir: &Path) -> ScanOptions {
    let mut opts = ScanOptions::new(dir.join("thumbs"));
    opts.shared_thumbs = None;
    opts.jobs = 1;
    opts
}

/// A pixel-count just under the bomb limit: 16000 x 15600 = 249.6 MP.
const W: u32 = 16_000;
const H: u32 = 15_600;

#[test]
fn a_sparse_gibibyte_file_is_hashed_streaming_and_never_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk-image.jpg");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&[
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ])
    .unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
    let (examined, growth) = peak_growth(|| examine_file(&path, &options(dir.path())));
    eprintln!(
        "1 GiB sparse file: peak resident set grew {} MiB",
        growth / MIB
    );
    let Examined::Record(rec) = examined else {
        panic!("{examined:?}")
    };
    let msg = rec.meta.unwrap_err();
    assert!(msg.contains("too large to decode (1024 MiB"), "{msg}");
    // Hashed all the same (moves of it are followed), with the hash of the whole content.
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(std::fs::File::open(&path).unwrap())
        .unwrap();
    assert_eq!(rec.hash, Some(hasher.finalize().to_hex().to_string()));
    assert!(
        growth < 64 * MIB,
        "examining a 1 GiB file grew the peak by {} MiB",
        growth / MIB
    );
}

/// A flat colour of any size, without a pixel buffer.
struct Flat(u32, u32);

impl image::GenericImageView for Flat {
    type Pixel = image::Rgb<u8>;
    fn dimensions(&self) -> (u32, u32) {
        (self.0, self.1)
    }
    fn get_pixel(&self, x: u32, y: u32) -> image::Rgb<u8> {
        // Broad bands, so the thumbnail has something to show and the file stays small.
        image::Rgb([(x / 2000 * 30) as u8, (y / 2000 * 30) as u8, 128])
    }
}

fn examine_near_limit(path: &Path, dir: &Path) -> (u64, u64) {
    assert!(u64::from(W) * u64::from(H) <= MAX_PIXELS);
    assert!(u64::from(W) * u64::from(H) > MAX_PIXELS * 99 / 100);
    let opts = options(dir);
    let (examined, growth) = peak_growth(|| examine_file(path, &opts));
    let Examined::Record(rec) = examined else {
        panic!("{examined:?}")
    };
    let meta = rec.meta.unwrap();
    assert_eq!((meta.width, meta.height), (W, H));
    assert!(rec.thumb, "a thumbnail was made");
    let hash = rec.hash.unwrap();
    let thumb = image::open(photolabel::scan::thumb::thumb_path(&opts.thumbs_dir, &hash)).unwrap();
    assert_eq!(thumb.width(), photolabel::scan::thumb::THUMB_SIZE);
    (growth, std::fs::metadata(path).unwrap().len())
}

#[test]
fn a_jpeg_just_under_the_pixel_limit_is_thumbnailed_from_a_reduced_decode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.jpg");
    let out = BufWriter::new(std::fs::File::create(&path).unwrap());
    image::codecs::jpeg::JpegEncoder::new_with_quality(out, 80)
        .encode_image(&Flat(W, H))
        .unwrap();
    let (growth, size) = examine_near_limit(&path, dir.path());
    eprintln!(
        "{W}x{H} JPEG ({} MiB file): peak resident set grew {} MiB",
        size / MIB,
        growth / MIB
    );
    // Full-size RGB would be 749 MB; the 1/8-scale decode is 2000 x 1950 (11.7 MB).
    assert!(growth < 96 * MIB, "grew {} MiB", growth / MIB);
}

#[test]
fn a_png_just_under_the_pixel_limit_is_thumbnailed_row_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.png");
    let mut enc = png::Encoder::new(BufWriter::new(std::fs::File::create(&path).unwrap()), W, H);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let mut row = vec![0u8; W as usize * 3];
    for y in 0..H {
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            px.copy_from_slice(&[(x / 2000 * 30) as u8, (y / 2000 * 30) as u8, 128]);
        }
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
    writer.finish().unwrap();
    let (growth, size) = examine_near_limit(&path, dir.path());
    let pixels = u64::from(W) * u64::from(H) * 3;
    eprintln!(
        "{W}x{H} PNG ({} MiB file): peak resident set grew {} MiB (decoded pixels {} MiB)",
        size / MIB,
        growth / MIB,
        pixels / MIB
    );
    assert!(
        growth < 96 * MIB,
        "grew {} MiB for {} MiB of pixels",
        growth / MIB,
        pixels / MIB
    );
}
