//! The `photolabel` binary: with no subcommand it opens the desktop GUI (feature `gui`; a
//! double-click starts it this way), otherwise the command-line interface over the core
//! (scan, label, search, show, stats, models, trace, bench-sched, retrain). Paths given without
//! a subcommand (`photolabel %F` from the .desktop entry) are added when the window opens; the
//! window logs to `DATA_DIR/logs/photolabel.log` as well as stderr. Exit codes:
//! 0 success, 1 error, 2 bad usage, 3 finished but some files failed,
//! 4 nothing found (search without hits, show of an unknown path).

use std::process::ExitCode;

use clap::Parser;

use photolabel::config::Paths;

mod cli;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // The window may have been started from a launcher, with no terminal: it also logs (and
    // records panics) to DATA_DIR/logs/photolabel.log. The command line logs to stderr only.
    let gui = cli.command.is_none() && cfg!(feature = "gui");
    let data_dir = gui
        .then(|| Paths::resolve(cli.db.clone()).ok().map(|p| p.data_dir))
        .flatten();
    match photolabel::logging::init(data_dir.as_deref()) {
        Ok(Some(path)) => log::info!(
            "photolabel {} starting; log file {}",
            env!("CARGO_PKG_VERSION"),
            path.display()
        ),
        Ok(None) => {}
        Err(e) => eprintln!("photolabel: {e}"),
    }
    quiet_on_broken_pipe();
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if gui {
                // To the log file, and to stderr through the logger.
                log::error!("{err:#}");
            } else {
                eprintln!("photolabel: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `photolabel search x | head` closes stdout early; `println!` then panics. Like other Unix
/// tools, end quietly instead (status 141, as for SIGPIPE); every other panic goes on to the
/// hook installed before.
fn quiet_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        previous(info);
    }));
}
