//! Serial scheduling under a deadline ("Cost-Q greedy"): repeatedly run the unexecuted model
//! with the best predicted value per expected millisecond among those that still fit the
//! remaining time, re-predicting after each; stop early when no model's predicted value
//! reaches `stop_below`.

use serde::{Deserialize, Serialize};

use super::state::{State, reward};
use super::{Catalog, SkipReason, ValueModel};
use crate::sched::trace::Output;

/// How the greedy rule ranks and stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GreedyConfig {
    /// Rank by value per cost (Cost-Q); otherwise by value alone (Q-greedy).
    pub use_cost: bool,
    /// Stop when the best predicted value is below this (None: never stop early). Values are
    /// in reward units: -1 means "certainly finds nothing new", so the default -0.8 stops once
    /// every remaining model is predicted to be close to useless.
    pub stop_below: Option<f32>,
    /// What `stop_below` is compared with.
    pub stop_on: StopOn,
}

/// What the early-stop threshold is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopOn {
    /// Each model's predicted value: a model under the threshold is left out, and the photo
    /// stops when every model is.
    #[default]
    Value,
    /// Each model's predicted value per expected millisecond (a model is worth running only
    /// when it is worth its cost).
    PerMs,
    /// The sum of the positive predicted values of every model still able to run: with
    /// probabilities of a gain, the expected number of models that would still add a label.
    /// Many models each a little likely to add something keep the photo going, where the
    /// per-model rules would stop it.
    Sum,
}

impl StopOn {
    pub fn as_str(self) -> &'static str {
        match self {
            StopOn::Value => "value",
            StopOn::PerMs => "value per ms",
            StopOn::Sum => "sum of values",
        }
    }
}

/// Whether a model predicted `q` at expected cost `cost_ms` falls under a per-model stop
/// threshold (never for [`StopOn::Sum`], which stops the photo as a whole: see [`sum_stops`]).
pub fn below_stop(q: f32, cost_ms: f64, stop_below: Option<f32>, on: StopOn) -> bool {
    on != StopOn::Sum && stop_below.is_some_and(|t| stop_value(q, cost_ms, on) < t)
}

/// The quantity a per-model stop threshold is compared with.
pub fn stop_value(q: f32, cost_ms: f64, on: StopOn) -> f32 {
    match on {
        StopOn::PerMs => (f64::from(q) / cost_ms.max(1e-3)) as f32,
        StopOn::Value | StopOn::Sum => q,
    }
}

/// The sum [`StopOn::Sum`] compares with its threshold: positive values of the models `can_run`.
pub fn value_left(q: &[f32], can_run: impl Fn(usize) -> bool) -> f32 {
    q.iter()
        .enumerate()
        .filter(|&(i, v)| *v > 0.0 && can_run(i))
        .map(|(_, v)| *v)
        .sum()
}

/// Whether a [`StopOn::Sum`] rule stops the photo: the value left among the unexecuted, enabled
/// models that fit `remaining_ms` is under the threshold.
pub fn sum_stops(
    catalog: &Catalog,
    q: &[f32],
    state: &State,
    remaining_ms: f64,
    cfg: GreedyConfig,
) -> bool {
    let Some(t) = cfg.stop_below else {
        return false;
    };
    cfg.stop_on == StopOn::Sum
        && value_left(q, |i| {
            !state.executed[i]
                && catalog.models[i].enabled
                && catalog.cost_ms(i, &state.executed) <= remaining_ms
        }) < t
}

impl Default for GreedyConfig {
    fn default() -> Self {
        GreedyConfig {
            use_cost: true,
            stop_below: Some(-0.8),
            stop_on: StopOn::Value,
        }
    }
}

/// Ranking score: value per millisecond for worthwhile models; a model predicted to add
/// nothing is ranked worse the more it costs.
pub fn score(q: f32, cost_ms: f64, use_cost: bool) -> f64 {
    let q = f64::from(q);
    if !use_cost {
        q
    } else if q >= 0.0 {
        q / cost_ms.max(1e-3)
    } else {
        q * cost_ms.max(1e-3)
    }
}

/// The next model to run and its predicted value, or `None` to stop.
pub fn pick(
    catalog: &Catalog,
    q: &[f32],
    state: &State,
    remaining_ms: f64,
    cfg: GreedyConfig,
) -> Option<(usize, f32)> {
    if sum_stops(catalog, q, state, remaining_ms, cfg) {
        return None;
    }
    let mut best: Option<(usize, f32, f64)> = None;
    for (i, m) in catalog.models.iter().enumerate() {
        if state.executed[i] || !m.enabled {
            continue;
        }
        let cost = catalog.cost_ms(i, &state.executed);
        if cost > remaining_ms {
            continue;
        }
        let qi = q[i];
        if below_stop(qi, cost, cfg.stop_below, cfg.stop_on) {
            continue;
        }
        let s = score(qi, cost, cfg.use_cost);
        if best.is_none_or(|(_, _, b)| s > b) {
            best = Some((i, qi, s));
        }
    }
    best.map(|(i, qi, _)| (i, qi))
}

