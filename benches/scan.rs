//! Scan benchmarks, each printed with a baseline measured in the same run:
//! 1. metadata scan of 20,000 small JPEGs with EXIF (goal >= 1,000 photos/s on 2 cores) vs
//!    `find DIR -type f | xargs stat`;
//! 2. thumbnails of real-sized JPEGs vs `vipsthumbnail` (libvips) on the same files
//!    (goal >= 0.7x its rate);
//! 3. a first scan of 12 MP camera-sized JPEGs reusing the freedesktop shared thumbnails
//!    another program left (`~/.cache/thumbnails/large`) vs the same scan decoding every photo,
//!    and what writing those shared thumbnails adds to a scan.
//!
//! Run: `cargo bench --bench scan` (`-- --quick` for a smaller set, `-- --only=shared` for one
//! of `metadata`, `thumbnails`, `shared`). Generated files are kept
//! under target/bench-data between runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use photolabel::fixtures;
use photolabel::scan::{self, ScanOptions, detect::ImageFormat, thumb};
use photolabel::store::Store;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data")
}

/// Generates `n` JPEGs of `size` once, reusing them on later runs.
fn fixture_set(name: &str, n: usize, size: (u32, u32)) -> PathBuf {
    let dir = data_dir().join(format!("{name}-{n}-{}x{}", size.0, size.1));
    let done = dir.join(".complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let t = Instant::now();
        fixtures::generate_library(&dir, n, size).expect("generate fixtures");
        std::fs::write(&done, b"").expect("marker");
        eprintln!(
            "generated {n} files in {:.1}s: {}",
            t.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    dir
}

fn jpeg_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "jpg"))
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

fn shell(cmd: &str) -> f64 {
    let t = Instant::now();
    let status = Command::new("sh").arg("-c").arg(cmd).status().expect("sh");
    assert!(status.success(), "baseline command failed");
    t.elapsed().as_secs_f64()
}

fn metadata_scan(quick: bool) {
    let n = if quick { 2_000 } else { 20_000 };
    let dir = fixture_set("scan", n, (160, 120));
    // Warm the page cache for both contenders.
    let _ = shell(&format!(
        "cat $(find {} -type f) > /dev/null",
        dir.display()
    ));
    let base_s = shell(&format!(
        "find {} -type f | xargs stat > /dev/null",
        dir.display()
    ));
    let base_rate = n as f64 / base_s;

    let tmp = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&tmp.path().join("bench.sqlite")).expect("store");
    let mut opts = ScanOptions::new(tmp.path().join("thumbs"));
    opts.thumbnails = false;
    let t = Instant::now();
    let s = scan::scan(
        &mut store,
        std::slice::from_ref(&dir),
        &opts,
        None,
        &AtomicBool::new(false),
    )
    .expect("scan");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(s.new as usize, n);
    let rate = n as f64 / secs;
    println!(
        "scan/metadata: {n} JPEGs with EXIF in {secs:.2}s = {rate:.0} photos/s \
         (goal >= 1000) | find+stat: {base_rate:.0} files/s | ratio {:.2}x of find+stat",
        rate / base_rate
    );

    let t = Instant::now();
    let s = scan::scan(&mut store, &[dir], &opts, None, &AtomicBool::new(false)).expect("scan");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(s.unchanged as usize, n);
    println!(
        "scan/rescan-unchanged: {n} files in {secs:.3}s = {:.0} files/s | ratio {:.2}x of find+stat",
        n as f64 / secs,
        (n as f64 / secs) / base_rate
    );
}

