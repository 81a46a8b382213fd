//! Choosing the production policy's early stop on validation photos, never on test photos:
//! the calibration of the value model's predictions into probabilities of a gain
//! ([`crate::sched::calibration`]), and the stop threshold that keeps a share of the valuable
//! labels (the user's thoroughness) in the least time, among three rules (each model's value,
//! its value per millisecond, the sum of the values left; see [`StopOn`]).

use serde::Serialize;

use crate::sched::calibration::{Calibrated, Calibration, Observation, Reliability};
use crate::sched::eval::{Chooser, ValueGreedy, evaluate, production};
use crate::sched::greedy::{GreedyConfig, StopOn, pick, stop_value, value_left};
use crate::sched::state::State;
use crate::sched::trace::{PhotoTrace, Trace};
use crate::sched::{Catalog, ValueModel};

/// Lower recall targets whose early stops are also chosen on validation and replayed on the
/// test photos, to show what giving up a little recall saves (and offered as thoroughness).
pub const TRADE_OFF_TARGETS: [f64; 3] = [0.95, 0.9, 0.8];

/// A chosen early stop: threshold (None: never stop early), what it is compared with, and the
/// pooled validation recall and time share it gave.
pub type StopChoice = (Option<f32>, StopOn, f64, f64);

/// What replaying a value model without a stop saw: every prediction of an unexecuted model
/// with its expected cost and whether running it there would have added a valuable label, and
/// the value left ([`value_left`]) at every decision.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub predictions: Vec<(f32, f64)>,
    pub observations: Vec<Observation>,
    pub sums: Vec<f32>,
}

/// Replays greedily with no stop and records what [`Seen`] holds.
struct Recorder<'a> {
    catalog: &'a Catalog,
    value: &'a dyn ValueModel,
    q: Vec<f32>,
    seen: Seen,
}

/// Whether running model `m` in `state` adds a valuable label on the recorded photo.
fn gains(catalog: &Catalog, state: &State, photo: &PhotoTrace, m: usize) -> bool {
    let info = &catalog.models[m];
    let Some(run) = photo
        .runs
        .iter()
        .find(|r| r.model == info.id && r.error.is_none())
    else {
        return false;
    };
    let mut s = state.clone();
    s.apply(&catalog.labels, m, &run.outputs, info.threshold) > 1e-6
}

impl Chooser for Recorder<'_> {
    fn choose(&mut self, state: &State, photo: &PhotoTrace, remaining_ms: f64) -> Option<usize> {
        self.value.predict(state, &mut self.q);
        let open: Vec<usize> = (0..self.q.len())
            .filter(|&i| !state.executed[i] && self.catalog.models[i].enabled)
            .collect();
        for &i in &open {
            self.seen
                .predictions
                .push((self.q[i], self.catalog.cost_ms(i, &state.executed)));
            self.seen.observations.push(Observation {
                model: i,
                raw: self.q[i],
                gained: gains(self.catalog, state, photo, i),
            });
        }
        if !open.is_empty() {
            self.seen
                .sums
                .push(value_left(&self.q, |i| open.contains(&i)));
        }
        let cfg = GreedyConfig {
            use_cost: true,
            stop_below: None,
            stop_on: StopOn::Value,
        };
        pick(self.catalog, &self.q, state, remaining_ms, cfg).map(|(i, _)| i)
    }
}

/// Replays `value` over `photos` without a stop and records what it saw.
pub fn observe(catalog: &Catalog, value: &dyn ValueModel, photos: &Trace) -> Seen {
    let mut rec = Recorder {
        catalog,
        value,
        q: vec![0.0; catalog.models.len()],
        seen: Seen::default(),
    };
    production(catalog, &mut rec, photos);
    rec.seen
}

/// Calibration fitted on what each fold's model saw on its validation photos (`as_odds`: the
/// models' raw values are odds of a hit, see [`Calibration::value`]).
pub fn calibrate(
    catalog: &Catalog,
    splits: &[(&dyn ValueModel, &Trace)],
    as_odds: bool,
) -> Option<Calibration> {
    let obs: Vec<Observation> = splits
        .iter()
        .flat_map(|(value, val)| observe(catalog, *value, val).observations)
        .collect();
    Calibration::fit(catalog.models.len(), &obs, as_odds)
}

