//! The real cost of labelling a library, end to end (#18): a folder of real photos is scanned
//! into a fresh library and every photo goes through the labelling service the app and the CLI
//! use (decode, schedule, infer, store), in four modes measured in the same run, each in a
//! child process of its own (so that its peak RSS is its own):
//!
//! - `unshared`: run-all with every model computing its own faces / text boxes, as labelling
//!   worked before shared stages (the baseline);
//! - `run-all`: every model on every photo, shared stages;
//! - `app`: the scheduler as the app ships it (shipped network, 1 s deadline, 5% exploration);
//! - `no-deadline`: the same scheduler stopping only on its own stop rule.
//!
//! Per mode it prints photos/s, valuable labels (distinct labels a photo got from the models'
//! outputs at their thresholds) per second and as a share of run-all's, peak RSS, and where the
//! time went (decode, each model, each shared stage, the store), then the ratios and what a
//! 10,000-photo library would take. A second set of photos, 12 MP upscales of the first ones
//! (4000×3000 JPEG, made once into `target/tmp/library-bench-12mp`), measures a phone-sized
//! library, and the decode of each 12 MP file for labelling against its full-size decode.
//!
//! Run: `cargo bench --bench library` (release) or, in the dev profile (dependencies at O3),
//! `cargo test --bench library -- [--photos N] [--large N] [--modes a,b] [--save F] [--with F] [DIR]`
//! (default: 100 photos spread over `../shared/photos`, 12 large ones, all modes). Weights come
//! from `target/tmp/zoo-cache` (the integration tests' cache), fetched there when missing.
//! `PHOTOLABEL_DEVICE` chooses the device as everywhere (auto: wgpu on a real GPU, else flex).

#![allow(clippy::unwrap_used)] // a benchmark: failures should stop it with their message

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use photolabel::config::Paths;
use photolabel::engine::settings::LabelSettings;
use photolabel::label::LabelConfig;
use photolabel::label::service::{LabelService, ServiceOptions};
use photolabel::label::write;
use photolabel::scan::{self, ScanOptions};
use photolabel::store::{LabelStatus, PhotoStatus, RunStatus, Store};
use serde::{Deserialize, Serialize};

/// The environment variable that makes this binary a child measuring one mode.
const CHILD: &str = "PHOTOLABEL_LIBRARY_BENCH_CHILD";
const MODES: [&str; 4] = ["unshared", "run-all", "app", "no-deadline"];
const LARGE_W: u32 = 4000;
const LARGE_H: u32 = 3000;

/// Measurements kept by `--save` and reported again with `--with`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    small: Vec<Measured>,
    large: Vec<Measured>,
}

/// What one mode measured (a child's answer).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Measured {
    mode: String,
    device: String,
    photos: usize,
    failed: usize,
    scan_s: f64,
    /// Wall time of the labelling loop (decode, schedule, infer, store), service set-up aside.
    label_s: f64,
    decode_ms: f64,
    store_ms: f64,
    /// model -> (runs, total ms without its shared stage)
    models: BTreeMap<String, (usize, f64)>,
    /// stage -> (computations, total ms)
    stages: BTreeMap<String, (usize, f64)>,
    /// photo file name -> its distinct labels
    labels: BTreeMap<String, BTreeSet<String>>,
    peak_rss_bytes: u64,
}

fn target_tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn options(mode: &str) -> ServiceOptions {
    let base = ServiceOptions::default();
    match mode {
        "unshared" | "run-all" => ServiceOptions {
            config: LabelConfig {
                run_all: true,
                deadline_ms: None,
                share_stages: mode == "run-all",
                ..LabelConfig::default()
            },
            ..base
        },
        "app" => LabelSettings::default().service_options(),
        "no-deadline" => {
            let mut o = LabelSettings::default().service_options();
            o.config.deadline_ms = None;
            o
        }
        other => panic!("unknown mode {other}: expected one of {MODES:?}"),
    }
}

