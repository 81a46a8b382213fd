//! A log file for the desktop app. Started from a launcher, photolabel has no terminal, so what
//! it logs (and any panic) must land somewhere a user can find and send: `DATA_DIR/logs/
//! photolabel.log`. The file is size-capped: when it passes [`MAX_BYTES`] it is renamed to
//! `photolabel.log.1` (replacing the previous one) and a new file starts, so the logs never take
//! more than twice the cap. Messages still go to stderr through `env_logger` (filtered by
//! `RUST_LOG` as before); the file gets photolabel's own messages from `info` up and everything
//! else from `warn` up, whatever `RUST_LOG` says.
//!
//! No extra dependency: a small [`log::Log`] that wraps `env_logger`'s logger.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Size at which the log file is rotated.
pub const MAX_BYTES: u64 = 2 << 20;

/// The log file under a data directory.
pub fn log_path(data_dir: &Path) -> PathBuf {
    data_dir.join("logs").join("photolabel.log")
}

/// An append-only, size-capped log file.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
}

impl LogFile {
    /// Opens (creating folders and file) the log at `path`, rotating it first if it is already
    /// over `max_bytes`.
    pub fn open(path: &Path, max_bytes: u64) -> Result<LogFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        }
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len >= max_bytes {
            rotate(path)?;
        }
        let file = open_append(path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            written,
            max_bytes,
        })
    }

    /// Where the log is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line (a newline is added), rotating first when the cap would be passed.
    pub fn write_line(&mut self, line: &str) -> Result<()> {
        let n = line.len() as u64 + 1;
        if self.written > 0 && self.written + n > self.max_bytes {
            rotate(&self.path)?;
            self.file = open_append(&self.path)?;
            self.written = 0;
        }
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        self.file
            .write_all(&buf)
            .map_err(|e| Error::io("writing", &self.path, e))?;
        self.written += n;
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("opening", path, e))
}

/// Moves `path` to `path.1`, replacing an older one.
fn rotate(path: &Path) -> Result<()> {
    let mut old = path.as_os_str().to_owned();
    old.push(".1");
    std::fs::rename(path, &old).map_err(|e| Error::io("rotating", path, e))
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC), without a date crate.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Whether a record goes to the file: photolabel's own from `info`, others from `warn`.
fn file_enabled(meta: &log::Metadata<'_>) -> bool {
    if meta.target().starts_with("photolabel") {
        meta.level() <= log::Level::Info
    } else {
        meta.level() <= log::Level::Warn
    }
}

/// `env_logger` on stderr plus the log file.
struct TeeLogger {
    stderr: env_logger::Logger,
    file: Option<Mutex<LogFile>>,
}

impl log::Log for TeeLogger {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        self.stderr.enabled(meta) || (self.file.is_some() && file_enabled(meta))
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.stderr.enabled(record.metadata()) {
            self.stderr.log(record);
        }
        if let Some(file) = &self.file
            && file_enabled(record.metadata())
            && let Ok(mut f) = file.lock()
        {
            let line = format!(
                "{} {:<5} {}: {}",
                timestamp(),
                record.level(),
                record.target(),
                record.args()
            );
            // Nowhere left to report a failing log write.
            let _ = f.write_line(&line);
        }
    }

    fn flush(&self) {
        self.stderr.flush();
        if let Some(file) = &self.file
            && let Ok(mut f) = file.lock()
        {
            let _ = f.file.flush();
        }
    }
}

/// Installs the logger: stderr (`RUST_LOG`, default `warn`) and, when `data_dir` is given, the
/// log file under it, plus a panic hook that writes panics (message, place, backtrace) to the
/// log before the default hook runs. Returns the log file's path, or why it could not be
/// opened (logging then goes to stderr only). Call once.
pub fn init(data_dir: Option<&Path>) -> std::result::Result<Option<PathBuf>, String> {
    let stderr =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).build();
    let mut problem = None;
    let file = data_dir.and_then(|d| match LogFile::open(&log_path(d), MAX_BYTES) {
        Ok(f) => Some(f),
        Err(e) => {
            problem = Some(format!("cannot write the log file: {e}"));
            None
        }
    });
    let path = file.as_ref().map(|f| f.path().to_path_buf());
    let max = if file.is_some() {
        stderr.filter().max(log::LevelFilter::Info)
    } else {
        stderr.filter()
    };
    let logger = TeeLogger {
        stderr,
        file: file.map(Mutex::new),
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max);
    }
    if path.is_some() {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("unnamed");
            let backtrace = std::backtrace::Backtrace::force_capture();
            log::error!(target: "photolabel::panic", "thread '{name}' panicked: {info}\n{backtrace}");
            log::logger().flush();
            default_hook(info);
        }));
    }
    match problem {
        Some(p) => Err(p),
        None => Ok(path),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_file_is_rotated_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(dir.path());
        let mut log = LogFile::open(&path, 100).unwrap();
        for i in 0..30 {
            log.write_line(&format!("line {i:03}")).unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap();
        let old = std::fs::read_to_string(path.with_extension("log.1")).unwrap();
        assert!(current.len() <= 100, "{}", current.len());
        assert!(old.len() <= 100, "{}", old.len());
        assert!(current.ends_with("line 029\n"), "{current}");
        // Reopening a full file rotates it first.
        std::fs::write(&path, vec![b'x'; 150]).unwrap();
        let mut log = LogFile::open(&path, 100).unwrap();
        log.write_line("fresh").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "fresh\n");
    }

    #[test]
    fn timestamps_are_iso_utc() {
        let t = timestamp();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
