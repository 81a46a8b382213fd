//! Full-information training of the value network ("ours"). A recorded trace holds every
//! model's outputs on every photo, so in any state the true marginal value of *every*
//! unexecuted model is known, not only of the one an episode happened to run. Episodes replay
//! each training photo in a fresh random model order (seeded), and every visited state yields
//! one regression target per unexecuted model: the target of its true gain
//! ([`Target::Gain`] or the paper's reward), minus the empirical [`PriorTable`] when one is
//! used (the network then learns only what the labels found so far and the context add to
//! "which models ran"). Greedy one-step values are what the Cost-Q rule ranks; the DQN's
//! bootstrapped targets add variance without changing that ranking much on a few hundred
//! photos.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use super::checkpoint::{CHECKPOINT_VERSION, Checkpoint};
use super::trainer::{Rng, TrainConfig};
use crate::error::{Error, Result};
use crate::sched::Catalog;
use crate::sched::prior::{PriorTable, Target};
use crate::sched::trace::Trace;
use crate::sched::valuenet::{DuelingNet, FastNet, FeatureSet, NetShape, dense_batch};

/// Settings of one full-information variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisedConfig {
    pub seed: u64,
    /// Random model orders replayed per training photo.
    pub epochs: usize,
    pub lr: f64,
    pub batch: usize,
    /// Hidden units; 0 = no network (the prior alone).
    pub hidden: usize,
    pub features: FeatureSet,
    pub target: Target,
    /// Learn a residual over the empirical prior.
    pub prior: bool,
    /// Condition the prior on which executed models found something, with this pseudo-count
    /// of the unconditional table (see [`PriorTable::conditioned`]); None: unconditioned.
    #[serde(default)]
    pub hit_shrink: Option<f32>,
    /// Rank by the odds of a hit (see [`PriorTable::ranked_by_odds`]); the prior alone only
    /// (`hidden` 0), with the [`Target::Hit`] target.
    #[serde(default)]
    pub odds: bool,
}

impl Default for SupervisedConfig {
    fn default() -> Self {
        SupervisedConfig {
            seed: 7,
            epochs: 100,
            lr: 1e-3,
            batch: 64,
            hidden: 64,
            features: FeatureSet::Rich,
            target: Target::Gain,
            prior: true,
            hit_shrink: None,
            odds: false,
        }
    }
}

struct Sample {
    input: Vec<(usize, f32)>,
    /// (model, target) for every unexecuted model.
    targets: Vec<(usize, f32)>,
}