/// A child: scans `dir` into a fresh library under `work` and labels it in `mode`.
fn child(mode: &str, dir: &Path, work: &Path) -> Measured {
    let paths = Paths {
        db: work.join("library.sqlite"),
        cache_dir: target_tmp().join("zoo-cache"),
        data_dir: work.join("data"),
    };
    let mut store = Store::open(&paths.db).unwrap();
    let t = Instant::now();
    scan::scan(
        &mut store,
        &[dir.to_path_buf()],
        &ScanOptions::new(work.join("thumbs")),
        None,
        &AtomicBool::new(false),
    )
    .unwrap();
    let scan_s = t.elapsed().as_secs_f64();
    let mut service = LabelService::open(&paths, &mut store, options(mode), &|_| {}).unwrap();
    assert!(
        service.failures().is_empty(),
        "models missing: {:?}",
        service.failures()
    );
    let photos: Vec<_> = store
        .photos_newest_first(usize::MAX >> 1, 0)
        .unwrap()
        .into_iter()
        .filter(|p| p.status == PhotoStatus::Ok && p.label_status != LabelStatus::Labelled)
        .collect();
    let mut m = Measured {
        mode: mode.to_owned(),
        device: service.device(),
        photos: photos.len(),
        failed: 0,
        scan_s,
        label_s: 0.0,
        decode_ms: 0.0,
        store_ms: 0.0,
        models: BTreeMap::new(),
        stages: BTreeMap::new(),
        labels: BTreeMap::new(),
        peak_rss_bytes: 0,
    };
    let t = Instant::now();
    for p in &photos {
        let labelled = service.label(p, &|_| {});
        let t_store = Instant::now();
        let result = write::labelled(&mut store, p.id, labelled);
        m.store_ms += t_store.elapsed().as_secs_f64() * 1e3;
        let Ok(r) = result else {
            m.failed += 1;
            continue;
        };
        m.decode_ms += r.decode_ms;
        for run in &r.runs {
            if !matches!(run.status, RunStatus::Ran | RunStatus::Late) {
                m.failed += usize::from(run.status == RunStatus::Failed);
                continue;
            }
            let stage_ms = run.stage.as_ref().map_or(0.0, |s| s.1);
            let e = m.models.entry(run.model.clone()).or_default();
            e.0 += 1;
            e.1 += run.duration_ms.unwrap_or(0.0) - stage_ms;
            if let Some((id, ms)) = &run.stage {
                let e = m.stages.entry(id.clone()).or_default();
                e.0 += 1;
                e.1 += ms;
            }
        }
        let name = p.path.file_name().unwrap().to_string_lossy().into_owned();
        m.labels
            .insert(name, r.labels.iter().map(|l| l.label.clone()).collect());
    }
    m.label_s = t.elapsed().as_secs_f64();
    m.peak_rss_bytes = peak_rss_bytes();
    m
}

/// Runs `mode` in a child process on `dir`.
fn measure(mode: &str, dir: &Path) -> Measured {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("measured.json");
    let status = Command::new(std::env::current_exe().unwrap())
        .env(
            CHILD,
            format!("{mode}\n{}\n{}", dir.display(), out.display()),
        )
        .status()
        .unwrap();
    assert!(status.success(), "mode {mode} failed: {status}");
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// Photos spread evenly over `src` (sorted), copied into a fresh folder.
fn pick_photos(src: &Path, n: usize, into: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk_images(src);
    files.sort();
    let step = (files.len() / n.max(1)).max(1);
    let picked: Vec<PathBuf> = files.into_iter().step_by(step).take(n).collect();
    std::fs::create_dir_all(into).unwrap();
    for f in &picked {
        std::fs::copy(f, into.join(f.file_name().unwrap())).unwrap();
    }
    picked
}

fn walk_images(dir: &Path) -> Vec<PathBuf> {
    photolabel::sched::record::images_under(dir)
}

/// 12 MP (4000×3000) JPEG upscales of `photos`, made once and kept in the target dir.
fn large_photos(photos: &[PathBuf], into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    for f in photos {
        let out = into.join(format!(
            "{}-12mp.jpg",
            f.file_stem().unwrap().to_string_lossy()
        ));
        if out.exists() {
            continue;
        }
        let img = photolabel::zoo::load_photo(f).unwrap();
        let big = image::imageops::resize(
            &img,
            LARGE_W,
            LARGE_H,
            image::imageops::FilterType::CatmullRom,
        );
        let tmp = out.with_extension("part");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut file, 90)
            .encode_image(&big)
            .unwrap();
        drop(file);
        std::fs::rename(&tmp, &out).unwrap();
    }
}

/// Mean ms per file of each way of decoding a 12 MP JPEG.
struct DecodeTimes {
    files: usize,
    /// Full size, the `image` crate's decoder (zune-jpeg).
    full: f64,
    /// Full size, `jpeg-decoder` (the one the labeller uses, at a DCT scale).
    full_jd: f64,
    /// `jpeg-decoder` at its smallest DCT scale, 1/8 (one coefficient per block): it still
    /// Huffman-decodes every coefficient of the file, so no DCT-scaled decode with it can be
    /// faster. The floor of the scaled path.
    floor_jd: f64,
    /// For labelling: read, hash, EXIF, DCT-scaled decode, upright (what the labeller does).
    labelling: f64,
}

