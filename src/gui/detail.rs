//! The photo detail panel: the image upright (EXIF orientation applied by the engine) with the
//! boxes of labels that have one and of the faces found on it (with their actions, see
//! [`super::faces`]), the friendly tags of the vocabulary (raw class and model on
//! hover), the labels grouped by model with confidences, tag editing
//! (add user tags, remove any label), metadata, errors, and the scheduling timeline.

use std::collections::BTreeMap;

use egui::{
    Align2, Color32, FontId, Rect, Sense, Stroke, StrokeKind, TextureHandle, Ui, pos2, vec2,
};

use super::faces::{face_boxes_ui, faces_list_ui};
use super::textures::color_image;
use super::timeline::photo_timeline_ui;
use crate::engine::{Command, DecodedImage, PhotoDetail};
use crate::store::person_tags::PERSON_MODEL;
use crate::store::{Label, LabelSource, LabelStatus, PhotoStatus, RunStatus};

/// What the detail panel shows and edits.
#[derive(Default)]
pub struct DetailView {
    /// The photo shown.
    pub photo_id: Option<i64>,
    pub detail: Option<PhotoDetail>,
    image: Option<Result<TextureHandle, String>>,
    /// The tag being typed.
    pub new_tag: String,
}

impl DetailView {
    /// Shows another photo: asks for its detail and image.
    pub fn select(&mut self, id: i64, out: &mut Vec<Command>) {
        if self.photo_id == Some(id) {
            return;
        }
        self.photo_id = Some(id);
        self.detail = None;
        self.image = None;
        self.new_tag.clear();
        out.push(Command::LoadDetail(id));
    }

    /// A detail arrived; asks for the full image the first time.
    pub fn set_detail(&mut self, detail: PhotoDetail, out: &mut Vec<Command>) {
        if Some(detail.photo.id) != self.photo_id {
            return;
        }
        if self.image.is_none() && detail.photo.status == PhotoStatus::Ok {
            out.push(Command::LoadImage {
                photo_id: detail.photo.id,
                path: detail.photo.path.clone(),
                orientation: detail.photo.meta.orientation,
            });
        }
        self.detail = Some(detail);
    }

    /// Whether the full image (or its error) has arrived.
    pub fn image_loaded(&self) -> bool {
        self.image.is_some()
    }

    /// The full image arrived.
    pub fn set_image(
        &mut self,
        ctx: &egui::Context,
        photo_id: i64,
        image: Result<DecodedImage, String>,
    ) {
        if Some(photo_id) != self.photo_id {
            return;
        }
        self.image = Some(image.map(|img| {
            ctx.load_texture(
                format!("photo-{photo_id}"),
                color_image(&img),
                egui::TextureOptions::LINEAR,
            )
        }));
    }

    /// The panel. `named` are the library's named persons (for "This is…").
    pub fn detail_ui(
        &mut self,
        deadline_ms: f64,
        named: &[(i64, String)],
        out: &mut Vec<Command>,
        ui: &mut Ui,
    ) {
        let Some(d) = &self.detail else {
            ui.spinner();
            return;
        };
        let photo = &d.photo;
        let name = photo
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ui.heading(&name);
        ui.weak(photo.path.display().to_string());
        if let Some(err) = &photo.error {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("This file cannot be used: {err}"),
            );
        } else {
            status_ui(d, ui);
        }
        match &self.image {
            Some(Ok(tex)) => {
                let rect = image_with_boxes_ui(tex, &d.labels, ui);
                face_boxes_ui(&d.faces, named, rect, out, ui);
            }
            Some(Err(e)) => {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("Cannot show the image: {e}"),
                );
            }
            None if photo.status == PhotoStatus::Ok => {
                ui.spinner();
            }
            None => {}
        }
        ui.separator();
        let photo_id = photo.id;
        faces_list_ui(&d.faces, named, out, ui);
        tags_ui(&d.labels, ui);
        labels_ui(&d.labels, photo_id, out, ui);
        ui.horizontal(|ui| {
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.new_tag)
                    .hint_text("new tag")
                    .desired_width(140.0),
            );
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let add = ui.add_enabled(
                !self.new_tag.trim().is_empty(),
                egui::Button::new("Add tag"),
            );
            if (add.clicked() || enter) && !self.new_tag.trim().is_empty() {
                out.push(Command::AddTag {
                    photo_id,
                    label: self.new_tag.trim().to_string(),
                });
                self.new_tag.clear();
            }
        });
        ui.separator();
        egui::CollapsingHeader::new("Metadata")
            .default_open(false)
            .show(ui, |ui| metadata_ui(d, ui));
        ui.separator();
        ui.strong("Scheduling");
        // The deadline that applied when it was labelled; today's setting for older rows.
        photo_timeline_ui(&d.runs, d.deadline_ms.unwrap_or(deadline_ms), ui);
    }
}

