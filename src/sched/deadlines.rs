//! The paper's deadline experiment, replayed on traces: the value recall each policy reaches
//! when every photo has a deadline (a share of its own run-all time), with models run one after
//! the other, and concurrently within a device-memory budget (the anchor/fill rule of
//! [`super::packing`], models overlapping as on a GPU). The paper reports Cost-Q greedy
//! +189–310% over random order at 0.5 s with 30 models; `bench-sched` prints our figures with
//! the gain over random next to them.

use serde::Serialize;

use super::eval::{ValueGreedy, replay_photo, totals};
use super::greedy::{Executed, GreedyConfig, StopOn};
use super::packing::{PackingConfig, simulate};
use super::state::State;
use super::trace::{Trace, mix};
use super::{Catalog, ValueModel};

/// Deadlines of the experiment, as shares of each photo's run-all time.
pub const DEADLINE_SHARES: [f64; 5] = [0.05, 0.1, 0.2, 0.3, 0.5];

/// A random value per model, the same at every decision (seed it per photo): greedy on it is a
/// random order (serial) or a random anchor and fill (concurrent).
pub struct RandomValues {
    pub seed: u64,
}

impl RandomValues {
    /// Seeded for one photo.
    pub fn for_photo(seed: u64, photo: &str) -> Self {
        RandomValues {
            seed: photo.bytes().fold(seed, |h, b| mix(h ^ u64::from(b))),
        }
    }
}

impl ValueModel for RandomValues {
    fn predict(&self, _: &State, out: &mut [f32]) {
        for (m, o) in out.iter_mut().enumerate() {
            *o = (mix(self.seed ^ (m as u64 + 1)) >> 40) as f32 / (1u64 << 24) as f32;
        }
    }
}

/// One policy at one deadline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadlineRow {
    pub share: f64,
    pub policy: String,
    /// Mean share of each photo's value found, models one after the other.
    pub serial: f64,
    /// The same with models running concurrently within the memory budget.
    pub concurrent: Option<f64>,
}

/// A policy of the experiment: its name, its value model (`None`: random order, seeded per
/// photo) and whether it ranks by value per cost.
pub type DeadlinePolicy<'a> = (&'a str, Option<&'a dyn ValueModel>, bool);

/// Replays every policy at every share of [`DEADLINE_SHARES`] on `photos`; with `mem_budget`
/// also concurrently.
pub fn deadline_experiment(
    catalog: &Catalog,
    policies: &[DeadlinePolicy<'_>],
    photos: &Trace,
    mem_budget: Option<u64>,
    seed: u64,
) -> Vec<DeadlineRow> {
    let mut rows = Vec::new();
    for share in DEADLINE_SHARES {
        for &(name, value, use_cost) in policies {
            let cfg = GreedyConfig {
                use_cost,
                stop_below: None,
                stop_on: StopOn::Value,
            };
            let (mut serial, mut concurrent, mut n) = (0.0, 0.0, 0usize);
            for photo in &photos.photos {
                let (all_ms, all_value) = totals(catalog, photo);
                if all_value <= 1e-6 || all_ms <= 0.0 {
                    continue;
                }
                n += 1;
                let deadline = share * all_ms;
                let random = RandomValues::for_photo(seed, &photo.photo);
                let value: &dyn ValueModel = value.unwrap_or(&random);
                let (_, v) = replay_photo(
                    catalog,
                    &mut ValueGreedy::new(catalog, value, cfg),
                    photo,
                    deadline,
                );
                serial += f64::from(v / all_value);
                if let Some(budget) = mem_budget {
                    let mut launched = vec![false; catalog.models.len()];
                    let mut execute = |i: usize| {
                        let stage = catalog.models[i].stage.as_deref();
                        let done = stage.is_some_and(|s| catalog.stage_done(s, &launched));
                        launched[i] = true;
                        match photo.runs.iter().find(|r| r.model == catalog.models[i].id) {
                            Some(run) => Executed {
                                outputs: run.outputs.clone(),
                                time_ms: photo.charge(run, stage, done),
                                error: run.error.clone(),
                            },
                            None => Executed {
                                outputs: Vec::new(),
                                time_ms: 0.0,
                                error: Some("not recorded".into()),
                            },
                        }
                    };
                    let pcfg = PackingConfig {
                        mem_budget: budget,
                        stop_below: None,
                        stop_on: StopOn::Value,
                    };
                    let (_, state) = simulate(
                        catalog,
                        value,
                        catalog.new_state(&photo.context),
                        deadline,
                        pcfg,
                        &mut execute,
                    );
                    concurrent += f64::from(state.value / all_value);
                }
            }
            let nf = n.max(1) as f64;
            rows.push(DeadlineRow {
                share,
                policy: name.to_string(),
                serial: serial / nf,
                concurrent: mem_budget.map(|_| concurrent / nf),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::synthetic_trace;
    use crate::sched::prior::{PriorTable, Target};

    #[test]
    fn random_values_are_a_fixed_order_per_photo_and_differ_between_photos() {
        let trace = synthetic_trace(20, 3);
        let cat = Catalog::from_trace(&trace);
        let n = cat.models.len();
        let order = |k: usize, executed: bool| {
            let r = RandomValues::for_photo(1, &trace.photos[k].photo);
            let mut s = cat.new_state(&trace.photos[k].context);
            if executed {
                s.executed[0] = true;
            }
            let mut q = vec![0f32; n];
            r.predict(&s, &mut q);
            q
        };
        assert_eq!(order(0, false), order(0, true), "same photo, same values");
        let distinct = (1..20)
            .filter(|&k| order(k, false) != order(0, false))
            .count();
        assert_eq!(distinct, 19);
    }

    #[test]
    fn under_deadlines_a_value_model_beats_random_and_concurrency_finds_more() {
        let mut trace = synthetic_trace(200, 4);
        let (fit, test) = trace.split(0.5, 1);
        let mut cat = Catalog::from_trace(&fit);
        for m in &mut cat.models {
            m.mem_bytes = 100;
        }
        trace.photos.clear();
        let prior = PriorTable::fit(&fit, &cat, Target::Hit).conditioned(&fit, &cat, 2.0);
        let policies: Vec<DeadlinePolicy<'_>> =
            vec![("prior", Some(&prior), true), ("random", None, false)];
        let rows = deadline_experiment(&cat, &policies, &test, Some(300), 3);
        assert_eq!(rows.len(), DEADLINE_SHARES.len() * 2);
        for pair in rows.chunks(2) {
            let (ours, rand) = (&pair[0], &pair[1]);
            assert_eq!(ours.share, rand.share);
            assert!(ours.serial >= rand.serial, "{ours:?} vs {rand:?}");
            if ours.share >= 0.2 {
                assert!(ours.serial > rand.serial + 0.02, "{ours:?} vs {rand:?}");
                // Three models at a time find more within the same deadline.
                assert!(ours.concurrent.unwrap() > ours.serial, "{ours:?}");
            }
        }
        // More time, more value.
        assert!(rows[rows.len() - 2].serial > rows[0].serial);
    }
}