fn decode_times(dir: &Path) -> DecodeTimes {
    let files = walk_images(dir);
    let (mut full, mut full_jd, mut floor_jd, mut labelling) = (0.0, 0.0, 0.0, 0.0);
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let t = Instant::now();
        let img = image::load_from_memory(&bytes).unwrap();
        full += ms(t);
        assert_eq!(img.width(), LARGE_W);
        let t = Instant::now();
        let px = jpeg_decoder::Decoder::new(std::io::Cursor::new(&bytes))
            .decode()
            .unwrap();
        full_jd += ms(t);
        assert_eq!(px.len(), (LARGE_W * LARGE_H * 3) as usize);
        let t = Instant::now();
        let mut dec = jpeg_decoder::Decoder::new(std::io::Cursor::new(&bytes));
        dec.read_info().unwrap();
        let (w, h) = dec.scale(1, 1).unwrap();
        let px = dec.decode().unwrap();
        floor_jd += ms(t);
        assert_eq!(
            (u32::from(w), px.len()),
            (LARGE_W / 8, usize::from(w) * usize::from(h) * 3)
        );
        let t = Instant::now();
        let d = photolabel::sched::record::decode_photo(f).unwrap();
        labelling += ms(t);
        assert!(d.image.width() < LARGE_W);
    }
    let n = files.len().max(1) as f64;
    DecodeTimes {
        files: files.len(),
        full: full / n,
        full_jd: full_jd / n,
        floor_jd: floor_jd / n,
        labelling: labelling / n,
    }
}

fn valuable(m: &Measured) -> usize {
    m.labels.values().map(BTreeSet::len).sum()
}

/// Share of `reference`'s labels (photo by photo) that `m` found too.
fn recall(m: &Measured, reference: &Measured) -> f64 {
    let (mut hit, mut total) = (0usize, 0usize);
    for (photo, want) in &reference.labels {
        let got = m.labels.get(photo);
        total += want.len();
        hit += want
            .iter()
            .filter(|l| got.is_some_and(|g| g.contains(*l)))
            .count();
    }
    if total == 0 {
        1.0
    } else {
        hit as f64 / total as f64
    }
}

