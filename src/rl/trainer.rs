//! The DQN training loop: photos of a trace are replayed as episodes (the recorded outputs are
//! the environment), epsilon-greedy on the current network, each step rewarded
//! ln(theta * new value + 1) or -1 when nothing new was found; transitions go to a replay
//! buffer; minibatches fit a Dueling network with burn autodiff and Adam against Double-DQN
//! targets from a periodically synchronised target network. The END action is implicit: its
//! value is 0 (reward 0, terminal), so targets use max(0, Q(s', a*)). Seeded and reproducible.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use super::checkpoint::{CHECKPOINT_VERSION, Checkpoint};
use crate::error::{Error, Result};
use crate::sched::Catalog;
use crate::sched::state::reward;
use crate::sched::trace::{Trace, mix};
use crate::sched::valuenet::{DuelingNet, FastNet, FeatureSet, NetShape, dense_batch};

/// Training settings (stored in the checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub seed: u64,
    /// Passes over the training photos.
    pub epochs: usize,
    /// Discount of future value.
    pub gamma: f32,
    pub lr: f64,
    pub batch: usize,
    pub hidden: usize,
    pub features: FeatureSet,
    /// Exploration rate at the start and the end (linear decay over the epochs).
    pub eps_start: f32,
    pub eps_end: f32,
    /// Gradient steps between target-network syncs.
    pub target_sync: usize,
    /// Replay buffer capacity (transitions).
    pub replay: usize,
    /// Gradient steps after each episode.
    pub updates_per_episode: usize,
    /// Double DQN targets (online network picks, target network values).
    pub double_dqn: bool,
    /// How `rl::retrain` trains (this DQN loop ignores it). Checkpoints written before the
    /// field existed were DQNs.
    #[serde(default)]
    pub method: TrainMethod,
}

/// The training method used by `rl::retrain`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainMethod {
    /// The Dueling Double DQN of [`train`].
    #[default]
    Dqn,
    /// Full-information variants chosen by cross-validation (`rl::supervised`,
    /// `rl::bench::select`), with an early-stop threshold chosen for 99% recall.
    FullInfo,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 7,
            epochs: 40,
            gamma: 0.3,
            lr: 1e-3,
            batch: 64,
            hidden: 256,
            features: FeatureSet::Rich,
            eps_start: 1.0,
            eps_end: 0.05,
            target_sync: 100,
            replay: 50_000,
            updates_per_episode: 4,
            double_dqn: true,
            method: TrainMethod::FullInfo,
        }
    }
}

/// Progress reported after each epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainProgress {
    pub epoch: usize,
    pub epochs: usize,
    pub steps: usize,
    /// Mean minibatch loss of the epoch.
    pub loss: f32,
    pub epsilon: f32,
    /// Mean episode return of the epoch.
    pub mean_return: f32,
}

struct Transition {
    input: Vec<(usize, f32)>,
    action: usize,
    reward: f32,
    next_input: Vec<(usize, f32)>,
    next_available: Vec<usize>,
}

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn argmax_over(q: &[f32], among: &[usize]) -> Option<usize> {
    among
        .iter()
        .copied()
        .max_by(|&a, &b| q[a].total_cmp(&q[b]).then(b.cmp(&a)))
}

