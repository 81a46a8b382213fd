//! The folders panel and scan bar: the library's folders (add with the dialog or by dropping
//! them on the window, remove without touching files; offline ones marked), library counts, the scan's progress
//! (done / total, rate, ETA) with pause and resume, and the files the scan could not use.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use egui::Ui;

use super::picker::FolderPicker;
use crate::engine::Command;
use crate::scan::{ScanProgress, ScanSummary};
use crate::store::Stats;

/// Most recent scan failures listed.
const FAILURES_SHOWN: usize = 200;

/// Where scanning is.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanState {
    Idle,
    Running(ScanProgress),
    Paused(ScanProgress),
    Finished(ScanSummary),
}

/// The folders panel's data.
pub struct FoldersPanel {
    pub roots: Vec<PathBuf>,
    /// Folders whose path is gone now (unplugged drive); their photos are kept.
    pub offline: Vec<PathBuf>,
    pub stats: Stats,
    pub scan: ScanState,
    pub failures: VecDeque<(PathBuf, String)>,
    /// A folder waiting for the user to confirm its removal.
    confirm_remove: Option<PathBuf>,
}

impl Default for FoldersPanel {
    fn default() -> Self {
        FoldersPanel {
            roots: Vec::new(),
            offline: Vec::new(),
            stats: Stats::default(),
            scan: ScanState::Idle,
            failures: VecDeque::new(),
            confirm_remove: None,
        }
    }
}

/// "1 min 05 s"-style duration.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

/// Estimated time left, when the rate is known and the walk has finished counting.
pub fn eta(p: &ScanProgress) -> Option<Duration> {
    let rate = p.rate();
    let left = p.queued.saturating_sub(p.done);
    (rate > 0.0 && !p.walking).then(|| Duration::from_secs_f64(left as f64 / rate))
}

impl FoldersPanel {
    /// Records a scan failure.
    pub fn add_failure(&mut self, path: PathBuf, message: String) {
        if self.failures.len() >= FAILURES_SHOWN {
            self.failures.pop_front();
        }
        self.failures.push_back((path, message));
    }

    /// The left panel: folders, counts, failures.
    pub fn folders_ui(
        &mut self,
        picker: &mut dyn FolderPicker,
        out: &mut Vec<Command>,
        ui: &mut Ui,
    ) {
        ui.heading("Folders");
        let add = ui.add_enabled(!picker.is_open(), egui::Button::new("Add folder"));
        if add
            .on_hover_text("Add photo folders to the library (or drop them on the window)")
            .clicked()
        {
            picker.open();
        }
        if self.roots.is_empty() {
            ui.weak("No folders yet.");
        }
        for root in &self.roots {
            ui.horizontal(|ui| {
                let remove = ui
                    .small_button("×")
                    .on_hover_text("Remove from the library (files stay on disk)");
                if remove.clicked() {
                    self.confirm_remove = Some(root.clone());
                }
                ui.label(root.display().to_string());
                if self.offline.contains(root) {
                    ui.weak("offline").on_hover_text(
                        "This folder is not there now (unplugged drive?). Its photos are kept \
                         and it is scanned again when it comes back.",
                    );
                }
            });
        }
        if let Some(root) = self.confirm_remove.clone() {
            ui.group(|ui| {
                ui.label(format!(
                    "Remove {} from the library? Its photos, labels and tags are forgotten; the \
                     files are not touched.",
                    root.display()
                ));
                ui.horizontal(|ui| {
                    if ui.button("Remove folder").clicked() {
                        out.push(Command::RemoveFolder(root.clone()));
                        self.confirm_remove = None;
                    }
                    if ui.button("Keep").clicked() {
                        self.confirm_remove = None;
                    }
                });
            });
        }
        ui.separator();
        let s = &self.stats;
        ui.label(format!(
            "{} photos, {} labelled",
            s.photos_ok, s.photos_labelled
        ));
        if s.photos_error > 0 {
            ui.label(format!("{} could not be read", s.photos_error));
        }
        if s.photos_missing > 0 {
            ui.label(format!("{} missing from disk", s.photos_missing));
        }
        if !self.failures.is_empty() {
            ui.separator();
            egui::CollapsingHeader::new(format!("Skipped files ({})", self.failures.len()))
                .default_open(false)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .max_height(240.0)
                        .show(ui, |ui| {
                            for (path, msg) in self.failures.iter().rev() {
                                ui.label(format!("{msg}: {}", path.display()));
                            }
                        });
                });
        }
    }

    /// The scan bar: progress with pause/resume, shown while scanning or paused.
    pub fn scan_bar_ui(&mut self, out: &mut Vec<Command>, ui: &mut Ui) {
        match self.scan.clone() {
            ScanState::Idle => {}
            ScanState::Running(p) | ScanState::Paused(p) => {
                let paused = matches!(self.scan, ScanState::Paused(_));
                ui.horizontal(|ui| {
                    let frac = if p.queued > 0 {
                        p.done as f32 / p.queued as f32
                    } else {
                        0.0
                    };
                    let eta = eta(&p)
                        .map(|d| format!(", about {} left", fmt_duration(d)))
                        .unwrap_or_default();
                    let counting = if p.walking { " (still counting)" } else { "" };
                    let text = format!(
                        "{} / {}{counting} · {:.0} photos/s{eta}",
                        p.done,
                        p.queued,
                        p.rate()
                    );
                    ui.add(
                        egui::ProgressBar::new(frac)
                            .desired_width(360.0)
                            .text(text)
                            .animate(!paused),
                    );
                    if paused {
                        ui.label("Paused");
                        if ui.button("Resume scan").clicked() {
                            out.push(Command::ResumeScan);
                            self.scan = ScanState::Running(p.clone());
                        }
                    } else if ui.button("Pause scan").clicked() {
                        out.push(Command::PauseScan);
                    }
                });
            }
            ScanState::Finished(s) => {
                ui.horizontal(|ui| {
                    ui.weak(format!(
                        "Scan finished: {} new, {} changed, {} unchanged, {} could not be read ({:.1} s)",
                        s.new, s.updated, s.unchanged, s.failed + s.walk_errors, s.elapsed_s
                    ));
                    if ui.small_button("Rescan").clicked() {
                        out.push(Command::ResumeScan);
                    }
                });
            }
        }
    }
}
