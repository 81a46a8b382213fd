//! The People view: one tile per person (a group of faces) with the face that shows them best
//! (cropped by the engine's image thread, off the UI thread), the name or "Unnamed", photo and
//! face counts and a name field (Enter saves). Clicking a tile shows that person's photos in
//! the grid; dragging a tile's face onto another merges the two groups (the name kept, if
//! either has one); ticking two tiles (or Ctrl+click) offers to merge them, keeping the name
//! chosen.
//! "Find faces" runs what `photolabel people find` does, in the background; "Group faces" what
//! `photolabel people group` does. Every change goes to the engine as a [`Command`]; the view
//! holds only what the engine last sent ([`PeopleOverview`]) and what the user is typing.

use std::collections::HashMap;

use egui::{Color32, Rect, Sense, TextureHandle, Ui, vec2};

use super::textures::color_image;
use crate::engine::{Command, DecodedImage, FaceCropRequest};
use crate::people::service::{FindReport, PeopleOverview, PersonTile};

/// Side of a tile's face (points).
const FACE_SIDE: f32 = 128.0;

/// Where finding faces is.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum FindState {
    #[default]
    Idle,
    /// Photos looked at out of the run's total (0 of 0: loading the model).
    Running {
        done: usize,
        total: usize,
    },
    Finished(FindReport),
    Failed(String),
}

/// What the user asked for in the People view that the app (not the engine) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeopleAction {
    /// Show the photos of this person (id, name shown) in the grid.
    ShowPhotos(i64, String),
}

/// The People view's state.
#[derive(Default)]
pub struct PeopleView {
    /// What the engine last sent (`None`: not loaded yet).
    pub overview: Option<PeopleOverview>,
    /// The name fields, by person.
    pub names: HashMap<i64, String>,
    /// The names the engine last sent, to tell typed text from a stale name.
    shown_names: HashMap<i64, String>,
    /// Persons ticked for merging, in the order ticked.
    pub selected: Vec<i64>,
    /// The ticked person whose name the merge keeps.
    pub keep: Option<i64>,
    pub finding: FindState,
    crops: HashMap<i64, Result<TextureHandle, String>>,
    last_wanted: Vec<i64>,
    /// A group dropped onto another this frame: (dragged, target).
    dropped: Option<(i64, i64)>,
}

/// What is carried while a group's face is dragged onto another group (to merge them).
#[derive(Debug, Clone, Copy)]
struct DraggedPerson(i64);

/// The merge a drop asks for: the dragged group joins the target, and the merged group keeps
/// a name when either had one (the target's first).
pub fn drop_merge(o: &PeopleOverview, dragged: i64, target: i64) -> Option<Command> {
    if dragged == target {
        return None;
    }
    let named = |id: i64| {
        o.persons
            .iter()
            .any(|t| t.person.id == id && t.person.name.is_some())
    };
    let (into, from) = if named(target) || !named(dragged) {
        (target, dragged)
    } else {
        (dragged, target)
    };
    Some(Command::MergePersons {
        into,
        from: vec![from],
    })
}

/// The name a person is shown by.
pub fn display_name(tile: &PersonTile) -> String {
    tile.person
        .name
        .clone()
        .unwrap_or_else(|| "Unnamed".to_string())
}

impl PeopleView {
    /// The engine sent the persons: name fields follow the new names unless the user typed.
    pub fn set_overview(&mut self, overview: PeopleOverview) {
        let mut shown = HashMap::new();
        for t in &overview.persons {
            let id = t.person.id;
            let name = t.person.name.clone().unwrap_or_default();
            let typed = self
                .names
                .get(&id)
                .is_some_and(|n| Some(n) != self.shown_names.get(&id));
            if !typed {
                self.names.insert(id, name.clone());
            }
            shown.insert(id, name);
        }
        self.names.retain(|id, _| shown.contains_key(id));
        self.selected.retain(|id| shown.contains_key(id));
        if self.keep.is_some_and(|k| !self.selected.contains(&k)) {
            self.keep = None;
        }
        self.shown_names = shown;
        self.overview = Some(overview);
    }

