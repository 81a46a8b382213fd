//! Retraining the scheduler on the user's own library: one button, progress while the trainer
//! works, the before/after figures, and the choice to keep the new scheduler or roll back.
//! The trainer plugs into the engine later; without one the button is disabled and says why.

use egui::{Color32, Ui};

use crate::engine::{Command, TrainProgress, TrainReport};

/// Why Retrain is disabled in builds without a trainer.
pub const NO_TRAINER: &str =
    "Retraining needs the scheduler trainer, which is not installed in this build.";

/// Where retraining is.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum RetrainState {
    #[default]
    Idle,
    Running(Option<TrainProgress>),
    /// Finished; waiting for keep or roll back.
    Review(TrainReport),
    Failed(String),
    /// The user kept (`true`) or rolled back the result.
    Decided(bool),
}

/// The retrain control and its window.
#[derive(Default)]
pub struct RetrainPanel {
    pub state: RetrainState,
}

impl RetrainPanel {
    /// The Retrain button (top bar).
    pub fn button_ui(&mut self, can_retrain: bool, out: &mut Vec<Command>, ui: &mut Ui) {
        let running = matches!(self.state, RetrainState::Running(_));
        let resp = ui
            .add_enabled(can_retrain && !running, egui::Button::new("Retrain"))
            .on_hover_text("Retrain the scheduler on your own library")
            .on_disabled_hover_text(if can_retrain {
                "Retraining is running"
            } else {
                NO_TRAINER
            });
        if resp.clicked() {
            self.state = RetrainState::Running(None);
            out.push(Command::Retrain);
        }
    }

    /// The progress / review area, shown when there is something to show.
    pub fn retrain_ui(&mut self, out: &mut Vec<Command>, ui: &mut Ui) {
        match &self.state {
            RetrainState::Idle => {}
            RetrainState::Running(p) => {
                ui.horizontal(|ui| {
                    ui.label("Retraining the scheduler…");
                    if let Some(p) = p {
                        let frac = if p.total > 0 {
                            p.step as f32 / p.total as f32
                        } else {
                            0.0
                        };
                        let loss = p.loss.map(|l| format!(", loss {l:.4}")).unwrap_or_default();
                        ui.add(
                            egui::ProgressBar::new(frac)
                                .desired_width(240.0)
                                .text(format!("{} {}/{}{loss}", p.phase, p.step, p.total)),
                        );
                    } else {
                        ui.spinner();
                    }
                });
            }
            RetrainState::Review(report) => {
                ui.strong(format!(
                    "Retrained on {} decisions. Before → after:",
                    report.decisions
                ));
                egui::Grid::new("train_figures")
                    .striped(true)
                    .show(ui, |ui| {
                        for f in &report.figures {
                            let better = (f.after > f.before) == f.higher_is_better;
                            let color = if f.after == f.before {
                                ui.visuals().text_color()
                            } else if better {
                                Color32::from_rgb(60, 170, 90)
                            } else {
                                Color32::from_rgb(220, 90, 70)
                            };
                            ui.label(&f.name);
                            ui.label(format!("{:.3} {}", f.before, f.unit));
                            ui.colored_label(color, format!("{:.3} {}", f.after, f.unit));
                            ui.end_row();
                        }
                    });
                ui.horizontal(|ui| {
                    if ui.button("Keep new scheduler").clicked() {
                        out.push(Command::KeepTrained);
                    }
                    if ui.button("Roll back").clicked() {
                        out.push(Command::RollBackTrained);
                    }
                });
            }
            RetrainState::Failed(e) => {
                let e = e.clone();
                ui.horizontal(|ui| {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!("Retraining failed: {e}"),
                    );
                    if ui.small_button("Dismiss").clicked() {
                        self.state = RetrainState::Idle;
                    }
                });
            }
            RetrainState::Decided(kept) => {
                let text = if *kept {
                    "The retrained scheduler is now in use."
                } else {
                    "Rolled back to the previous scheduler."
                };
                ui.horizontal(|ui| {
                    ui.label(text);
                    if ui.small_button("Dismiss").clicked() {
                        self.state = RetrainState::Idle;
                    }
                });
            }
        }
    }
}
