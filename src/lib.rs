//! photolabel's GUI-free core: scan a photo library into a SQLite store, label photos with many
//! deep-learning models scheduled per photo, and search them by tags.
//!
//! - [`scan`]: walk folders, detect images by content, read EXIF, make thumbnails.
//! - [`store`]: the library database (photos, labels, model runs, tag index) and search.
//! - [`vocab`]: the vocabulary turning raw model classes into the tags people search for.
//! - [`xmp`]: XMP sidecars: our tags written beside the photos, other programs' keywords read.
//! - [`people`]: faces recognised across photos, grouped into people.
//! - [`zoo`]: pretrained models on burn (wgpu GPU, or CPU fallback), their weights and labels.
//! - [`config`]: where the database and caches live; [`logging`]: the app's size-capped log file.
//! - [`engine`]: background workers between a GUI and the core (commands in, events out).
//! - `gui` (feature `gui`): the eframe/egui desktop app over the engine.
//! - [`fuzz_targets`]: the parsers of outside data as fuzz targets (AFL in `fuzz/`, and a short
//!   run in the tests).
//! - [`fixtures`]: generated test libraries (JPEGs with EXIF, broken files) for tests and
//!   benchmarks.

pub mod config;
pub mod engine;
pub mod error;
pub mod fixtures;
pub mod fuzz_targets;
#[cfg(feature = "gui")]
pub mod gui;
pub mod json_path;
pub mod label;
pub mod logging;
pub mod people;
pub mod rl;
pub mod scan;
pub mod sched;
pub mod store;
pub mod vocab;
pub mod xmp;
pub mod zoo;

pub use error::{Error, Result};
