//! Labelling library photos with the adaptive scheduler: for each photo, the value network
//! predicts what every model would add, Cost-Q greedy runs the best value per cost within the
//! deadline and stops when nothing left is worth running; every decision (ran, late, skipped
//! with its reason, failed) and every label is written to the store in one transaction. A share
//! of photos (exploration) runs every model, which keeps unbiased training data flowing for
//! retraining. Model costs start from this device's log (or the shipped profile, rescaled) and
//! learn from every run, serial or concurrent.
//!
//! [`service::LabelService`] is the one entry point of the CLI (`photolabel label DIR`) and the
//! app's engine: it loads the models ([`models`]), picks the network (the user's, else the
//! shipped default: [`shipped`]), and writes results ([`write`]).

pub mod concurrent;
pub mod costs;
pub mod library;
pub mod lock;
pub mod models;
mod records;
pub mod service;
pub mod shipped;
pub mod write;

use std::collections::HashMap;

use crate::error::Result;
use crate::rl::Checkpoint;
use crate::sched::budget::Priced;
use crate::sched::context::context;
use crate::sched::greedy::{self, Executed, GreedyConfig, StopOn};
use crate::sched::record::{decode_photo, run_model};
use crate::sched::state::{LabelSpace, State};
use crate::sched::trace::StageRun;
use crate::sched::trace::mix;
use crate::sched::{Catalog, ModelInfo, StageCost, ValueModel};
use crate::store::{NewLabel, Photo, RunRecord, Store};
use crate::zoo::Labeler;
use crate::zoo::faceres::FacesFound;
use crate::zoo::stages::PhotoStages;

/// The reason recorded on a run made only to measure a model's cost on this device (the
/// first time a model meets this machine, it runs once after the photo's schedule).
pub const CALIBRATION: &str = "first run on this device: measuring its cost";

/// How photos are labelled.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelConfig {
    /// Per-photo deadline; `None` for no deadline.
    pub deadline_ms: Option<f64>,
    /// Share of photos that run every model (exploration), 0..1.
    pub exploration: f64,
    /// Early-stop threshold (see [`GreedyConfig::stop_below`]).
    pub stop_below: Option<f32>,
    /// What the threshold is compared with (see [`GreedyConfig::stop_on`]).
    pub stop_on: StopOn,
    /// Share of the valuable labels the early stop should keep (0..1): picks among the
    /// checkpoint's stops chosen on validation ([`Checkpoint::stop_for`]); `None` keeps its
    /// main one.
    pub thoroughness: Option<f64>,
    /// A price on time from a library budget ([`crate::sched::budget`]): models whose value
    /// per expected millisecond is below it do not run (serial path).
    pub price: Option<f32>,
    /// Run every model on every photo.
    pub run_all: bool,
    /// Per-model priority theta (default 1).
    pub priority: HashMap<String, f32>,
    /// Device-memory budget: when set, models run concurrently within it (anchor/fill rule)
    /// and `deadline_ms` (default 10 s) bounds each photo.
    pub memory_budget: Option<u64>,
    /// Estimated peak memory of each model (bytes); unknown models count 256 MiB.
    pub model_memory: HashMap<String, u64>,
    /// Compute each shared stage ([`crate::zoo::stages`]: faces, text boxes) once per photo
    /// for every model needing it (default). Off, every model computes its own, as before
    /// stages were shared: the baseline `benches/library.rs` measures against.
    pub share_stages: bool,
}

impl Default for LabelConfig {
    fn default() -> Self {
        LabelConfig {
            deadline_ms: None,
            exploration: 0.05,
            stop_below: GreedyConfig::default().stop_below,
            stop_on: StopOn::Value,
            thoroughness: None,
            price: None,
            run_all: false,
            priority: HashMap::new(),
            memory_budget: None,
            model_memory: HashMap::new(),
            share_stages: true,
        }
    }
}

/// Predicts nothing (all zero): used for exploration photos, which run every model in order.
struct ColdStart;

/// The per-model priority theta applied to a network's values, for the pick and the stop: a
/// model with theta 2 looks twice as valuable (and a predicted loss half as bad).
struct Prioritised<'a> {
    inner: &'a dyn ValueModel,
    theta: Vec<f32>,
}

