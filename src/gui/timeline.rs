//! Scheduling timelines. For one photo: a horizontal time chart of the models the scheduler
//! ran (bars from start to end, concurrent ones stacked in lanes, the deadline as a line),
//! the models it skipped with the reason and the scheduler's score, and score vs what was found
//! per decision. For the library: each model's share of runs and skips and the time skipping
//! saved compared with running every model.

use egui::{Align2, Color32, FontId, Rect, Sense, Stroke, Ui, pos2, vec2};

use crate::store::{RunRecord, RunStatus, RunSummary};

const LANE_HEIGHT: f32 = 22.0;

/// Assigns each interval `(start, end)` the lowest lane free at its start, so that
/// overlapping intervals stack. Returns one lane per interval, in input order.
pub fn stack_lanes(intervals: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..intervals.len()).collect();
    order.sort_by(|&a, &b| intervals[a].0.total_cmp(&intervals[b].0));
    let mut lane_end: Vec<f64> = Vec::new();
    let mut lanes = vec![0; intervals.len()];
    for i in order {
        let (start, end) = intervals[i];
        let lane = match lane_end.iter().position(|&e| e <= start) {
            Some(l) => l,
            None => {
                lane_end.push(f64::NEG_INFINITY);
                lane_end.len() - 1
            }
        };
        lane_end[lane] = end.max(start);
        lanes[i] = lane;
    }
    lanes
}

fn status_color(s: RunStatus) -> Color32 {
    match s {
        RunStatus::Ran => Color32::from_rgb(70, 140, 230),
        RunStatus::Late => Color32::from_rgb(230, 160, 60),
        RunStatus::Skipped => Color32::from_gray(150),
        RunStatus::Failed => Color32::from_rgb(220, 90, 70),
    }
}

fn opt(v: Option<f32>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into())
}

/// What a run found, in words and numbers: "nothing new" or the new labels' confidence.
fn found(v: Option<f32>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v <= 0.0 => "nothing new".into(),
        Some(v) => format!("new labels, {v:.2}"),
    }
}

/// The timeline of one photo's schedule.
pub fn photo_timeline_ui(runs: &[RunRecord], deadline_ms: f64, ui: &mut Ui) {
    if runs.is_empty() {
        ui.weak("No scheduling decisions recorded for this photo yet.");
        return;
    }
    let timed: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| r.status != RunStatus::Skipped && r.start_ms.is_some())
        .collect();
    let intervals: Vec<(f64, f64)> = timed
        .iter()
        .map(|r| {
            let s = r.start_ms.unwrap_or(0.0);
            (s, s + r.duration_ms.unwrap_or(0.0))
        })
        .collect();
    let lanes = stack_lanes(&intervals);
    let n_lanes = lanes.iter().max().map_or(0, |m| m + 1);
    let end = intervals.iter().map(|i| i.1).fold(deadline_ms, f64::max) * 1.05;
    let width = ui.available_width().max(200.0);
    let height = n_lanes as f32 * LANE_HEIGHT + 24.0;
    let (rect, _) = ui.allocate_exact_size(vec2(width, height), Sense::hover());
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals().clone();
    painter.rect_filled(rect, 2.0, visuals.extreme_bg_color);
    let x_of = |ms: f64| rect.left() + (ms / end) as f32 * rect.width();
    // Axis ticks.
    let step = nice_step(end / 5.0);
    let mut t = 0.0;
    while t <= end {
        let x = x_of(t);
        painter.vline(
            x,
            rect.bottom() - 18.0..=rect.bottom() - 14.0,
            Stroke::new(1.0, visuals.weak_text_color()),
        );
        painter.text(
            pos2(x + 2.0, rect.bottom() - 2.0),
            Align2::LEFT_BOTTOM,
            format!("{t:.0} ms"),
            FontId::proportional(10.0),
            visuals.weak_text_color(),
        );
        t += step;
    }
    for ((r, (s, e)), lane) in timed.iter().zip(&intervals).zip(&lanes) {
        let top = rect.top() + *lane as f32 * LANE_HEIGHT + 2.0;
        let bar = Rect::from_min_max(
            pos2(x_of(*s), top),
            pos2(x_of(*e).max(x_of(*s) + 2.0), top + LANE_HEIGHT - 4.0),
        );
        painter.rect_filled(bar, 3.0, status_color(r.status));
        painter.text(
            bar.left_center() + vec2(4.0, 0.0),
            Align2::LEFT_CENTER,
            &r.model,
            FontId::proportional(11.0),
            Color32::WHITE,
        );
        let resp = ui.interact(bar, ui.scope_id().with(("run", r.seq)), Sense::hover());
        resp.on_hover_text(format!(
            "{} ({:?})\nstart {:.1} ms, {:.1} ms long\nscheduler's score {}, found {}",
            r.model,
            r.status,
            s,
            e - s,
            opt(r.predicted_value),
            found(r.actual_value)
        ));
    }
    let dx = x_of(deadline_ms);
    painter.vline(
        dx,
        rect.top()..=rect.bottom() - 14.0,
        Stroke::new(2.0, Color32::from_rgb(220, 60, 60)),
    );
    painter.text(
        pos2(dx - 3.0, rect.top() + 2.0),
        Align2::RIGHT_TOP,
        "deadline",
        FontId::proportional(10.0),
        Color32::from_rgb(220, 60, 60),
    );

    let skipped: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Skipped)
        .collect();
    if !skipped.is_empty() {
        ui.add_space(4.0);
        ui.strong(format!("Skipped ({})", skipped.len()));
        for r in skipped {
            ui.label(format!(
                "{} — {} (scheduler's score {})",
                r.model,
                r.reason.as_deref().unwrap_or("no reason recorded"),
                opt(r.predicted_value)
            ));
        }
    }
    ui.add_space(4.0);
    egui::CollapsingHeader::new("Scheduler's score vs what was found")
        .default_open(true)
        .show(ui, |ui| {
            ui.weak(
                "score: what the scheduler expected of the model, in its network's own units \
                 (ranked per millisecond; higher runs first). found: the confidence of the new \
                 labels the model added (0 = nothing new).",
            );
            egui::Grid::new("pred_actual").striped(true).show(ui, |ui| {
                for h in ["#", "model", "status", "score", "found", "ms"] {
                    ui.strong(h);
                }
                ui.end_row();
                for r in runs {
                    ui.label(r.seq.to_string());
                    ui.label(&r.model);
                    ui.colored_label(
                        status_color(r.status),
                        format!("{:?}", r.status).to_lowercase(),
                    );
                    ui.label(opt(r.predicted_value));
                    ui.label(found(r.actual_value));
                    ui.label(
                        r.duration_ms
                            .map(|d| format!("{d:.1}"))
                            .unwrap_or_else(|| "–".into()),
                    );
                    ui.end_row();
                }
            });
        });
}

