//! Opening the window: paths a launcher passes (`photolabel %F`, `file://` URIs) become
//! folders to add, and the GUI starts (feature `gui`).

use std::path::PathBuf;
use std::process::ExitCode;

use photolabel::config::Paths;

/// A path from the command line, or a `file://` URI as some launchers pass (`%U`).
pub fn desktop_path(arg: std::ffi::OsString) -> PathBuf {
    match arg.to_str().and_then(|s| s.strip_prefix("file://")) {
        Some(rest) => {
            // Drop an authority ("localhost"), then percent-decode.
            let path = rest.find('/').map_or(rest, |i| &rest[i..]);
            let bytes = path.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                let hex = |b: u8| char::from(b).to_digit(16);
                if bytes[i] == b'%'
                    && i + 2 < bytes.len()
                    && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
                {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            PathBuf::from(String::from_utf8_lossy(&out).into_owned())
        }
        None => PathBuf::from(arg),
    }
}

#[cfg(feature = "gui")]
pub fn open_gui(paths: Paths, mut open: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    if let Some(env) = std::env::var_os("PHOTOLABEL_OPEN") {
        open.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
    }
    log::info!(
        "opening the window (library {}, adding {:?})",
        paths.db.display(),
        open
    );
    photolabel::gui::run(paths, open)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "gui"))]
pub fn open_gui(_paths: Paths, _open: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    Cli::command().print_help()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launcher_arguments_become_paths() {
        let p = |s: &str| desktop_path(s.into());
        assert_eq!(p("/home/a b/photos"), PathBuf::from("/home/a b/photos"));
        assert_eq!(
            p("file:///home/a%20b/P%C3%A9"),
            PathBuf::from("/home/a b/Pé")
        );
        assert_eq!(p("file://localhost/srv/x"), PathBuf::from("/srv/x"));
        assert_eq!(p("file:///odd%2"), PathBuf::from("/odd%2"));
    }
}
