//! The models bar: at the first photo the labeller prepares its models, fetching weights that
//! are not in the cache yet (minutes on a first run). This bar says which model is being
//! fetched and how far preparing is, and afterwards which models could not be had and why
//! (e.g. no Python with pip) in plain words, while the rest of the app keeps working.

use std::time::{Duration, Instant};

use egui::Ui;

use crate::engine::{Command, LabelProgress, ModelStatus, ModelStep};

/// What the models bar shows.
#[derive(Debug, Clone, Default)]
pub struct ModelsPanel {
    /// The step in progress and when it started.
    pub current: Option<(ModelStatus, Instant)>,
    /// Models that could not be prepared, with why.
    pub failed: Vec<(String, String)>,
    /// Preparing ended: (ready, total, error when none is ready).
    pub finished: Option<(usize, usize, Option<String>)>,
    /// The user dismissed the outcome.
    pub dismissed: bool,
    /// Where labelling is (the labelling progress bar).
    pub labelling: Option<LabelProgress>,
    /// The model running now.
    pub running: Option<String>,
    /// The models moved to another device, and why (a lost GPU).
    pub device_change: Option<(String, String)>,
    /// The library budget the user chose, in minutes (`None`: the per-photo deadline).
    pub budget_minutes: Option<u32>,
}

/// The library budgets offered next to the labelling bar, in minutes.
pub const BUDGET_CHOICES: [u32; 4] = [15, 60, 240, 480];

/// How a budget choice reads.
fn budget_label(minutes: Option<u32>) -> String {
    match minutes {
        None => "No time limit".into(),
        Some(m) if m < 60 => format!("Finish within {m} min"),
        Some(m) => format!("Finish within {} h", m / 60),
    }
}

impl ModelsPanel {
    /// Takes one status report from the labeller.
    pub fn handle(&mut self, status: ModelStatus) {
        match status {
            ModelStatus::Preparing { .. } => {
                if self.finished.is_some() {
                    // A new round (settings changed): forget the last outcome.
                    *self = ModelsPanel {
                        budget_minutes: self.budget_minutes,
                        ..ModelsPanel::default()
                    };
                }
                let since = match &self.current {
                    Some((old, t)) if same_step(old, &status) => *t,
                    _ => Instant::now(),
                };
                self.current = Some((status, since));
            }
            ModelStatus::Failed { model, error } => self.failed.push((model, error)),
            ModelStatus::Running { model } => self.running = Some(model),
            ModelStatus::DeviceChanged { device, reason } => {
                self.device_change = Some((device, reason));
            }
            ModelStatus::Finished {
                ready,
                total,
                error,
            } => {
                self.current = None;
                self.finished = Some((ready, total, error));
                self.dismissed = false;
            }
        }
    }

    /// Takes a labelling progress report.
    pub fn set_progress(&mut self, p: LabelProgress) {
        if p.current.is_none() {
            self.running = None;
        }
        self.labelling = Some(p);
    }

    /// One line for the labelling progress bar (also used by tests).
    pub fn labelling_text(&self) -> Option<String> {
        let p = self.labelling.as_ref()?;
        if p.total == 0 && p.retryable_failed == 0 {
            return None;
        }
        let mut text = format!("Labelling {} of {}", p.done, p.total);
        if p.photos_per_s > 0.0 {
            text.push_str(&format!(" · {:.2} photos/s", p.photos_per_s));
        }
        let hms = |s: f64| {
            let secs = s.max(0.0).round() as u64;
            format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
        };
        if let Some(eta) = p.eta_s.filter(|_| p.done < p.total) {
            text.push_str(&format!(" · {} left", hms(eta)));
        }
        if let Some(left) = p.budget_left_s {
            text.push_str(&format!(" · budget {} left", hms(left)));
        }
        if p.paused {
            text.push_str(" · paused");
        } else if let Some(m) = &self.running {
            text.push_str(&format!(" · running {m}"));
        }
        if p.retryable_failed > 0 {
            text.push_str(&format!(" · {} failed, can be retried", p.retryable_failed));
        }
        Some(text)
    }

