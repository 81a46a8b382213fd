//! An empirical prior of each model's marginal value given which models already ran, measured
//! exactly on training traces: every model ran on every recorded photo, so the value of any
//! subset S of models is known per photo (the labels' best confidences over S), and the gain of
//! model m after S is v(S + m) - v(S). The table holds the mean target of that gain over the
//! training photos for every (S, m). It knows nothing about what the executed models found;
//! a residual network (see `rl::supervised`) adds that.
//!
//! [`PriorTable::conditioned`] adds what the table cannot see: whether each executed model
//! found anything. It keeps the training photos' valuable outputs and, in a state, averages
//! the exact gain over the training photos whose executed models hit and missed exactly as
//! this photo's did, blended with the table by a pseudo-count (`shrink`). A face detector
//! that found no face then makes face-attribute models worthless, a text detector that found
//! nothing does the same for text recognisers, without any rule naming them.
//!
//! Size: 2^n masks x n models. Up to [`MAX_EXACT_MODELS`] models every subset is tabulated;
//! beyond, only the empty set and single models are, and a larger S is bounded by
//! submodularity: gain(m | S) <= min over j in S of gain(m | {j}).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Catalog;
use super::state::{State, reward};
use super::trace::Trace;

/// Largest model count whose every subset is tabulated (2^14 x 14 entries, under 1 MiB).
pub const MAX_EXACT_MODELS: usize = 14;

/// What a value model predicts for running a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The paper's reward: ln(theta * gain + 1), or -1 when nothing new is found.
    Paper,
    /// The expected marginal value itself: theta * gain (0 when nothing new is found).
    Gain,
    /// Whether the model finds anything new (theta when it does, else 0): ranks models by
    /// their chance of being needed at all, which is what the time to 100% recall rewards.
    Hit,
}

impl Target {
    /// The target of gaining `gain` with priority `theta`.
    pub fn of(self, gain: f32, theta: f32) -> f32 {
        match self {
            Target::Paper => reward(gain, theta),
            Target::Gain => theta * gain.max(0.0),
            Target::Hit => {
                if gain > 1e-6 {
                    theta
                } else {
                    0.0
                }
            }
        }
    }
}

/// Mean target of each model given the set of executed models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorTable {
    /// Model ids, in the order of the masks' bits.
    pub models: Vec<String>,
    pub target: Target,
    /// Whether every subset is tabulated (otherwise only the empty set and singletons).
    exact: bool,
    /// Exact: [mask][model]. Otherwise: row 0 = empty set, row 1 + j = {j}.
    table: Vec<f32>,
    /// Conditioning on which executed models found something (absent in older checkpoints).
    #[serde(default)]
    cond: Option<HitConditioning>,
    /// Report the odds p / (1 - p) of a hit instead of its probability p (see
    /// [`PriorTable::ranked_by_odds`]); only meaningful with [`Target::Hit`].
    #[serde(default)]
    odds: bool,
    /// Each model's priority (the hit target is theta when found), for the odds.
    #[serde(default)]
    theta: Vec<f32>,
}

/// Most training photos kept for conditioning (an even, deterministic subsample beyond).
pub const MAX_CONDITIONING_PHOTOS: usize = 2000;

/// Most matching photos one prediction averages over (they are kept in a seeded random order,
/// so the first ones are an unbiased sample): bounds the time per decision.
pub const MAX_MATCHED_PHOTOS: usize = 256;

/// Training photos' outputs kept to condition the prior on the executed models' hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitConditioning {
    /// Pseudo-count of the unconditional table in the blend.
    pub shrink: f32,
    theta: Vec<f32>,
    photos: Vec<RefPhoto>,
}

/// One training photo, compactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RefPhoto {
    /// Bit j set: model j found at least one valuable label.
    hits: u64,
    /// Per model: (photo-local label, best confidence) of its valuable labels.
    outs: Vec<Vec<(u16, f32)>>,
}

