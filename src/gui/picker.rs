//! Choosing folders to add. [`FolderPicker`] abstracts the dialog so the app never blocks on
//! it and tests can inject a folder: [`NativePicker`] shows the system dialog (rfd's async
//! dialog, awaited on a helper thread), [`FixedPicker`] answers with given paths.

use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, bounded};

/// A dialog that closes empty sooner than this was never shown.
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(250);

/// Shown when the system has no folder dialog (Linux without xdg-desktop-portal or zenity).
pub const NO_DIALOG: &str = "No folder dialog is available on this system (install \
     xdg-desktop-portal or zenity); drop folders on the window or start photolabel with \
     --open DIR instead.";

/// Something that lets the user choose folders, without blocking the frame.
pub trait FolderPicker {
    /// Opens the dialog (ignored while one is open).
    fn open(&mut self);
    /// The folders chosen, once the dialog closes (`Some(Ok(empty))` when cancelled), or why
    /// no dialog could be shown.
    fn poll(&mut self) -> Option<Result<Vec<PathBuf>, String>>;
    /// Whether a dialog is open.
    fn is_open(&self) -> bool;
}

/// The operating system's folder dialog.
#[derive(Default)]
pub struct NativePicker {
    pending: Option<(Receiver<Vec<PathBuf>>, Instant)>,
    /// Called when the dialog closes, so the app wakes up.
    pub repaint: Option<egui::Context>,
}

impl NativePicker {
    /// A native picker that wakes `ctx` when its dialog closes.
    pub fn new(ctx: egui::Context) -> Self {
        NativePicker {
            pending: None,
            repaint: Some(ctx),
        }
    }
}

impl FolderPicker for NativePicker {
    fn open(&mut self) {
        if self.pending.is_some() {
            return;
        }
        // Created here (the UI thread, as macOS requires), awaited on a helper thread.
        let dialog = rfd::AsyncFileDialog::new()
            .set_title("Add photo folders")
            .pick_folders();
        let (tx, rx) = bounded(1);
        let repaint = self.repaint.clone();
        let spawned = std::thread::Builder::new()
            .name("photolabel-dialog".into())
            .spawn(move || {
                let picked = block_on(dialog).unwrap_or_default();
                let _ = tx.send(picked.iter().map(|h| h.path().to_path_buf()).collect());
                if let Some(ctx) = repaint {
                    ctx.request_repaint();
                }
            });
        match spawned {
            Ok(_) => self.pending = Some((rx, Instant::now())),
            Err(e) => log::error!("cannot open the folder dialog: {e}"),
        }
    }

    fn poll(&mut self) -> Option<Result<Vec<PathBuf>, String>> {
        let (rx, opened) = self.pending.as_ref()?;
        let got = rx.try_recv().ok()?;
        let instant = opened.elapsed() < NO_DIALOG_WITHIN;
        self.pending = None;
        if got.is_empty() && instant {
            // Nobody cancels a dialog that fast: none could be shown.
            return Some(Err(NO_DIALOG.to_string()));
        }
        Some(Ok(got))
    }

    fn is_open(&self) -> bool {
        self.pending.is_some()
    }
}

/// Answers every dialog with the same folders (tests, scripted runs).
#[derive(Debug, Clone, Default)]
pub struct FixedPicker {
    pub paths: Vec<PathBuf>,
    open: bool,
}

impl FixedPicker {
    /// A picker that will choose `paths`.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        FixedPicker { paths, open: false }
    }
}

impl FolderPicker for FixedPicker {
    fn open(&mut self) {
        self.open = true;
    }

    fn poll(&mut self) -> Option<Result<Vec<PathBuf>, String>> {
        if std::mem::take(&mut self.open) {
            Some(Ok(self.paths.clone()))
        } else {
            None
        }
    }

    fn is_open(&self) -> bool {
        self.open
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread (the dialog's future needs no executor).
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}
