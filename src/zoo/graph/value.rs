//! The values flowing through a [`super::Graph`]: device float tensors ([`F`]) and host
//! integer tensors ([`I`]), plus the axis helpers every op uses.

use burn::prelude::*;
use burn::tensor::TensorData;

/// Highest tensor rank the executor handles.
pub const MAX_RANK: usize = 6;

/// A float tensor of logical rank `rank` stored as rank [`MAX_RANK`] with leading 1s.
#[derive(Debug, Clone)]
pub struct F {
    pub t: Tensor<MAX_RANK>,
    pub rank: usize,
    /// Host copy of small constants (scalars used as attributes: Clip bounds, Pow exponents,
    /// Resize scales).
    pub host: Option<Vec<f32>>,
}

impl F {
    /// Wraps a rank-`D` tensor.
    pub fn new<const D: usize>(t: Tensor<D>) -> Self {
        F {
            t: t.unsqueeze::<MAX_RANK>(),
            rank: D,
            host: None,
        }
    }

    /// From host data with `dims` (rank ≤ [`MAX_RANK`]).
    pub fn from_host(values: Vec<f32>, dims: &[usize], device: &Device) -> Self {
        let host = (values.len() <= 64).then(|| values.clone());
        let t = Tensor::<MAX_RANK>::from_data(TensorData::new(values, pad_dims(dims)), device);
        F {
            t,
            rank: dims.len(),
            host,
        }
    }

    /// The logical shape.
    pub fn dims(&self) -> Vec<usize> {
        self.t.dims()[MAX_RANK - self.rank..].to_vec()
    }

    /// As a rank-`D` tensor (logical rank must be ≤ `D`; missing leading dims are 1).
    pub fn get<const D: usize>(&self) -> Tensor<D> {
        let all = self.t.dims();
        let mut shape = [1usize; D];
        shape.copy_from_slice(&all[MAX_RANK - D..]);
        self.t.clone().reshape(shape)
    }

    pub(super) fn with(t: Tensor<MAX_RANK>, rank: usize) -> Self {
        F {
            t,
            rank,
            host: None,
        }
    }

    pub(super) fn reshaped(&self, dims: &[usize]) -> Self {
        F::with(self.t.clone().reshape(pad_dims(dims)), dims.len())
    }

    /// Scalar host value when this is a one-element constant.
    pub(super) fn scalar(&self) -> Option<f32> {
        match &self.host {
            Some(v) if v.len() == 1 => Some(v[0]),
            _ => None,
        }
    }

    /// Values on the host (reads the device back).
    pub fn to_vec(&self) -> std::result::Result<Vec<f32>, String> {
        if let Some(h) = &self.host {
            return Ok(h.clone());
        }
        self.t
            .to_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))
    }
}

/// Host integer tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I {
    pub dims: Vec<usize>,
    pub values: Vec<i64>,
}

/// A value flowing through the graph. (A burn tensor handle is large; values are moved a few
/// hundred times per run, so boxing would buy nothing measurable.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Val {
    F(F),
    I(I),
}

pub(super) fn pad_dims(dims: &[usize]) -> [usize; MAX_RANK] {
    let mut out = [1usize; MAX_RANK];
    let off = MAX_RANK - dims.len();
    out[off..].copy_from_slice(dims);
    out
}

/// Normalises a possibly negative axis.
pub(super) fn axis(a: i64, rank: usize) -> std::result::Result<usize, String> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r.max(1)).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} out of range for rank {rank}"))
    }
}