/// One line on where labelling of this photo stands, with the reason when it failed.
fn status_ui(d: &PhotoDetail, ui: &mut Ui) {
    match d.photo.label_status {
        LabelStatus::Pending => {
            ui.weak("Queued for labelling (it starts once models are installed).");
        }
        LabelStatus::Labelled => {
            ui.weak(format!("Labelled: {} labels.", d.labels.len()));
        }
        LabelStatus::Failed => {
            let why = d
                .runs
                .iter()
                .find(|r| r.status == RunStatus::Failed)
                .and_then(|r| r.reason.as_deref())
                .unwrap_or("no reason recorded");
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("Labelling failed: {why}"),
            );
        }
    }
}

/// The photo's tags through the vocabulary (friendly tags, rule tags, then categories), highest
/// priority first; hovering one names the raw classes and models it came from.
fn tags_ui(labels: &[Label], ui: &mut Ui) {
    let tags = friendly_tags(labels);
    if tags.is_empty() {
        return;
    }
    ui.strong("Tags");
    ui.horizontal_wrapped(|ui| {
        for (tag, sources) in &tags {
            ui.label(egui::RichText::new(tag.as_str()).strong())
                .on_hover_text(sources.join("\n"));
        }
    });
    ui.separator();
}

/// (tag, "raw class (model, confidence)" lines) in display order, from the embedded vocabulary.
pub(crate) fn friendly_tags(labels: &[Label]) -> Vec<(String, Vec<String>)> {
    let Ok(vocab) = crate::vocab::Vocabulary::embedded() else {
        return Vec::new();
    };
    let raw: Vec<crate::vocab::RawLabel> = labels
        .iter()
        .map(|l| crate::vocab::RawLabel {
            label: l.label.clone(),
            model: l.model.clone(),
            confidence: l.confidence,
        })
        .collect();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for t in vocab.photo_tags(&raw, &Default::default()) {
        if t.kind == crate::vocab::TagKind::Raw {
            continue;
        }
        let line = format!("{} ({}, {:.2})", t.label, t.model, t.confidence);
        match out.iter_mut().find(|(tag, _)| *tag == t.tag) {
            Some((_, lines)) => {
                if !lines.contains(&line) {
                    lines.push(line);
                }
            }
            None => out.push((t.tag, vec![line])),
        }
    }
    out
}

