//! A time budget for a whole library ("label these photos within the next hour"): no photo
//! manager has one, and a fixed per-photo deadline is the wrong tool for it — it cuts off
//! photos full of people and text as hard as blank skies, and cannot use the time the easy
//! photos leave. [`LibraryBudget`] derives each photo's deadline from the backlog and the
//! time left, and sets a price on time: a model runs only when its calibrated probability of
//! adding a label per expected millisecond is worth that price ([`Priced`]). The price rises
//! while photos take more than their share of the time left and falls while they take less,
//! so the photos whose early results promise more get the time the others did not need, and
//! the budget as a whole is kept. [`replay_library`] measures it on traces against a fixed
//! per-photo deadline and random order.

use serde::Serialize;

use super::eval::{Chooser, RandomOrder, ValueGreedy, replay_photo, totals};
use super::greedy::{GreedyConfig, StopOn};
use super::state::State;
use super::trace::Trace;
use super::{Catalog, ValueModel};

/// Lowest price (probability of a gain per ms): below it, time is as good as free.
pub const MIN_PRICE: f32 = 1e-7;
/// Highest price: a model would have to be sure to add a label within 0.1 ms.
pub const MAX_PRICE: f32 = 10.0;
/// How far one photo's over- or under-spending moves the price, in log units.
const PRICE_GAIN: f64 = 1.0;
/// A photo may take up to this many times its even share of the time left.
pub const DEADLINE_SHARES: f64 = 3.0;

/// What one photo gets from the budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhotoPlan {
    /// Its deadline, in ms.
    pub deadline_ms: f64,
    /// The price on time: a model with probability p of a gain and expected cost c runs only if
    /// p / c is at least this.
    pub price: f32,
}

/// The controller of a library budget (see the module docs). Times are in ms since the budget
/// started, passed in by the caller (a clock in the app, the replayed time in benchmarks).
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryBudget {
    total_ms: f64,
    log_price: f64,
    /// Photos done and the time they took.
    done: usize,
    spent_ms: f64,
}

impl LibraryBudget {
    /// A budget of `total_ms` for the whole backlog.
    pub fn new(total_ms: f64) -> Self {
        LibraryBudget {
            total_ms: total_ms.max(0.0),
            log_price: f64::from(MIN_PRICE).ln(),
            done: 0,
            spent_ms: 0.0,
        }
    }

    /// The whole budget, in ms.
    pub fn total_ms(&self) -> f64 {
        self.total_ms
    }

    /// The current price.
    pub fn price(&self) -> f32 {
        (self.log_price.exp() as f32).clamp(MIN_PRICE, MAX_PRICE)
    }

    /// The plan of the next photo, at `now_ms` with `backlog` photos left (this one included).
    pub fn plan(&self, now_ms: f64, backlog: usize) -> PhotoPlan {
        let left = (self.total_ms - now_ms).max(0.0);
        let share = left / backlog.max(1) as f64;
        PhotoPlan {
            deadline_ms: (share * DEADLINE_SHARES).min(left),
            price: self.price(),
        }
    }

    /// Records a finished photo that took `took_ms`, at `now_ms` with `backlog` photos left
    /// (this one no longer included), and moves the price: up when the photo took more than
    /// the even share of the time that was left for it, down when less.
    pub fn record(&mut self, took_ms: f64, now_ms: f64, backlog: usize) {
        self.done += 1;
        self.spent_ms += took_ms.max(0.0);
        let left_before = (self.total_ms - now_ms + took_ms).max(1e-3);
        let share = left_before / (backlog + 1) as f64;
        let ratio = (took_ms / share.max(1e-3)).clamp(0.0, 4.0);
        self.log_price = (self.log_price + PRICE_GAIN * (ratio - 1.0))
            .clamp(f64::from(MIN_PRICE).ln(), f64::from(MAX_PRICE).ln());
    }

    /// When the backlog is expected to be done, in ms since the start, at the pace measured so
    /// far (`None` before any photo finished).
    pub fn expected_finish(&self, now_ms: f64, backlog: usize) -> Option<f64> {
        (self.done > 0).then(|| now_ms + backlog as f64 * self.spent_ms / self.done as f64)
    }
}

