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
//! - [`calibration`]: raw predictions to probabilities of a gain, and how well they match.
//! - [`budget`]: a time budget for a whole library (deadlines from the backlog, a price on time).
//! - [`deadlines`]: the paper's deadline experiment (serial and within a memory budget).
//! - [`eval`]: replays schedulers over traces and measures them against baselines.

pub mod budget;
pub mod calibration;
pub mod context;
pub mod deadlines;
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
    /// Expected execution time on this device, without the shared stage (`stage`).
    pub mean_ms: f64,
    /// The shared stage it needs ([`crate::zoo::stages`]): charged on top of `mean_ms` unless
    /// another model of the photo has computed it already ([`Catalog::cost_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Peak device memory while it runs.
    pub mem_bytes: u64,
    pub enabled: bool,
}

/// A shared stage's expected time on this device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageCost {
    pub id: String,
    pub mean_ms: f64,
}

/// The models and label space a scheduler works over.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub models: Vec<ModelInfo>,
    pub labels: LabelSpace,
    /// Shared stages the models need, with their costs (absent: costs nothing extra).
    pub stages: Vec<StageCost>,
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
                    runs.iter().map(|r| r.own_ms()).sum::<f64>() / runs.len() as f64
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
                    stage: crate::zoo::stages::stage_of(&m.id).map(str::to_owned),
                }
            })
            .collect();
        // A stage's cost: its mean over the photos where a run recorded it.
        let mut stages: Vec<(String, f64, usize)> = Vec::new();
        for st in trace
            .photos
            .iter()
            .flat_map(|p| &p.runs)
            .flat_map(|r| &r.stages)
        {
            match stages.iter_mut().find(|(id, _, _)| *id == st.stage) {
                Some((_, total, n)) => {
                    *total += st.time_ms;
                    *n += 1;
                }
                None => stages.push((st.stage.clone(), st.time_ms, 1)),
            }
        }
        Catalog {
            models,
            labels: LabelSpace::from_trace(trace),
            stages: stages
                .into_iter()
                .map(|(id, total, n)| StageCost {
                    id,
                    mean_ms: total / n as f64,
                })
                .collect(),
        }
    }

    /// Whether a model marked in `done` (executed, or running) needs shared stage `stage`,
    /// which has then been (or is being) computed for the photo.
    pub fn stage_done(&self, stage: &str, done: &[bool]) -> bool {
        self.models
            .iter()
            .zip(done)
            .any(|(m, &d)| d && m.stage.as_deref() == Some(stage))
    }

    /// Expected time of shared stage `stage` (0 when unknown).
    pub fn stage_ms(&self, stage: &str) -> f64 {
        self.stages
            .iter()
            .find(|s| s.id == stage)
            .map_or(0.0, |s| s.mean_ms)
    }

    /// Model `i`'s expected cost now, given the models marked in `done` (executed, or
    /// running): its own cost, plus its shared stage's unless one of those needs it too.
    pub fn cost_ms(&self, i: usize, done: &[bool]) -> f64 {
        let m = &self.models[i];
        let stage = match m.stage.as_deref() {
            Some(s) if !self.stage_done(s, done) => self.stage_ms(s),
            _ => 0.0,
        };
        m.mean_ms + stage
    }

    /// The costs a checkpoint ships (its cost profile): each model's own mean time, then each
    /// shared stage's, by id (stage ids never name a model).
    pub fn cost_profile(&self) -> Vec<(String, f64)> {
        self.models
            .iter()
            .map(|m| (m.id.clone(), m.mean_ms))
            .chain(self.stages.iter().map(|s| (s.id.clone(), s.mean_ms)))
            .collect()
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