/// Why an unexecuted model was left out when the schedule ended.
pub fn skip_reason(
    catalog: &Catalog,
    state: &State,
    i: usize,
    q: f32,
    remaining_ms: f64,
    cfg: GreedyConfig,
) -> SkipReason {
    let m = &catalog.models[i];
    let cost = catalog.cost_ms(i, &state.executed);
    if !m.enabled {
        SkipReason::Disabled
    } else if cost > remaining_ms {
        SkipReason::Deadline
    } else if below_stop(q, cost, cfg.stop_below, cfg.stop_on) || cfg.stop_on == StopOn::Sum {
        SkipReason::LowValue
    } else {
        SkipReason::Deadline
    }
}

/// What running one model produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    pub outputs: Vec<Output>,
    /// Measured time.
    pub time_ms: f64,
    /// Set when the model failed (its outputs are then empty).
    pub error: Option<String>,
}

/// One executed model in a photo's schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub model: usize,
    pub predicted: f32,
    /// Marginal value gained.
    pub gain: f32,
    pub reward: f32,
    pub start_ms: f64,
    pub time_ms: f64,
    pub error: Option<String>,
}

/// A photo's finished schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub steps: Vec<Step>,
    /// Models not run, with why and their last predicted value.
    pub skipped: Vec<(usize, SkipReason, f32)>,
    pub state: State,
    pub elapsed_ms: f64,
}

