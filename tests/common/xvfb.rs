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

/// Starts Xvfb at 1280x800 on a display number it picks itself (`-displayfd`: the server
/// takes a free number under its own lock and prints it, so tests running at once, or another
/// X server on the machine, never share a display) and waits until it accepts connections (its
/// socket can appear before it does, and a client that connects then is refused: seen on a
/// loaded machine). Returns the display name and the server.
pub fn start_xvfb() -> (String, Kill) {
    use std::io::BufRead;
    let mut server = Kill(
        Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
                // Without it the server resets when its last client leaves: the readiness
                // check below is that client, and a window opened during the reset fails
                // with "Failed to open connection to X server" (seen on a loaded machine).
                "-noreset",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (apt-get install xvfb)"),
    );
    let stdout = server.0.stdout.take().expect("Xvfb's stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep the pipe open (and drained) while the server runs: a closed pipe would kill
        // it with SIGPIPE at its next write there.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("Xvfb printed no display number");
    let n: u32 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("Xvfb printed {line:?}, not a display number"));
    let display = format!(":{n}");
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
