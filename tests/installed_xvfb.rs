//! The packaged app starts like a double-click: the binary installed from the .deb (path in
//! `PHOTOLABEL_INSTALLED_BIN`, set by `packaging/linux/check-deb.sh` after installing or
//! extracting the package) is started on a virtual X server with no terminal (stdout and stderr
//! discarded, working directory `/`), with a folder as its only argument, as the .desktop
//! entry's `Exec=photolabel %F` passes it from a file manager's "Open with". Its data and cache
//! dirs are fresh and pip is missing (`PHOTOLABEL_PYTHON` points nowhere), as on a first run
//! without Python. It must open its window, add and scan the folder, fail to fetch the model
//! weights without crashing, and write all of that to `DATA_DIR/logs/photolabel.log`. The
//! screenshot is kept at `target/e2e/installed.png`.
//!
//! Skipped (with a message) when `PHOTOLABEL_INSTALLED_BIN` is not set: `cargo test` alone has
//! no package to test.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::xvfb::{Kill, screenshot_dir, start_xvfb};
use photolabel::fixtures::generate_library;
use photolabel::store::Store;

#[test]
fn the_installed_binary_starts_from_a_launcher_under_xvfb() {
    let Some(bin) = std::env::var_os("PHOTOLABEL_INSTALLED_BIN").map(PathBuf::from) else {
        eprintln!(
            "skipped: PHOTOLABEL_INSTALLED_BIN is not set (packaging/linux/check-deb.sh sets it)"
        );
        return;
    };
    assert!(bin.is_file(), "no installed binary at {}", bin.display());
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("My Photos");
    generate_library(&photos, 6, (320, 240)).unwrap();
    let data = dir.path().join("data");
    let cache = dir.path().join("cache");
    let log_file = data.join("logs").join("photolabel.log");
    let log_text = || std::fs::read_to_string(&log_file).unwrap_or_default();

    let (display, _xvfb) = start_xvfb();

    let mut app = Kill(
        Command::new(&bin)
            .arg(&photos)
            .current_dir("/")
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("PHOTOLABEL_DB")
            .env_remove("PHOTOLABEL_OPEN")
            .env_remove("RUST_LOG")
            .env("PHOTOLABEL_DATA_DIR", &data)
            .env("PHOTOLABEL_CACHE_DIR", &cache)
            .env("PHOTOLABEL_PYTHON", dir.path().join("no-python-here"))
            .env("PHOTOLABEL_NPM", dir.path().join("no-npm-here"))
            .env("XDG_DATA_HOME", dir.path().join("xdg-data"))
            .env("XDG_CONFIG_HOME", dir.path().join("xdg-config"))
            .env("XDG_CACHE_HOME", dir.path().join("xdg-cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut alive = |what: &str| {
        if let Ok(Some(status)) = app.0.try_wait() {
            panic!(
                "photolabel exited ({status}) {what}; its log:\n{}",
                log_text()
            );
        }
    };
    let window_up = || {
        Command::new("xdotool")
            .args(["search", "--name", "photolabel"])
            .env("DISPLAY", &display)
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
    };
    let wait = |what: &str, timeout: u64, alive: &mut dyn FnMut(&str), cond: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !cond() {
            alive(what);
            assert!(
                start.elapsed() < Duration::from_secs(timeout),
                "timed out waiting for {what}; the log:\n{}",
                log_text()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    wait("the window", 60, &mut alive, &window_up);
    let db = data.join("library.sqlite");
    wait(
        "the folder given on the command line to be scanned",
        60,
        &mut alive,
        &|| {
            Store::open_readonly(&db)
                .ok()
                .and_then(|s| s.stats().ok())
                .is_some_and(|s| s.thumbnails == 6)
        },
    );
    // Labelling starts after the scan and tries to fetch the weights: without pip and npm that
    // fails, is logged and shown, and the app carries on.
    wait(
        "the failed weight fetch in the log",
        180,
        &mut alive,
        &|| log_text().contains("labelling cannot start"),
    );
    std::thread::sleep(Duration::from_secs(3));
    alive("after the failed fetch");

    let out = screenshot_dir();
    std::fs::create_dir_all(&out).unwrap();
    let shot = out.join("installed.png");
    let ok = Command::new("import")
        .args(["-window", "root"])
        .arg(&shot)
        .env("DISPLAY", &display)
        .status()
        .unwrap();
    assert!(ok.success(), "import failed");
    alive("after the screenshot");
    let img = image::open(&shot).unwrap().to_rgb8();
    let colors: std::collections::HashSet<[u8; 3]> = img.pixels().step_by(7).map(|p| p.0).collect();
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
    let log = log_text();
    assert!(log.contains("starting; log file"), "{log}");
    assert!(
        log.contains("no-python-here"),
        "the fetch error names the interpreter: {log}"
    );
    eprintln!("screenshot: {}\nlog:\n{log}", shot.display());
}