impl ValueModel for Prioritised<'_> {
    fn predict(&self, state: &State, out: &mut [f32]) {
        self.inner.predict(state, out);
        for (q, t) in out.iter_mut().zip(&self.theta) {
            let t = t.max(1e-3);
            *q = if *q >= 0.0 { *q * t } else { *q / t };
        }
    }
}

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
    /// Reading, hashing and decoding the photo (at the size the models need, upright).
    pub decode_ms: f64,
    /// The deadline this photo was scheduled under (`None`: no deadline).
    pub deadline_ms: Option<f64>,
    /// The faces the face embedder found and described, when it ran (`Some(empty)`: it ran
    /// and found none), for the store's People ([`write::faces`]).
    pub faces: Option<FacesFound>,
}

/// The faces a run of the face embedder published on the photo.
fn faces_found(stages: &PhotoStages) -> Option<FacesFound> {
    stages
        .published::<FacesFound>(crate::zoo::faceres::PUBLISHED)
        .map(|f| (*f).clone())
}

/// Labels photos with a set of loaded models and a value network.
pub struct LibraryLabeller {
    models: Vec<Box<dyn Labeler>>,
    catalog: Catalog,
    counts: Vec<i64>,
    /// Runs behind each of `catalog.stages`' means.
    stage_counts: Vec<i64>,
    value: Box<dyn ValueModel>,
    cfg: LabelConfig,
}

impl LibraryLabeller {
    /// Prepares labelling: values from `checkpoint` (the user's network or the shipped default;
    /// `None` runs every model in order), costs from the store's log where this device measured
    /// a model, else from the checkpoint's cost profile rescaled to this device.
    pub fn new(
        models: Vec<Box<dyn Labeler>>,
        thresholds: &HashMap<String, f32>,
        store: &Store,
        checkpoint: Option<&Checkpoint>,
        cfg: LabelConfig,
    ) -> Result<Self> {
        let measured: HashMap<String, (f64, i64)> = store
            .model_costs()?
            .into_iter()
            .chain(store.stage_costs()?)
            .map(|(m, t, n)| (m, (t, n)))
            .collect();
        let ids: Vec<String> = models.iter().map(|m| m.id().to_string()).collect();
        let shipped_costs = checkpoint.map_or(&[][..], |c| c.costs.as_slice());
        let start = costs::start_costs(&ids, &measured, shipped_costs);
        let infos: Vec<ModelInfo> = ids
            .iter()
            .zip(&start)
            .map(|(id, c)| ModelInfo {
                threshold: thresholds.get(id).copied().unwrap_or(0.5),
                theta: cfg.priority.get(id).copied().unwrap_or(1.0),
                mean_ms: c.mean_ms,
                mem_bytes: cfg.model_memory.get(id).copied().unwrap_or(256 << 20),
                enabled: true,
                stage: crate::zoo::stages::stage_of(id).map(str::to_owned),
                id: id.clone(),
            })
            .collect();
        let counts = start.iter().map(|c| c.runs).collect();
        // The shared stages these models need, costed like models (measured here, else the
        // shipped profile rescaled, else unknown).
        let mut stage_ids: Vec<String> = Vec::new();
        for s in infos.iter().filter_map(|m| m.stage.clone()) {
            if !stage_ids.contains(&s) {
                stage_ids.push(s);
            }
        }
        let stage_start = costs::start_costs(&stage_ids, &measured, shipped_costs);
        let stage_counts = stage_start.iter().map(|c| c.runs).collect();
        let stages = stage_ids
            .into_iter()
            .zip(&stage_start)
            .map(|(id, c)| StageCost {
                id,
                mean_ms: c.mean_ms,
            })
            .collect();
        let labels = checkpoint.map_or_else(LabelSpace::default, Checkpoint::label_space);
        let catalog = Catalog {
            models: infos,
            labels,
            stages,
        };
        // A checkpoint's early-stop threshold was chosen on validation photos in its own units;
        // it replaces the generic default.
        let mut cfg = cfg;
        if let Some(c) = checkpoint
            && c.stop_below.is_some()
        {
            (cfg.stop_below, cfg.stop_on) = match cfg.thoroughness {
                Some(t) => c.stop_for(t),
                None => (c.stop_below, c.stop_rule()),
            };
        }
        let value: Box<dyn ValueModel> = match checkpoint {
            Some(c) => Box::new(c.predictor(&catalog)),
            None => Box::new(ColdStart),
        };
        Ok(LibraryLabeller {
            models,
            catalog,
            counts,
            stage_counts,
            value,
            cfg,
        })
    }

