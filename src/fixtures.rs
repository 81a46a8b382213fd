//! Generated test libraries: real JPEG files with real EXIF blocks, and the broken files a
//! scanner must survive (empty, truncated, text named .jpg, decompression-bomb PNG). Used by
//! the integration tests and the benchmarks so that neither depends on files outside the repo.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

/// EXIF fields written into a generated JPEG.
#[derive(Debug, Clone, PartialEq)]
pub struct ExifSpec {
    pub make: String,
    pub model: String,
    /// "YYYY:MM:DD HH:MM:SS"
    pub datetime: String,
    pub orientation: u16,
    /// Exposure time as a fraction (numerator, denominator) of a second.
    pub exposure: (u32, u32),
    pub f_number: (u32, u32),
    pub iso: u16,
    pub flash: bool,
    pub focal: (u32, u32),
    pub gps: bool,
}

impl Default for ExifSpec {
    fn default() -> Self {
        ExifSpec {
            make: "PhotolabelCam".into(),
            model: "Model 1".into(),
            datetime: "2020:05:17 14:03:21".into(),
            orientation: 1,
            exposure: (1, 125),
            f_number: (28, 10),
            iso: 200,
            flash: false,
            focal: (50, 1),
            gps: false,
        }
    }
}

struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    data: Vec<u8>,
}

fn ascii(tag: u16, s: &str) -> Entry {
    let mut data = s.as_bytes().to_vec();
    data.push(0);
    Entry {
        tag,
        kind: 2,
        count: data.len() as u32,
        data,
    }
}

fn short(tag: u16, v: u16) -> Entry {
    Entry {
        tag,
        kind: 3,
        count: 1,
        data: v.to_le_bytes().to_vec(),
    }
}

fn long(tag: u16, v: u32) -> Entry {
    Entry {
        tag,
        kind: 4,
        count: 1,
        data: v.to_le_bytes().to_vec(),
    }
}

fn rationals(tag: u16, vals: &[(u32, u32)]) -> Entry {
    let mut data = Vec::new();
    for (n, d) in vals {
        data.extend_from_slice(&n.to_le_bytes());
        data.extend_from_slice(&d.to_le_bytes());
    }
    Entry {
        tag,
        kind: 5,
        count: vals.len() as u32,
        data,
    }
}

fn ifd_len(entries: &[Entry]) -> usize {
    let data: usize = entries
        .iter()
        .map(|e| {
            if e.data.len() > 4 {
                e.data.len() + (e.data.len() & 1)
            } else {
                0
            }
        })
        .sum();
    2 + 12 * entries.len() + 4 + data
}

/// Serialises one IFD placed at `offset` (from the TIFF header) into `out`.
fn write_ifd(out: &mut Vec<u8>, offset: usize, entries: &mut [Entry]) {
    entries.sort_by_key(|e| e.tag);
    let mut data_off = offset + 2 + 12 * entries.len() + 4;
    let mut data = Vec::new();
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for e in entries.iter() {
        out.extend_from_slice(&e.tag.to_le_bytes());
        out.extend_from_slice(&e.kind.to_le_bytes());
        out.extend_from_slice(&e.count.to_le_bytes());
        if e.data.len() <= 4 {
            let mut v = e.data.clone();
            v.resize(4, 0);
            out.extend_from_slice(&v);
        } else {
            out.extend_from_slice(&(data_off as u32).to_le_bytes());
            data.extend_from_slice(&e.data);
            if e.data.len() & 1 == 1 {
                data.push(0);
            }
            data_off += e.data.len() + (e.data.len() & 1);
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&data);
}

/// A complete APP1 "Exif" segment (marker included) for `spec`.
pub fn exif_segment(spec: &ExifSpec) -> Vec<u8> {
    let exif_entries = || {
        vec![
            rationals(0x829A, &[spec.exposure]),
            rationals(0x829D, &[spec.f_number]),
            short(0x8827, spec.iso),
            ascii(0x9003, &spec.datetime),
            short(0x9209, u16::from(spec.flash)),
            rationals(0x920A, &[spec.focal]),
        ]
    };
    let gps_entries = || {
        vec![
            Entry {
                tag: 0x0000,
                kind: 1,
                count: 4,
                data: vec![2, 3, 0, 0],
            },
            ascii(0x0001, "N"),
            rationals(0x0002, &[(48, 1), (51, 1), (2412, 100)]),
        ]
    };
    let ifd0 = |exif_at: u32, gps_at: u32| {
        let mut v = vec![
            ascii(0x010F, &spec.make),
            ascii(0x0110, &spec.model),
            short(0x0112, spec.orientation),
            long(0x8769, exif_at),
        ];
        if spec.gps {
            v.push(long(0x8825, gps_at));
        }
        v
    };
    let ifd0_at = 8;
    let exif_at = ifd0_at + ifd_len(&ifd0(0, 0));
    let gps_at = exif_at + ifd_len(&exif_entries());

    let mut tiff = b"II*\0".to_vec();
    tiff.extend_from_slice(&(ifd0_at as u32).to_le_bytes());
    write_ifd(&mut tiff, ifd0_at, &mut ifd0(exif_at as u32, gps_at as u32));
    write_ifd(&mut tiff, exif_at, &mut exif_entries());
    if spec.gps {
        write_ifd(&mut tiff, gps_at, &mut gps_entries());
    }

    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

/// A `w` x `h` picture with a deterministic pattern drawn from `seed`.
pub fn pattern_image(w: u32, h: u32, seed: u64) -> RgbImage {
    let s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let (r0, g0, b0) = ((s >> 8) as u8, (s >> 24) as u8, (s >> 40) as u8);
    RgbImage::from_fn(w, h, |x, y| {
        let band = ((x * 7 + y * 3) / 16) as u8;
        Rgb([
            r0.wrapping_add(band),
            g0.wrapping_add((x / 8) as u8),
            b0.wrapping_add((y / 8) as u8),
        ])
    })
}

/// JPEG bytes of a pattern image, with an EXIF block when `exif` is given.
pub fn jpeg_bytes(img: &RgbImage, exif: Option<&ExifSpec>) -> Vec<u8> {
    let mut plain = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut plain), 85);
    img.write_with_encoder(enc)
        .expect("encoding to memory cannot fail");
    match exif {
        None => plain,
        Some(spec) => {
            let mut out = plain[..2].to_vec(); // SOI
            out.extend_from_slice(&exif_segment(spec));
            out.extend_from_slice(&plain[2..]);
            out
        }
    }
}

