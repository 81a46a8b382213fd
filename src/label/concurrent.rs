//! The memory-budget path: models of one photo run concurrently within a device-memory budget
//! (the paper's anchor/fill rule). Each round plans with the current predictions, starts the
//! chosen models on their own threads and re-plans when one finishes. A run that ends after
//! the deadline is `late`: its true duration counts towards the model's cost and its labels
//! are kept (the photo is still open while any of its models runs).

use super::{LibraryLabeller, PhotoResult, faces_found, records};
use crate::sched::packing::{PackingConfig, Round, plan_round};
use crate::sched::record::run_model;
use crate::sched::state::State;
use crate::sched::trace::{ModelRun, StageRun};
use crate::sched::{SkipReason, ValueModel};
use crate::store::{NewLabel, RunRecord};
use crate::zoo::stages::PhotoStages;

/// A model started in this photo: index, start (ms since the photo started), predicted value.
type InFlight = (usize, f64, f32);

impl LibraryLabeller {
    /// Labels one decoded photo on the concurrent path.
    pub(super) fn label_concurrent(
        &mut self,
        image: &image::RgbImage,
        mut state: State,
        budget: u64,
        on_run: &dyn Fn(&str),
    ) -> PhotoResult {
        let deadline = self.cfg.deadline_ms.unwrap_or(10_000.0);
        let pcfg = PackingConfig {
            mem_budget: budget,
            stop_below: self.cfg.stop_below,
            stop_on: self.cfg.stop_on,
        };
        let start = std::time::Instant::now();
        let n = self.catalog.models.len();
        let mut q = vec![0f32; n];
        let mut free = budget;
        let mut running: Vec<InFlight> = Vec::new();
        let mut runs: Vec<RunRecord> = Vec::new();
        let mut labels: Vec<NewLabel> = Vec::new();
        let mut measured: Vec<(usize, f64, Vec<StageRun>)> = Vec::new();
        let stages = PhotoStages::with_sharing(self.cfg.share_stages);
        {
            let value = self.prioritised();
            let catalog = &self.catalog;
            let models = &self.models;
            let stages = &stages;
            std::thread::scope(|s| {
                let (tx, rx) = crossbeam_channel::unbounded::<(usize, ModelRun)>();
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
                        on_run(model.id());
                        s.spawn(move || {
                            let _ = tx.send((i, run_model(model, image, stages)));
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
                    let m = &catalog.models[i];
                    let gain = if run.error.is_none() {
                        measured.push((i, run.time_ms, run.stages.clone()));
                        labels.extend(records::labels(&run.model, &run.outputs));
                        state.apply(&catalog.labels, i, &run.outputs, m.threshold)
                    } else {
                        state.executed[i] = true;
                        0.0
                    };
                    let mut rec = records::ran(
                        &m.id,
                        runs.len(),
                        Some(predicted),
                        gain,
                        started,
                        end - started,
                        m.mem_bytes,
                        run.error.as_deref(),
                        end > deadline,
                    );
                    rec.stage = records::stage(&run.stages);
                    runs.push(rec);
                }
            });
        }
        for (i, ms, computed) in measured {
            self.observe_cost(i, ms, &computed);
        }
        let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
        let remaining = deadline - elapsed_ms;
        for (i, qi) in q.iter().enumerate() {
            if state.executed[i] {
                continue;
            }
            let m = &self.catalog.models[i];
            let why = if m.mem_bytes > budget {
                SkipReason::Memory
            } else if self.catalog.cost_ms(i, &state.executed) > remaining {
                SkipReason::Deadline
            } else {
                SkipReason::LowValue
            };
            runs.push(records::skipped(&m.id, runs.len(), *qi, why.as_str()));
        }
        PhotoResult {
            labels,
            runs,
            explored: false,
            elapsed_ms,
            decode_ms: 0.0,
            deadline_ms: Some(deadline),
            faces: faces_found(&stages),
        }
    }
}