/// Per photo: for each model, its valuable labels (label index into a photo-local list, best
/// confidence).
fn photo_outputs(catalog: &Catalog, photo: &super::trace::PhotoTrace) -> Vec<Vec<(usize, f32)>> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    catalog
        .models
        .iter()
        .map(|m| {
            let mut out: Vec<(usize, f32)> = Vec::new();
            if let Some(r) = photo
                .runs
                .iter()
                .find(|r| r.model == m.id && r.error.is_none())
            {
                for o in r.outputs.iter().filter(|o| o.confidence >= m.threshold) {
                    let next = names.len();
                    let k = *names.entry(o.label.as_str()).or_insert(next);
                    match out.iter_mut().find(|(i, _)| *i == k) {
                        Some(e) => e.1 = e.1.max(o.confidence),
                        None => out.push((k, o.confidence)),
                    }
                }
            }
            out
        })
        .collect()
}

/// Value (sum of best confidences) of the models in `mask`.
fn set_value(outs: &[Vec<(usize, f32)>], mask: usize, best: &mut Vec<f32>) -> f32 {
    best.iter_mut().for_each(|b| *b = 0.0);
    for (j, o) in outs.iter().enumerate() {
        if mask & (1 << j) == 0 {
            continue;
        }
        for &(k, c) in o {
            if k >= best.len() {
                best.resize(k + 1, 0.0);
            }
            best[k] = best[k].max(c);
        }
    }
    best.iter().sum()
}

impl PriorTable {
    /// Measures the table on `train` for the models of `catalog`.
    pub fn fit(train: &Trace, catalog: &Catalog, target: Target) -> Self {
        let n = catalog.models.len();
        let exact = n <= MAX_EXACT_MODELS;
        let masks: Vec<usize> = if exact {
            (0..1usize << n).collect()
        } else {
            std::iter::once(0).chain((0..n).map(|j| 1 << j)).collect()
        };
        let mut sum = vec![0f64; masks.len() * n];
        let mut best = Vec::new();
        let mut values = vec![0f32; 1usize << n.min(MAX_EXACT_MODELS)];
        for photo in &train.photos {
            let outs = photo_outputs(catalog, photo);
            let value = |mask: usize, best: &mut Vec<f32>| set_value(&outs, mask, best);
            if exact {
                for (mask, v) in values.iter_mut().enumerate() {
                    *v = value(mask, &mut best);
                }
            }
            for (row, &mask) in masks.iter().enumerate() {
                let base = if exact {
                    values[mask]
                } else {
                    value(mask, &mut best)
                };
                for (m, info) in catalog.models.iter().enumerate() {
                    if mask & (1 << m) != 0 {
                        continue;
                    }
                    let with = if exact {
                        values[mask | (1 << m)]
                    } else {
                        value(mask | (1 << m), &mut best)
                    };
                    sum[row * n + m] += f64::from(target.of(with - base, info.theta));
                }
            }
        }
        let photos = train.photos.len().max(1) as f64;
        PriorTable {
            models: catalog.models.iter().map(|m| m.id.clone()).collect(),
            target,
            exact,
            table: sum.iter().map(|s| (s / photos) as f32).collect(),
            cond: None,
            odds: false,
            theta: catalog.models.iter().map(|m| m.theta).collect(),
        }
    }

    /// The same table reporting odds of a hit, p / (1 - p) (times theta), instead of p. For the
    /// time to find *all* of a photo's labels, swapping two adjacent models a, b in the run order
    /// helps exactly when p_b / ((1 - p_b) c_b) > p_a / ((1 - p_a) c_a) (independent hits,
    /// costs c): ranking by odds per millisecond puts the models almost sure to be needed first,
    /// whatever they cost, where p per millisecond would leave an expensive sure model late.
    /// Has no effect unless the target is [`Target::Hit`].
    pub fn ranked_by_odds(mut self) -> Self {
        self.odds = self.target == Target::Hit;
        self
    }

