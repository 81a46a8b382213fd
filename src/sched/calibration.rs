//! Calibrated probabilities for the stop rule. The value model ranks models well, but its raw
//! output for "this model still adds a valuable label" is only a score: a network trained on
//! other photos can be sure too early or too late, and a stop threshold on raw scores then
//! means something different on every library. [`Calibration`] maps each model's raw
//! prediction to the observed frequency of a gain, per model, by isotonic regression
//! (pool-adjacent-violators) on held-out states; [`Reliability`] measures how far predicted
//! probabilities are from observed frequencies (reliability diagram bins and Brier score), which
//! `bench-sched` reports on photos the calibration never saw.

use serde::{Deserialize, Serialize};

use super::ValueModel;
use super::state::State;

/// One held-out observation: the model, its raw prediction in a state, and whether running it
/// there added a valuable label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub model: usize,
    pub raw: f32,
    pub gained: bool,
}

/// Fewest observations of a model for its own map; below, it uses the map of all models.
pub const MIN_OBSERVATIONS: usize = 40;

/// A monotone map from raw prediction to probability: sorted knots (raw, probability),
/// interpolated linearly between knots and flat beyond them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsotonicMap {
    pub knots: Vec<(f32, f32)>,
}

impl IsotonicMap {
    /// Fits a non-decreasing map by pool-adjacent-violators; `None` without observations.
    pub fn fit(points: &[(f32, bool)]) -> Option<Self> {
        if points.is_empty() {
            return None;
        }
        let mut sorted: Vec<(f32, f32)> = points
            .iter()
            .filter(|(x, _)| x.is_finite())
            .map(|&(x, y)| (x, if y { 1.0 } else { 0.0 }))
            .collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Blocks: (sum of x, sum of y, count); equal x start in one block.
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        let mut last_x = f32::NAN;
        for (x, y) in sorted {
            if x == last_x {
                let b = blocks.last_mut().expect("a block exists for a repeated x");
                *b = (b.0 + f64::from(x), b.1 + f64::from(y), b.2 + 1.0);
            } else {
                blocks.push((f64::from(x), f64::from(y), 1.0));
                last_x = x;
            }
            while blocks.len() >= 2 {
                let n = blocks.len();
                let (a, b) = (blocks[n - 2], blocks[n - 1]);
                if a.1 / a.2 <= b.1 / b.2 {
                    break;
                }
                blocks.pop();
                blocks[n - 2] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
            }
        }
        // Add-one smoothing keeps a block seen with no gain from saying "impossible".
        let knots = blocks
            .iter()
            .map(|(sx, sy, n)| ((sx / n) as f32, ((sy + 0.5) / (n + 1.0)) as f32))
            .collect();
        Some(IsotonicMap { knots })
    }

    /// The probability for a raw prediction.
    pub fn apply(&self, raw: f32) -> f32 {
        let k = &self.knots;
        let Some(first) = k.first() else {
            return 0.5;
        };
        if raw <= first.0 {
            return first.1;
        }
        let last = k[k.len() - 1];
        if raw >= last.0 {
            return last.1;
        }
        let j = k.partition_point(|(x, _)| *x <= raw);
        let (a, b) = (k[j - 1], k[j]);
        let t = if b.0 > a.0 {
            (raw - a.0) / (b.0 - a.0)
        } else {
            0.0
        };
        a.1 + t * (b.1 - a.1)
    }
}

/// Per-model maps from raw predictions to probabilities of a gain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Map of each model (index as in the catalog), `None` where it had too few observations.
    pub per_model: Vec<Option<IsotonicMap>>,
    /// Map fitted on every model's observations together.
    pub pooled: IsotonicMap,
    /// Observations it was fitted on.
    pub observations: usize,
    /// Report the odds p / (1 - p) instead of p (see [`Calibration::value`]).
    #[serde(default)]
    pub as_odds: bool,
}

