//! The two places where work from other parts of photolabel plugs into the engine: a
//! [`Labeller`] (model zoo + scheduler) that labels one photo at a time, and a [`Trainer`] (the
//! RL trainer) that retrains the scheduler on the library's decision log. Neither exists in
//! this build; the engine runs without them (photos stay queued, Retrain is unavailable) and
//! never invents labels or training results.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use crate::label::service::BudgetStatus;
use crate::store::{NewLabel, Photo, RunRecord};
use crate::zoo::faceres::FacesFound;

use super::settings::LabelSettings;

/// What labelling one photo produced: the labels kept and the scheduler's decision log (runs
/// and skips), written together with `Store::write_photo_results`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelOutcome {
    pub labels: Vec<NewLabel>,
    pub runs: Vec<RunRecord>,
    /// The scheduler's context of the photo (JSON), stored for retraining from the log.
    pub context: Option<String>,
    /// The deadline the photo was scheduled under, stored for the timeline.
    pub deadline_ms: Option<f64>,
    /// The faces the face embedder described, when it ran (stored for People, then grouped).
    pub faces: Option<FacesFound>,
}

pub use crate::label::models::{ModelStatus, ModelStep};

/// Where a [`Labeller`] reports [`ModelStatus`] (the engine turns it into events).
pub type StatusSink = Arc<dyn Fn(ModelStatus) + Send + Sync>;

/// Labels photos: the scheduler picks models within the deadline and memory budget, the zoo
/// runs them. Called from the engine's labelling thread, one photo at a time.
pub trait Labeller: Send {
    /// A short description of the inference backend, for the settings panel (e.g. "wgpu").
    fn backend(&self) -> String;

    /// Where to report model preparation (weights fetched at first use); called once by the
    /// engine before the first photo. Labellers with nothing to prepare ignore it.
    fn set_status_sink(&mut self, _sink: StatusSink) {}

    /// Labels one photo. An error marks the photo failed with that message (retried later
    /// unless it is the photo's own fault, see `label::write::retryable`); the run goes on.
    fn label(&mut self, photo: &Photo, settings: &LabelSettings) -> anyhow::Result<LabelOutcome>;

    /// Forgets a failed preparation (models that could not be had), so that the next photo
    /// tries again: called when the user presses Retry.
    fn retry(&mut self) {}

    /// Labels the next `backlog` photos within `within` (`None`: back to the per-photo
    /// deadline). Labellers without a scheduler ignore it.
    fn set_budget(&mut self, _within: Option<Duration>, _backlog: usize) {}

    /// Photos left under the budget (called before each photo: scans add photos).
    fn set_backlog(&mut self, _backlog: usize) {}

    /// Where the budget stands, if one is set.
    fn budget(&self) -> Option<BudgetStatus> {
        None
    }
}

/// A figure compared before and after retraining (e.g. "mean value per photo").
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub before: f64,
    pub after: f64,
    /// Unit shown after the numbers ("ms", "%", "").
    pub unit: String,
    /// Whether a larger number is better (for colouring the change).
    pub higher_is_better: bool,
}

/// Where retraining is.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainProgress {
    /// Steps done and planned.
    pub step: u64,
    pub total: u64,
    /// The training loss at this step, if the trainer reports one.
    pub loss: Option<f64>,
    /// A short phrase ("replaying decisions", "training", "evaluating").
    pub phase: String,
}

/// What a retraining produced, waiting for the user to keep it or roll it back.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    pub figures: Vec<Figure>,
    /// Decisions the training learnt from.
    pub decisions: u64,
}

/// Retrains the scheduler's value net on the library's own decision log.
pub trait Trainer: Send {
    /// Trains a candidate scheduler from the database at `db`, reporting progress; stops early
    /// when `cancel` is set. The candidate is not active until [`Trainer::keep`].
    fn train(
        &mut self,
        db: &Path,
        progress: &mut dyn FnMut(TrainProgress),
        cancel: &AtomicBool,
    ) -> anyhow::Result<TrainReport>;

    /// Makes the candidate the active scheduler.
    fn keep(&mut self) -> anyhow::Result<()>;

    /// Discards the candidate, leaving the previous scheduler active.
    fn roll_back(&mut self) -> anyhow::Result<()>;
}

/// The labeller and trainer an engine runs with (both optional).
#[derive(Default)]
pub struct Plugins {
    pub labeller: Option<Box<dyn Labeller>>,
    pub trainer: Option<Box<dyn Trainer>>,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugins")
            .field("labeller", &self.labeller.as_ref().map(|l| l.backend()))
            .field("trainer", &self.trainer.is_some())
            .finish()
    }
}
