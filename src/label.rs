//! Labelling library photos with the adaptive scheduler: for each photo, the value network
//! predicts what every model would add, Cost-Q greedy runs the best value per cost within the
//! deadline and stops when nothing left is worth running; every decision (ran, skipped with its
//! reason, failed) and every label is written to the store in one transaction. A share of
//! photos (exploration) runs every model, which keeps unbiased training data flowing for
//! retraining. Model costs are the running means of measured durations on this device.

use std::collections::HashMap;

use crate::error::Result;
use crate::rl::Checkpoint;
use crate::sched::context::context;
use crate::sched::greedy::{self, Executed, GreedyConfig};
use crate::sched::record::{decode_photo, run_model};
use crate::sched::state::{LabelSpace, State};
use crate::sched::trace::mix;
use crate::sched::{Catalog, ModelInfo, ValueModel};
use crate::store::{NewLabel, Photo, RunRecord, RunStatus, Store};
use crate::zoo::Labeler;

/// Cost assumed for a model never measured on this device.
const UNMEASURED_MS: f64 = 100.0;

/// How photos are labelled.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelConfig {
    /// Per-photo deadline; `None` for no deadline.
    pub deadline_ms: Option<f64>,
    /// Share of photos that run every model (exploration), 0..1.
    pub exploration: f64,
    /// Early-stop threshold (see [`GreedyConfig::stop_below`]).
    pub stop_below: Option<f32>,
    /// Whether the threshold is per expected millisecond (see [`GreedyConfig::stop_per_ms`]).
    pub stop_per_ms: bool,
    /// Run every model on every photo.
    pub run_all: bool,
    /// Per-model priority theta (default 1).
    pub priority: HashMap<String, f32>,
    /// Device-memory budget: when set, models run concurrently within it (anchor/fill rule)
    /// and `deadline_ms` (default 10 s) bounds each photo.
    pub memory_budget: Option<u64>,
    /// Estimated peak memory of each model (bytes); unknown models count 256 MiB.
    pub model_memory: HashMap<String, u64>,
}

impl Default for LabelConfig {
    fn default() -> Self {
        LabelConfig {
            deadline_ms: None,
            exploration: 0.05,
            stop_below: GreedyConfig::default().stop_below,
            stop_per_ms: false,
            run_all: false,
            priority: HashMap::new(),
            memory_budget: None,
            model_memory: HashMap::new(),
        }
    }
}

/// Predicts nothing (all zero): before any network is trained, models run cheapest first.
struct ColdStart;

impl ValueModel for ColdStart {
    fn predict(&self, _: &State, out: &mut [f32]) {
        out.fill(0.0);
    }
}

/// One photo's labelling result, as written to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoResult {
    pub labels: Vec<NewLabel>,
    pub runs: Vec<RunRecord>,
    /// Whether this was an exploration photo (every model ran).
    pub explored: bool,
    pub elapsed_ms: f64,
    /// The deadline this photo was scheduled under (`None`: no deadline).
    pub deadline_ms: Option<f64>,
}

/// Labels photos with a set of loaded models and a value network.
pub struct LibraryLabeller {
    models: Vec<Box<dyn Labeler>>,
    catalog: Catalog,
    counts: Vec<i64>,
    value: Box<dyn ValueModel>,
    cfg: LabelConfig,
}

impl LibraryLabeller {
    /// Prepares labelling: costs come from the store's log, values from `checkpoint` (or a
    /// cold start that runs models cheapest first until one is trained).
    pub fn new(
        models: Vec<Box<dyn Labeler>>,
        thresholds: &HashMap<String, f32>,
        store: &Store,
        checkpoint: Option<&Checkpoint>,
        cfg: LabelConfig,
    ) -> Result<Self> {
        let costs: HashMap<String, (f64, i64)> = store
            .model_costs()?
            .into_iter()
            .map(|(m, t, n)| (m, (t, n)))
            .collect();
        let infos: Vec<ModelInfo> = models
            .iter()
            .map(|m| {
                let id = m.id().to_string();
                let (mean_ms, _) = costs.get(&id).copied().unwrap_or((UNMEASURED_MS, 0));
                ModelInfo {
                    threshold: thresholds.get(&id).copied().unwrap_or(0.5),
                    theta: cfg.priority.get(&id).copied().unwrap_or(1.0),
                    mean_ms,
                    mem_bytes: cfg.model_memory.get(&id).copied().unwrap_or(256 << 20),
                    enabled: true,
                    id,
                }
            })
            .collect();
        let counts = infos
            .iter()
            .map(|m| costs.get(&m.id).map_or(0, |c| c.1))
            .collect();
        let labels = checkpoint.map_or_else(LabelSpace::default, Checkpoint::label_space);
        let catalog = Catalog {
            models: infos,
            labels,
        };
        // A checkpoint's early-stop threshold was chosen on validation photos in its own units;
        // it replaces the generic default.
        let mut cfg = cfg;
        if let Some(c) = checkpoint
            && c.stop_below.is_some()
        {
            cfg.stop_below = c.stop_below;
            cfg.stop_per_ms = c.stop_per_ms;
        }
        let value: Box<dyn ValueModel> = match checkpoint {
            Some(c) => Box::new(c.predictor(&catalog)),
            None => Box::new(ColdStart),
        };
        Ok(LibraryLabeller {
            models,
            catalog,
            counts,
            value,
            cfg,
        })
    }