fn report(title: &str, results: &[Measured]) {
    println!("\n== {title}");
    let Some(first) = results.first() else { return };
    println!("device: {}; photos: {}", first.device, first.photos);
    let reference = results.iter().find(|m| m.mode == "run-all");
    let baseline = results.iter().find(|m| m.mode == "unshared");
    println!(
        "{:<12} {:>8} {:>9} {:>9} {:>10} {:>9} {:>8} {:>9} {:>9} {:>10}",
        "mode",
        "photos/s",
        "ms/photo",
        "valuable",
        "valuable/s",
        "of run-all",
        "failed",
        "decode ms",
        "store ms",
        "peak RSS"
    );
    for m in results {
        let n = m.photos.max(1) as f64;
        let v = valuable(m);
        println!(
            "{:<12} {:>8.3} {:>9.0} {:>9} {:>10.2} {:>9} {:>8} {:>9.1} {:>9.1} {:>7.0} MiB",
            m.mode,
            n / m.label_s,
            m.label_s * 1e3 / n,
            v,
            v as f64 / m.label_s,
            reference.map_or("-".into(), |r| format!("{:.1}%", 100.0 * recall(m, r))),
            m.failed,
            m.decode_ms / n,
            m.store_ms / n,
            m.peak_rss_bytes as f64 / f64::from(1 << 20),
        );
    }
    println!("time per photo by stage (ms; runs in brackets):");
    let mut names: Vec<String> = Vec::new();
    for m in results {
        for k in m
            .models
            .keys()
            .map(|k| format!("model {k}"))
            .chain(m.stages.keys().map(|k| format!("stage {k}")))
        {
            if !names.contains(&k) {
                names.push(k);
            }
        }
    }
    names.sort();
    print!("{:<28}", "");
    for m in results {
        print!(" {:>16}", m.mode);
    }
    println!();
    for name in &names {
        print!("{name:<28}");
        for m in results {
            let cell = match name.split_once(' ') {
                Some(("model", id)) => m.models.get(id),
                Some((_, id)) => m.stages.get(id),
                None => None,
            };
            match cell {
                Some((runs, ms)) => print!(" {:>9.1} ({:>4})", ms / m.photos.max(1) as f64, runs),
                None => print!(" {:>16}", "-"),
            }
        }
        println!();
    }
    if let (Some(r), Some(b)) = (reference, baseline) {
        println!(
            "run-all with shared stages vs without: {:.2}x faster ({:.0} vs {:.0} ms/photo)",
            b.label_s / r.label_s,
            r.label_s * 1e3 / r.photos.max(1) as f64,
            b.label_s * 1e3 / b.photos.max(1) as f64
        );
    }
    if let Some(r) = reference {
        let rv = valuable(r) as f64 / r.label_s;
        for m in results
            .iter()
            .filter(|m| m.mode == "app" || m.mode == "no-deadline")
        {
            println!(
                "{}: valuable labels/s {:.2}x run-all's at {:.1}% of its valuable labels; \
                 10,000 photos in {:.1} h (run-all {:.1} h)",
                m.mode,
                (valuable(m) as f64 / m.label_s) / rv,
                100.0 * recall(m, r),
                10_000.0 * m.label_s / m.photos.max(1) as f64 / 3600.0,
                10_000.0 * r.label_s / r.photos.max(1) as f64 / 3600.0,
            );
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        let mut parts = spec.splitn(3, '\n');
        let (mode, dir, out) = (
            parts.next().unwrap(),
            PathBuf::from(parts.next().unwrap()),
            PathBuf::from(parts.next().unwrap()),
        );
        let work = out.parent().unwrap().join("lib");
        std::fs::create_dir_all(&work).unwrap();
        let m = child(mode, &dir, &work);
        std::fs::write(&out, serde_json::to_vec(&m).unwrap()).unwrap();
        return;
    }
    // Arguments after `--` (cargo passes `--bench` too: ignored).
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (mut photos, mut large) = (100usize, 12usize);
    let mut modes: Vec<String> = MODES.iter().map(|s| s.to_string()).collect();
    let mut src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/photos");
    // --save FILE keeps this run's measurements; --with FILE reports them beside this run's
    // (same --photos, --large and folder: the photos are picked deterministically).
    let (mut save, mut with) = (None::<PathBuf>, None::<PathBuf>);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--photos" => photos = args.next().unwrap().parse().unwrap(),
            "--large" => large = args.next().unwrap().parse().unwrap(),
            "--modes" => modes = args.next().unwrap().split(',').map(str::to_owned).collect(),
            "--save" => save = args.next().map(PathBuf::from),
            "--with" => with = args.next().map(PathBuf::from),
            dir => src = PathBuf::from(dir),
        }
    }
    let mut earlier: Saved = with
        .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
        .unwrap_or_default();
    if !src.is_dir() {
        println!("library bench: {} is not a folder; skipped", src.display());
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let small_dir = work.path().join("photos");
    let picked = pick_photos(&src, photos, &small_dir);
    let mut saved = Saved {
        small: modes.iter().map(|m| measure(m, &small_dir)).collect(),
        large: Vec::new(),
    };
    let results: Vec<Measured> = earlier
        .small
        .drain(..)
        .chain(saved.small.iter().cloned())
        .collect();
    report(
        &format!("{} photos from {}", picked.len(), src.display()),
        &results,
    );
    if large > 0 {
        let large_dir = target_tmp().join("library-bench-12mp");
        let sources: Vec<PathBuf> = picked.iter().take(large).cloned().collect();
        large_photos(&sources, &large_dir);
        // Only this run's upscales.
        let this_run = work.path().join("large");
        std::fs::create_dir_all(&this_run).unwrap();
        for f in &sources {
            let name = format!("{}-12mp.jpg", f.file_stem().unwrap().to_string_lossy());
            std::fs::copy(large_dir.join(&name), this_run.join(&name)).unwrap();
        }
        let d = decode_times(&this_run);
        let n = d.files;
        println!(
            "\n12 MP JPEG decode ({n} files, {LARGE_W}x{LARGE_H}): full size {:.0} ms \
             (image crate), {:.0} ms (jpeg-decoder); for labelling {:.0} ms ({:.0}% of the \
             image crate's full size, {:.0}% of jpeg-decoder's); jpeg-decoder at 1/8, the \
             floor of any DCT-scaled decode with it (every coefficient is still Huffman-decoded), \
             {:.0} ms ({:.0}% of the image crate's full size)",
            d.full,
            d.full_jd,
            d.labelling,
            100.0 * d.labelling / d.full,
            100.0 * d.labelling / d.full_jd,
            d.floor_jd,
            100.0 * d.floor_jd / d.full,
        );
        saved.large = modes.iter().map(|m| measure(m, &this_run)).collect();
        let results: Vec<Measured> = earlier
            .large
            .drain(..)
            .chain(saved.large.iter().cloned())
            .collect();
        report(&format!("{n} 12 MP upscales"), &results);
    }
    if let Some(f) = save {
        std::fs::write(f, serde_json::to_vec(&saved).unwrap()).unwrap();
    }
}