/// How a value model's raw predictions read as probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AsProbability<'a> {
    /// As they are (clamped to 0..1).
    Raw,
    /// They are odds o: the probability o / (1 + o).
    RawOdds,
    /// Mapped by a calibration.
    Calibrated(&'a Calibration),
}

/// How well `value`'s predictions, read as probabilities by `read`, match what running each
/// model added on `photos` (states visited by the value's greedy order without a stop).
pub fn reliability(
    catalog: &Catalog,
    value: &dyn ValueModel,
    photos: &Trace,
    read: AsProbability<'_>,
) -> Reliability {
    let seen = observe(catalog, value, photos);
    let pairs: Vec<(f32, bool)> = seen
        .observations
        .iter()
        .map(|o| {
            let p = match read {
                AsProbability::Raw => o.raw,
                AsProbability::RawOdds => o.raw.max(0.0) / (1.0 + o.raw.max(0.0)),
                AsProbability::Calibrated(c) => c.probability(o.model, o.raw),
            };
            (p, o.gained)
        })
        .collect();
    Reliability::measure(&pairs)
}

/// The early-stop rule that keeps at least `target_recall` of the valuable labels of the
/// validation photos in the least time, among thresholds at quantiles of what the models
/// predicted there (for each [`StopOn`]) and no stop at all. `splits` pairs each fold's model
/// with its validation photos; figures are pooled over them, weighted by photos.
pub fn choose_stop(
    catalog: &Catalog,
    splits: &[(&dyn ValueModel, &Trace)],
    target_recall: f64,
) -> StopChoice {
    let pooled = |cfg: GreedyConfig| {
        let (mut r, mut t, mut w) = (0.0, 0.0, 0.0);
        for (value, val) in splits {
            let mut g = ValueGreedy::new(catalog, *value, cfg);
            let (ri, ti) = production(catalog, &mut g, val);
            let wi = val.photos.len() as f64;
            r += ri * wi;
            t += ti * wi;
            w += wi;
        }
        (r / w.max(1.0), t / w.max(1.0))
    };
    let mut seen = Seen::default();
    for (value, val) in splits {
        let s = observe(catalog, *value, val);
        seen.predictions.extend(s.predictions);
        seen.sums.extend(s.sums);
    }
    let (r0, t0) = pooled(GreedyConfig {
        use_cost: true,
        stop_below: None,
        stop_on: StopOn::Value,
    });
    let mut best: StopChoice = (None, StopOn::Value, r0, t0);
    if seen.predictions.is_empty() {
        return best;
    }
    for on in [StopOn::Value, StopOn::PerMs, StopOn::Sum] {
        let mut values: Vec<f32> = match on {
            StopOn::Sum => seen.sums.clone(),
            _ => seen
                .predictions
                .iter()
                .map(|(q, cost)| stop_value(*q, *cost, on))
                .collect(),
        };
        if values.is_empty() {
            continue;
        }
        values.sort_by(f32::total_cmp);
        let mut grid: Vec<f32> = (0..=40)
            .map(|k| values[(k * (values.len() - 1)) / 40])
            .collect();
        grid.dedup();
        for tau in grid {
            let (r, t) = pooled(GreedyConfig {
                use_cost: true,
                stop_below: Some(tau),
                stop_on: on,
            });
            let ok = r >= target_recall - 1e-9;
            let best_ok = best.2 >= target_recall - 1e-9;
            let better = match (ok, best_ok) {
                (true, true) => t < best.3,
                (true, false) => true,
                (false, true) => false,
                (false, false) => r > best.2,
            };
            if better {
                best = (Some(tau), on, r, t);
            }
        }
    }
    best
}

