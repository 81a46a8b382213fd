//! The application: owns the [`Engine`] handle and the views, drains engine events at the start
//! of every frame, lays out the panels (top bar with search, folders and the tag browser on the left, photo detail
//! on the right, the grid, the library timeline or the People view in the middle) and sends the
//! commands the views queued. Nothing here waits on disk, the database or a model.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::Ui;

use super::detail::DetailView;
use super::folders::{FoldersPanel, ScanState};
use super::library::LibraryView;
use super::models::ModelsPanel;
use super::people::{FindState, PeopleAction, PeopleView, find_status_ui, person_filter_ui};
use super::picker::FolderPicker;
use super::retrain::{RetrainPanel, RetrainState};
use super::search::SearchBox;
use super::settings::Settings;
use super::tags::TagsPanel;
use super::timeline::library_timeline_ui;
use crate::engine::{Command, Engine, Event, LibrarySnapshot};

/// Most events handled per frame, so a flood never stalls a frame.
/// How often labelling progress refreshes the side panel's counts.
const COUNTS_EVERY: Duration = Duration::from_secs(3);
const EVENTS_PER_FRAME: usize = 2000;
/// Most recent commands remembered (shown in tests and logs).
const COMMAND_LOG: usize = 64;
/// Longest the grid waits before refreshing its ids while a scan adds photos.
const REFRESH_EVERY: Duration = Duration::from_millis(1000);

/// What the central area shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CentralView {
    Grid,
    LibraryTimeline,
    People,
}

/// UI-only state: selection, open windows, messages; no domain data.
pub struct UiState {
    pub selected: Option<i64>,
    pub central: CentralView,
    pub settings_open: bool,
    /// Errors to show, newest last.
    pub errors: VecDeque<String>,
    /// Files hovering over the window during a drag.
    pub drop_hover: bool,
}

/// The photolabel window.
pub struct App {
    engine: Engine,
    picker: Box<dyn FolderPicker>,
    pub settings: Settings,
    pub ui_state: UiState,
    pub library: LibraryView,
    pub detail: DetailView,
    pub search: SearchBox,
    pub folders: FoldersPanel,
    pub retrain: RetrainPanel,
    pub models: ModelsPanel,
    pub tags: TagsPanel,
    pub people: PeopleView,
    /// The grid shows this person's photos (id, name shown) rather than the library or a search.
    pub person_filter: Option<(i64, String)>,
    snapshot: LibrarySnapshot,
    recent: VecDeque<Command>,
    outbox: Vec<Command>,
    waker_installed: bool,
    /// The list needs reloading (set when a refresh was done less than a second ago).
    ids_dirty: bool,
    last_refresh: Option<Instant>,
    /// The last labelling failure logged (repeats are not logged again).
    last_label_error: Option<String>,
    /// When labelling progress last asked for the library's counts.
    last_counts: Option<Instant>,
}

impl App {
    /// An app over a running engine. `open` are folders to add at once (`--open`).
    pub fn new(
        engine: Engine,
        picker: Box<dyn FolderPicker>,
        settings: Settings,
        open: Vec<PathBuf>,
    ) -> Self {
        let thumbs = engine.info().paths.thumbs_dir();
        let mut app = App {
            engine,
            picker,
            ui_state: UiState {
                selected: None,
                central: CentralView::Grid,
                settings_open: false,
                errors: VecDeque::new(),
                drop_hover: false,
            },
            library: LibraryView::new(thumbs),
            detail: DetailView::default(),
            search: SearchBox::default(),
            folders: FoldersPanel::default(),
            retrain: RetrainPanel::default(),
            models: ModelsPanel::default(),
            tags: TagsPanel::default(),
            people: PeopleView::default(),
            person_filter: None,
            snapshot: LibrarySnapshot::default(),
            recent: VecDeque::new(),
            outbox: Vec::new(),
            waker_installed: false,
            ids_dirty: false,
            last_refresh: None,
            last_label_error: None,
            last_counts: None,
            settings,
        };
        app.outbox
            .push(Command::ApplySettings(app.settings.label.clone()));
        app.outbox.push(Command::LoadLibrary);
        app.outbox.push(Command::LoadPeople);
        app.outbox.push(Command::ListPhotos(app.settings.order));
        if !open.is_empty() {
            app.outbox.push(Command::AddPaths(open));
        }
        app.flush();
        app
    }