/// PNG bytes of an image.
pub fn png_bytes(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encoding to memory cannot fail");
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A tiny, valid-looking PNG whose header claims `w` x `h` pixels (a decompression bomb when
/// large): decoding it would need gigabytes, reading its header costs nothing.
pub fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// EXIF for the `i`-th generated photo: dates spread over years, varied cameras and settings.
pub fn exif_for(i: u64) -> ExifSpec {
    let day = i % 28 + 1;
    let month = (i / 28) % 12 + 1;
    let year = 2010 + (i / 336) % 15;
    ExifSpec {
        make: ["Canon", "NIKON CORPORATION", "Apple", "FUJIFILM"][(i % 4) as usize].into(),
        model: format!("Model {}", i % 7),
        datetime: format!(
            "{year:04}:{month:02}:{day:02} {:02}:{:02}:{:02}",
            i % 24,
            i % 60,
            (i * 7) % 60
        ),
        orientation: [1, 1, 1, 6, 3, 8][(i % 6) as usize],
        exposure: (1, [30, 60, 125, 250, 1000][(i % 5) as usize]),
        f_number: ([18, 28, 40, 56, 80][(i % 5) as usize], 10),
        iso: [100, 200, 400, 800, 3200][(i % 5) as usize],
        flash: i.is_multiple_of(9),
        focal: ([24, 35, 50, 85][(i % 4) as usize], 1),
        gps: i.is_multiple_of(3),
    }
}

/// Writes `n` small JPEGs with EXIF under `dir`, 500 per sub-folder; returns their paths.
pub fn generate_library(dir: &Path, n: usize, size: (u32, u32)) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::with_capacity(n);
    for i in 0..n {
        let sub = dir.join(format!("album{:03}", i / 500));
        if i % 500 == 0 {
            std::fs::create_dir_all(&sub)?;
        }
        let img = pattern_image(size.0, size.1, i as u64);
        let path = sub.join(format!("IMG_{i:06}.jpg"));
        std::fs::write(&path, jpeg_bytes(&img, Some(&exif_for(i as u64))))?;
        paths.push(path);
    }
    Ok(paths)
}

/// The broken files every scan must survive, written into `dir`, as (file name, what is
/// wrong). None of them may stop a scan.
pub fn write_bad_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, &'static str)>> {
    std::fs::create_dir_all(dir)?;
    let good = jpeg_bytes(&pattern_image(64, 48, 7), Some(&ExifSpec::default()));
    let files: Vec<(&str, Vec<u8>, &'static str)> = vec![
        ("empty.jpg", Vec::new(), "empty file"),
        (
            "truncated.jpg",
            good[..good.len() / 2].to_vec(),
            "truncated JPEG",
        ),
        (
            "notes.jpg",
            b"this is a text file, not a picture\n".to_vec(),
            "not an image",
        ),
        ("bomb.png", bomb_png(50_000, 50_000), "image too large"),
    ];
    let mut out = Vec::new();
    for (name, bytes, why) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes)?;
        out.push((path, why));
    }
    Ok(out)
}

