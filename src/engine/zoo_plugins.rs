//! The real plug-ins of the engine: [`SchedulerLabeller`] labels photos with the model zoo and
//! the adaptive scheduler (models load, and weights are fetched from their packages, on the
//! labelling thread at first use), and [`RlTrainer`] retrains the scheduler's value network
//! from the library's execution log and installs it only when the user keeps it.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime};

use super::plugins::{
    BudgetStatus, Figure, LabelOutcome, Labeller, ModelStatus, StatusSink, TrainProgress,
    TrainReport, Trainer,
};
use super::settings::LabelSettings;
use crate::config::Paths;
use crate::label::service::LabelService;
use crate::rl::retrain::{checkpoint_paths, install_checkpoint, retrain};
use crate::rl::{Checkpoint, TrainConfig};
use crate::store::{Photo, Store};

/// Labels with every implemented model whose weights can be had, scheduled per photo by the
/// core's [`LabelService`] (the same service as `photolabel label DIR`).
pub struct SchedulerLabeller {
    paths: Paths,
    inner: Option<LabelService>,
    backend: String,
    /// Modification time of the value network the service was built with.
    network_stamp: Option<SystemTime>,
    /// Settings the service was built with (rebuilt when they change).
    built_for: Option<LabelSettings>,
    /// The last build failed for these settings and network: photos fail with this message
    /// without fetching again (a missing pip or network must not cost minutes per photo)
    /// until Retry.
    failed: Option<(LabelSettings, Option<SystemTime>, String)>,
    status: Option<StatusSink>,
    /// A library budget the user set: when it ends, and the photos it was set for.
    budget: Option<(Instant, usize)>,
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
            budget: None,
        }
    }

    fn network_stamp(&self) -> Option<SystemTime> {
        let (current, _) = checkpoint_paths(&self.paths.data_dir);
        std::fs::metadata(current).and_then(|m| m.modified()).ok()
    }

    fn sink(&self) -> impl Fn(ModelStatus) + '_ {
        move |s| {
            if let Some(sink) = &self.status {
                sink(s);
            }
        }
    }

    /// Builds the service, or records (for the GUI and the log) why it cannot.
    fn build(&mut self, settings: &LabelSettings) -> anyhow::Result<()> {
        let result = (|| -> anyhow::Result<LabelService> {
            let mut store = Store::open(&self.paths.db)?;
            let sink = self.sink();
            Ok(LabelService::open(
                &self.paths,
                &mut store,
                settings.service_options(),
                &sink,
            )?)
        })();
        match result {
            Ok(mut service) => {
                // A rebuilt service goes on with the budget's time left.
                if let Some((end, backlog)) = self.budget {
                    service.set_budget(end.saturating_duration_since(Instant::now()), backlog);
                }
                self.backend = service.device();
                self.inner = Some(service);
                self.network_stamp = self.network_stamp();
                self.built_for = Some(settings.clone());
                self.failed = None;
                Ok(())
            }
            Err(e) => {
                let msg = format!("{e:#}");
                log::error!("labelling cannot start: {msg}");
                self.failed = Some((settings.clone(), self.network_stamp(), msg));
                Err(e)
            }
        }
    }
}

impl Labeller for SchedulerLabeller {
    fn backend(&self) -> String {
        self.backend.clone()
    }

    fn set_status_sink(&mut self, sink: StatusSink) {
        self.status = Some(sink);
    }

    fn retry(&mut self) {
        self.failed = None;
        if self
            .inner
            .as_ref()
            .is_some_and(|s| !s.failures().is_empty())
        {
            // Some models could not be had: try them again.
            self.inner = None;
        }
    }

    fn set_budget(&mut self, within: Option<Duration>, backlog: usize) {
        self.budget = within.map(|d| (Instant::now() + d, backlog));
        if let Some(inner) = &mut self.inner {
            match within {
                Some(d) => inner.set_budget(d, backlog),
                None => inner.clear_budget(),
            }
        }
    }

    fn set_backlog(&mut self, backlog: usize) {
        if let Some((_, b)) = &mut self.budget {
            *b = backlog;
        }
        if let Some(inner) = &mut self.inner {
            inner.set_backlog(backlog);
        }
    }

    fn budget(&self) -> Option<BudgetStatus> {
        self.inner.as_ref().and_then(LabelService::budget)
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
        }
        let Some(mut inner) = self.inner.take() else {
            anyhow::bail!("the labeller is not ready");
        };
        let result = inner.label(photo, &self.sink());
        self.backend = inner.device();
        self.inner = Some(inner);
        let (result, ctx) = result?;
        Ok(LabelOutcome {
            labels: result.labels,
            runs: result.runs,
            context: serde_json::to_string(&ctx).ok(),
            deadline_ms: result.deadline_ms,
            faces: result.faces,
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

pub use crate::label::library::{apply_corrections, library_trace};

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
        apply_corrections(&mut Store::open(db)?)?;
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
        install_checkpoint(&self.paths.data_dir, &c)?;
        Ok(())
    }

    fn roll_back(&mut self) -> anyhow::Result<()> {
        self.candidate = None;
        Ok(())
    }
}