    /// A face crop arrived.
    pub fn add_crop(
        &mut self,
        ctx: &egui::Context,
        face_id: i64,
        image: Result<DecodedImage, String>,
    ) {
        let tex = image.map(|img| {
            ctx.load_texture(
                format!("face-{face_id}"),
                color_image(&img),
                egui::TextureOptions::LINEAR,
            )
        });
        self.crops.insert(face_id, tex);
    }

    /// Whether the crop of face `face_id` arrived (drawn or failed).
    pub fn has_crop(&self, face_id: i64) -> bool {
        self.crops.contains_key(&face_id)
    }

    fn toggle(&mut self, id: i64) {
        if let Some(at) = self.selected.iter().position(|&s| s == id) {
            self.selected.remove(at);
        } else {
            self.selected.push(id);
        }
    }

    /// The whole view; returns what the app should do.
    pub fn people_ui(&mut self, out: &mut Vec<Command>, ui: &mut Ui) -> Option<PeopleAction> {
        self.header_ui(out, ui);
        ui.separator();
        let Some(overview) = self.overview.take() else {
            ui.spinner();
            return None;
        };
        let action = self.tiles_ui(&overview, out, ui);
        self.overview = Some(overview);
        action
    }

    fn header_ui(&mut self, out: &mut Vec<Command>, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.heading("People");
            if let Some(o) = &self.overview {
                ui.label(format!("{} groups", o.persons.len()));
                ui.label(format!("Unsorted faces: {}", o.unsorted_faces))
                    .on_hover_text("Faces in no group yet: too few alike, or too small.");
            }
            ui.separator();
            let running = matches!(self.finding, FindState::Running { .. });
            if ui
                .add_enabled(!running, egui::Button::new("Find faces"))
                .on_hover_text(
                    "Look for faces in the photos not looked at yet and group them \
                     (as `photolabel people find`).",
                )
                .clicked()
            {
                self.finding = FindState::Running { done: 0, total: 0 };
                out.push(Command::FindFaces);
            }
            if ui
                .add_enabled(!running, egui::Button::new("Group faces"))
                .on_hover_text("Group the unsorted faces again (as `photolabel people group`).")
                .clicked()
            {
                out.push(Command::GroupFaces { full: false });
            }
            if running
                && ui
                    .button("Stop")
                    .on_hover_text("Stop after the photo in hand; the faces found are kept.")
                    .clicked()
            {
                out.push(Command::StopFindingFaces);
            }
            find_status_ui(&self.finding, ui);
        });
        self.merge_bar_ui(out, ui);
    }

    fn merge_bar_ui(&mut self, out: &mut Vec<Command>, ui: &mut Ui) {
        let Some(o) = &self.overview else { return };
        if self.selected.len() < 2 {
            ui.weak("Tick two groups (or Ctrl+click their faces) to merge them.");
            return;
        }
        let name_of = |id: i64| {
            o.persons
                .iter()
                .find(|t| t.person.id == id)
                .map(display_name)
                .unwrap_or_default()
        };
        // By default the merged group keeps the first name among the ticked ones.
        let keep = self
            .keep
            .filter(|k| self.selected.contains(k))
            .or_else(|| {
                self.selected.iter().copied().find(|&id| {
                    o.persons
                        .iter()
                        .any(|t| t.person.id == id && t.person.name.is_some())
                })
            })
            .unwrap_or(self.selected[0]);
        let mut chosen = keep;
        ui.horizontal(|ui| {
            let merge = ui.button(format!("Merge {} groups", self.selected.len()));
            ui.label("keeping the name");
            egui::ComboBox::from_id_salt("merge-keep")
                .selected_text(name_of(keep))
                .show_ui(ui, |ui| {
                    for &id in &self.selected {
                        ui.selectable_value(&mut chosen, id, format!("{} ({id})", name_of(id)));
                    }
                });
            if merge.clicked() {
                let from = self
                    .selected
                    .iter()
                    .copied()
                    .filter(|&id| id != chosen)
                    .collect();
                out.push(Command::MergePersons { into: chosen, from });
                self.selected.clear();
                self.keep = None;
                return;
            }
            if ui.button("Clear selection").clicked() {
                self.selected.clear();
            }
        });
        self.keep = Some(chosen);
    }

    fn tiles_ui(
        &mut self,
        o: &PeopleOverview,
        out: &mut Vec<Command>,
        ui: &mut Ui,
    ) -> Option<PeopleAction> {
        if o.persons.is_empty() {
            ui.label(
                "No people yet. \"Find faces\" looks for faces in the library's photos and \
                 groups those of the same person.",
            );
            return None;
        }
        let mut action = None;
        let mut wanted = Vec::new();
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.spacing_mut().item_spacing = vec2(10.0, 10.0);
                    for tile in &o.persons {
                        let a = self.tile_ui(tile, &mut wanted, out, ui);
                        if action.is_none() {
                            action = a;
                        }
                    }
                });
            });
        if let Some((dragged, target)) = self.dropped.take()
            && let Some(merge) = drop_merge(o, dragged, target)
        {
            out.push(merge);
            self.selected.retain(|s| *s != dragged && *s != target);
        }
        let ids: Vec<i64> = wanted.iter().map(|w: &FaceCropRequest| w.face_id).collect();
        if ids != self.last_wanted {
            self.last_wanted = ids;
            out.push(Command::WantFaceCrops(wanted));
        }
        action
    }

    fn tile_ui(
        &mut self,
        tile: &PersonTile,
        wanted: &mut Vec<FaceCropRequest>,
        out: &mut Vec<Command>,
        ui: &mut Ui,
    ) -> Option<PeopleAction> {
        let id = tile.person.id;
        let name = display_name(tile);
        let ticked = self.selected.contains(&id);
        let mut action = None;
        let frame = egui::Frame::group(ui.style()).stroke(if ticked {
            ui.visuals().selection.stroke
        } else {
            ui.visuals().widgets.noninteractive.bg_stroke
        });
        frame.show(ui, |ui| {
            ui.set_width(FACE_SIDE);
            ui.vertical(|ui| {
                let (rect, resp) =
                    ui.allocate_exact_size(vec2(FACE_SIDE, FACE_SIDE), Sense::click_and_drag());
                let label = format!("Photos of {name}");
                resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
                if ui.is_rect_visible(rect) {
                    self.face_ui(tile, rect, wanted, ui);
                }
                // Dragging a face onto another group's face merges the two groups.
                resp.dnd_set_drag_payload(DraggedPerson(id));
                if resp.dragged() {
                    drag_hint_ui(&name, ui.ctx());
                }
                if resp
                    .dnd_hover_payload::<DraggedPerson>()
                    .is_some_and(|d| d.0 != id)
                {
                    ui.painter().rect_stroke(
                        rect,
                        4.0,
                        ui.visuals().selection.stroke,
                        egui::StrokeKind::Inside,
                    );
                }
                if let Some(d) = resp.dnd_release_payload::<DraggedPerson>()
                    && d.0 != id
                {
                    self.dropped = Some((d.0, id));
                }
                let resp = resp.on_hover_text(format!(
                    "Show the {} photos of {name}; drag onto another group to merge the two; \
                     Ctrl+click to tick for merging",
                    tile.person.photos
                ));
                if resp.clicked() {
                    if ui.input(|i| i.modifiers.command) {
                        self.toggle(id);
                    } else {
                        action = Some(PeopleAction::ShowPhotos(id, name.clone()));
                    }
                }
                let caption = ui.strong(&name);
                ui.weak(format!(
                    "{} photos · {} faces",
                    tile.person.photos, tile.person.faces
                ));
                let text = self.names.entry(id).or_default();
                let edit = ui
                    .add(
                        egui::TextEdit::singleline(text)
                            .hint_text("Name…")
                            .desired_width(FACE_SIDE),
                    )
                    .labelled_by(caption.id);
                if edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    let typed = text.trim().to_string();
                    if Some(&typed) != self.shown_names.get(&id) {
                        out.push(Command::NamePerson {
                            person: id,
                            name: typed,
                        });
                    }
                }
                let mut tick = ticked;
                if ui.checkbox(&mut tick, "Select").changed() {
                    self.toggle(id);
                }
            });
        });
        action
    }

    /// The best face, or a placeholder while it loads (or when it cannot be read).
    fn face_ui(&self, tile: &PersonTile, rect: Rect, wanted: &mut Vec<FaceCropRequest>, ui: &Ui) {
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, ui.visuals().faint_bg_color);
        let Some(face) = &tile.best_face else { return };
        match self.crops.get(&face.face_id) {
            Some(Ok(tex)) => {
                let size = tex.size_vec2();
                let scale = (rect.width() / size.x).min(rect.height() / size.y);
                painter.image(
                    tex.id(),
                    Rect::from_center_size(rect.center(), size * scale),
                    Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                    Color32::WHITE,
                );
            }
            Some(Err(_)) => {
                painter.text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    "unreadable",
                    egui::FontId::proportional(12.0),
                    ui.visuals().weak_text_color(),
                );
            }
            None => wanted.push(FaceCropRequest {
                face_id: face.face_id,
                path: face.path.clone(),
                orientation: face.orientation,
                bbox: face.bbox,
            }),
        }
    }
}

