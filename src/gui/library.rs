//! The library grid: a virtualised grid of thumbnails that stays smooth at 100,000 photos.
//! It keeps only the ordered list of photo ids; rows are fetched for what is on screen, and
//! thumbnails are decoded by the engine's image thread and kept in a bounded
//! [`TextureCache`]. Each tile shows the photo's status (queued, labelling, labelled, failed,
//! or unreadable).

use std::collections::{HashMap, HashSet};

use egui::{Align2, Color32, FontId, Rect, Sense, Stroke, StrokeKind, Ui, vec2};

use super::textures::TextureCache;
use crate::engine::{Command, DecodedImage, ThumbRequest};
use crate::scan::thumb::thumb_path;
use crate::store::{LabelStatus, Photo, PhotoOrder, PhotoStatus};

/// Most photo rows kept in memory; the cache is emptied when it grows past this.
const ROW_CACHE_LIMIT: usize = 20_000;
/// Most thumbnail textures kept (about 80 MB of 256-pixel RGBA; a large screen shows ~150).
const TEXTURE_LIMIT: usize = 400;
const GAP: f32 = 6.0;

/// What a tile shows about a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileStatus {
    Queued,
    Labelling,
    Labelled,
    Failed,
    /// The file could not be read as a photo.
    Unreadable,
}

impl TileStatus {
    /// The status of a photo row, given the photo being labelled now.
    pub fn of(photo: &Photo, labelling: Option<i64>) -> Self {
        if photo.status != PhotoStatus::Ok {
            return TileStatus::Unreadable;
        }
        if labelling == Some(photo.id) {
            return TileStatus::Labelling;
        }
        match photo.label_status {
            LabelStatus::Pending => TileStatus::Queued,
            LabelStatus::Labelled => TileStatus::Labelled,
            LabelStatus::Failed => TileStatus::Failed,
        }
    }

    /// A word for the status.
    pub fn name(self) -> &'static str {
        match self {
            TileStatus::Queued => "queued",
            TileStatus::Labelling => "labelling",
            TileStatus::Labelled => "labelled",
            TileStatus::Failed => "failed",
            TileStatus::Unreadable => "unreadable",
        }
    }

    fn color(self) -> Color32 {
        match self {
            TileStatus::Queued => Color32::from_gray(150),
            TileStatus::Labelling => Color32::from_rgb(70, 140, 230),
            TileStatus::Labelled => Color32::from_rgb(60, 170, 90),
            TileStatus::Failed | TileStatus::Unreadable => Color32::from_rgb(220, 90, 70),
        }
    }
}

/// The grid's data: which photos, in what order, and what is loaded of them.
pub struct LibraryView {
    /// The ids shown (the whole library in `order`, or search results).
    ids: Vec<i64>,
    /// Whether `ids` are search results rather than the library.
    pub searching: bool,
    /// Loaded rows with the generation they were fetched in.
    rows: HashMap<i64, (Photo, u64)>,
    /// Rows older than this generation are shown but fetched again.
    generation: u64,
    requested_rows: HashSet<i64>,
    textures: TextureCache,
    /// Photos whose thumbnail failed to load (not asked for again).
    thumb_failed: HashSet<i64>,
    /// The thumbnails last asked for, to avoid resending the same list every frame.
    last_wanted: Vec<i64>,
    /// The photo the labeller is working on.
    pub labelling: Option<i64>,
    /// Columns of the last frame, for keyboard navigation.
    cols: usize,
    /// The selection moved by keyboard this frame: scroll it into view.
    scroll_to_selected: bool,
    thumbs_dir: std::path::PathBuf,
}

impl LibraryView {
    pub fn new(thumbs_dir: std::path::PathBuf) -> Self {
        LibraryView {
            ids: Vec::new(),
            searching: false,
            rows: HashMap::new(),
            generation: 0,
            requested_rows: HashSet::new(),
            textures: TextureCache::new(TEXTURE_LIMIT),
            thumb_failed: HashSet::new(),
            last_wanted: Vec::new(),
            labelling: None,
            cols: 1,
            scroll_to_selected: false,
            thumbs_dir,
        }
    }

