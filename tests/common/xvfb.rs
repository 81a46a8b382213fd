//! Helpers of the tests that start real windows on a virtual X server (Xvfb): a child process
//! killed when dropped, tool lookup, polling, and where screenshots go.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) when dropped, so a failing assertion leaves nothing
/// running.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Polls `cond` every 200 ms; fails the test after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts Xvfb on display `:N` (`base` + a per-process offset, so parallel test binaries do
/// not collide; a number whose lock file another server left behind is passed over) at
/// 1280x800 and waits until it accepts connections (its socket can appear before it does, and
/// a client that connects then is refused: seen on a loaded machine). Returns the display name
/// and the server.
pub fn start_xvfb(base: u32) -> (String, Kill) {
    let first = base + std::process::id() % 100;
    let n = (first..first + 50)
        .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
        .unwrap_or(first);
    let display = format!(":{n}");
    let mut server = Kill(
        Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (apt-get install xvfb)"),
    );
    let accepts = || {
        Command::new("xdotool")
            .arg("getdisplaygeometry")
            .env("DISPLAY", &display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let start = Instant::now();
    while !accepts() {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("Xvfb {display} exited with {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "Xvfb {display} accepts no connection"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (display, server)
}

/// `TARGET/e2e`, where the end-to-end tests keep their screenshots.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("e2e")
}