    /// The catalog (models with their current cost estimates).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Labels one photo (decoding it from disk) and returns what to store.
    pub fn label(&mut self, photo: &Photo) -> Result<(PhotoResult, crate::sched::trace::Context)> {
        let decoded = decode_photo(&photo.path)?;
        let mut meta = photo.meta.clone();
        meta.width = decoded.meta.width;
        meta.height = decoded.meta.height;
        let ctx = context(&meta, Some(&decoded.image));
        let explored = self.cfg.run_all || {
            let h = mix(decoded
                .hash
                .bytes()
                .fold(0u64, |a, b| a.rotate_left(7) ^ u64::from(b)));
            ((h >> 11) as f64 / (1u64 << 53) as f64) < self.cfg.exploration
        };
        let (deadline, gcfg) = if explored {
            (
                None,
                GreedyConfig {
                    use_cost: false,
                    stop_below: None,
                    stop_per_ms: false,
                },
            )
        } else {
            (
                self.cfg.deadline_ms,
                GreedyConfig {
                    use_cost: true,
                    stop_below: self.cfg.stop_below,
                    stop_per_ms: self.cfg.stop_per_ms,
                },
            )
        };
        let state = self.catalog.new_state(&ctx);
        if let (Some(budget), false) = (self.cfg.memory_budget, explored) {
            let result = self.label_concurrent(&decoded.image, state, budget);
            return Ok((result, ctx));
        }
        let models = &self.models;
        let image = &decoded.image;
        let mut outputs: Vec<(usize, Vec<NewLabel>)> = Vec::new();
        let mut execute = |i: usize| -> Executed {
            let run = run_model(models[i].as_ref(), image);
            outputs.push((
                i,
                run.outputs
                    .iter()
                    .map(|o| NewLabel {
                        label: o.label.clone(),
                        model: run.model.clone(),
                        confidence: o.confidence,
                        bbox: o.bbox,
                    })
                    .collect(),
            ));
            Executed {
                outputs: run.outputs,
                time_ms: run.time_ms,
                error: run.error,
            }
        };
        let value: &dyn ValueModel = if explored {
            &ColdStart
        } else {
            self.value.as_ref()
        };
        let schedule = greedy::run_photo(&self.catalog, value, state, deadline, gcfg, &mut execute);
        // Refresh the cost profile with what was measured.
        for st in &schedule.steps {
            if st.error.is_none() {
                let n = &mut self.counts[st.model];
                let m = &mut self.catalog.models[st.model];
                *n += 1;
                m.mean_ms += (st.time_ms - m.mean_ms) / *n as f64;
            }
        }
        let mut runs: Vec<RunRecord> = schedule
            .steps
            .iter()
            .enumerate()
            .map(|(seq, st)| RunRecord {
                model: self.catalog.models[st.model].id.clone(),
                seq: seq as u32,
                predicted_value: (!explored).then_some(st.predicted),
                actual_value: Some(st.gain),
                start_ms: Some(st.start_ms),
                duration_ms: Some(st.time_ms),
                // The model's memory estimate, as the concurrent path records (no per-run
                // measurement on the CPU backend).
                peak_mem_bytes: Some(self.catalog.models[st.model].mem_bytes as i64),
                status: if st.error.is_some() {
                    RunStatus::Failed
                } else {
                    RunStatus::Ran
                },
                reason: st.error.clone(),
            })
            .collect();
        let first_skip = runs.len();
        runs.extend(
            schedule
                .skipped
                .iter()
                .enumerate()
                .map(|(k, (i, why, q))| RunRecord {
                    model: self.catalog.models[*i].id.clone(),
                    seq: (first_skip + k) as u32,
                    predicted_value: Some(*q),
                    actual_value: None,
                    start_ms: None,
                    duration_ms: None,
                    peak_mem_bytes: None,
                    status: RunStatus::Skipped,
                    reason: Some(why.as_str().to_string()),
                }),
        );
        let labels = outputs.into_iter().flat_map(|(_, l)| l).collect();
        Ok((
            PhotoResult {
                labels,
                runs,
                explored,
                elapsed_ms: schedule.elapsed_ms,
                deadline_ms: deadline,
            },
            ctx,
        ))
    }