impl Calibration {
    /// Fits the maps of `models` models; `None` without any observation.
    pub fn fit(models: usize, obs: &[Observation], as_odds: bool) -> Option<Self> {
        let all: Vec<(f32, bool)> = obs.iter().map(|o| (o.raw, o.gained)).collect();
        let pooled = IsotonicMap::fit(&all)?;
        let per_model = (0..models)
            .map(|m| {
                let pts: Vec<(f32, bool)> = obs
                    .iter()
                    .filter(|o| o.model == m)
                    .map(|o| (o.raw, o.gained))
                    .collect();
                if pts.len() >= MIN_OBSERVATIONS {
                    IsotonicMap::fit(&pts)
                } else {
                    None
                }
            })
            .collect();
        Some(Calibration {
            per_model,
            pooled,
            observations: obs.len(),
            as_odds,
        })
    }

    /// What the scheduler ranks and stops on: the probability, or its odds when the raw
    /// predictions were odds (a value model ranking by the odds of a hit puts the models almost
    /// sure to be needed first, whatever they cost: see `PriorTable::ranked_by_odds`; mapping
    /// them to probabilities would undo that).
    pub fn value(&self, m: usize, raw: f32) -> f32 {
        let p = self.probability(m, raw);
        if self.as_odds {
            let p = p.min(0.99);
            p / (1.0 - p)
        } else {
            p
        }
    }

    /// The probability that model `m` adds a valuable label, given its raw prediction.
    pub fn probability(&self, m: usize, raw: f32) -> f32 {
        match self.per_model.get(m) {
            Some(Some(map)) => map.apply(raw),
            _ => self.pooled.apply(raw),
        }
    }
}

/// A value model whose predictions are mapped to calibrated probabilities (model indices as in
/// the catalog the inner model predicts for).
pub struct Calibrated<'a> {
    pub inner: &'a dyn ValueModel,
    pub calibration: &'a Calibration,
}

impl ValueModel for Calibrated<'_> {
    fn predict(&self, state: &State, out: &mut [f32]) {
        self.inner.predict(state, out);
        for (m, q) in out.iter_mut().enumerate() {
            *q = self.calibration.value(m, *q);
        }
    }
}

/// How well probabilities match outcomes: ten equal-width bins of predicted probability with
/// the mean prediction, the observed frequency and the count of each, and the Brier score (mean
/// squared difference between prediction and outcome; 0 is perfect).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reliability {
    /// (mean predicted probability, observed frequency, observations) per bin; empty bins have
    /// count 0.
    pub bins: Vec<(f64, f64, usize)>,
    pub brier: f64,
    /// Mean |predicted - observed| over bins, weighted by their counts (expected calibration
    /// error).
    pub ece: f64,
    pub observations: usize,
}

impl Reliability {
    /// Measures `(probability, gained)` pairs; probabilities are clamped to 0..1.
    pub fn measure(pairs: &[(f32, bool)]) -> Self {
        const BINS: usize = 10;
        let mut acc = vec![(0.0f64, 0.0f64, 0usize); BINS];
        let mut brier = 0.0;
        for &(p, y) in pairs {
            let p = f64::from(p.clamp(0.0, 1.0));
            let y = if y { 1.0 } else { 0.0 };
            brier += (p - y) * (p - y);
            let b = ((p * BINS as f64) as usize).min(BINS - 1);
            acc[b] = (acc[b].0 + p, acc[b].1 + y, acc[b].2 + 1);
        }
        let n = pairs.len();
        let bins: Vec<(f64, f64, usize)> = acc
            .into_iter()
            .map(|(sp, sy, c)| {
                if c == 0 {
                    (0.0, 0.0, 0)
                } else {
                    (sp / c as f64, sy / c as f64, c)
                }
            })
            .collect();
        let ece = bins
            .iter()
            .map(|(p, f, c)| (p - f).abs() * *c as f64)
            .sum::<f64>()
            / n.max(1) as f64;
        Reliability {
            bins,
            brier: brier / n.max(1) as f64,
            ece,
            observations: n,
        }
    }