/// A value model under a price on time: a model whose value per expected millisecond is below
/// the price is predicted worthless (-1), so no stop rule lets it run.
pub struct Priced<'a> {
    pub inner: &'a dyn ValueModel,
    pub catalog: &'a Catalog,
    pub price: f32,
}

impl ValueModel for Priced<'_> {
    fn predict(&self, state: &State, out: &mut [f32]) {
        self.inner.predict(state, out);
        for (m, q) in out.iter_mut().enumerate() {
            let cost = self.catalog.cost_ms(m, &state.executed).max(1e-3);
            if f64::from(*q) / cost < f64::from(self.price) {
                *q = -1.0;
            }
        }
    }
}

/// How one way of spending a library budget did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetOutcome {
    pub policy: String,
    /// Budget as a share of the run-all time of the whole set.
    pub budget: f64,
    /// Share of the set's valuable-label value found.
    pub value_share: f64,
    /// Mean share of each photo's value found (photos with any).
    pub photo_recall: f64,
    /// Time used as a share of the budget.
    pub used: f64,
}

/// The ways a budget can be spent, compared by [`replay_library`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetPolicy {
    /// [`LibraryBudget`]: deadlines from the backlog, a price on time.
    Adaptive,
    /// The value model with the same deadline for every photo (budget / photos).
    FixedDeadline,
    /// Random model order with that fixed deadline.
    Random,
}

impl BudgetPolicy {
    pub fn name(self) -> &'static str {
        match self {
            BudgetPolicy::Adaptive => "adaptive budget",
            BudgetPolicy::FixedDeadline => "fixed deadline",
            BudgetPolicy::Random => "random, fixed deadline",
        }
    }
}