fn thumbnails(quick: bool) {
    let n = if quick { 60 } else { 300 };
    let dir = fixture_set("thumb", n, (2048, 1536));
    let files = jpeg_files(&dir);
    let _ = shell(&format!(
        "cat $(find {} -type f) > /dev/null",
        dir.display()
    ));
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);

    let out = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    std::thread::scope(|s| {
        for chunk in files.chunks(files.len().div_ceil(jobs)) {
            let out = out.path();
            s.spawn(move || {
                for (i, f) in chunk.iter().enumerate() {
                    let bytes = std::fs::read(f).expect("read");
                    let jpeg = thumb::make_thumbnail(&bytes, ImageFormat::Jpeg, Some(1))
                        .expect("thumbnail");
                    std::fs::write(
                        out.join(format!("{}-{i}.jpg", chunk.as_ptr() as usize)),
                        jpeg,
                    )
                    .expect("write");
                }
            });
        }
    });
    let ours = n as f64 / t.elapsed().as_secs_f64();

    let have_vips = Command::new("vipsthumbnail").arg("--help").output().is_ok();
    if !have_vips {
        println!(
            "thumbnails: {ours:.1} photos/s (2048x1536 -> 256) | vipsthumbnail not installed \
             (apt-get install libvips-tools): no ratio"
        );
        return;
    }
    let vout = tempfile::tempdir().expect("tempdir");
    let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    // The same worker count, each vipsthumbnail process taking its share of the files.
    let per = list.len().div_ceil(jobs);
    let cmds: Vec<String> = list
        .chunks(per)
        .map(|c| {
            format!(
                "vipsthumbnail --size 256 -o \"{}/%s.jpg[Q=82]\" {}",
                vout.path().display(),
                c.join(" ")
            )
        })
        .collect();
    let cmd = format!(
        "{} wait",
        cmds.iter().map(|c| format!("({c}) & ")).collect::<String>()
    );
    let secs = shell(&format!("export VIPS_CONCURRENCY=1; {cmd}"));
    let vips = n as f64 / secs;
    println!(
        "thumbnails: {n} JPEGs 2048x1536 -> 256px: ours {ours:.1}/s | vipsthumbnail {vips:.1}/s \
         | ratio {:.2}x (goal >= 0.7x)",
        ours / vips
    );
}

/// Scans `dir` into a fresh library with `shared` thumbnails (reading, and writing when
/// `write`); returns the seconds taken and the photos with a thumbnail.
fn timed_scan(dir: &Path, shared: Option<&Path>, write: bool) -> (f64, u64) {
    let lib = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&lib.path().join("library.sqlite")).expect("store");
    let mut opts = ScanOptions::new(lib.path().join("thumbs"));
    opts.shared_thumbs = shared.map(Path::to_path_buf);
    opts.write_shared_thumbs = write;
    let t = Instant::now();
    let s = scan::scan(
        &mut store,
        &[dir.to_path_buf()],
        &opts,
        None,
        &AtomicBool::new(false),
    )
    .expect("scan");
    (t.elapsed().as_secs_f64(), s.thumbnails)
}

fn shared_thumbnail_reuse(quick: bool) {
    let n = if quick { 16 } else { 48 };
    let dir = fixture_set("camera", n, (4000, 3000))
        .canonicalize()
        .expect("fixtures");
    let _ = shell(&format!(
        "cat $(find {} -type f) > /dev/null",
        dir.display()
    ));
    let shared = tempfile::tempdir().expect("tempdir");
    // Decoding every photo (no shared thumbnails), then the same while leaving shared ones.
    let (decode, made) = timed_scan(&dir, None, false);
    let (writing, _) = timed_scan(&dir, Some(shared.path()), true);
    let written = std::fs::read_dir(shared.path().join("large"))
        .map(|d| d.count())
        .unwrap_or(0);
    // A fresh library finding them: what a user of another photo tool gets on a first scan.
    let (reuse, reused) = timed_scan(&dir, Some(shared.path()), false);
    assert_eq!(
        (made, reused, written),
        (n as u64, n as u64, n),
        "every photo thumbnailed"
    );
    println!(
        "shared thumbnails: first scan of {n} JPEGs 4000x3000: decoding {:.1} photos/s | \
         reusing freedesktop large thumbnails {:.1} photos/s | speed-up {:.2}x; writing them \
         while scanning: {:.1} photos/s ({:+.0}% time)",
        n as f64 / decode,
        n as f64 / reuse,
        decode / reuse,
        n as f64 / writing,
        100.0 * (writing / decode - 1.0)
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let only = std::env::args().find_map(|a| a.strip_prefix("--only=").map(str::to_string));
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if run("metadata") {
        metadata_scan(quick);
    }
    if run("thumbnails") {
        thumbnails(quick);
    }
    if run("shared") {
        shared_thumbnail_reuse(quick);
    }
}
