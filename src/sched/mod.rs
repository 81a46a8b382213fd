//! The adaptive model scheduler (Yuan et al., "Adaptive Model Scheduling for Resource-efficient
//! Data Labeling", TKDD 2022): a value model predicts, from the labels found so far, what each
//! unexecuted model would add; a greedy rule runs the best value per cost that fits the
//! photo's deadline (and, when models run concurrently, the memory budget), re-predicting
//! after every model, and stops when nothing left is worth its cost.
//!
//! - [`trace`]: recorded executions (ground truth for training and evaluation).
//! - [`state`]: the label space and a photo's scheduling state.
//! - [`greedy`]: serial Cost-Q greedy under a deadline, with early stop.
//! - [`packing`]: concurrent scheduling under deadline and memory (anchor/fill rule).
//! - [`prior`]: empirical value of each model given which models ran.
//! - [`eval`]: replays schedulers over traces and measures them against baselines.

pub mod context;
pub mod eval;
pub mod greedy;
pub mod packing;
pub mod prior;
pub mod record;
pub mod state;
pub mod trace;
pub mod valuenet;

use serde::{Deserialize, Serialize};

use state::{LabelSpace, State};
use trace::Trace;

/// What the scheduler knows about one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    /// Confidence at or above which its labels are valuable.
    pub threshold: f32,
    /// User priority (reward multiplier), default 1.
    pub theta: f32,
    /// Expected execution time on this device.
    pub mean_ms: f64,
    /// Peak device memory while it runs.
    pub mem_bytes: u64,
    pub enabled: bool,
}

/// The models and label space a scheduler works over.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub models: Vec<ModelInfo>,
    pub labels: LabelSpace,
}

impl Catalog {
    /// Models of a trace with costs measured in it (mean time, peak memory) and the label space
    /// of its valuable labels.
    pub fn from_trace(trace: &Trace) -> Self {
        let models = trace
            .header
            .models
            .iter()
            .map(|m| {
                let runs: Vec<&trace::ModelRun> = trace
                    .photos
                    .iter()
                    .flat_map(|p| p.runs.iter())
                    .filter(|r| r.model == m.id)
                    .collect();
                let mean_ms = if runs.is_empty() {
                    1.0
                } else {
                    runs.iter().map(|r| r.time_ms).sum::<f64>() / runs.len() as f64
                };
                let mem_bytes = runs
                    .iter()
                    .filter_map(|r| r.peak_mem_bytes)
                    .max()
                    .unwrap_or(0);
                ModelInfo {
                    id: m.id.clone(),
                    threshold: m.threshold,
                    theta: 1.0,
                    mean_ms: mean_ms.max(1e-3),
                    mem_bytes,
                    enabled: true,
                }
            })
            .collect();
        Catalog {
            models,
            labels: LabelSpace::from_trace(trace),
        }
    }

    /// Index of a model by id.
    pub fn index(&self, id: &str) -> Option<usize> {
        self.models.iter().position(|m| m.id == id)
    }

    /// A fresh state for a photo with this context.
    pub fn new_state(&self, context: &trace::Context) -> State {
        State::new(self.labels.len(), self.models.len(), context)
    }
}

/// Predicts the value of running each model in a state.
pub trait ValueModel: Send + Sync {
    /// Writes one predicted value per model of the catalog into `out` (executed models'
    /// entries are ignored by callers).
    fn predict(&self, state: &State, out: &mut [f32]);
}

/// Why a model was not run on a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// It would not finish before the photo's deadline.
    Deadline,
    /// Its predicted value was not worth its cost.
    LowValue,
    /// It did not fit into the free device memory in time.
    Memory,
    /// The user disabled it.
    Disabled,
}

impl SkipReason {
    /// Words for logs and the decision table.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Deadline => "deadline",
            SkipReason::LowValue => "low value",
            SkipReason::Memory => "memory",
            SkipReason::Disabled => "disabled",
        }
    }
}