/// A synthetic trace with the structure real ones have: a cheap scene model whose output
/// predicts which other models find something (faces and emotions indoors, cars, trees and
/// dogs outdoors), emotion and age only valuable when a face was found, an expensive OCR model
/// that rarely finds text, a safety model that almost never does, and EXIF context (flash)
/// that hints at indoor scenes. Used to test the scheduler and trainer on known ground truth.
pub fn synthetic_trace(photos: usize, seed: u64) -> crate::sched::trace::Trace {
    use crate::sched::trace::{
        Context, ModelRun, Output, PhotoTrace, Trace, TraceHeader, TraceModel, mix,
    };
    let models = [
        ("scene", 5.0),
        ("objects", 30.0),
        ("faces", 20.0),
        ("emotion", 15.0),
        ("ocr", 80.0),
        ("pets", 25.0),
        ("safety", 40.0),
        ("age", 15.0),
    ];
    let header = TraceHeader::new(
        "synthetic".into(),
        models
            .iter()
            .map(|(id, _)| TraceModel {
                id: (*id).into(),
                family: "synthetic".into(),
                threshold: 0.5,
            })
            .collect(),
    );
    let mut h = seed;
    let mut unit = move || {
        h = mix(h);
        (h >> 40) as f32 / (1u64 << 24) as f32
    };
    let photos = (0..photos)
        .map(|i| {
            let indoor = unit() < 0.5;
            let face = unit() < if indoor { 0.6 } else { 0.15 };
            let mut outs: Vec<Vec<(&str, f32)>> = vec![Vec::new(); models.len()];
            outs[0].push((if indoor { "indoor" } else { "outdoor" }, 0.9));
            if indoor {
                if unit() < 0.6 {
                    outs[1].push(("sofa", 0.8));
                }
            } else {
                if unit() < 0.5 {
                    outs[1].push(("car", 0.85));
                }
                if unit() < 0.7 {
                    outs[1].push(("tree", 0.75));
                }
                if unit() < 0.4 {
                    outs[5].push(("dog", 0.9));
                }
            }
            if face {
                outs[2].push(("face", 0.95));
                if unit() < 0.7 {
                    outs[3].push(("smile", 0.8));
                }
                outs[7].push(("adult", 0.7));
            } else {
                // Below threshold: found nothing valuable.
                outs[3].push(("neutral", 0.3));
            }
            if unit() < 0.12 {
                outs[4].push(("text", 0.7));
            }
            if unit() < 0.02 {
                outs[6].push(("explicit", 0.6));
            }
            let runs = models
                .iter()
                .zip(outs)
                .map(|((id, ms), o)| ModelRun {
                    model: (*id).into(),
                    time_ms: ms * f64::from(0.9 + 0.2 * unit()),
                    peak_mem_bytes: Some(((ms * 4.0) as u64) << 20),
                    outputs: o
                        .into_iter()
                        .map(|(l, c)| Output {
                            label: l.into(),
                            confidence: c,
                            bbox: None,
                        })
                        .collect(),
                    error: None,
                    stages: Vec::new(),
                })
                .collect();
            PhotoTrace {
                photo: format!("synthetic/{i:05}.jpg"),
                hash: format!("{:016x}", mix(seed ^ i as u64)),
                context: Context {
                    flash: Some(if indoor { unit() < 0.7 } else { unit() < 0.05 }),
                    width: 4000,
                    height: 3000,
                    ..Context::default()
                },
                runs,
            }
        })
        .collect();
    Trace { header, photos }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PhotoMeta;

    #[test]
    fn generated_exif_reads_back() {
        let spec = ExifSpec {
            orientation: 6,
            flash: true,
            gps: true,
            ..ExifSpec::default()
        };
        let jpeg = jpeg_bytes(&pattern_image(40, 30, 1), Some(&spec));
        let mut meta = PhotoMeta::default();
        crate::scan::exif::read_exif(&jpeg, &mut meta);
        assert_eq!(meta.camera_make.as_deref(), Some("PhotolabelCam"));
        assert_eq!(meta.camera_model.as_deref(), Some("Model 1"));
        assert_eq!(meta.taken_at.as_deref(), Some("2020-05-17T14:03:21"));
        assert_eq!(meta.orientation, Some(6));
        assert_eq!(meta.exposure_s, Some(1.0 / 125.0));
        assert_eq!(meta.f_number, Some(2.8));
        assert_eq!(meta.iso, Some(200));
        assert_eq!(meta.flash, Some(true));
        assert_eq!(meta.focal_mm, Some(50.0));
        assert!(meta.gps);
    }

    #[test]
    fn bomb_header_reads_without_decoding() {
        let png = bomb_png(50_000, 50_000);
        let dims =
            crate::scan::thumb::header_dimensions(&png, crate::scan::detect::ImageFormat::Png);
        assert_eq!(dims, Ok((50_000, 50_000)));
    }
}