fn labels_ui(labels: &[Label], photo_id: i64, out: &mut Vec<Command>, ui: &mut Ui) {
    if labels.is_empty() {
        ui.weak("No labels yet.");
        return;
    }
    let mut groups: BTreeMap<String, Vec<&Label>> = BTreeMap::new();
    for l in labels {
        let key = match l.source {
            LabelSource::User => "your tags".to_string(),
            LabelSource::Model => l.model.clone(),
        };
        groups.entry(key).or_default().push(l);
    }
    for (model, ls) in groups {
        ui.strong(model);
        for l in ls {
            ui.horizontal(|ui| {
                if l.source == LabelSource::Model {
                    ui.add(
                        egui::ProgressBar::new(l.confidence.clamp(0.0, 1.0))
                            .desired_width(60.0)
                            .text(format!("{:.2}", l.confidence)),
                    );
                }
                ui.label(&l.label);
                if l.bbox.is_some() {
                    ui.weak("[box]");
                }
                if ui
                    .small_button("×")
                    .on_hover_text(format!("Remove the tag \"{}\"", l.label))
                    .clicked()
                {
                    out.push(Command::RemoveLabel {
                        photo_id,
                        label_id: l.id,
                    });
                }
            });
        }
    }
}

/// The image with its labels' boxes (person labels are drawn as faces instead); returns where
/// the image is.
fn image_with_boxes_ui(tex: &TextureHandle, labels: &[Label], ui: &mut Ui) -> Rect {
    let size = tex.size_vec2();
    let max_w = ui.available_width();
    let scale = (max_w / size.x).min(420.0 / size.y).min(1.0);
    let (rect, _) = ui.allocate_exact_size(size * scale, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.image(
        tex.id(),
        rect,
        Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
        Color32::WHITE,
    );
    for l in labels.iter().filter(|l| l.model != PERSON_MODEL) {
        let Some([x, y, w, h]) = l.bbox else { continue };
        let b = Rect::from_min_size(
            rect.min + vec2(x * rect.width(), y * rect.height()),
            vec2(w * rect.width(), h * rect.height()),
        );
        let color = Color32::from_rgb(255, 200, 40);
        painter.rect_stroke(b, 0.0, Stroke::new(2.0, color), StrokeKind::Outside);
        painter.text(
            b.left_top() + vec2(2.0, 1.0),
            Align2::LEFT_TOP,
            format!("{} {:.2}", l.label, l.confidence),
            FontId::proportional(11.0),
            color,
        );
    }
    rect
}

fn metadata_ui(d: &PhotoDetail, ui: &mut Ui) {
    let p = &d.photo;
    let m = &p.meta;
    let dash = || "–".to_string();
    let rows: Vec<(&str, String)> = vec![
        (
            "status",
            format!("{:?} / {:?}", p.status, p.label_status).to_lowercase(),
        ),
        ("format", format!("{} {}×{}", m.format, m.width, m.height)),
        ("size", format!("{:.1} kB", p.size as f64 / 1024.0)),
        ("taken", m.taken_at.clone().unwrap_or_else(dash)),
        (
            "camera",
            [m.camera_make.as_deref(), m.camera_model.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
        ),
        (
            "exposure",
            m.exposure_s
                .map(|e| {
                    if e < 1.0 {
                        format!("1/{:.0} s", 1.0 / e)
                    } else {
                        format!("{e:.1} s")
                    }
                })
                .unwrap_or_else(dash),
        ),
        (
            "aperture",
            m.f_number.map(|f| format!("f/{f:.1}")).unwrap_or_else(dash),
        ),
        ("ISO", m.iso.map(|i| i.to_string()).unwrap_or_else(dash)),
        (
            "focal length",
            m.focal_mm
                .map(|f| format!("{f:.0} mm"))
                .unwrap_or_else(dash),
        ),
        (
            "flash",
            m.flash
                .map(|f| if f { "yes" } else { "no" }.to_string())
                .unwrap_or_else(dash),
        ),
        ("orientation", m.orientation.unwrap_or(1).to_string()),
        (
            "GPS",
            m.position_text()
                .unwrap_or_else(|| if m.gps { "yes" } else { "no" }.to_string()),
        ),
        ("hash", p.hash.clone().unwrap_or_else(dash)),
    ];
    egui::Grid::new("metadata").striped(true).show(ui, |ui| {
        for (k, v) in rows {
            ui.weak(k);
            ui.label(v);
            ui.end_row();
        }
    });
}