    /// Replaces the ids shown.
    pub fn set_ids(&mut self, ids: Vec<i64>, searching: bool) {
        self.ids = ids;
        self.searching = searching;
        self.last_wanted.clear();
    }

    /// The ids shown, in order.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// A loaded photo row.
    pub fn photo(&self, id: i64) -> Option<&Photo> {
        self.rows.get(&id).map(|(p, _)| p)
    }

    /// Stores fetched rows (replacing stale ones).
    pub fn add_rows(&mut self, photos: Vec<Photo>) {
        if self.rows.len() > ROW_CACHE_LIMIT {
            self.rows.clear();
            self.requested_rows.clear();
        }
        for p in photos {
            self.requested_rows.remove(&p.id);
            if let Some((old, _)) = self.rows.get(&p.id)
                && (old.hash != p.hash || old.thumb != p.thumb)
            {
                self.textures.remove(p.id);
                self.thumb_failed.remove(&p.id);
                self.last_wanted.clear();
            }
            self.rows.insert(p.id, (p, self.generation));
        }
    }

    /// Forgets loaded rows so that visible ones are fetched again (after a scan batch or edits),
    /// keeping textures.
    pub fn invalidate_rows(&mut self) {
        // Stale rows are still drawn until the fresh ones arrive.
        self.requested_rows.clear();
        self.generation += 1;
    }

    /// Uploads a decoded thumbnail.
    pub fn add_thumbnail(
        &mut self,
        ctx: &egui::Context,
        photo_id: i64,
        image: Result<DecodedImage, String>,
    ) {
        match image {
            Ok(img) => self.textures.insert(ctx, photo_id, &img),
            Err(e) => {
                log::debug!("thumbnail of photo {photo_id}: {e}");
                self.thumb_failed.insert(photo_id);
            }
        }
    }

    /// Number of thumbnail textures held (bounded).
    pub fn texture_count(&self) -> usize {
        self.textures.len()
    }

    /// Shows the grid; a click selects a photo. Asks the engine for rows and thumbnails of the
    /// visible part.
    pub fn grid_ui(
        &mut self,
        tile: f32,
        selected: &mut Option<i64>,
        out: &mut Vec<Command>,
        ui: &mut Ui,
    ) {
        self.textures.next_frame();
        if self.ids.is_empty() {
            ui.centered_and_justified(|ui| {
                ui.label(if self.searching {
                    "No photos match this search."
                } else {
                    "No photos yet. Drop folders on this window or use \"Add folder\"."
                });
            });
            return;
        }
        let cell = tile + GAP;
        let cols = ((ui.available_width() + GAP) / cell).floor().max(1.0) as usize;
        self.cols = cols;
        self.keys(selected, ui);
        let n_rows = self.ids.len().div_ceil(cols);
        let mut visible: Vec<i64> = Vec::new();
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show_rows(ui, tile, n_rows, |ui, range| {
                for row in range {
                    ui.horizontal(|ui| {
                        ui.spacing_mut().item_spacing.x = GAP;
                        for col in 0..cols {
                            let Some(&id) = self.ids.get(row * cols + col) else {
                                break;
                            };
                            visible.push(id);
                            self.tile_ui(id, tile, selected, ui);
                        }
                    });
                }
            });
        self.request_visible(&visible, out);
    }