/// Schedules one photo serially: `execute(i)` runs model `i` (for real, or from a trace) and
/// reports what it produced and how long it took. `deadline_ms` of `None` means no deadline.
pub fn run_photo(
    catalog: &Catalog,
    value: &dyn ValueModel,
    mut state: State,
    deadline_ms: Option<f64>,
    cfg: GreedyConfig,
    execute: &mut dyn FnMut(usize) -> Executed,
) -> Schedule {
    let n = catalog.models.len();
    let mut q = vec![0f32; n];
    let mut steps = Vec::new();
    let mut elapsed = 0.0;
    loop {
        let remaining = deadline_ms.map_or(f64::INFINITY, |d| d - elapsed);
        value.predict(&state, &mut q);
        let Some((i, predicted)) = pick(catalog, &q, &state, remaining, cfg) else {
            break;
        };
        let ex = execute(i);
        let m = &catalog.models[i];
        let gain = if ex.error.is_none() {
            state.apply(&catalog.labels, i, &ex.outputs, m.threshold)
        } else {
            state.executed[i] = true;
            0.0
        };
        steps.push(Step {
            model: i,
            predicted,
            gain,
            reward: reward(gain, m.theta),
            start_ms: elapsed,
            time_ms: ex.time_ms,
            error: ex.error,
        });
        elapsed += ex.time_ms;
    }
    let remaining = deadline_ms.map_or(f64::INFINITY, |d| d - elapsed);
    let skipped = (0..n)
        .filter(|&i| !state.executed[i])
        .map(|i| {
            (
                i,
                skip_reason(catalog, &state, i, q[i], remaining, cfg),
                q[i],
            )
        })
        .collect();
    Schedule {
        steps,
        skipped,
        state,
        elapsed_ms: elapsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::ModelInfo;
    use crate::sched::state::LabelSpace;
    use crate::sched::trace::Context;

    /// Fixed predictions regardless of state, except that model 2 becomes valuable once
    /// "person" was found (what a learnt model does with correlated labels).
    struct Table;
    impl ValueModel for Table {
        fn predict(&self, state: &State, out: &mut [f32]) {
            out.copy_from_slice(&[0.8, 0.3, -0.5, 0.05]);
            if state.found.contains_key("person") {
                out[2] = 0.9;
            }
        }
    }

    fn catalog() -> Catalog {
        let m = |id: &str, ms: f64| ModelInfo {
            id: id.into(),
            threshold: 0.5,
            theta: 1.0,
            mean_ms: ms,
            mem_bytes: 0,
            enabled: true,
            stage: None,
        };
        Catalog {
            models: vec![
                m("objects", 40.0),
                m("scene", 5.0),
                m("faces", 10.0),
                m("ocr", 100.0),
            ],
            labels: LabelSpace::from_names(vec!["person".into(), "beach".into()]),
            stages: Vec::new(),
        }
    }

    fn exec(i: usize) -> Executed {
        let outputs = match i {
            0 => vec![Output {
                label: "person".into(),
                confidence: 0.9,
                bbox: None,
            }],
            2 => vec![Output {
                label: "smile".into(),
                confidence: 0.7,
                bbox: None,
            }],
            _ => vec![],
        };
        Executed {
            outputs,
            time_ms: [40.0, 5.0, 10.0, 100.0][i],
            error: None,
        }
    }

    #[test]
    fn cost_q_prefers_value_per_millisecond_and_re_predicts() {
        let c = catalog();
        let s = run_photo(
            &c,
            &Table,
            c.new_state(&Context::default()),
            None,
            GreedyConfig {
                use_cost: true,
                stop_below: Some(0.1),
                stop_on: StopOn::Value,
            },
            &mut exec,
        );
        let order: Vec<usize> = s.steps.iter().map(|st| st.model).collect();
        // scene: 0.3/5 = 0.06 beats objects 0.8/40 = 0.02; after "person", faces 0.9/10 = 0.09.
        assert_eq!(order, vec![1, 0, 2]);
        assert_eq!(s.skipped, vec![(3, SkipReason::LowValue, 0.05)]);
        assert!((s.state.value - 1.6).abs() < 1e-6);
        assert_eq!(s.steps[2].start_ms, 45.0);
    }

    #[test]
    fn q_greedy_ignores_cost_and_no_stop_runs_everything() {
        let c = catalog();
        let s = run_photo(
            &c,
            &Table,
            c.new_state(&Context::default()),
            None,
            GreedyConfig {
                use_cost: false,
                stop_below: None,
                stop_on: StopOn::Value,
            },
            &mut exec,
        );
        let order: Vec<usize> = s.steps.iter().map(|st| st.model).collect();
        assert_eq!(order, vec![0, 2, 1, 3]);
        assert!(s.skipped.is_empty());
    }

    #[test]
    fn the_deadline_drops_models_that_do_not_fit() {
        let c = catalog();
        let s = run_photo(
            &c,
            &Table,
            c.new_state(&Context::default()),
            Some(50.0),
            GreedyConfig {
                use_cost: true,
                stop_below: None,
                stop_on: StopOn::Value,
            },
            &mut exec,
        );
        let order: Vec<usize> = s.steps.iter().map(|st| st.model).collect();
        // scene (5) then objects (40) fit; faces (10) would end at 55 > 50.
        assert_eq!(order, vec![1, 0]);
        let reasons: Vec<SkipReason> = s.skipped.iter().map(|x| x.1).collect();
        assert_eq!(reasons, vec![SkipReason::Deadline, SkipReason::Deadline]);
    }

    #[test]
    fn negative_values_rank_cheap_first_and_disabled_models_never_run() {
        assert!(score(-1.0, 10.0, true) > score(-1.0, 100.0, true));
        let mut c = catalog();
        c.models[1].enabled = false;
        let s = run_photo(
            &c,
            &Table,
            c.new_state(&Context::default()),
            None,
            GreedyConfig {
                use_cost: true,
                stop_below: None,
                stop_on: StopOn::Value,
            },
            &mut exec,
        );
        assert!(s.steps.iter().all(|st| st.model != 1));
        assert!(s.skipped.contains(&(1, SkipReason::Disabled, 0.3)));
    }

    #[test]
    fn a_per_millisecond_stop_skips_models_not_worth_their_cost() {
        let c = catalog();
        let run = |stop_on: StopOn| {
            let s = run_photo(
                &c,
                &Table,
                c.new_state(&Context::default()),
                None,
                GreedyConfig {
                    use_cost: true,
                    stop_below: Some(0.01),
                    stop_on,
                },
                &mut exec,
            );
            s.steps.iter().map(|st| st.model).collect::<Vec<_>>()
        };
        // ocr: 0.05 is above 0.01, but 0.05 / 100 ms = 0.0005 per ms is not.
        assert_eq!(run(StopOn::Value), vec![1, 0, 2, 3]);
        assert_eq!(run(StopOn::PerMs), vec![1, 0, 2]);
        assert!(below_stop(0.05, 100.0, Some(0.01), StopOn::PerMs));
        assert!(!below_stop(0.05, 100.0, Some(0.01), StopOn::Value));
        assert!(!below_stop(-5.0, 1.0, None, StopOn::PerMs));
        assert!(!below_stop(-5.0, 1.0, Some(0.01), StopOn::Sum));
    }

    #[test]
    fn a_sum_stop_ends_the_photo_when_the_value_left_in_all_models_is_small() {
        let c = catalog();
        let run = |t: f32| {
            run_photo(
                &c,
                &Table,
                c.new_state(&Context::default()),
                None,
                GreedyConfig {
                    use_cost: true,
                    stop_below: Some(t),
                    stop_on: StopOn::Sum,
                },
                &mut exec,
            )
        };
        // After scene, objects (person found) and faces, only ocr's 0.05 is left.
        let s = run(0.1);
        let order: Vec<usize> = s.steps.iter().map(|st| st.model).collect();
        assert_eq!(order, vec![1, 0, 2]);
        assert_eq!(s.skipped, vec![(3, SkipReason::LowValue, 0.05)]);
        assert_eq!(run(0.04).steps.len(), 4);
        // Before anything ran: 0.8 + 0.3 + 0.05 are left (faces' negative value counts 0).
        assert!((value_left(&[0.8, 0.3, -0.5, 0.05], |_| true) - 1.15).abs() < 1e-6);
        assert!(run(1.2).steps.is_empty());
    }
}