/// The calibration and the stops chosen for each thoroughness, from validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StopSelection {
    #[serde(skip)]
    pub calibration: Option<Calibration>,
    /// The raw predictions' reliability on validation (before calibration).
    pub raw_reliability: Option<Reliability>,
    /// The main target's stop.
    pub main: StopChoice,
    /// (target, stop) for each of [`TRADE_OFF_TARGETS`] under the main target.
    pub trade_off: Vec<(f64, StopChoice)>,
}

/// Largest loss of time to 100% (share of run-all) on validation that a calibration may cost
/// the ranking.
pub const MAX_RANKING_LOSS: f64 = 0.002;

/// Whether ranking by the calibrated values finds each validation photo's labels about as fast
/// as ranking by the raw ones: per-model maps can reorder models across each other (with few
/// validation photos they did, by 2.4 points of time to 100% on a library of 100 photos), and
/// a stop is not worth a slower order. The calibration was fitted on these photos, so this errs
/// on its side: one that loses even here is dropped.
pub fn keeps_the_order(
    catalog: &Catalog,
    splits: &[(&dyn ValueModel, &Trace)],
    calibration: &Calibration,
) -> bool {
    let cfg = GreedyConfig {
        use_cost: true,
        stop_below: None,
        stop_on: StopOn::Value,
    };
    let (mut raw, mut cal, mut w) = (0.0, 0.0, 0.0);
    for (value, val) in splits {
        let wrapped = Calibrated {
            inner: *value,
            calibration,
        };
        let r = evaluate(
            "raw",
            catalog,
            &mut ValueGreedy::new(catalog, *value, cfg),
            val,
        );
        let c = evaluate(
            "calibrated",
            catalog,
            &mut ValueGreedy::new(catalog, &wrapped, cfg),
            val,
        );
        let n = r.photos as f64;
        raw += r.time_to_100 * n;
        cal += c.time_to_100 * n;
        w += n;
    }
    w == 0.0 || cal <= raw + MAX_RANKING_LOSS * w
}

