//! The value network: the paper's Dueling DQN with one hidden layer, in burn for training
//! ([`DuelingNet`], autodiff), and the same weights in a plain sparse form for scheduling
//! ([`FastNet`]): the state vector is mostly zeros, so the first layer only sums the rows of the
//! labels found so far, which keeps a decision far below 0.1 ms.
//!
//! Two input encodings: [`FeatureSet::Paper`] (one bit per valuable label found, as in the
//! paper) and [`FeatureSet::Rich`] (best confidence per label, which models ran, and context
//! features from EXIF and the thumbnail, so the first pick is not blind).

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::state::{CONTEXT_FEATURES, State};
use super::trace::mix;
use crate::error::{Error, Result};

/// How a state is encoded as the network's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureSet {
    /// One bit per label found (the paper).
    Paper,
    /// Best confidences, executed models and context.
    Rich,
}

/// Sizes of a value network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetShape {
    pub labels: usize,
    pub models: usize,
    pub hidden: usize,
    pub features: FeatureSet,
}

impl NetShape {
    /// Length of the input vector.
    pub fn input_dim(&self) -> usize {
        match self.features {
            FeatureSet::Paper => self.labels.max(1),
            FeatureSet::Rich => self.labels + self.models + CONTEXT_FEATURES,
        }
    }

    /// The state's non-zero inputs as (index, value), in index order.
    pub fn sparse_input(&self, state: &State) -> Vec<(usize, f32)> {
        let mut out: Vec<(usize, f32)> = state
            .best
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0.0)
            .map(|(i, c)| match self.features {
                FeatureSet::Paper => (i, 1.0),
                FeatureSet::Rich => (i, *c),
            })
            .collect();
        if self.features == FeatureSet::Rich {
            let base = self.labels;
            out.extend(
                state
                    .executed
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| **e)
                    .map(|(i, _)| (base + i, 1.0)),
            );
            let base = self.labels + self.models;
            out.extend(
                state
                    .context
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0.0)
                    .map(|(i, v)| (base + i, *v)),
            );
        }
        out
    }
}

/// Dueling DQN: Q(s, a) = V(s) + A(s, a) - mean_a A(s, a), over one ReLU hidden layer.
#[derive(Module, Debug)]
pub struct DuelingNet {
    hidden: Linear,
    value: Linear,
    advantage: Linear,
}

fn seeded_linear(d_in: usize, d_out: usize, seed: u64, device: &Device) -> Linear {
    let mut lin = LinearConfig::new(d_in, d_out).init(device);
    // Uniform(-k, k), k = 1/sqrt(d_in), from our own seeded generator: reproducible on every
    // backend.
    let k = 1.0 / (d_in.max(1) as f32).sqrt();
    let mut h = seed;
    let mut uniform = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                h = mix(h);
                ((h >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * k
            })
            .collect()
    };
    let w = uniform(d_in * d_out);
    let b = uniform(d_out);
    lin.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device));
    lin.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(b, [d_out]),
        device,
    )));
    lin
}

impl DuelingNet {
    /// A freshly initialised network (deterministic in `seed`).
    pub fn new(shape: NetShape, seed: u64, device: &Device) -> Self {
        let d = shape.input_dim();
        DuelingNet {
            hidden: seeded_linear(d, shape.hidden, mix(seed ^ 1), device),
            value: seeded_linear(shape.hidden, 1, mix(seed ^ 2), device),
            advantage: seeded_linear(shape.hidden, shape.models, mix(seed ^ 3), device),
        }
    }

    /// `x`: [batch, input] -> Q: [batch, models].
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = relu(self.hidden.forward(x)); // [B, H]
        let v = self.value.forward(h.clone()); // [B, 1]
        let a = self.advantage.forward(h); // [B, M]
        let mean = a.clone().mean_dim(1); // [B, 1]
        a.sub(mean).add(v) // broadcast over M
    }

    /// The weights as a [`FastNet`].
    pub fn export(&self, shape: NetShape) -> Result<FastNet> {
        let data = |t: Tensor<2>| -> Result<Vec<f32>> {
            t.into_data()
                .try_to_vec::<f32>()
                .map_err(|e| Error::Model(format!("cannot read weights: {e:?}")))
        };
        let data1 = |t: Option<&Param<Tensor<1>>>| -> Result<Vec<f32>> {
            match t {
                Some(p) => p
                    .val()
                    .into_data()
                    .try_to_vec::<f32>()
                    .map_err(|e| Error::Model(format!("cannot read weights: {e:?}"))),
                None => Ok(Vec::new()),
            }
        };
        Ok(FastNet {
            shape,
            w1: data(self.hidden.weight.val())?,
            b1: data1(self.hidden.bias.as_ref())?,
            wv: data(self.value.weight.val())?,
            bv: data1(self.value.bias.as_ref())?
                .first()
                .copied()
                .unwrap_or(0.0),
            wa: data(self.advantage.weight.val())?,
            ba: data1(self.advantage.bias.as_ref())?,
        })
    }
}