    /// The labelling progress bar with Pause / Resume and Retry.
    fn labelling_ui(&mut self, ui: &mut Ui, out: &mut Vec<Command>) {
        let Some(text) = self.labelling_text() else {
            return;
        };
        let Some(p) = self.labelling.clone() else {
            return;
        };
        ui.horizontal(|ui| {
            let fraction = if p.total > 0 {
                p.done as f32 / p.total as f32
            } else {
                1.0
            };
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(560.0)
                    .text(text),
            );
            let before = self.budget_minutes;
            egui::ComboBox::from_id_salt("label_budget")
                .selected_text(budget_label(self.budget_minutes))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.budget_minutes, None, budget_label(None));
                    for m in BUDGET_CHOICES {
                        ui.selectable_value(
                            &mut self.budget_minutes,
                            Some(m),
                            budget_label(Some(m)),
                        );
                    }
                })
                .response
                .on_hover_text(
                    "Label the photos waiting now within this time: photos that promise more \
                     labels get more of it, and each photo's deadline follows the time left.",
                );
            if self.budget_minutes != before {
                out.push(Command::SetLabelBudget(
                    self.budget_minutes
                        .map(|m| Duration::from_secs(u64::from(m) * 60)),
                ));
            }
            if p.done < p.total {
                if p.paused {
                    if ui.button("Resume labelling").clicked() {
                        out.push(Command::ResumeLabelling);
                    }
                } else if ui.button("Pause labelling").clicked() {
                    out.push(Command::PauseLabelling);
                }
            }
        });
    }

    /// Whether Retry makes sense: models could not be had, or photos wait for a retry.
    fn can_retry(&self) -> bool {
        !self.failed.is_empty()
            || self.finished.as_ref().is_some_and(|f| f.2.is_some())
            || self
                .labelling
                .as_ref()
                .is_some_and(|p| p.retryable_failed > 0)
    }

    /// One line of text for the step in progress, if any (also used by tests).
    pub fn progress_text(&self) -> Option<String> {
        let (
            ModelStatus::Preparing {
                model,
                index,
                total,
                step,
            },
            since,
        ) = self.current.as_ref()?
        else {
            return None;
        };
        let what = match step {
            ModelStep::Checking => "checking its weights",
            ModelStep::Downloading => "downloading (first run; can take minutes)",
            ModelStep::Extracting => "extracting and checking",
            ModelStep::Loading => "loading",
        };
        let title = match step {
            ModelStep::Downloading | ModelStep::Extracting => "Fetching model",
            ModelStep::Checking | ModelStep::Loading => "Preparing model",
        };
        let secs = since.elapsed().as_secs();
        Some(format!(
            "{title} {model} ({index} of {total}): {what} · {}:{:02}",
            secs / 60,
            secs % 60
        ))
    }

    /// The share of preparing done, 0..=1.
    pub fn fraction(&self) -> f32 {
        match self.current.as_ref() {
            Some((
                ModelStatus::Preparing {
                    index, total, step, ..
                },
                _,
            )) if *total > 0 => {
                let within = match step {
                    ModelStep::Checking => 0.0,
                    ModelStep::Downloading => 0.1,
                    ModelStep::Extracting => 0.7,
                    ModelStep::Loading => 0.85,
                };
                ((*index as f32 - 1.0 + within) / *total as f32).clamp(0.0, 1.0)
            }
            _ => 0.0,
        }
    }

    /// The bar under the top bar: progress while preparing, then any failure (with where the
    /// log is) until dismissed.
    pub fn models_ui(&mut self, log: &std::path::Path, ui: &mut Ui, out: &mut Vec<Command>) {
        if let Some((device, reason)) = &self.device_change {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("Models moved to {device}: {reason}"),
            );
        }
        if let Some(text) = self.progress_text() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.add(
                    egui::ProgressBar::new(self.fraction())
                        .desired_width(720.0)
                        .text(text),
                );
            });
            // The elapsed time ticks even while no event comes.
            ui.ctx().request_repaint_after(Duration::from_secs(1));
            return;
        }
        self.labelling_ui(ui, out);
        if self.can_retry()
            && !self.dismissed
            && ui
                .button("Retry")
                .on_hover_text("Fetch and load the models that could not be had, and label again the photos that failed for a reason that can go away")
                .clicked()
        {
            out.push(Command::RetryLabelling);
            self.failed.clear();
            self.finished = None;
            if let Some(p) = &mut self.labelling {
                p.retryable_failed = 0;
            }
        }
        if self.dismissed {
            return;
        }
        let Some((ready, total, error)) = self.finished.clone() else {
            return;
        };
        if error.is_none() && self.failed.is_empty() {
            return;
        }
        let color = ui.visuals().error_fg_color;
        let warn = ui.visuals().warn_fg_color;
        ui.horizontal_wrapped(|ui| {
            match &error {
                Some(e) => {
                    ui.colored_label(color, format!("Labelling is unavailable: {e}"));
                }
                None => {
                    ui.colored_label(
                        warn,
                        format!(
                            "{ready} of {total} models ready; {} unavailable (details below)",
                            self.failed.len()
                        ),
                    );
                }
            }
            ui.weak(format!("Log: {}", log.display()));
            if ui.small_button("Dismiss").clicked() {
                self.dismissed = true;
            }
        });
        if error.is_none() {
            egui::CollapsingHeader::new("Unavailable models")
                .id_salt("unavailable-models")
                .show(ui, |ui| {
                    for (model, why) in &self.failed {
                        ui.label(format!("{model}: {why}"));
                    }
                });
        }
    }
}

fn same_step(a: &ModelStatus, b: &ModelStatus) -> bool {
    match (a, b) {
        (
            ModelStatus::Preparing {
                model: m1,
                step: s1,
                ..
            },
            ModelStatus::Preparing {
                model: m2,
                step: s2,
                ..
            },
        ) => m1 == m2 && s1 == s2,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_then_failure_then_a_new_round() {
        let mut p = ModelsPanel::default();
        p.handle(ModelStatus::Preparing {
            model: "mobilenet_v2".into(),
            index: 2,
            total: 4,
            step: ModelStep::Downloading,
        });
        let text = p.progress_text().unwrap_or_default();
        assert!(
            text.starts_with("Fetching model mobilenet_v2 (2 of 4)"),
            "{text}"
        );
        assert!((p.fraction() - 1.1 / 4.0).abs() < 1e-6);
        p.handle(ModelStatus::Failed {
            model: "mobilenet_v2".into(),
            error: "no pip".into(),
        });
        p.handle(ModelStatus::Finished {
            ready: 3,
            total: 4,
            error: None,
        });
        assert_eq!(p.progress_text(), None);
        assert_eq!(p.failed.len(), 1);
        p.handle(ModelStatus::Preparing {
            model: "a".into(),
            index: 1,
            total: 1,
            step: ModelStep::Checking,
        });
        assert!(p.failed.is_empty() && p.finished.is_none());
    }
}