/// What follows the pointer while a group is dragged: whose face it is and what a drop does.
fn drag_hint_ui(name: &str, ctx: &egui::Context) {
    let Some(pos) = ctx.pointer_interact_pos() else {
        return;
    };
    egui::Area::new(egui::Id::unique("people-drag-hint"))
        .order(egui::Order::Tooltip)
        .fixed_pos(pos + vec2(14.0, 14.0))
        .interactable(false)
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.label(format!("{name}: drop on another group to merge"));
            });
        });
}

/// One line on where finding faces is.
pub fn find_status_ui(state: &FindState, ui: &mut Ui) {
    match state {
        FindState::Idle => {}
        FindState::Running { total: 0, .. } => {
            ui.spinner();
            ui.label("Preparing the face model…");
        }
        FindState::Running { done, total } => {
            ui.add(
                egui::ProgressBar::new(*done as f32 / (*total).max(1) as f32)
                    .desired_width(160.0)
                    .text(format!("Finding faces: {done} of {total} photos")),
            );
        }
        FindState::Finished(r) if r.photos == 0 => {
            ui.weak(format!(
                "Grouped: {} faces joined a group, {} new groups, {} unsorted",
                r.joined, r.new_persons, r.unsorted
            ));
        }
        FindState::Finished(r) => {
            ui.weak(format!(
                "{}{} photos looked at, {} faces: {} joined a group, {} new groups, {} unsorted",
                if r.stopped { "Stopped: " } else { "" },
                r.photos,
                r.faces,
                r.joined,
                r.new_persons,
                r.unsorted
            ));
        }
        FindState::Failed(e) => {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("Finding faces failed: {e}"),
            );
        }
    }
}