/// The value network's weights for fast, allocation-light inference on the CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FastNet {
    pub shape: NetShape,
    /// [input][hidden]
    w1: Vec<f32>,
    b1: Vec<f32>,
    /// [hidden]
    wv: Vec<f32>,
    bv: f32,
    /// [hidden][models]
    wa: Vec<f32>,
    ba: Vec<f32>,
}

impl FastNet {
    /// A network that predicts 0 everywhere (a prior alone then decides).
    pub fn zeros(shape: NetShape) -> Self {
        let (d, h, m) = (shape.input_dim(), shape.hidden.max(1), shape.models);
        FastNet {
            shape: NetShape { hidden: h, ..shape },
            w1: vec![0.0; d * h],
            b1: vec![0.0; h],
            wv: vec![0.0; h],
            bv: 0.0,
            wa: vec![0.0; h * m],
            ba: vec![0.0; m],
        }
    }

    /// Q-values for a sparse input.
    pub fn q(&self, input: &[(usize, f32)], out: &mut [f32]) {
        let hdim = self.shape.hidden;
        let m = self.shape.models;
        let mut h = self.b1.clone();
        for &(i, x) in input {
            let row = &self.w1[i * hdim..(i + 1) * hdim];
            for (hj, w) in h.iter_mut().zip(row) {
                *hj += x * w;
            }
        }
        for hj in h.iter_mut() {
            *hj = hj.max(0.0);
        }
        let v = self.bv + h.iter().zip(&self.wv).map(|(a, b)| a * b).sum::<f32>();
        let a = &mut out[..m];
        a.copy_from_slice(&self.ba);
        for (j, hj) in h.iter().enumerate() {
            if *hj == 0.0 {
                continue;
            }
            let row = &self.wa[j * m..(j + 1) * m];
            for (ak, w) in a.iter_mut().zip(row) {
                *ak += hj * w;
            }
        }
        let mean = a.iter().sum::<f32>() / m.max(1) as f32;
        for ak in a.iter_mut() {
            *ak += v - mean;
        }
    }

    /// Q-values of a state.
    pub fn predict_state(&self, state: &State, out: &mut [f32]) {
        self.q(&self.shape.sparse_input(state), out);
    }
}

impl super::ValueModel for FastNet {
    fn predict(&self, state: &State, out: &mut [f32]) {
        self.predict_state(state, out);
    }
}

/// Dense batch input for the burn network from sparse rows.
pub fn dense_batch(rows: &[&[(usize, f32)]], dim: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0f32; rows.len() * dim];
    for (r, row) in rows.iter().enumerate() {
        for &(i, x) in row.iter() {
            v[r * dim + i] = x;
        }
    }
    Tensor::from_data(TensorData::new(v, [rows.len(), dim]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::trace::Context;

    #[test]
    fn fast_inference_matches_burn() {
        let device = Device::flex();
        let shape = NetShape {
            labels: 7,
            models: 4,
            hidden: 16,
            features: FeatureSet::Rich,
        };
        let net = DuelingNet::new(shape, 42, &device);
        let fast = net.export(shape).unwrap();
        let mut s = State::new(
            7,
            4,
            &Context {
                gps: true,
                ..Context::default()
            },
        );
        s.best[2] = 0.8;
        s.best[5] = 0.6;
        s.executed[1] = true;
        let input = shape.sparse_input(&s);
        let q_burn = net
            .forward(dense_batch(&[&input], shape.input_dim(), &device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let mut q_fast = vec![0.0; 4];
        fast.q(&input, &mut q_fast);
        for (a, b) in q_burn.iter().zip(&q_fast) {
            assert!((a - b).abs() < 1e-5, "{q_burn:?} vs {q_fast:?}");
        }
        // Same seed, same weights.
        assert_eq!(
            DuelingNet::new(shape, 42, &device).export(shape).unwrap(),
            fast
        );
        assert_ne!(
            DuelingNet::new(shape, 43, &device).export(shape).unwrap(),
            fast
        );
    }
}
