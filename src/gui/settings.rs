//! Settings the GUI persists through eframe's storage (with the window state): the labelling
//! settings handed to the engine, the grid's order and tile size. The settings window also
//! shows the inference backend and where data and caches live.

use serde::{Deserialize, Serialize};

use egui::Ui;

use crate::engine::settings::Thoroughness;
use crate::engine::{EngineInfo, LabelSettings};
use crate::store::PhotoOrder;

/// Everything the GUI remembers between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub label: LabelSettings,
    pub order: PhotoOrder,
    /// Thumbnail tile side, in points.
    pub tile_size: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            label: LabelSettings::default(),
            order: PhotoOrder::Taken,
            tile_size: 128.0,
        }
    }
}

impl Settings {
    /// The settings form; returns whether the labelling settings changed.
    pub fn settings_ui(&mut self, info: &EngineInfo, ui: &mut Ui) -> bool {
        let before = self.label.clone();
        ui.heading("Labelling");
        egui::Grid::new("label_settings")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Deadline per photo");
                ui.add(
                    egui::DragValue::new(&mut self.label.deadline_ms)
                        .range(10..=600_000)
                        .suffix(" ms"),
                );
                ui.end_row();
                ui.label("Memory budget");
                ui.add(
                    egui::DragValue::new(&mut self.label.memory_budget_mib)
                        .range(64..=1_048_576)
                        .suffix(" MiB"),
                );
                ui.end_row();
                ui.label("Thoroughness").on_hover_text(
                    "Share of each photo's labels to find before the scheduler stops: the less \
                     thorough, the sooner the library is labelled.",
                );
                egui::ComboBox::from_id_salt("thoroughness")
                    .selected_text(self.label.thoroughness.label())
                    .show_ui(ui, |ui| {
                        for t in Thoroughness::ALL {
                            ui.selectable_value(&mut self.label.thoroughness, t, t.label());
                        }
                    });
                ui.end_row();
                ui.label("Exploration share");
                ui.add(egui::Slider::new(&mut self.label.exploration, 0.0..=0.5).fixed_decimals(2));
                ui.end_row();
            });
        ui.add_space(6.0);
        ui.strong("Models");
        if self.label.models.is_empty() {
            ui.weak("No models installed yet: the model zoo is not part of this build.");
        } else {
            egui::Grid::new("models").striped(true).show(ui, |ui| {
                for h in ["enabled", "model", "priority", "threshold"] {
                    ui.strong(h);
                }
                ui.end_row();
                for m in &mut self.label.models {
                    ui.checkbox(&mut m.enabled, "");
                    ui.label(&m.id);
                    ui.add(egui::DragValue::new(&mut m.priority).range(-100..=100));
                    ui.add(egui::Slider::new(&mut m.threshold, 0.0..=1.0).fixed_decimals(2));
                    ui.end_row();
                }
            });
        }
        ui.separator();
        self.sidecars_ui(ui);
        ui.separator();
        ui.heading("Display");
        ui.add(egui::Slider::new(&mut self.tile_size, 64.0..=256.0).text("Thumbnail size"));
        ui.separator();
        ui.heading("About this installation");
        egui::Grid::new("paths").num_columns(2).show(ui, |ui| {
            ui.label("Backend");
            ui.label(
                info.backend
                    .clone()
                    .unwrap_or_else(|| "none (no models installed)".into()),
            );
            ui.end_row();
            ui.label("Library database");
            ui.label(info.paths.db.display().to_string());
            ui.end_row();
            ui.label("Data folder");
            ui.label(info.paths.data_dir.display().to_string());
            ui.end_row();
            ui.label("Cache folder");
            ui.label(info.paths.cache_dir.display().to_string());
            ui.end_row();
        });
        self.label != before
    }

    /// The XMP sidecar settings (part of the labelling settings the engine gets).
    fn sidecars_ui(&mut self, ui: &mut Ui) {
        use crate::xmp::Naming;
        let xmp = &mut self.label.xmp;
        ui.heading("Sidecars");
        ui.checkbox(&mut xmp.write_on_label, "Write XMP sidecars")
            .on_hover_text(
                "Write each photo's tags to an XMP file beside it as it is labelled, for \
                 digiKam, darktable and Lightroom. The photos themselves are never changed; \
                 other programs' fields in an existing sidecar are kept.",
            );
        ui.add_enabled_ui(xmp.write_on_label, |ui| {
            egui::Grid::new("xmp_settings")
                .num_columns(2)
                .show(ui, |ui| {
                    ui.label("Sidecar name");
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut xmp.naming, Naming::Ext, "photo.jpg.xmp");
                        ui.radio_value(&mut xmp.naming, Naming::Replace, "photo.xmp");
                    });
                    ui.end_row();
                    ui.label("Lowest model confidence");
                    ui.add(egui::Slider::new(&mut xmp.min_confidence, 0.0..=1.0).fixed_decimals(2));
                    ui.end_row();
                });
        });
        ui.checkbox(
            &mut self.label.share_thumbnails,
            "Write thumbnails other programs can reuse",
        )
        .on_hover_text(
            "Leave a thumbnail in ~/.cache/thumbnails/large for each photo scanned, as file \
             managers and image viewers expect, so they need not decode the photo again.",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;

    #[test]
    fn settings_from_an_older_build_load_with_defaults() {
        let s: Settings = serde_json::from_str(r#"{"tile_size": 96.0}"#).expect("parse");
        assert_eq!(s.tile_size, 96.0);
        assert_eq!(s.label, Default::default());
        let back: Settings =
            serde_json::from_str(&serde_json::to_string(&s).expect("json")).expect("parse");
        assert_eq!(back, s);
    }
}