    fn tile_ui(&mut self, id: i64, tile: f32, selected: &mut Option<i64>, ui: &mut Ui) {
        let (rect, resp) = ui.allocate_exact_size(vec2(tile, tile), Sense::click());
        let photo = self.rows.get(&id).map(|(p, _)| p);
        let name = photo
            .and_then(|p| p.path.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("photo {id}"));
        let status = photo.map(|p| TileStatus::of(p, self.labelling));
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &name));
        if ui.is_rect_visible(rect) {
            let visuals = ui.visuals();
            let painter = ui.painter_at(rect);
            painter.rect_filled(rect, 4.0, visuals.faint_bg_color);
            if let Some(tex) = self.textures.get(id) {
                let size = tex.size_vec2();
                let scale = (tile / size.x).min(tile / size.y);
                let img_rect = Rect::from_center_size(rect.center(), size * scale);
                painter.image(
                    tex.id(),
                    img_rect,
                    Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                    Color32::WHITE,
                );
            } else {
                let text = match status {
                    Some(TileStatus::Unreadable) => "unreadable",
                    _ => "…",
                };
                painter.text(
                    rect.center(),
                    Align2::CENTER_CENTER,
                    text,
                    FontId::proportional(12.0),
                    visuals.weak_text_color(),
                );
            }
            if let Some(s) = status {
                let dot = rect.right_bottom() + vec2(-9.0, -9.0);
                painter.circle_filled(dot, 5.0, s.color());
                painter.circle_stroke(dot, 5.0, Stroke::new(1.0, Color32::BLACK));
            }
            if *selected == Some(id) {
                painter.rect_stroke(
                    rect,
                    4.0,
                    Stroke::new(3.0, visuals.selection.stroke.color),
                    StrokeKind::Inside,
                );
            } else if resp.hovered() {
                painter.rect_stroke(
                    rect,
                    4.0,
                    Stroke::new(1.0, visuals.widgets.hovered.fg_stroke.color),
                    StrokeKind::Inside,
                );
            }
        }
        let resp = resp.on_hover_ui(|ui| {
            ui.label(&name);
            if let Some(s) = status {
                ui.label(s.name());
            }
            if let Some(err) = photo.and_then(|p| p.error.as_deref()) {
                ui.colored_label(ui.visuals().error_fg_color, err);
            }
        });
        if resp.clicked() {
            *selected = Some(id);
        }
        if *selected == Some(id) && std::mem::take(&mut self.scroll_to_selected) {
            resp.scroll_to_me(None);
        }
    }

    /// Arrow keys move the selection through the grid (unless a text field has focus).
    fn keys(&mut self, selected: &mut Option<i64>, ui: &Ui) {
        if ui.ctx().text_edit_focused() {
            return;
        }
        let step: isize = ui.input(|i| {
            let cols = self.cols as isize;
            [
                (egui::Key::ArrowRight, 1),
                (egui::Key::ArrowLeft, -1),
                (egui::Key::ArrowDown, cols),
                (egui::Key::ArrowUp, -cols),
            ]
            .into_iter()
            .filter(|(k, _)| i.key_pressed(*k))
            .map(|(_, d)| d)
            .sum()
        });
        if step == 0 || self.ids.is_empty() {
            return;
        }
        let at = selected
            .and_then(|s| self.ids.iter().position(|&id| id == s))
            .map_or(0, |p| p as isize + step);
        let at = at.clamp(0, self.ids.len() as isize - 1) as usize;
        *selected = self.ids.get(at).copied();
        self.scroll_to_selected = true;
    }

    /// Asks for the rows and thumbnails of the visible photos that are not loaded yet.
    fn request_visible(&mut self, visible: &[i64], out: &mut Vec<Command>) {
        let missing: Vec<i64> = visible
            .iter()
            .copied()
            .filter(|id| {
                let stale = self
                    .rows
                    .get(id)
                    .is_none_or(|(_, generation)| *generation < self.generation);
                stale && !self.requested_rows.contains(id)
            })
            .collect();
        if !missing.is_empty() {
            self.requested_rows.extend(missing.iter().copied());
            out.push(Command::FetchPhotos(missing));
        }
        let mut wanted = Vec::new();
        let mut wanted_ids = Vec::new();
        for id in visible {
            if self.textures.contains(*id) || self.thumb_failed.contains(id) {
                continue;
            }
            let Some((p, _)) = self.rows.get(id) else {
                continue;
            };
            let (true, Some(hash)) = (p.thumb, p.hash.as_deref()) else {
                continue;
            };
            wanted_ids.push(*id);
            wanted.push(ThumbRequest {
                photo_id: *id,
                path: thumb_path(&self.thumbs_dir, hash),
            });
        }
        if wanted_ids != self.last_wanted {
            self.last_wanted = wanted_ids;
            out.push(Command::WantThumbnails(wanted));
        }
    }

    /// The sort order label for the combo box.
    pub fn order_name(order: PhotoOrder) -> &'static str {
        match order {
            PhotoOrder::Taken => "Date taken",
            PhotoOrder::Added => "Date added",
        }
    }
}