/// The bar above the grid while it shows one person's photos; returns whether the user asked
/// for the whole library again.
pub fn person_filter_ui(name: &str, photos: usize, ui: &mut Ui) -> bool {
    let mut clear = false;
    ui.horizontal(|ui| {
        ui.strong(format!("Photos of {name}"));
        ui.weak(format!("{photos} photos"));
        clear = ui.small_button("All photos").clicked();
    });
    clear
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::service::PersonTile;
    use crate::store::Person;

    fn overview(named: &[(i64, Option<&str>)]) -> PeopleOverview {
        PeopleOverview {
            persons: named
                .iter()
                .map(|(id, name)| PersonTile {
                    person: Person {
                        id: *id,
                        name: name.map(str::to_owned),
                        faces: 3,
                        photos: 3,
                    },
                    best_face: None,
                })
                .collect(),
            unsorted_faces: 0,
        }
    }

    #[test]
    fn a_drop_merges_into_the_target_unless_only_the_dragged_group_has_a_name() {
        let merge = |into, from| {
            Some(Command::MergePersons {
                into,
                from: vec![from],
            })
        };
        let o = overview(&[(1, None), (2, None), (3, Some("Ann")), (4, Some("Bo"))]);
        assert_eq!(drop_merge(&o, 1, 2), merge(2, 1));
        assert_eq!(drop_merge(&o, 1, 3), merge(3, 1));
        assert_eq!(drop_merge(&o, 3, 1), merge(3, 1), "the name is kept");
        assert_eq!(
            drop_merge(&o, 3, 4),
            merge(4, 3),
            "both named: the target's"
        );
        assert_eq!(drop_merge(&o, 2, 2), None);
    }
}