/// Trains a value model on `train` (every model's outputs must be recorded per photo; a
/// missing run counts as "found nothing").
pub fn train_full_info(
    train: &Trace,
    catalog: &Catalog,
    cfg: &SupervisedConfig,
    cancel: &AtomicBool,
) -> Result<Checkpoint> {
    if train.photos.is_empty() {
        return Err(Error::Model("no training photos".into()));
    }
    let n = catalog.models.len();
    let prior_only = cfg.hidden == 0 || cfg.epochs == 0;
    let prior = cfg.prior.then(|| {
        let table = PriorTable::fit(train, catalog, cfg.target);
        let table = match cfg.hit_shrink {
            Some(k) => table.conditioned(train, catalog, k),
            None => table,
        };
        if cfg.odds && prior_only {
            table.ranked_by_odds()
        } else {
            table
        }
    });
    let shape = NetShape {
        labels: catalog.labels.len(),
        models: n,
        hidden: cfg.hidden.max(1),
        features: cfg.features,
    };
    let config = TrainConfig {
        seed: cfg.seed,
        epochs: cfg.epochs,
        gamma: 0.0,
        lr: cfg.lr,
        batch: cfg.batch,
        hidden: shape.hidden,
        features: cfg.features,
        ..TrainConfig::default()
    };
    let checkpoint = |net: FastNet, prior: Option<PriorTable>| Checkpoint {
        version: CHECKPOINT_VERSION,
        labels: catalog.labels.names().to_vec(),
        models: catalog.models.iter().map(|m| m.id.clone()).collect(),
        net,
        config: config.clone(),
        metrics: Vec::new(),
        prior,
        stop_below: None,
        stop_per_ms: false,
        stop_on: None,
        calibration: None,
        stops: Vec::new(),
        costs: catalog.cost_profile(),
    };
    if prior_only {
        return Ok(checkpoint(FastNet::zeros(shape), prior));
    }
    let dim = shape.input_dim();
    let device = Device::flex().autodiff();
    let mut online = DuelingNet::new(shape, cfg.seed, &device);
    let mut optim = AdamConfig::new().init();
    let mut rng = Rng(cfg.seed ^ 0x5EED_F011);
    let mut order: Vec<usize> = (0..train.photos.len()).collect();
    let mut pv = vec![0f32; n];
    for _ in 0..cfg.epochs {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Model("training cancelled".into()));
        }
        let mut samples: Vec<Sample> = Vec::new();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for &pi in &order {
            let photo = &train.photos[pi];
            let runs: Vec<Option<&crate::sched::trace::ModelRun>> = catalog
                .models
                .iter()
                .map(|m| {
                    photo
                        .runs
                        .iter()
                        .find(|r| r.model == m.id && r.error.is_none())
                })
                .collect();
            let mut models: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                models.swap(i, rng.below(i + 1));
            }
            let mut state = catalog.new_state(&photo.context);
            for &next in &models {
                if let Some(p) = &prior {
                    p.values_given(&state.executed, &state.hit, &mut pv);
                }
                let targets = (0..n)
                    .filter(|&m| !state.executed[m])
                    .map(|m| {
                        let info = &catalog.models[m];
                        let gain = runs[m].map_or(0.0, |r| {
                            state
                                .clone()
                                .apply(&catalog.labels, m, &r.outputs, info.threshold)
                        });
                        let base = if prior.is_some() { pv[m] } else { 0.0 };
                        (m, cfg.target.of(gain, info.theta) - base)
                    })
                    .collect();
                samples.push(Sample {
                    input: shape.sparse_input(&state),
                    targets,
                });
                let info = &catalog.models[next];
                match runs[next] {
                    Some(r) => {
                        state.apply(&catalog.labels, next, &r.outputs, info.threshold);
                    }
                    None => state.executed[next] = true,
                }
            }
        }
        for i in (1..samples.len()).rev() {
            samples.swap(i, rng.below(i + 1));
        }
        for chunk in samples.chunks(cfg.batch.max(1)) {
            let b = chunk.len();
            let mut mask = vec![0f32; b * n];
            let mut y = vec![0f32; b * n];
            for (k, s) in chunk.iter().enumerate() {
                for &(m, t) in &s.targets {
                    mask[k * n + m] = 1.0;
                    y[k * n + m] = t;
                }
            }
            let count = mask.iter().sum::<f32>().max(1.0);
            let rows: Vec<&[(usize, f32)]> = chunk.iter().map(|s| s.input.as_slice()).collect();
            let x = dense_batch(&rows, dim, &device);
            let mask = Tensor::<2>::from_data(TensorData::new(mask, [b, n]), &device);
            let y = Tensor::<2>::from_data(TensorData::new(y, [b, n]), &device);
            let err = online.forward(x).sub(y).mul(mask);
            let loss = err.powi_scalar(2).sum().div_scalar(count);
            let grads = GradientsParams::from_grads(loss.backward(), &online);
            online = optim.step(cfg.lr, online, grads);
        }
    }
    Ok(checkpoint(online.export(shape)?, prior))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::ValueModel;

    #[test]
    fn prior_only_and_residual_training_are_reproducible() {
        let trace = crate::fixtures::synthetic_trace(40, 3);
        let cat = Catalog::from_trace(&trace);
        let cancel = AtomicBool::new(false);
        let prior_only = SupervisedConfig {
            hidden: 0,
            ..SupervisedConfig::default()
        };
        let p = train_full_info(&trace, &cat, &prior_only, &cancel).unwrap();
        let table = PriorTable::fit(&trace, &cat, Target::Gain);
        let state = cat.new_state(&Default::default());
        let (mut a, mut b) = (vec![0f32; cat.models.len()], vec![0f32; cat.models.len()]);
        p.predictor(&cat).predict(&state, &mut a);
        table.predict(&state, &mut b);
        assert_eq!(a, b, "a zero network adds nothing to the prior");
        let cfg = SupervisedConfig {
            epochs: 3,
            hidden: 8,
            ..SupervisedConfig::default()
        };
        let r1 = train_full_info(&trace, &cat, &cfg, &cancel).unwrap();
        let r2 = train_full_info(&trace, &cat, &cfg, &cancel).unwrap();
        assert_eq!(r1, r2);
        let r3 = train_full_info(&trace, &cat, &SupervisedConfig { seed: 8, ..cfg }, &cancel);
        assert_ne!(r1, r3.unwrap());
    }
}