    /// Runs models concurrently within a memory budget: each round plans with the anchor/fill
    /// rule, starts the chosen models on their own threads, and re-plans when one finishes.
    fn label_concurrent(
        &mut self,
        image: &image::RgbImage,
        mut state: State,
        budget: u64,
    ) -> PhotoResult {
        use crate::sched::packing::{PackingConfig, Round, plan_round};
        let deadline = self.cfg.deadline_ms.unwrap_or(10_000.0);
        let pcfg = PackingConfig {
            mem_budget: budget,
            stop_below: self.cfg.stop_below,
            stop_per_ms: self.cfg.stop_per_ms,
        };
        let start = std::time::Instant::now();
        let n = self.catalog.models.len();
        let mut q = vec![0f32; n];
        let mut free = budget;
        let mut running: Vec<(usize, f64, f32)> = Vec::new(); // model, start, predicted
        let mut runs: Vec<RunRecord> = Vec::new();
        let mut labels: Vec<NewLabel> = Vec::new();
        let catalog = &mut self.catalog;
        let models = &self.models;
        let value = self.value.as_ref();
        std::thread::scope(|s| {
            let (tx, rx) = crossbeam_channel::unbounded::<(usize, crate::sched::trace::ModelRun)>();
            loop {
                let now = start.elapsed().as_secs_f64() * 1e3;
                value.predict(&state, &mut q);
                let in_flight: Vec<usize> = running.iter().map(|r| r.0).collect();
                let round = Round {
                    running: &in_flight,
                    now_ms: now,
                    deadline_ms: deadline,
                    free_mem: free,
                };
                for i in plan_round(catalog, &q, &state, round, pcfg) {
                    free -= catalog.models[i].mem_bytes;
                    running.push((i, now, q[i]));
                    let tx = tx.clone();
                    let model = models[i].as_ref();
                    s.spawn(move || {
                        let _ = tx.send((i, run_model(model, image)));
                    });
                }
                if running.is_empty() {
                    break;
                }
                let Ok((i, run)) = rx.recv() else {
                    break;
                };
                let Some(k) = running.iter().position(|r| r.0 == i) else {
                    continue;
                };
                let (_, started, predicted) = running.swap_remove(k);
                free += catalog.models[i].mem_bytes;
                let end = start.elapsed().as_secs_f64() * 1e3;
                let in_time = end <= deadline;
                let m = &catalog.models[i];
                let gain = if run.error.is_none() && in_time {
                    state.apply(&catalog.labels, i, &run.outputs, m.threshold)
                } else {
                    state.executed[i] = true;
                    0.0
                };
                if in_time {
                    labels.extend(run.outputs.iter().map(|o| NewLabel {
                        label: o.label.clone(),
                        model: run.model.clone(),
                        confidence: o.confidence,
                        bbox: o.bbox,
                    }));
                }
                runs.push(RunRecord {
                    model: m.id.clone(),
                    seq: runs.len() as u32,
                    predicted_value: Some(predicted),
                    actual_value: Some(gain),
                    start_ms: Some(started),
                    duration_ms: Some(end - started),
                    peak_mem_bytes: Some(m.mem_bytes as i64),
                    status: match (&run.error, in_time) {
                        (None, true) => RunStatus::Ran,
                        _ => RunStatus::Failed,
                    },
                    reason: match (&run.error, in_time) {
                        (Some(e), _) => Some(e.clone()),
                        (None, false) => Some("finished after the deadline".into()),
                        _ => None,
                    },
                });
            }
        });
        let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
        let remaining = deadline - elapsed_ms;
        for (i, qi) in q.iter().enumerate().take(n) {
            if state.executed[i] {
                continue;
            }
            let m = &self.catalog.models[i];
            let why = if m.mem_bytes > budget {
                crate::sched::SkipReason::Memory
            } else if m.mean_ms > remaining {
                crate::sched::SkipReason::Deadline
            } else {
                crate::sched::SkipReason::LowValue
            };
            runs.push(RunRecord {
                model: m.id.clone(),
                seq: runs.len() as u32,
                predicted_value: Some(*qi),
                actual_value: None,
                start_ms: None,
                duration_ms: None,
                peak_mem_bytes: None,
                status: RunStatus::Skipped,
                reason: Some(why.as_str().to_string()),
            });
        }
        PhotoResult {
            labels,
            runs,
            explored: false,
            elapsed_ms,
            deadline_ms: Some(deadline),
        }
    }

    /// Labels one photo and writes the result (labels, decision log, context) to the store.
    /// A photo that cannot be decoded is marked failed with its error in the log.
    pub fn label_into(&mut self, store: &mut Store, photo: &Photo) -> Result<PhotoResult> {
        match self.label(photo) {
            Ok((result, ctx)) => {
                store.write_photo_results(photo.id, &result.labels, &result.runs, false)?;
                let json = serde_json::to_string(&ctx).ok();
                store.set_sched_run(photo.id, json.as_deref(), result.deadline_ms)?;
                Ok(result)
            }
            Err(e) => {
                let run = RunRecord {
                    model: "decode".into(),
                    seq: 0,
                    predicted_value: None,
                    actual_value: None,
                    start_ms: None,
                    duration_ms: None,
                    peak_mem_bytes: None,
                    status: RunStatus::Failed,
                    reason: Some(format!("{e:#}")),
                };
                store.write_photo_results(photo.id, &[], std::slice::from_ref(&run), true)?;
                Err(e)
            }
        }
    }
}