    /// The bins as a small table (one line per non-empty bin).
    pub fn table(&self) -> String {
        let mut s = format!(
            "  Brier {:.4}, expected calibration error {:.4}, {} observations\n  \
             predicted   observed   count\n",
            self.brier, self.ece, self.observations
        );
        for (p, f, c) in self.bins.iter().filter(|b| b.2 > 0) {
            s.push_str(&format!("  {p:9.3}  {f:9.3}  {c:6}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_fit_is_monotone_and_pools_violators() {
        // Raw 0.1 gains 1 of 4, raw 0.2 gains 0 of 4 (a violation), raw 0.9 gains 4 of 4.
        let mut pts = Vec::new();
        for k in 0..4 {
            pts.push((0.1, k == 0));
            pts.push((0.2, false));
            pts.push((0.9, true));
        }
        let map = IsotonicMap::fit(&pts).unwrap();
        assert_eq!(map.knots.len(), 2, "0.1 and 0.2 pooled: {:?}", map.knots);
        let low = map.apply(0.15);
        assert!((low - (1.0 + 0.5) / 9.0).abs() < 1e-5, "{low}");
        assert!((map.apply(0.9) - 4.5 / 5.0).abs() < 1e-5);
        let mut last = 0.0;
        for k in 0..=100 {
            let p = map.apply(k as f32 / 100.0);
            assert!(p >= last - 1e-6 && (0.0..=1.0).contains(&p));
            last = p;
        }
        assert!(IsotonicMap::fit(&[]).is_none());
    }

    #[test]
    fn calibration_maps_overconfident_scores_to_observed_frequencies() {
        // Model 0 says 0.9 but gains 30% of the time; model 1 has too few observations and
        // falls back to the pooled map.
        let mut obs = Vec::new();
        for k in 0..100 {
            obs.push(Observation {
                model: 0,
                raw: 0.9,
                gained: k % 10 < 3,
            });
            obs.push(Observation {
                model: 0,
                raw: 0.1,
                gained: false,
            });
        }
        obs.push(Observation {
            model: 1,
            raw: 0.9,
            gained: true,
        });
        let c = Calibration::fit(2, &obs, false).unwrap();
        assert!((c.probability(0, 0.9) - 30.5 / 101.0).abs() < 1e-4);
        assert!(c.probability(0, 0.1) < 0.01);
        assert!(c.per_model[1].is_none());
        assert!((c.probability(1, 0.9) - c.pooled.apply(0.9)).abs() < 1e-6);
        // Calibrated probabilities score better than the raw ones.
        let raw: Vec<(f32, bool)> = obs.iter().map(|o| (o.raw, o.gained)).collect();
        let cal: Vec<(f32, bool)> = obs
            .iter()
            .map(|o| (c.probability(o.model, o.raw), o.gained))
            .collect();
        let (r, k) = (Reliability::measure(&raw), Reliability::measure(&cal));
        assert!(k.brier < r.brier, "{} vs {}", k.brier, r.brier);
        assert!(k.ece < 0.05 && r.ece > 0.3, "{} {}", k.ece, r.ece);
    }

    #[test]
    fn reliability_bins_and_brier() {
        let pairs = [(0.05, false), (0.05, false), (0.95, true), (0.95, false)];
        let r = Reliability::measure(&pairs);
        assert_eq!(r.observations, 4);
        assert_eq!((r.bins[0].1, r.bins[0].2), (0.0, 2));
        assert!((r.bins[0].0 - 0.05).abs() < 1e-6);
        assert_eq!(r.bins[9].2, 2);
        assert!((r.bins[9].1 - 0.5).abs() < 1e-9);
        let brier = (0.05f64.powi(2) * 2.0 + 0.05f64.powi(2) + 0.95f64.powi(2)) / 4.0;
        assert!((r.brier - brier).abs() < 1e-6);
        assert!(r.table().contains("Brier"));
    }
}
