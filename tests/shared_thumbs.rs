//! Shared freedesktop thumbnails (issue 16): a scan reuses a valid thumbnail another program
//! left in `thumbnails/large/MD5(uri).png` (its `Thumb::URI` and `Thumb::MTime` match the
//! photo) instead of decoding the photo, and ignores a stale one (the photo changed since).
//! The shared thumbnails here are solid red, the photos a generated pattern, so the colour of
//! our thumbnail tells which it came from.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::TempLib;
use photolabel::fixtures;
use photolabel::scan::shared_thumbs::{file_uri, thumbnail_path};
use photolabel::scan::thumb::thumb_path;

/// A PNG with `tEXt` chunks inserted after its header, as thumbnailers write them.
fn png_with_text(img: &image::RgbImage, text: &[(&str, String)]) -> Vec<u8> {
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    // Signature (8) + IHDR chunk (4 + 4 + 13 + 4).
    let mut out = png[..33].to_vec();
    for (key, value) in text {
        let mut data = key.as_bytes().to_vec();
        data.push(0);
        data.extend_from_slice(value.as_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(b"tEXt");
        crc.update(&data);
        out.extend_from_slice(b"tEXt");
        out.extend_from_slice(&data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    out.extend_from_slice(&png[33..]);
    out
}

fn mtime_s(path: &Path) -> i64 {
    let m = std::fs::metadata(path).unwrap().modified().unwrap();
    m.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The mean colour of our cached thumbnail of `photo`.
fn thumb_colour(lib: &TempLib, store: &photolabel::store::Store, photo: &Path) -> [u8; 3] {
    let p = store.photo_by_path(photo).unwrap().unwrap();
    let jpeg = thumb_path(&lib.thumbs(), p.hash.as_deref().unwrap());
    let img = image::open(jpeg).unwrap().to_rgb8();
    let n = u64::from(img.width() * img.height());
    let mut sum = [0u64; 3];
    for px in img.pixels() {
        for c in 0..3 {
            sum[c] += u64::from(px[c]);
        }
    }
    sum.map(|s| (s / n) as u8)
}

#[test]
fn a_valid_shared_thumbnail_is_reused_and_a_stale_one_is_not() {
    let lib = TempLib::new();
    let photos = lib.photos().canonicalize().unwrap();
    let shared = lib.dir.path().join("xdg-thumbnails");
    let red = image::RgbImage::from_pixel(256, 192, image::Rgb([230, 10, 10]));
    let mut names = Vec::new();
    for (i, fresh) in [(1u64, true), (2, false)] {
        let photo = photos.join(format!("p{i}.jpg"));
        let img = fixtures::pattern_image(640, 480, i);
        std::fs::write(&photo, fixtures::jpeg_bytes(&img, None)).unwrap();
        let uri = file_uri(&photo);
        let mtime = mtime_s(&photo) - i64::from(!fresh) * 100;
        let png = png_with_text(
            &red,
            &[
                ("Thumb::URI", uri.clone()),
                ("Thumb::MTime", mtime.to_string()),
            ],
        );
        let at = thumbnail_path(&shared, "large", &uri);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(&at, png).unwrap();
        names.push((photo, fresh));
    }
    let mut store = lib.store();
    let mut opts = lib.options();
    opts.shared_thumbs = Some(shared.clone());
    let s = photolabel::scan::scan(
        &mut store,
        std::slice::from_ref(&photos),
        &opts,
        None,
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!((s.new, s.thumbnails), (2, 2));
    for (photo, fresh) in &names {
        let [r, g, b] = thumb_colour(&lib, &store, photo);
        let reddish = r > 200 && g < 40 && b < 40;
        assert_eq!(
            reddish,
            *fresh,
            "{}: mean colour {r},{g},{b}",
            photo.display()
        );
    }
}
