//! Frame-time benchmark of the GUI at library scale: a 100,000-photo store (rows written
//! through the store API; the newest photos have real thumbnail files), the real app over the
//! real engine, frames run headlessly (egui layout + tessellation, no GPU) while the grid
//! scrolls. First an idle baseline, then the same frames while a real scan of generated JPEGs
//! runs (only frames during the scan count). Prints p50/p99 of each against the 16 ms goal
//! and the busy/idle p99 ratio.
//!
//! `cargo bench --bench gui_frames [-- --quick]` (quick: 20,000 photos).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::{Event, MouseWheelSource, MouseWheelUnit, Pos2, RawInput, Rect, TouchPhase, vec2};

use photolabel::config::Paths;
use photolabel::engine::{Command, Engine, Plugins};
use photolabel::fixtures::{generate_library, jpeg_bytes, pattern_image};
use photolabel::gui::{App, FixedPicker, ScanState, Settings};
use photolabel::scan::thumb::thumb_path;
use photolabel::store::{PhotoMeta, ScanRecord, Store};

const FRAMES: usize = 600;
const GOAL_MS: f64 = 16.0;

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: usize = if quick { 20_000 } else { 100_000 };
    let scan_photos = if quick { 1000 } else { 4000 };
    let dir = tempfile::tempdir()?;
    let paths = Paths {
        db: dir.path().join("library.sqlite"),
        cache_dir: dir.path().join("cache"),
        data_dir: dir.path().to_path_buf(),
    };
    let t = Instant::now();
    build_store(&paths, n)?;
    println!(
        "store with {n} photos built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let incoming = dir.path().join("incoming");
    generate_library(&incoming, scan_photos, (640, 480))?;

    let engine = Engine::start(paths, Plugins::default())?;
    let mut app = App::new(
        engine,
        Box::new(FixedPicker::default()),
        Settings::default(),
        Vec::new(),
    );
    let ctx = egui::Context::default();
    let mut clock = 0.0;
    // Warm up: the id list arrives, fonts are built.
    let start = Instant::now();
    while app.library.ids().len() < n && start.elapsed() < Duration::from_secs(60) {
        frame(&ctx, &mut app, &mut clock, 0.0);
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..60 {
        frame(&ctx, &mut app, &mut clock, 0.0);
    }

    let idle = run_frames(&ctx, &mut app, &mut clock, false);
    let idle_textures = app.library.texture_count();

    app_send(&mut app, Command::AddPaths(vec![incoming]));
    let start = Instant::now();
    while !matches!(app.folders.scan, ScanState::Running(_))
        && start.elapsed() < Duration::from_secs(10)
    {
        frame(&ctx, &mut app, &mut clock, 0.0);
    }
    let busy = run_frames(&ctx, &mut app, &mut clock, true);

    let (i50, i99) = (pct(&idle, 0.5), pct(&idle, 0.99));
    let (b50, b99) = (pct(&busy, 0.5), pct(&busy, 0.99));
    println!("gui_frames: {n} photos, grid scrolling every frame, layout + tessellation (no GPU)");
    println!(
        "  idle:           {:4} frames  p50 {i50:6.2} ms  p99 {i99:6.2} ms  ({idle_textures} textures cached)",
        idle.len()
    );
    println!(
        "  while scanning: {:4} frames  p50 {b50:6.2} ms  p99 {b99:6.2} ms  ({scan_photos} JPEGs being scanned)",
        busy.len()
    );
    println!(
        "  p99 while scanning vs goal {GOAL_MS} ms: {}; ratio to idle baseline {:.2}x",
        if b99 <= GOAL_MS { "met" } else { "MISSED" },
        b99 / i99.max(1e-9)
    );
    Ok(())
}

fn app_send(app: &mut App, cmd: Command) {
    if let Err(e) = app.engine().send(cmd) {
        eprintln!("send failed: {e}");
    }
}

fn build_store(paths: &Paths, n: usize) -> anyhow::Result<()> {
    let mut store = Store::open(&paths.db)?;
    let thumbs = paths.thumbs_dir();
    let thumb = jpeg_bytes(&pattern_image(256, 192, 7), None);
    let with_thumb = 2000.min(n);
    let mut batch = Vec::with_capacity(5000);
    for i in 0..n {
        let hash = format!("{:064x}", i + 1);
        let has_thumb = i >= n - with_thumb;
        if has_thumb {
            let p = thumb_path(&thumbs, &hash);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&p, &thumb)?;
        }
        batch.push(ScanRecord {
            path: PathBuf::from(format!("/bench/album{:04}/IMG_{i:06}.jpg", i / 500)),
            root_id: None,
            size: 1_000_000,
            mtime_ns: 1_600_000_000_000_000_000 + i as i64 * 1_000_000_000,
            hash: Some(hash),
            meta: Ok(PhotoMeta {
                format: "jpeg".into(),
                width: 4000,
                height: 3000,
                taken_ts: Some(1_500_000_000 + i as i64 * 60),
                ..Default::default()
            }),
            thumb: has_thumb,
        });
        if batch.len() == 5000 {
            store.record_scans(&batch)?;
            batch.clear();
        }
    }
    store.record_scans(&batch)?;
    Ok(())
}

/// Runs one frame (layout + tessellation) and returns its duration in ms.
fn frame(ctx: &egui::Context, app: &mut App, clock: &mut f64, scroll: f32) -> f64 {
    *clock += 1.0 / 60.0;
    let mut input = RawInput {
        screen_rect: Some(Rect::from_min_size(Pos2::ZERO, vec2(1280.0, 800.0))),
        time: Some(*clock),
        ..Default::default()
    };
    input
        .events
        .push(Event::PointerMoved(Pos2::new(600.0, 400.0)));
    if scroll != 0.0 {
        input.events.push(Event::MouseWheel {
            unit: MouseWheelUnit::Point,
            delta: vec2(0.0, -scroll),
            phase: TouchPhase::Move,
            source: MouseWheelSource::Unknown,
            modifiers: Default::default(),
        });
    }
    let t = Instant::now();
    let out = ctx.run_ui(input, |ui| app.root_ui(ui));
    let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
    std::hint::black_box(prims);
    t.elapsed().as_secs_f64() * 1000.0
}

/// Runs up to [`FRAMES`] frames; with `while_scanning`, only as long as the scan runs.
fn run_frames(
    ctx: &egui::Context,
    app: &mut App,
    clock: &mut f64,
    while_scanning: bool,
) -> Vec<f64> {
    let mut times = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES {
        if while_scanning && !matches!(app.folders.scan, ScanState::Running(_)) {
            break;
        }
        // Scroll down steadily, with a jump back now and then (cached textures reused).
        let scroll = if i % 150 == 149 { -6000.0 } else { 60.0 };
        times.push(frame(ctx, app, clock, scroll));
        // The rest of a 60 Hz frame: the engine's threads work meanwhile.
        std::thread::sleep(Duration::from_millis(8));
    }
    times
}

fn pct(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((s.len() as f64 - 1.0) * q).round() as usize;
    s.get(i).copied().unwrap_or(0.0)
}