    /// The same table, conditioned on the executed models' hits with pseudo-count `shrink`
    /// (unchanged beyond 64 models).
    pub fn conditioned(mut self, train: &Trace, catalog: &Catalog, shrink: f32) -> Self {
        let n = catalog.models.len();
        if n > 64 || n != self.models.len() {
            return self;
        }
        let total = train.photos.len();
        let keep = total.min(MAX_CONDITIONING_PHOTOS);
        let mut chosen: Vec<usize> = (0..keep).map(|i| i * total / keep.max(1)).collect();
        // A seeded shuffle, so the first matches of a prediction are a random sample.
        chosen.sort_by_key(|&i| super::trace::mix(i as u64 ^ 0xC0_4D17));
        let photos = chosen
            .into_iter()
            .map(|i| &train.photos[i])
            .map(|photo| {
                let outs: Vec<Vec<(u16, f32)>> = photo_outputs(catalog, photo)
                    .into_iter()
                    .map(|o| {
                        o.into_iter()
                            .filter_map(|(k, c)| u16::try_from(k).ok().map(|k| (k, c)))
                            .collect()
                    })
                    .collect();
                let hits = outs
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| !o.is_empty())
                    .fold(0u64, |a, (j, _)| a | (1 << j));
                RefPhoto { hits, outs }
            })
            .collect();
        self.cond = Some(HitConditioning {
            shrink: shrink.max(0.0),
            theta: catalog.models.iter().map(|m| m.theta).collect(),
            photos,
        });
        self
    }

    /// Prior value of each unexecuted model given which models ran and which of those found
    /// something (`hit`); without conditioning the same as [`PriorTable::values`].
    pub fn values_given(&self, executed: &[bool], hit: &[bool], out: &mut [f32]) {
        self.values(executed, out);
        self.condition(executed, hit, out);
        if self.odds {
            for (m, o) in out.iter_mut().enumerate().take(self.models.len()) {
                let theta = self.theta.get(m).copied().unwrap_or(1.0).max(1e-6);
                let p = (*o / theta).clamp(0.0, 0.99);
                *o = theta * p / (1.0 - p);
            }
        }
    }

    /// Blends `out` (the table's values) with the conditioned estimate, if any.
    fn condition(&self, executed: &[bool], hit: &[bool], out: &mut [f32]) {
        let Some(c) = &self.cond else {
            return;
        };
        let n = self.models.len();
        let (mut e, mut h) = (0u64, 0u64);
        for j in 0..n {
            if executed.get(j).copied().unwrap_or(false) {
                e |= 1 << j;
                if hit.get(j).copied().unwrap_or(false) {
                    h |= 1 << j;
                }
            }
        }
        if e == 0 {
            // Nothing ran: every photo matches, and their mean is the table itself.
            return;
        }
        let mut sum = vec![0f32; n];
        let mut count = 0f32;
        let mut best: Vec<f32> = Vec::new();
        for p in c
            .photos
            .iter()
            .filter(|p| p.hits & e == h)
            .take(MAX_MATCHED_PHOTOS)
        {
            count += 1.0;
            best.iter_mut().for_each(|b| *b = 0.0);
            for (_, o) in p.outs.iter().enumerate().filter(|(j, _)| e & (1 << j) != 0) {
                for &(k, conf) in o {
                    let k = usize::from(k);
                    if k >= best.len() {
                        best.resize(k + 1, 0.0);
                    }
                    best[k] = best[k].max(conf);
                }
            }
            for (m, o) in p.outs.iter().enumerate() {
                if e & (1 << m) != 0 {
                    continue;
                }
                let gain: f32 = o
                    .iter()
                    .map(|&(k, conf)| {
                        (conf - best.get(usize::from(k)).copied().unwrap_or(0.0)).max(0.0)
                    })
                    .sum();
                sum[m] += self.target.of(gain, c.theta[m]);
            }
        }
        if count + c.shrink > 0.0 {
            for m in (0..n).filter(|&m| e & (1 << m) == 0) {
                out[m] = (sum[m] + c.shrink * out[m]) / (count + c.shrink);
            }
        }
    }

    /// Prior value of each model given the models executed in `executed` (same order as
    /// [`PriorTable::models`]); entries of executed models are meaningless.
    pub fn values(&self, executed: &[bool], out: &mut [f32]) {
        let n = self.models.len();
        if self.exact {
            let mask = executed
                .iter()
                .take(n)
                .enumerate()
                .filter(|(_, e)| **e)
                .fold(0usize, |a, (j, _)| a | (1 << j));
            out[..n].copy_from_slice(&self.table[mask * n..(mask + 1) * n]);
        } else {
            out[..n].copy_from_slice(&self.table[..n]);
            for (j, _) in executed.iter().take(n).enumerate().filter(|(_, e)| **e) {
                let row = &self.table[(1 + j) * n..(2 + j) * n];
                for (o, r) in out.iter_mut().zip(row) {
                    *o = o.min(*r);
                }
            }
        }
    }
}