/// Replays labelling `photos` in order within `share` of their total run-all time. The value
/// model's predictions should be calibrated probabilities of a gain (the price is in their
/// units); `stop` is the photo's own early stop (the user's thoroughness), kept by every
/// policy but random.
pub fn replay_library(
    catalog: &Catalog,
    value: &dyn ValueModel,
    photos: &Trace,
    share: f64,
    stop: (Option<f32>, StopOn),
    policy: BudgetPolicy,
    seed: u64,
) -> BudgetOutcome {
    let all: Vec<(f64, f32)> = photos.photos.iter().map(|p| totals(catalog, p)).collect();
    let run_all: f64 = all.iter().map(|a| a.0).sum();
    let total_value: f64 = all.iter().map(|a| f64::from(a.1)).sum();
    let budget_ms = share * run_all;
    let n = photos.photos.len();
    let greedy = |stop_below, stop_on| GreedyConfig {
        use_cost: true,
        stop_below,
        stop_on,
    };
    let mut controller = LibraryBudget::new(budget_ms);
    let mut random = RandomOrder::new(catalog, seed);
    let (mut now, mut found, mut recall, mut with_value) = (0.0f64, 0.0f64, 0.0f64, 0usize);
    for (k, photo) in photos.photos.iter().enumerate() {
        let backlog = n - k;
        let (spent, value_found) = match policy {
            BudgetPolicy::Adaptive => {
                let plan = controller.plan(now, backlog);
                let priced = Priced {
                    inner: value,
                    catalog,
                    price: plan.price,
                };
                // The photo's own stop, and the price: a priced-out model is -1, under any
                // stop; without a stop of its own the photo still stops at the price.
                let cfg = match stop.0 {
                    Some(_) => greedy(stop.0, stop.1),
                    None => greedy(Some(0.0), StopOn::Value),
                };
                let r = replay_photo(
                    catalog,
                    &mut ValueGreedy::new(catalog, &priced, cfg),
                    photo,
                    plan.deadline_ms,
                );
                controller.record(r.0, now + r.0, backlog - 1);
                r
            }
            BudgetPolicy::FixedDeadline => replay_photo(
                catalog,
                &mut ValueGreedy::new(catalog, value, greedy(stop.0, stop.1)),
                photo,
                budget_ms / n.max(1) as f64,
            ),
            BudgetPolicy::Random => {
                let chooser: &mut dyn Chooser = &mut random;
                replay_photo(catalog, chooser, photo, budget_ms / n.max(1) as f64)
            }
        };
        now += spent;
        found += f64::from(value_found);
        if all[k].1 > 1e-6 {
            with_value += 1;
            recall += f64::from(value_found / all[k].1);
        }
    }
    BudgetOutcome {
        policy: policy.name().to_string(),
        budget: share,
        value_share: found / total_value.max(1e-9),
        photo_recall: recall / with_value.max(1) as f64,
        used: now / budget_ms.max(1e-9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::synthetic_trace;
    use crate::sched::prior::{PriorTable, Target};

    #[test]
    fn the_price_rises_when_photos_overspend_and_falls_when_they_underspend() {
        let mut b = LibraryBudget::new(1000.0);
        // 10 photos: an even share is 100 ms; the deadline allows 3 shares.
        let p = b.plan(0.0, 10);
        assert_eq!(p.deadline_ms, 300.0);
        assert_eq!(p.price, MIN_PRICE);
        b.record(300.0, 300.0, 9);
        let up = b.price();
        assert!(up > MIN_PRICE * 5.0, "{up}");
        // Now 700 ms for 9 photos: one taking 20 ms brings the price down again.
        b.record(20.0, 320.0, 8);
        assert!(b.price() < up);
        // The pace so far (160 ms a photo) predicts the finish.
        assert_eq!(b.expected_finish(320.0, 8), Some(320.0 + 8.0 * 160.0));
        // Out of time: nothing left to give.
        assert_eq!(b.plan(1000.0, 3).deadline_ms, 0.0);
        // The deadline never exceeds the time left.
        assert_eq!(b.plan(900.0, 1).deadline_ms, 100.0);
    }

    #[test]
    fn a_price_makes_models_not_worth_their_time_worthless() {
        let trace = synthetic_trace(50, 2);
        let cat = Catalog::from_trace(&trace);
        let prior = PriorTable::fit(&trace, &cat, Target::Hit);
        let state = cat.new_state(&Default::default());
        let n = cat.models.len();
        let (mut raw, mut priced) = (vec![0f32; n], vec![0f32; n]);
        prior.predict(&state, &mut raw);
        Priced {
            inner: &prior,
            catalog: &cat,
            price: 0.002,
        }
        .predict(&state, &mut priced);
        let mut some_out = false;
        for m in 0..n {
            let per_ms = f64::from(raw[m]) / cat.cost_ms(m, &state.executed);
            if per_ms < 0.002 {
                assert_eq!(priced[m], -1.0);
                some_out = true;
            } else {
                assert_eq!(priced[m], raw[m]);
            }
        }
        assert!(some_out, "the price should rule out some model: {raw:?}");
    }

    #[test]
    fn the_adaptive_budget_keeps_the_budget_and_finds_more_than_a_fixed_deadline() {
        let trace = synthetic_trace(300, 21);
        let (fit, test) = trace.split(0.5, 2);
        let cat = Catalog::from_trace(&fit);
        let prior = PriorTable::fit(&fit, &cat, Target::Hit).conditioned(&fit, &cat, 2.0);
        for share in [0.2, 0.4] {
            let run = |p| replay_library(&cat, &prior, &test, share, (None, StopOn::Value), p, 5);
            let (a, f, r) = (
                run(BudgetPolicy::Adaptive),
                run(BudgetPolicy::FixedDeadline),
                run(BudgetPolicy::Random),
            );
            eprintln!("{a:?}\n{f:?}\n{r:?}");
            assert!(a.used <= 1.0 + 1e-9 && f.used <= 1.0 + 1e-9, "{a:?} {f:?}");
            assert!(a.value_share > f.value_share, "{a:?} vs {f:?}");
            assert!(f.value_share > r.value_share, "{f:?} vs {r:?}");
        }
    }
}