    /// The commands sent most recently, oldest first.
    pub fn recent_commands(&self) -> impl Iterator<Item = &Command> {
        self.recent.iter()
    }

    /// The engine handle.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn flush(&mut self) {
        for cmd in std::mem::take(&mut self.outbox) {
            let logged = !matches!(cmd, Command::WantThumbnails(_) | Command::FetchPhotos(_));
            if logged {
                if self.recent.len() >= COMMAND_LOG {
                    self.recent.pop_front();
                }
                self.recent.push_back(cmd.clone());
            }
            if let Err(e) = self.engine.send(cmd) {
                self.error(e.to_string());
            }
        }
    }

    /// Shows an error to the user (that is its handling; it is not logged again).
    fn error(&mut self, msg: String) {
        if self.ui_state.errors.len() >= 5 {
            self.ui_state.errors.pop_front();
        }
        self.ui_state.errors.push_back(msg);
    }

    fn refresh_due(&self) -> bool {
        self.last_refresh
            .is_none_or(|t| t.elapsed() >= REFRESH_EVERY)
    }

    /// Reloads the list at once, or within a second when it was just reloaded (a scan reports
    /// changes continuously).
    fn library_changed(&mut self) {
        if self.refresh_due() {
            self.refresh_ids();
        } else {
            self.ids_dirty = true;
        }
    }

    fn refresh_ids(&mut self) {
        if let Some((person, _)) = &self.person_filter {
            self.outbox.push(Command::ListPersonPhotos(*person));
        } else if self.search.applied.is_empty() {
            self.outbox.push(Command::ListPhotos(self.settings.order));
        } else {
            self.outbox
                .push(Command::Search(self.search.applied.clone()));
        }
        self.outbox.push(Command::LoadLibrary);
        self.library.invalidate_rows();
        self.ids_dirty = false;
        self.last_refresh = Some(Instant::now());
    }

    /// Handles every waiting engine event.
    pub fn drain_events(&mut self, ctx: &egui::Context) {
        for _ in 0..EVENTS_PER_FRAME {
            let Some(ev) = self.engine.try_recv() else {
                break;
            };
            self.handle(ctx, ev);
        }
        if self.ids_dirty {
            if self.refresh_due() {
                self.refresh_ids();
            } else {
                // No event may come to wake us: come back when the refresh is due.
                ctx.request_repaint_after(REFRESH_EVERY);
            }
        }
    }

    fn handle(&mut self, ctx: &egui::Context, ev: Event) {
        match ev {
            Event::ScanStarted(_) => self.folders.scan = ScanState::Running(Default::default()),
            Event::ScanProgress(p) => {
                if !matches!(self.folders.scan, ScanState::Paused(_)) {
                    self.folders.scan = ScanState::Running(p);
                }
            }
            Event::ScanFailed { path, message } => self.folders.add_failure(path, message),
            Event::ScanFinished(s) => {
                self.folders.scan = match (&self.folders.scan, s.cancelled) {
                    (ScanState::Running(p) | ScanState::Paused(p), true) => {
                        ScanState::Paused(p.clone())
                    }
                    _ => ScanState::Finished(s),
                };
                self.refresh_ids();
            }
            Event::Library(snap) => {
                self.folders.roots = snap.roots.clone();
                self.folders.offline = snap.offline.clone();
                self.folders.stats = snap.stats.clone();
                self.snapshot = *snap;
            }
            Event::PhotoIds { order, ids } => {
                if order == self.settings.order
                    && self.search.applied.is_empty()
                    && self.person_filter.is_none()
                {
                    self.library.set_ids(ids, false);
                }
            }
            Event::SearchResults { query, result } => {
                if query == self.search.applied {
                    match result {
                        Ok(hits) => {
                            self.search.hits = Some(hits.len());
                            self.search.error = None;
                            self.library
                                .set_ids(hits.iter().map(|h| h.photo_id).collect(), true);
                        }
                        Err(e) => self.search.error = Some(e),
                    }
                }
            }
            Event::Suggestions { prefix, tags } => self.search.set_suggestions(&prefix, tags),
            Event::Photos(rows) => self.library.add_rows(rows),
            Event::Detail(d) => {
                let mut out = Vec::new();
                self.detail.set_detail(*d, &mut out);
                self.outbox.extend(out);
            }
            Event::Thumbnail { photo_id, image } => {
                self.library.add_thumbnail(ctx, photo_id, image)
            }
            Event::Image { photo_id, image } => self.detail.set_image(ctx, photo_id, image),
            Event::LabellingStarted(id) => self.library.labelling = Some(id),
            Event::LabellingDone { photo_id, error } => {
                if self.library.labelling == Some(photo_id) {
                    self.library.labelling = None;
                }
                if let Some(e) = error {
                    // Once per distinct reason: with no model every photo fails alike.
                    if self.last_label_error.as_ref() != Some(&e) {
                        log::info!("photo {photo_id} failed to label: {e}");
                        self.last_label_error = Some(e);
                    }
                }
                self.photos_changed(&[photo_id]);
            }
            Event::Model(status) => self.models.handle(status),
            Event::LabelProgress(p) => {
                let finished_one = self
                    .models
                    .labelling
                    .as_ref()
                    .is_none_or(|old| old.done != p.done);
                self.models.set_progress(p);
                // Keep the side panel's counts ("N labelled") current, at most every few
                // seconds: the snapshot aggregates the whole decision log.
                let due = self.last_counts.is_none_or(|t| t.elapsed() >= COUNTS_EVERY);
                if finished_one && due {
                    self.outbox.push(Command::LoadLibrary);
                    self.last_counts = Some(Instant::now());
                }
            }
            Event::PhotosChanged(ids) => self.photos_changed(&ids),
            Event::LibraryChanged => self.library_changed(),
            Event::TrainProgress(p) => self.retrain.state = RetrainState::Running(Some(p)),
            Event::TrainFinished(r) => {
                self.retrain.state = match r {
                    Ok(report) => RetrainState::Review(report),
                    Err(e) => RetrainState::Failed(e),
                }
            }
            Event::TrainDecided(kept) => self.retrain.state = RetrainState::Decided(kept),
            Event::People(o) => self.people.set_overview(*o),
            Event::PersonPhotos { person, ids } => {
                if self.person_filter.as_ref().is_some_and(|f| f.0 == person) {
                    self.library.set_ids(ids, true);
                }
            }
            Event::PeopleChanged => {
                self.outbox.push(Command::LoadPeople);
                if let Some(sel) = self.detail.photo_id {
                    self.outbox.push(Command::LoadDetail(sel));
                }
                // Person tags changed: searches, a person's photos and the tag counts.
                self.library_changed();
            }
            Event::FacesProgress { done, total } => {
                self.people.finding = FindState::Running { done, total }
            }
            Event::FacesFinished(r) => {
                self.people.finding = match r {
                    Ok(report) => FindState::Finished(report),
                    Err(e) => FindState::Failed(e),
                }
            }
            Event::FaceCrop { face_id, image } => self.people.add_crop(ctx, face_id, image),
            Event::Error(e) => self.error(e),
        }
    }

    fn photos_changed(&mut self, ids: &[i64]) {
        self.outbox.push(Command::FetchPhotos(ids.to_vec()));
        if let Some(sel) = self.detail.photo_id
            && ids.contains(&sel)
        {
            self.outbox.push(Command::LoadDetail(sel));
        }
        if !self.search.applied.is_empty() || self.person_filter.is_some() {
            self.library_changed();
        }
    }

    /// Work done every frame, and also while the window is hidden (eframe's `logic`): install
    /// the waker, drain engine events (so workers never wait on a minimised window), collect
    /// the folder dialog's answer, send queued commands.
    pub fn logic(&mut self, ctx: &egui::Context) {
        if !self.waker_installed {
            let c = ctx.clone();
            self.engine.set_waker(Arc::new(move || c.request_repaint()));
            self.waker_installed = true;
        }
        self.drain_events(ctx);
        match self.picker.poll() {
            Some(Ok(paths)) if !paths.is_empty() => self.outbox.push(Command::AddPaths(paths)),
            Some(Err(e)) => self.error(e),
            _ => {}
        }
        self.flush();
    }

    /// The whole window's UI (eframe calls this through [`eframe::App::ui`]; tests call it
    /// through a kittest harness).
    pub fn root_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.logic(&ctx);
        self.dropped_files_ui(ui);

        let mut out = std::mem::take(&mut self.outbox);
        egui::Panel::top("top").show(ui, |ui| self.top_bar_ui(&mut out, ui));
        egui::Panel::left("folders")
            .default_size(260.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.folders.folders_ui(self.picker.as_mut(), &mut out, ui);
                    ui.separator();
                    let applied = self.search.applied.clone();
                    if let Some(q) = self.tags.tags_ui(&self.snapshot.tags, &applied, ui) {
                        // A second click on the tag shown goes back to the whole library.
                        let q = if q == applied { String::new() } else { q };
                        self.search.set_query(&q, &mut out);
                        self.person_filter = None;
                        if self.ui_state.central == CentralView::People {
                            self.ui_state.central = CentralView::Grid;
                        }
                        if q.is_empty() {
                            out.push(Command::ListPhotos(self.settings.order));
                        }
                    }
                });
            });
        if !self.ui_state.errors.is_empty() {
            egui::Panel::bottom("errors").show(ui, |ui| self.errors_ui(ui));
        }
        if self.ui_state.selected.is_some()
            && !ctx.text_edit_focused()
            && ui.input(|i| i.key_pressed(egui::Key::Escape))
        {
            self.ui_state.selected = None;
            self.detail = DetailView::default();
        }
        if self.ui_state.selected.is_some() {
            egui::Panel::right("detail")
                .default_size(420.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        ui.horizontal(|ui| {
                            if ui.small_button("Close").clicked() {
                                self.ui_state.selected = None;
                                self.detail = DetailView::default();
                            }
                        });
                        let deadline = f64::from(self.settings.label.deadline_ms);
                        let named = self
                            .people
                            .overview
                            .as_ref()
                            .map(|o| o.named())
                            .unwrap_or_default();
                        self.detail.detail_ui(deadline, &named, &mut out, ui);
                    });
                });
        }
        egui::CentralPanel::default_margins().show(ui, |ui| match self.ui_state.central {
            CentralView::Grid => {
                let n = self.library.ids().len();
                let filter = self.person_filter.as_ref();
                if let Some(all) = filter.map(|(_, name)| person_filter_ui(name, n, ui)) {
                    if all {
                        self.person_filter = None;
                        out.push(Command::ListPhotos(self.settings.order));
                    }
                } else {
                    ui.weak(if self.library.searching {
                        format!("{n} found")
                    } else {
                        format!("{n} photos")
                    });
                }
                let before = self.ui_state.selected;
                self.library.grid_ui(
                    self.settings.tile_size,
                    &mut self.ui_state.selected,
                    &mut out,
                    ui,
                );
                if self.ui_state.selected != before
                    && let Some(id) = self.ui_state.selected
                {
                    self.detail.select(id, &mut out);
                }
            }
            CentralView::LibraryTimeline => {
                egui::ScrollArea::vertical()
                    .show(ui, |ui| library_timeline_ui(&self.snapshot.runs, ui));
            }
            CentralView::People => {
                if let Some(PeopleAction::ShowPhotos(id, name)) =
                    self.people.people_ui(&mut out, ui)
                {
                    self.show_person(id, name, &mut out);
                }
            }
        });
        if self.ui_state.settings_open {
            let mut open = true;
            let info = self.engine.info().clone();
            let mut changed = false;
            egui::Window::new("Settings")
                .open(&mut open)
                .show(&ctx, |ui| {
                    changed = self.settings.settings_ui(&info, ui);
                });
            if changed {
                out.push(Command::ApplySettings(self.settings.label.clone()));
            }
            self.ui_state.settings_open = open;
        }
        self.outbox.extend(out);
        self.flush();
    }

    /// The grid shows one person's photos.
    fn show_person(&mut self, id: i64, name: String, out: &mut Vec<Command>) {
        self.search.set_query("", out);
        self.person_filter = Some((id, name));
        self.ui_state.central = CentralView::Grid;
        out.push(Command::ListPersonPhotos(id));
    }

    fn top_bar_ui(&mut self, out: &mut Vec<Command>, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.strong("photolabel");
            ui.separator();
            let before_applied = self.search.applied.clone();
            self.search.search_ui(out, ui);
            if self.search.applied != before_applied {
                self.person_filter = None;
                if self.ui_state.central == CentralView::People {
                    self.ui_state.central = CentralView::Grid;
                }
                if self.search.applied.is_empty() {
                    // The results stay on screen until the library's ids arrive.
                    out.push(Command::ListPhotos(self.settings.order));
                }
            }
            ui.separator();
            let order = self.settings.order;
            egui::ComboBox::from_label("Sort")
                .selected_text(LibraryView::order_name(order))
                .show_ui(ui, |ui| {
                    for o in [
                        crate::store::PhotoOrder::Taken,
                        crate::store::PhotoOrder::Added,
                    ] {
                        ui.selectable_value(
                            &mut self.settings.order,
                            o,
                            LibraryView::order_name(o),
                        );
                    }
                });
            if self.settings.order != order
                && self.search.applied.is_empty()
                && self.person_filter.is_none()
            {
                out.push(Command::ListPhotos(self.settings.order));
            }
            ui.separator();
            let timeline = self.ui_state.central == CentralView::LibraryTimeline;
            if ui.selectable_label(timeline, "Library timeline").clicked() {
                self.ui_state.central = if timeline {
                    CentralView::Grid
                } else {
                    CentralView::LibraryTimeline
                };
                out.push(Command::LoadLibrary);
            }
            let people = self.ui_state.central == CentralView::People;
            if ui.selectable_label(people, "People").clicked() {
                self.ui_state.central = if people {
                    CentralView::Grid
                } else {
                    CentralView::People
                };
                out.push(Command::LoadPeople);
            }
            self.retrain
                .button_ui(self.engine.info().can_retrain, out, ui);
            if ui.button("Settings").clicked() {
                self.ui_state.settings_open = !self.ui_state.settings_open;
            }
        });
        self.search.suggestions_ui(out, ui);
        self.folders.scan_bar_ui(out, ui);
        if matches!(self.people.finding, FindState::Running { .. })
            && self.ui_state.central != CentralView::People
        {
            ui.horizontal(|ui| find_status_ui(&self.people.finding, ui));
        }
        let log = crate::logging::log_path(&self.engine.info().paths.data_dir);
        self.models.models_ui(&log, ui, out);
        self.retrain.retrain_ui(out, ui);
    }

    fn errors_ui(&mut self, ui: &mut Ui) {
        let mut dismiss = false;
        ui.horizontal(|ui| {
            if let Some(e) = self.ui_state.errors.back() {
                ui.colored_label(ui.visuals().warn_fg_color, e);
            }
            if self.ui_state.errors.len() > 1 {
                ui.weak(format!("(+{} more)", self.ui_state.errors.len() - 1));
            }
            dismiss = ui.small_button("Dismiss").clicked();
        });
        if dismiss {
            self.ui_state.errors.pop_back();
        }
    }

    /// Folders and files dropped on the window are added; a hint shows while dragging.
    fn dropped_files_ui(&mut self, ui: &mut Ui) {
        let (hovering, dropped) = ui.input(|i| {
            (
                !i.raw.hovered_files.is_empty(),
                i.raw
                    .dropped_files
                    .iter()
                    .map(|f| f.path().to_path_buf())
                    .collect::<Vec<_>>(),
            )
        });
        self.ui_state.drop_hover = hovering;
        if !dropped.is_empty() {
            self.outbox.push(Command::AddPaths(dropped));
        }
        if hovering {
            let rect = ui.ctx().content_rect();
            let painter = ui.ctx().layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                ui.scope_id().with("drop"),
            ));
            painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(160));
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "Drop folders to add them to the library",
                egui::FontId::proportional(24.0),
                egui::Color32::WHITE,
            );
        }
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.logic(ctx);
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.root_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
