//! End to end: the real `photolabel` binary opens its window on a virtual X server (Xvfb) with
//! a generated folder passed through `--open`, scans it, and the screen is captured with
//! ImageMagick's `import -window root` and checked not to be blank. Needs `Xvfb`, `import`
//! and `xdotool` (Debian: xvfb imagemagick xdotool; Mesa for rendering). Without them the test
//! is skipped with a message, except under CI (`CI` set), where it fails.
//! The screenshots are kept at `target/e2e/photolabel.png` (the grid after the scan) and
//! `target/e2e/photolabel-detail.png` (after clicking the first photo) and
//! `target/e2e/photolabel-search.png` (after typing a search into the search box).

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::xvfb::{Kill, have, screenshot_dir, start_xvfb, wait_for};
use photolabel::fixtures::generate_library;
use photolabel::store::Store;

#[test]
fn the_binary_opens_a_window_and_scans_a_folder_under_xvfb() {
    let missing: Vec<&str> = ["Xvfb", "import", "xdotool"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI lacks {missing:?} (apt-get install xvfb imagemagick xdotool)"
        );
        eprintln!("skipped: {missing:?} not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    generate_library(&photos, 24, (320, 240)).unwrap();
    let db = dir.path().join("library.sqlite");
    // Three photos carry a user tag the search below types (the models do not run here:
    // their weights are not in this fresh cache).
    {
        let mut store = Store::open(&db).unwrap();
        // The thumbnails where the app looks for them (beside the --db file).
        let opts = photolabel::scan::ScanOptions::new(db.with_extension("cache").join("thumbs"));
        photolabel::scan::scan(
            &mut store,
            std::slice::from_ref(&photos),
            &opts,
            None,
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap();
        for p in store.photos_newest_first(3, 0).unwrap() {
            store.add_user_label(p.id, "zanzibar").unwrap();
        }
    }

    let (display, _xvfb) = start_xvfb();

    let log = std::fs::File::create(dir.path().join("photolabel.log")).unwrap();
    let mut app = Kill(
        Command::new(env!("CARGO_BIN_EXE_photolabel"))
            .arg("--open")
            .arg(&photos)
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env("PHOTOLABEL_DB", &db)
            .env("PHOTOLABEL_DATA_DIR", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("xdg-data"))
            .env("XDG_CONFIG_HOME", dir.path().join("xdg-config"))
            .env("XDG_CACHE_HOME", dir.path().join("xdg-cache"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let window_up = || {
        Command::new("xdotool")
            .args(["search", "--name", "photolabel"])
            .env("DISPLAY", &display)
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
    };
    let log_text =
        || std::fs::read_to_string(dir.path().join("photolabel.log")).unwrap_or_default();
    let start = Instant::now();
    while !window_up() {
        if let Ok(Some(status)) = app.0.try_wait() {
            panic!("photolabel exited with {status}: {}", log_text());
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no window: {}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The scan of --open runs in the background: wait for the library to hold the photos.
    wait_for("the scan", Duration::from_secs(60), || {
        Store::open_readonly(&db)
            .ok()
            .and_then(|s| s.stats().ok())
            .is_some_and(|s| s.thumbnails == 24)
    });
    std::thread::sleep(Duration::from_secs(3));

    let out = screenshot_dir();
    std::fs::create_dir_all(&out).unwrap();
    let shot = out.join("photolabel.png");
    let status = Command::new("import")
        .args(["-window", "root"])
        .arg(&shot)
        .env("DISPLAY", &display)
        .status()
        .unwrap();
    assert!(status.success(), "import failed");
    assert!(
        app.0.try_wait().unwrap().is_none(),
        "photolabel crashed: {}",
        log_text()
    );

    // Click the first photo of the grid: the detail panel opens.
    let xdo = |args: &[&str]| {
        let ok = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &display)
            .status()
            .unwrap()
            .success();
        assert!(ok, "xdotool {args:?} failed");
    };
    xdo(&["mousemove", "330", "120", "click", "1"]);
    std::thread::sleep(Duration::from_secs(3));
    let detail = out.join("photolabel-detail.png");
    let ok = Command::new("import")
        .args(["-window", "root"])
        .arg(&detail)
        .env("DISPLAY", &display)
        .status()
        .unwrap();
    assert!(ok.success(), "import failed");
    let after = image::open(&detail).unwrap().to_rgb8();
    let before = image::open(&shot).unwrap().to_rgb8();
    let changed = before
        .pixels()
        .zip(after.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        changed > 10_000,
        "clicking a photo changed only {changed} pixels: {}",
        detail.display()
    );
    assert!(
        app.0.try_wait().unwrap().is_none(),
        "photolabel crashed: {}",
        log_text()
    );

    // Type a query into the search box: the grid narrows to the three
    // tagged photos, so most of the grid area becomes plain background.
    // Without a window manager the window has no keyboard focus until it is clicked: click
    // into the search box (top bar, right of "Search"), which focuses it.
    xdo(&["search", "--name", "photolabel", "windowfocus", "--sync"]);
    xdo(&["mousemove", "300", "12", "click", "1"]);
    std::thread::sleep(Duration::from_millis(500));
    xdo(&["type", "--delay", "50", "zanzibar"]);
    xdo(&["key", "Return"]);
    std::thread::sleep(Duration::from_secs(3));
    let searched = out.join("photolabel-search.png");
    let ok = Command::new("import")
        .args(["-window", "root"])
        .arg(&searched)
        .env("DISPLAY", &display)
        .status()
        .unwrap();
    assert!(ok.success(), "import failed");
    let busy = |img: &image::RgbImage| {
        // Pixels of the lower grid area that differ from its most common colour.
        let (w, h) = img.dimensions();
        let mut counts = std::collections::HashMap::new();
        let area: Vec<[u8; 3]> = (h / 2..h - 40)
            .flat_map(|y| (40..w / 2).map(move |x| (x, y)))
            .map(|(x, y)| img.get_pixel(x, y).0)
            .collect();
        for p in &area {
            *counts.entry(*p).or_insert(0usize) += 1;
        }
        let bg = counts.values().max().copied().unwrap_or(0);
        area.len() - bg
    };
    let (grid_busy, search_busy) = (
        busy(&image::open(&shot).unwrap().to_rgb8()),
        busy(&image::open(&searched).unwrap().to_rgb8()),
    );
    assert!(
        search_busy * 3 < grid_busy,
        "typing a search did not narrow the grid ({search_busy} vs {grid_busy} busy pixels): {}",
        searched.display()
    );

    let img = image::open(&shot).unwrap().to_rgb8();
    let mut colors = std::collections::HashSet::new();
    for p in img.pixels().step_by(7) {
        colors.insert(p.0);
    }
    assert!(
        colors.len() > 50,
        "the screen looks blank ({} colours): {}",
        colors.len(),
        shot.display()
    );
    let store = Store::open_readonly(&db).unwrap();
    assert_eq!(
        store.roots().unwrap(),
        vec![std::fs::canonicalize(&photos).unwrap()]
    );
}
