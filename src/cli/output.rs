//! Terminal output helpers shared by the commands: the progress bar (hidden under `--json`).

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar of `len` steps, hidden when the output is JSON.
pub fn bar(len: u64, json: bool) -> ProgressBar {
    let bar = if json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