/// Trains a value network on `train` for the models and labels of `catalog`.
pub fn train(
    train: &Trace,
    catalog: &Catalog,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&TrainProgress),
    cancel: &AtomicBool,
) -> Result<Checkpoint> {
    if train.photos.is_empty() {
        return Err(Error::Model("no training photos".into()));
    }
    let shape = NetShape {
        labels: catalog.labels.len(),
        models: catalog.models.len(),
        hidden: cfg.hidden,
        features: cfg.features,
    };
    let dim = shape.input_dim();
    let device = Device::flex().autodiff();
    let mut online = DuelingNet::new(shape, cfg.seed, &device);
    let mut optim = AdamConfig::new().init();
    let mut fast: FastNet = online.export(shape)?;
    let mut target: FastNet = fast.clone();
    let mut rng = Rng(cfg.seed ^ 0xD1CE);
    let mut buffer: Vec<Transition> = Vec::new();
    let mut next_slot = 0usize;
    let mut steps = 0usize;
    let mut q = vec![0f32; shape.models];
    let mut order: Vec<usize> = (0..train.photos.len()).collect();

    for epoch in 0..cfg.epochs {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Model("training cancelled".into()));
        }
        let frac = if cfg.epochs > 1 {
            epoch as f32 / (cfg.epochs - 1) as f32
        } else {
            1.0
        };
        let eps = cfg.eps_start + (cfg.eps_end - cfg.eps_start) * frac;
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let (mut loss_sum, mut loss_n, mut ret_sum) = (0f32, 0usize, 0f32);
        for &pi in &order {
            let photo = &train.photos[pi];
            let runs: Vec<Option<&crate::sched::trace::ModelRun>> = catalog
                .models
                .iter()
                .map(|m| photo.runs.iter().find(|r| r.model == m.id))
                .collect();
            let mut state = catalog.new_state(&photo.context);
            for (i, r) in runs.iter().enumerate() {
                if r.is_none() {
                    state.executed[i] = true;
                }
            }
            loop {
                let available: Vec<usize> =
                    (0..shape.models).filter(|&i| !state.executed[i]).collect();
                if available.is_empty() {
                    break;
                }
                let input = shape.sparse_input(&state);
                let action = if rng.unit() < eps {
                    available[rng.below(available.len())]
                } else {
                    fast.q(&input, &mut q);
                    argmax_over(&q, &available).unwrap_or(available[0])
                };
                let Some(run) = runs[action] else {
                    break;
                };
                let m = &catalog.models[action];
                let gain = if run.error.is_none() {
                    state.apply(&catalog.labels, action, &run.outputs, m.threshold)
                } else {
                    state.executed[action] = true;
                    0.0
                };
                let r = reward(gain, m.theta);
                ret_sum += r;
                let t = Transition {
                    input,
                    action,
                    reward: r,
                    next_input: shape.sparse_input(&state),
                    next_available: (0..shape.models).filter(|&i| !state.executed[i]).collect(),
                };
                if buffer.len() < cfg.replay {
                    buffer.push(t);
                } else {
                    buffer[next_slot] = t;
                    next_slot = (next_slot + 1) % cfg.replay;
                }
            }
            if buffer.len() < cfg.batch {
                continue;
            }
            for _ in 0..cfg.updates_per_episode {
                let batch: Vec<&Transition> = (0..cfg.batch)
                    .map(|_| &buffer[rng.below(buffer.len())])
                    .collect();
                let mut targets = Vec::with_capacity(batch.len());
                let mut onehot = vec![0f32; batch.len() * shape.models];
                let mut q_next = vec![0f32; shape.models];
                let mut q_tgt = vec![0f32; shape.models];
                for (k, t) in batch.iter().enumerate() {
                    onehot[k * shape.models + t.action] = 1.0;
                    let future = if t.next_available.is_empty() || cfg.gamma == 0.0 {
                        0.0
                    } else {
                        target.q(&t.next_input, &mut q_tgt);
                        let best = if cfg.double_dqn {
                            fast.q(&t.next_input, &mut q_next);
                            argmax_over(&q_next, &t.next_available).map(|a| q_tgt[a])
                        } else {
                            t.next_available.iter().map(|&a| q_tgt[a]).reduce(f32::max)
                        };
                        // END is always available with value 0.
                        best.unwrap_or(0.0).max(0.0)
                    };
                    targets.push(t.reward + cfg.gamma * future);
                }
                let rows: Vec<&[(usize, f32)]> = batch.iter().map(|t| t.input.as_slice()).collect();
                let x = dense_batch(&rows, dim, &device);
                let n = batch.len();
                let mask =
                    Tensor::<2>::from_data(TensorData::new(onehot, [n, shape.models]), &device);
                let y = Tensor::<2>::from_data(TensorData::new(targets, [n, 1]), &device);
                let q_sa = online.forward(x).mul(mask).sum_dim(1); // [B, 1]
                let loss = q_sa.sub(y).powi_scalar(2).mean(); // [1]
                let loss_value: f32 = loss.clone().into_scalar::<f32>();
                let grads = GradientsParams::from_grads(loss.backward(), &online);
                online = optim.step(cfg.lr, online, grads);
                fast = online.export(shape)?;
                steps += 1;
                if steps.is_multiple_of(cfg.target_sync.max(1)) {
                    target = fast.clone();
                }
                loss_sum += loss_value;
                loss_n += 1;
            }
        }
        progress(&TrainProgress {
            epoch: epoch + 1,
            epochs: cfg.epochs,
            steps,
            loss: loss_sum / loss_n.max(1) as f32,
            epsilon: eps,
            mean_return: ret_sum / order.len().max(1) as f32,
        });
    }
    Ok(Checkpoint {
        version: CHECKPOINT_VERSION,
        labels: catalog.labels.names().to_vec(),
        models: catalog.models.iter().map(|m| m.id.clone()).collect(),
        net: online.export(shape)?,
        config: cfg.clone(),
        metrics: Vec::new(),
        prior: None,
        stop_below: None,
        stop_per_ms: false,
        stop_on: None,
        calibration: None,
        stops: Vec::new(),
        costs: catalog.cost_profile(),
    })
}
