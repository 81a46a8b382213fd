//! Shared freedesktop thumbnails (issue 16): a scan reuses a valid thumbnail another program
//! left in `thumbnails/large/MD5(uri).png` (its `Thumb::URI` and `Thumb::MTime` match the
//! photo) instead of decoding the photo, and ignores a stale one (the photo changed since).
//! The shared thumbnails here are solid red, the photos a generated pattern, so the colour of
//! our thumbnail tells which it came from.
//!
//! With sharing on, a scan leaves a `large` thumbnail for each photo it decodes, with the keys,
//! size and permissions the standard asks for (checked with ImageMagick as an independent
//! reader of the PNG's text keys), rewrites it only when the photo changed, and never writes a
//! `fail/` entry.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::TempLib;
use photolabel::fixtures;
use photolabel::scan::shared_thumbs::{self, file_uri, png_text, thumbnail_path};
use photolabel::scan::thumb::thumb_path;

/// A PNG of `img` with `tEXt` chunks, as thumbnailers write them.
fn png_with_text(img: &image::RgbImage, text: &[(&str, String)]) -> Vec<u8> {
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let text: Vec<(&str, &str)> = text.iter().map(|(k, v)| (*k, v.as_str())).collect();
    shared_thumbs::png_with_text(&png, &text).unwrap()
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

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `identify`'s reading of a PNG text key (ImageMagick is installed by `.ci/run`).
fn identify_key(png: &Path, key: &str) -> String {
    let out = std::process::Command::new("identify")
        .arg("-format")
        .arg(format!("%[{key}]"))
        .arg(png)
        .output()
        .expect("ImageMagick's identify (apt install imagemagick)");
    assert!(out.status.success(), "identify failed on {}", png.display());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn with_sharing_on_a_scan_leaves_large_thumbnails_as_the_standard_asks() {
    let lib = TempLib::new();
    let photos = lib.photos().canonicalize().unwrap();
    for i in 0..3u64 {
        let img = fixtures::pattern_image(640 + 32 * i as u32, 480, i);
        std::fs::write(
            photos.join(format!("p{i}.jpg")),
            fixtures::jpeg_bytes(&img, None),
        )
        .unwrap();
    }
    // Not an image we can read: it must get no thumbnail, and no `fail/` entry either.
    std::fs::write(photos.join("broken.jpg"), b"\xff\xd8\xff\xe0 not really").unwrap();
    let shared = lib.dir.path().join("xdg-thumbnails");
    let mut opts = lib.options();
    opts.shared_thumbs = Some(shared.clone());
    opts.write_shared_thumbs = true;
    let scan = |store: &mut photolabel::store::Store, opts: &photolabel::scan::ScanOptions| {
        photolabel::scan::scan(
            store,
            std::slice::from_ref(&photos),
            opts,
            None,
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap()
    };
    let mut store = lib.store();
    let s = scan(&mut store, &opts);
    assert_eq!((s.new, s.failed), (4, 1));

    let large = shared.join("large");
    assert_eq!(mode(&shared), 0o700);
    assert_eq!(mode(&large), 0o700);
    assert!(!shared.join("fail").exists(), "no fail/ entry");
    let written: Vec<_> = std::fs::read_dir(&large).unwrap().collect();
    assert_eq!(
        written.len(),
        3,
        "one per readable photo, no temporary files left"
    );
    let mut stamps = Vec::new();
    for i in 0..3u64 {
        let photo = photos.join(format!("p{i}.jpg"));
        let uri = file_uri(&photo);
        let at = thumbnail_path(&shared, "large", &uri);
        assert_eq!(mode(&at), 0o600, "{}", at.display());
        let png = std::fs::read(&at).unwrap();
        let text = png_text(&png);
        let key = |k: &str| text.iter().find(|(t, _)| t == k).map(|(_, v)| v.clone());
        assert_eq!(key("Thumb::URI"), Some(uri.clone()));
        assert_eq!(key("Thumb::MTime"), Some(mtime_s(&photo).to_string()));
        let size = std::fs::metadata(&photo).unwrap().len();
        assert_eq!(key("Thumb::Size"), Some(size.to_string()));
        assert_eq!(key("Thumb::Mime").as_deref(), Some("image/jpeg"));
        assert_eq!(identify_key(&at, "Thumb::URI"), uri);
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!(img.width().max(img.height()), 256, "fits the large 256 box");
        stamps.push(std::fs::metadata(&at).unwrap().modified().unwrap());
    }

    // Another library scanning the same photos reuses them (they are valid) and rewrites none.
    let other = TempLib::new();
    let mut other_opts = other.options();
    other_opts.shared_thumbs = Some(shared.clone());
    other_opts.write_shared_thumbs = true;
    let mut other_store = other.store();
    let s = scan(&mut other_store, &other_opts);
    assert_eq!((s.new, s.thumbnails), (4, 3));
    for (i, stamp) in stamps.iter().enumerate() {
        let at = thumbnail_path(
            &shared,
            "large",
            &file_uri(&photos.join(format!("p{i}.jpg"))),
        );
        assert_eq!(&std::fs::metadata(&at).unwrap().modified().unwrap(), stamp);
    }

    // A photo edited since gets a fresh thumbnail: the stale one is replaced.
    let edited = photos.join("p1.jpg");
    let img = fixtures::pattern_image(300, 200, 9);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&edited, fixtures::jpeg_bytes(&img, None)).unwrap();
    let s = scan(&mut store, &opts);
    assert_eq!(s.updated, 1);
    let at = thumbnail_path(&shared, "large", &file_uri(&edited));
    let png = std::fs::read(&at).unwrap();
    let mtime = png_text(&png)
        .into_iter()
        .find(|(k, _)| k == "Thumb::MTime")
        .map(|(_, v)| v);
    assert_eq!(mtime, Some(mtime_s(&edited).to_string()));
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!(img.width(), 256);
    assert!((170..=171).contains(&img.height()), "{}", img.height());
}