/// A round step (1, 2 or 5 × 10^k) near `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let n = if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    };
    n * mag
}

/// The library-level view of the scheduler's decisions.
pub fn library_timeline_ui(summary: &RunSummary, ui: &mut Ui) {
    ui.heading("Scheduling across the library");
    if summary.models.is_empty() {
        ui.label(
            "No model runs recorded yet. Photos are labelled once the model zoo and scheduler \
             are installed; their decisions will show here.",
        );
        return;
    }
    let ran = summary.ran_ms();
    let saved = summary.saved_ms();
    ui.label(format!(
        "{} photos scheduled; {:.0}% of decisions ran a model.",
        summary.photos,
        summary.ran_share().unwrap_or(0.0) * 100.0
    ));
    ui.label(format!(
        "Time running models: {:.1} s. Running every model would have taken about {:.1} s: \
         skipping saved {:.1} s ({:.0}%). Skips of models that never ran count \
         nothing, so this is a lower bound.",
        ran / 1000.0,
        (ran + saved) / 1000.0,
        saved / 1000.0,
        if ran + saved > 0.0 {
            saved / (ran + saved) * 100.0
        } else {
            0.0
        }
    ));
    ui.add_space(6.0);
    egui::Grid::new("library_runs")
        .striped(true)
        .show(ui, |ui| {
            for h in ["model", "ran / skipped / failed", "share", "mean ms"] {
                ui.strong(h);
            }
            ui.end_row();
            for m in &summary.models {
                let total = (m.ran + m.skipped + m.failed).max(1) as f32;
                ui.label(&m.model);
                ui.label(format!("{} / {} / {}", m.ran, m.skipped, m.failed));
                let (rect, _) = ui.allocate_exact_size(vec2(140.0, 14.0), Sense::hover());
                let mut x = rect.left();
                for (n, s) in [
                    (m.ran, RunStatus::Ran),
                    (m.skipped, RunStatus::Skipped),
                    (m.failed, RunStatus::Failed),
                ] {
                    let w = rect.width() * n as f32 / total;
                    ui.painter().rect_filled(
                        Rect::from_min_size(pos2(x, rect.top()), vec2(w, rect.height())),
                        0.0,
                        status_color(s),
                    );
                    x += w;
                }
                ui.label(
                    m.mean_ms
                        .map(|v| format!("{v:.1}"))
                        .unwrap_or_else(|| "–".into()),
                );
                ui.end_row();
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_runs_stack_and_sequential_runs_share_a_lane() {
        let lanes = stack_lanes(&[(0.0, 10.0), (5.0, 15.0), (10.0, 20.0), (12.0, 13.0)]);
        assert_eq!(lanes, vec![0, 1, 0, 2]);
    }

    #[test]
    fn nice_steps_are_round() {
        assert_eq!(nice_step(97.0), 100.0);
        assert_eq!(nice_step(0.3), 0.2);
    }
}
