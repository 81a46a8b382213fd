//! The desktop GUI (feature `gui`): an eframe/egui window over the [`crate::engine`]. The user
//! drops photo folders on the window and browses them in a virtualised grid, searches by tags,
//! browses the tag tree, inspects a photo's labels, faces and scheduling timeline, edits tags,
//! names and merges the people found in the photos, and (when a trainer is installed) retrains
//! the scheduler. All work happens on engine threads; the GUI drains
//! events each frame and is woken by the engine.
//!
//! Main types: [`App`] (the window), [`LibraryView`] (the grid), [`FolderPicker`] (the folder
//! dialog, swappable in tests), [`Settings`] (persisted with the window state), [`ModelsPanel`]
//! (weights fetched at first use: progress and failures), [`TagsPanel`] (the tag browser),
//! [`PeopleView`] (the persons, named or not).

mod app;
mod detail;
mod faces;
mod folders;
mod library;
mod models;
mod people;
mod picker;
mod retrain;
mod search;
mod settings;
mod tags;
mod textures;
mod timeline;

use std::path::PathBuf;

pub use app::{App, CentralView, UiState};
pub use detail::DetailView;
pub use folders::{FoldersPanel, ScanState};
pub use library::{LibraryView, TileStatus};
pub use models::ModelsPanel;
pub use people::{FindState, PeopleAction, PeopleView};
pub use picker::{FixedPicker, FolderPicker, NativePicker};
pub use retrain::{NO_TRAINER, RetrainPanel, RetrainState};
pub use search::SearchBox;
pub use settings::Settings;
pub use tags::{TagsPanel, tag_query};
pub use timeline::stack_lanes;

use crate::config::Paths;
use crate::engine::zoo_plugins::{RlTrainer, SchedulerLabeller};
use crate::engine::{Engine, EngineOptions, ModelSetting, Plugins};

/// Opens the window and runs until it is closed. `open` are folders added at start.
pub fn run(paths: Paths, open: Vec<PathBuf>) -> anyhow::Result<()> {
    let mut viewport = egui::ViewportBuilder::default();
    match eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icons/photolabel-256.png"))
    {
        Ok(icon) => viewport = viewport.with_icon(std::sync::Arc::new(icon)),
        Err(e) => log::warn!("window icon: {e}"),
    }
    let options = eframe::NativeOptions {
        viewport: viewport
            .with_title("photolabel")
            .with_app_id("photolabel")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0])
            .with_drag_and_drop(true),
        persist_window: true,
        // Window state and settings live with the library's other data (and follow
        // PHOTOLABEL_DATA_DIR), not in a second, eframe-chosen folder.
        persistence_path: Some(paths.data_dir.join("gui")),
        ..Default::default()
    };
    let plugins = Plugins {
        labeller: Some(Box::new(SchedulerLabeller::new(paths.clone()))),
        trainer: Some(Box::new(RlTrainer::new(paths.clone()))),
    };
    let engine = match Engine::start_with(paths.clone(), plugins, EngineOptions::desktop()) {
        Ok(e) => e,
        Err(e @ crate::Error::LibraryDamaged { .. }) => {
            // No terminal to read from a launcher: offer the way out in a dialog.
            let answer = rfd::MessageDialog::new()
                .set_title("photolabel")
                .set_level(rfd::MessageLevel::Error)
                .set_description(format!(
                    "{e}\n\nRecover now? The damaged file is kept beside the library; \
                     the folders of the backup are rescanned."
                ))
                .set_buttons(rfd::MessageButtons::YesNo)
                .show();
            if answer != rfd::MessageDialogResult::Yes {
                return Err(e.into());
            }
            let recovery = {
                let _lock = crate::label::lock::LibraryLock::acquire(&paths.db)?;
                crate::store::recover::recover(&paths.db)?
            };
            log::warn!("recovered a damaged library: {recovery:?}");
            let plugins = Plugins {
                labeller: Some(Box::new(SchedulerLabeller::new(paths.clone()))),
                trainer: Some(Box::new(RlTrainer::new(paths.clone()))),
            };
            // The desktop engine rescans the recovered library's folders as it starts.
            Engine::start_with(paths, plugins, EngineOptions::desktop())?
        }
        Err(e @ crate::Error::LibraryLocked { .. }) => {
            // Started from a launcher there is no terminal to read: say it in a dialog too.
            let _ = rfd::MessageDialog::new()
                .set_title("photolabel")
                .set_level(rfd::MessageLevel::Warning)
                .set_description(e.to_string())
                .show();
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    eframe::run_native(
        "photolabel",
        options,
        Box::new(move |cc| {
            cc.egui_ctx.set_theme(egui::ThemePreference::System);
            let mut settings: Settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            add_zoo_models(&mut settings);
            let picker = NativePicker::new(cc.egui_ctx.clone());
            Ok(Box::new(App::new(engine, Box::new(picker), settings, open)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// Lists every model of the zoo in the settings (new ones enabled, with the manifest's
/// threshold), keeping the user's choices for known ones.
fn add_zoo_models(settings: &mut Settings) {
    let Ok(manifest) = crate::zoo::Manifest::embedded() else {
        return;
    };
    for id in crate::zoo::IMPLEMENTED {
        let models = &mut settings.label.models;
        if models.iter().all(|m| m.id != *id) {
            models.push(ModelSetting {
                id: (*id).to_string(),
                threshold: manifest.get(id).map_or(0.5, |s| s.threshold),
                ..ModelSetting::default()
            });
        }
    }
}