impl super::ValueModel for PriorTable {
    fn predict(&self, state: &State, out: &mut [f32]) {
        self.values_given(&state.executed, &state.hit, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::ValueModel;

    #[test]
    fn the_prior_is_the_mean_exact_gain_and_respects_overlap() {
        let trace = crate::fixtures::synthetic_trace(60, 2);
        let cat = Catalog::from_trace(&trace);
        let n = cat.models.len();
        let p = PriorTable::fit(&trace, &cat, Target::Gain);
        let mut empty = vec![0f32; n];
        p.predict(&cat.new_state(&Default::default()), &mut empty);
        // Alone, each model's prior is its mean standalone value.
        for (m, info) in cat.models.iter().enumerate() {
            let mut total = 0f32;
            for photo in &trace.photos {
                let mut s = cat.new_state(&photo.context);
                if let Some(r) = photo.runs.iter().find(|r| r.model == info.id) {
                    total += s.apply(&cat.labels, m, &r.outputs, info.threshold);
                }
            }
            let mean = total / trace.photos.len() as f32;
            assert!(
                (empty[m] - mean).abs() < 1e-4,
                "{m}: {} vs {mean}",
                empty[m]
            );
        }
        // Submodular: a model is never worth more after others ran.
        let mut after = vec![0f32; n];
        let mut executed = vec![false; n];
        executed[0] = true;
        p.values(&executed, &mut after);
        for m in 1..n {
            assert!(after[m] <= empty[m] + 1e-5, "{m}");
        }
    }

    #[test]
    fn conditioning_on_hits_follows_what_executed_models_found() {
        let trace = crate::fixtures::synthetic_trace(300, 5);
        let cat = Catalog::from_trace(&trace);
        let n = cat.models.len();
        let idx = |id: &str| cat.models.iter().position(|m| m.id == id).unwrap();
        let (faces, age) = (idx("faces"), idx("age"));
        let plain = PriorTable::fit(&trace, &cat, Target::Hit);
        let cond = plain.clone().conditioned(&trace, &cat, 1.0);
        let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
        // Nothing ran: every photo matches, the blend is the table itself.
        let none = vec![false; n];
        plain.values_given(&none, &none, &mut a);
        cond.values_given(&none, &none, &mut b);
        for m in 0..n {
            assert!((a[m] - b[m]).abs() < 1e-4, "{m}: {} vs {}", a[m], b[m]);
        }
        // The face detector ran: the table cannot tell a hit from a miss, conditioning can.
        let mut executed = vec![false; n];
        executed[faces] = true;
        let mut hit = vec![false; n];
        plain.values_given(&executed, &hit, &mut a);
        assert!(a[age] > 0.1, "faces are common: {}", a[age]);
        cond.values_given(&executed, &hit, &mut b);
        assert!(
            b[age] < 0.1 * a[age],
            "no face, no age: {} vs {}",
            b[age],
            a[age]
        );
        hit[faces] = true;
        cond.values_given(&executed, &hit, &mut b);
        assert!(b[age] > 0.95, "every face gets an age: {}", b[age]);
        // Odds of a hit instead of its probability, on top of the conditioning.
        let odds = cond.clone().ranked_by_odds();
        hit[faces] = false;
        cond.values_given(&executed, &hit, &mut a);
        odds.values_given(&executed, &hit, &mut b);
        for m in (0..n).filter(|&m| m != faces) {
            let p = a[m].clamp(0.0, 0.99);
            assert!(
                (b[m] - p / (1.0 - p)).abs() < 1e-4,
                "{m}: {} vs p {}",
                b[m],
                a[m]
            );
        }
        // Old checkpoints (no conditioning stored) still load.
        let mut json = serde_json::to_value(&plain).unwrap();
        for field in ["cond", "odds", "theta"] {
            json.as_object_mut().unwrap().remove(field);
        }
        let back: PriorTable = serde_json::from_value(json).unwrap();
        assert_eq!(
            (&back.table, back.cond.is_none(), back.odds),
            (&plain.table, true, false)
        );
    }
}