/// Calibrates the folds' models on their validation photos (keeping the calibration only if
/// [`keeps_the_order`]), then chooses the stops on the calibrated predictions. `calibrate_values` false keeps the raw predictions (the stops are
/// then in their units); `as_odds`: the raw values are odds of a hit, and the calibrated ones
/// stay odds.
pub fn select_stops(
    catalog: &Catalog,
    splits: &[(&dyn ValueModel, &Trace)],
    target_recall: f64,
    calibrate_values: bool,
    as_odds: bool,
) -> StopSelection {
    let calibration = if calibrate_values {
        calibrate(catalog, splits, as_odds).filter(|c| keeps_the_order(catalog, splits, c))
    } else {
        None
    };
    let raw_reliability = calibration.as_ref().map(|_| {
        let pairs: Vec<(f32, bool)> = splits
            .iter()
            .flat_map(|(v, val)| observe(catalog, *v, val).observations)
            .map(|o| {
                let p = if as_odds {
                    o.raw.max(0.0) / (1.0 + o.raw.max(0.0))
                } else {
                    o.raw
                };
                (p, o.gained)
            })
            .collect();
        Reliability::measure(&pairs)
    });
    let wrapped: Vec<Calibrated<'_>> = match &calibration {
        Some(c) => splits
            .iter()
            .map(|(v, _)| Calibrated {
                inner: *v,
                calibration: c,
            })
            .collect(),
        None => Vec::new(),
    };
    let pairs: Vec<(&dyn ValueModel, &Trace)> = if wrapped.is_empty() {
        splits.to_vec()
    } else {
        wrapped
            .iter()
            .zip(splits)
            .map(|(w, (_, val))| (w as &dyn ValueModel, *val))
            .collect()
    };
    let main = choose_stop(catalog, &pairs, target_recall);
    let trade_off = TRADE_OFF_TARGETS
        .iter()
        .filter(|t| **t < target_recall)
        .map(|&t| (t, choose_stop(catalog, &pairs, t)))
        .collect();
    StopSelection {
        calibration,
        raw_reliability,
        main,
        trade_off,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::synthetic_trace;
    use crate::sched::calibration::IsotonicMap;
    use crate::sched::prior::{PriorTable, Target};

    #[test]
    fn a_calibration_that_would_slow_the_order_down_is_dropped() {
        let trace = synthetic_trace(300, 12);
        let (fit, val) = trace.split(0.5, 3);
        let cat = Catalog::from_trace(&fit);
        let prior = PriorTable::fit(&fit, &cat, Target::Hit).conditioned(&fit, &cat, 2.0);
        let splits: Vec<(&dyn ValueModel, &Trace)> = vec![(&prior, &val)];
        // Every prediction mapped to one probability: the order is by cost alone.
        let flat = IsotonicMap {
            knots: vec![(0.0, 0.5)],
        };
        let blind = Calibration {
            per_model: vec![None; cat.models.len()],
            pooled: flat,
            observations: 1,
            as_odds: false,
        };
        assert!(!keeps_the_order(&cat, &splits, &blind));
        let fitted = calibrate(&cat, &splits, false).unwrap();
        assert!(keeps_the_order(&cat, &splits, &fitted));
    }

    #[test]
    fn the_calibrated_stop_keeps_what_it_was_chosen_for_on_held_out_photos() {
        let trace = synthetic_trace(400, 11);
        let (fit, rest) = trace.split(0.5, 3);
        let (val, test) = rest.split(0.5, 4);
        let cat = Catalog::from_trace(&fit);
        // A value model that is a poor probability: the hit prior, squared and scaled.
        let prior = PriorTable::fit(&fit, &cat, Target::Hit).conditioned(&fit, &cat, 2.0);
        struct Skewed(PriorTable);
        impl ValueModel for Skewed {
            fn predict(&self, state: &State, out: &mut [f32]) {
                self.0.predict(state, out);
                out.iter_mut().for_each(|q| *q = 3.0 * *q * *q);
            }
        }
        let skewed = Skewed(prior);
        let splits: Vec<(&dyn ValueModel, &Trace)> = vec![(&skewed, &val)];
        let cal = calibrate(&cat, &splits, false).expect("calibrated");
        // On photos neither the fit nor the calibration saw, calibrated probabilities are
        // closer to the outcomes than the raw scores.
        let raw = reliability(&cat, &skewed, &test, AsProbability::Raw);
        let fixed = reliability(&cat, &skewed, &test, AsProbability::Calibrated(&cal));
        assert!(fixed.brier < raw.brier, "{} vs {}", fixed.brier, raw.brier);
        assert!(fixed.ece < raw.ece, "{} vs {}", fixed.ece, raw.ece);
        // The stop chosen for 95% (on the calibrated values, or on the raw ones where the
        // calibration would slow the order: squaring ranks the likely models first, as odds do,
        // and this calibration undoes it) keeps about that much on the test photos, in less
        // time than running everything, and a lower target takes no more time.
        let sel = select_stops(&cat, &splits, 0.95, true, false);
        let calibrated: Box<dyn ValueModel> = match &sel.calibration {
            Some(c) => Box::new(Calibrated {
                inner: &skewed,
                calibration: c,
            }),
            None => Box::new(Skewed(skewed.0.clone())),
        };
        let calibrated = calibrated.as_ref();
        let (stop_below, stop_on, val_r, _) = sel.main;
        assert!(val_r >= 0.95, "{val_r}");
        let cfg = GreedyConfig {
            use_cost: true,
            stop_below,
            stop_on,
        };
        let (r, t) = production(&cat, &mut ValueGreedy::new(&cat, calibrated, cfg), &test);
        assert!(r > 0.9 && t < 0.95, "recall {r} time {t}");
        let (_, (b80, on80, _, t80)) = sel.trade_off.iter().find(|(t, _)| *t == 0.8).unwrap();
        assert!(*t80 <= sel.main.3 + 1e-9, "{t80} vs {}", sel.main.3);
        let cfg80 = GreedyConfig {
            use_cost: true,
            stop_below: *b80,
            stop_on: *on80,
        };
        let (_, t_80) = production(&cat, &mut ValueGreedy::new(&cat, calibrated, cfg80), &test);
        assert!(t_80 <= t + 0.02, "{t_80} vs {t}");
    }
}