    /// Folds a finished run of model `i` into the running means (every path, every finished
    /// run, late ones included: what the model really costs here): its own time into the
    /// model's, and each shared stage it computed into that stage's.
    fn observe_cost(&mut self, i: usize, total_ms: f64, stages: &[StageRun]) {
        let stage_ms: f64 = stages.iter().map(|s| s.time_ms).sum();
        let n = &mut self.counts[i];
        let m = &mut self.catalog.models[i];
        *n += 1;
        m.mean_ms += ((total_ms - stage_ms).max(0.0) - m.mean_ms) / *n as f64;
        for st in stages {
            if let Some(k) = self.catalog.stages.iter().position(|c| c.id == st.stage) {
                let n = &mut self.stage_counts[k];
                let c = &mut self.catalog.stages[k];
                *n += 1;
                c.mean_ms += (st.time_ms - c.mean_ms) / *n as f64;
            }
        }
    }

    /// The models' ids, in catalog order.
    pub fn model_ids(&self) -> Vec<String> {
        self.catalog.models.iter().map(|m| m.id.clone()).collect()
    }

    /// The value model with the per-model priorities applied.
    fn prioritised(&self) -> Prioritised<'_> {
        Prioritised {
            inner: self.value.as_ref(),
            theta: self.catalog.models.iter().map(|m| m.theta).collect(),
        }
    }

    /// Sets the deadline and the price on time of the next photos (a library budget's plan).
    pub fn set_plan(&mut self, deadline_ms: Option<f64>, price: Option<f32>) {
        self.cfg.deadline_ms = deadline_ms;
        self.cfg.price = price;
    }

    /// The catalog (models with their current cost estimates).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Labels one photo (decoding it from disk) and returns what to store.
    pub fn label(&mut self, photo: &Photo) -> Result<(PhotoResult, crate::sched::trace::Context)> {
        self.label_with(photo, &|_| {})
    }

    /// [`Self::label`], calling `on_run(model)` as each model starts.
    pub fn label_with(
        &mut self,
        photo: &Photo,
        on_run: &dyn Fn(&str),
    ) -> Result<(PhotoResult, crate::sched::trace::Context)> {
        let t_decode = std::time::Instant::now();
        let decoded = decode_photo(&photo.path)?;
        let decode_ms = t_decode.elapsed().as_secs_f64() * 1e3;
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
                    stop_on: StopOn::Value,
                },
            )
        } else {
            (
                self.cfg.deadline_ms,
                GreedyConfig {
                    use_cost: true,
                    stop_below: self.cfg.stop_below,
                    stop_on: self.cfg.stop_on,
                },
            )
        };
        let state = self.catalog.new_state(&ctx);
        if let (Some(budget), false) = (self.cfg.memory_budget, explored) {
            let mut result = self.label_concurrent(&decoded.image, state, budget, on_run);
            result.decode_ms = decode_ms;
            return Ok((result, ctx));
        }
        let models = &self.models;
        let image = &decoded.image;
        let stages = PhotoStages::with_sharing(self.cfg.share_stages);
        let mut outputs: Vec<(usize, Vec<NewLabel>)> = Vec::new();
        let mut computed: Vec<Vec<StageRun>> = vec![Vec::new(); models.len()];
        let mut execute = |i: usize| -> Executed {
            on_run(models[i].id());
            let run = run_model(models[i].as_ref(), image, &stages);
            outputs.push((i, records::labels(&run.model, &run.outputs).collect()));
            computed[i] = run.stages;
            Executed {
                outputs: run.outputs,
                time_ms: run.time_ms,
                error: run.error,
            }
        };
        let prioritised = self.prioritised();
        let priced = self.cfg.price.map(|price| Priced {
            inner: &prioritised,
            catalog: &self.catalog,
            price,
        });
        let (value, gcfg): (&dyn ValueModel, GreedyConfig) = match (&priced, explored) {
            (_, true) => (&ColdStart, gcfg),
            (Some(p), false) => (
                p,
                // Priced-out models are -1: without a stop of its own the photo stops there.
                GreedyConfig {
                    stop_below: gcfg.stop_below.or(Some(0.0)),
                    ..gcfg
                },
            ),
            (None, false) => (&prioritised, gcfg),
        };
        let schedule = greedy::run_photo(&self.catalog, value, state, deadline, gcfg, &mut execute);
        drop(prioritised);
        for st in &schedule.steps {
            if st.error.is_none() {
                self.observe_cost(st.model, st.time_ms, &computed[st.model]);
            }
        }
        let deadline_end = deadline.unwrap_or(f64::INFINITY);
        let mut runs: Vec<RunRecord> = schedule
            .steps
            .iter()
            .enumerate()
            .map(|(seq, st)| {
                let m = &self.catalog.models[st.model];
                let mut rec = records::ran(
                    &m.id,
                    seq,
                    (!explored).then_some(st.predicted),
                    st.gain,
                    st.start_ms,
                    st.time_ms,
                    m.mem_bytes,
                    st.error.as_deref(),
                    st.start_ms + st.time_ms > deadline_end,
                );
                rec.stage = records::stage(&computed[st.model]);
                rec
            })
            .collect();
        // A model never measured on this device runs once after the schedule, so that its
        // cost is this machine's from then on (the shipped profile is only a start).
        let mut state = schedule.state;
        let mut elapsed = schedule.elapsed_ms;
        let mut skipped = Vec::new();
        for (i, why, q) in schedule.skipped {
            if self.counts[i] > 0 || !self.catalog.models[i].enabled {
                skipped.push((i, why, q));
                continue;
            }
            on_run(self.models[i].id());
            let run = run_model(self.models[i].as_ref(), &decoded.image, &stages);
            let m = &self.catalog.models[i];
            let gain = if run.error.is_none() {
                state.apply(&self.catalog.labels, i, &run.outputs, m.threshold)
            } else {
                state.executed[i] = true;
                0.0
            };
            let mut rec = records::ran(
                &m.id,
                runs.len(),
                Some(q),
                gain,
                elapsed,
                run.time_ms,
                m.mem_bytes,
                run.error.as_deref(),
                false,
            );
            rec.stage = records::stage(&run.stages);
            if run.error.is_none() {
                rec.reason = Some(CALIBRATION.into());
                outputs.push((i, records::labels(&run.model, &run.outputs).collect()));
                self.observe_cost(i, run.time_ms, &run.stages);
            }
            elapsed += run.time_ms;
            runs.push(rec);
        }
        let first_skip = runs.len();
        runs.extend(skipped.iter().enumerate().map(|(k, (i, why, q))| {
            records::skipped(
                &self.catalog.models[*i].id,
                first_skip + k,
                *q,
                why.as_str(),
            )
        }));
        // Serial runs finish while the photo is open: late ones keep their labels.
        let labels = outputs.into_iter().flat_map(|(_, l)| l).collect();
        Ok((
            PhotoResult {
                labels,
                runs,
                explored,
                elapsed_ms: elapsed,
                decode_ms,
                deadline_ms: deadline,
                faces: faces_found(&stages),
            },
            ctx,
        ))
    }

    /// Labels one photo and writes the result (labels, decision log, context) to the store.
    /// A photo that cannot be decoded is marked failed, finally, with its error in the log.
    pub fn label_into(&mut self, store: &mut Store, photo: &Photo) -> Result<PhotoResult> {
        let labelled = self.label(photo);
        write::labelled(store, photo.id, labelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<f32>);

    impl ValueModel for Fixed {
        fn predict(&self, _: &State, out: &mut [f32]) {
            out.copy_from_slice(&self.0);
        }
    }

    #[test]
    fn priority_theta_scales_gains_up_and_losses_down() {
        let inner = Fixed(vec![0.2, 0.2, -0.5, -0.5]);
        let p = Prioritised {
            inner: &inner,
            theta: vec![1.0, 2.0, 1.0, 2.0],
        };
        let catalog = Catalog {
            models: (0..4)
                .map(|i| ModelInfo {
                    id: format!("m{i}"),
                    threshold: 0.5,
                    theta: 1.0,
                    mean_ms: 1.0,
                    mem_bytes: 0,
                    enabled: true,
                    stage: None,
                })
                .collect(),
            labels: LabelSpace::default(),
            stages: Vec::new(),
        };
        let state = catalog.new_state(&crate::sched::trace::Context::default());
        let mut q = vec![0f32; 4];
        p.predict(&state, &mut q);
        assert_eq!(q, vec![0.2, 0.4, -0.5, -0.25]);
        // A higher priority is always more attractive to the pick and less likely to stop.
        assert!(q[1] > q[0] && q[3] > q[2]);
    }
}
