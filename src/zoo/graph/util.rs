//! Helpers shared by the op arms: value conversion, host integer arithmetic, padding and
//! reshape rules, `Constant` values.

use burn::prelude::*;
use burn::tensor::TensorData;

use super::R;
use super::value::{F, I, MAX_RANK, Val};
use crate::zoo::onnx::{Attr, OnnxNode, TensorValue};

/// Float view of a value (ints are converted and uploaded).
pub(super) fn to_f(v: Val, dev: &Device) -> R<F> {
    match v {
        Val::F(f) => Ok(f),
        Val::I(i) => {
            if i.dims.len() > MAX_RANK {
                return Err(format!("rank {} > {MAX_RANK}", i.dims.len()));
            }
            Ok(F::from_host(
                i.values.iter().map(|&v| v as f32).collect(),
                &i.dims,
                dev,
            ))
        }
    }
}

/// Element-wise arithmetic on host ints (scalar broadcast or equal lengths).
pub(super) fn int_binary(op: &str, a: &I, b: &I) -> R<I> {
    let (big, n) = if a.values.len() >= b.values.len() {
        (a, a.values.len())
    } else {
        (b, b.values.len())
    };
    let at = |v: &I, i: usize| -> R<i64> {
        match v.values.len() {
            1 => Ok(v.values[0]),
            l if l == n => Ok(v.values[i]),
            _ => Err("int broadcast of unequal lengths".to_owned()),
        }
    };
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let (x, y) = (at(a, i)?, at(b, i)?);
        values.push(match op {
            "Add" => x + y,
            "Sub" => x - y,
            "Mul" => x * y,
            "Div" if y != 0 => x / y,
            "Pow" => x.pow(y.clamp(0, 62) as u32),
            _ => return Err(format!("int {op} of {x} and {y}")),
        });
    }
    Ok(I {
        dims: big.dims.clone(),
        values,
    })
}

/// Two spatial values from an optional int list attribute.
pub(super) fn pair(v: Option<&[i64]>, default: usize) -> R<[usize; 2]> {
    match v {
        None => Ok([default; 2]),
        Some([a, b]) if *a >= 0 && *b >= 0 => Ok([*a as usize, *b as usize]),
        Some(other) => Err(format!("expected two spatial values, got {other:?}")),
    }
}

/// Conv padding `[(top, bottom), (left, right)]` from `pads` or `auto_pad`.
pub(super) fn conv_pads(
    n: &OnnxNode,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dil: [usize; 2],
) -> R<[(usize, usize); 2]> {
    let auto = n.string("auto_pad", "NOTSET");
    if auto == "SAME_UPPER" || auto == "SAME_LOWER" {
        let mut out = [(0, 0); 2];
        for i in 0..2 {
            let o = input[i].div_ceil(stride[i]);
            let k = (kernel[i] - 1) * dil[i] + 1;
            let total = ((o - 1) * stride[i] + k).saturating_sub(input[i]);
            let small = total / 2;
            out[i] = if auto == "SAME_UPPER" {
                (small, total - small)
            } else {
                (total - small, small)
            };
        }
        return Ok(out);
    }
    match n.ints("pads") {
        None => Ok([(0, 0); 2]),
        Some([t, l, b, r]) if [t, l, b, r].iter().all(|v| **v >= 0) => {
            Ok([(*t as usize, *b as usize), (*l as usize, *r as usize)])
        }
        Some(p) => Err(format!("pads {p:?}")),
    }
}

/// ONNX Reshape target dims (0 copies the input dim unless `allow_zero`, -1 is inferred).
pub(super) fn reshape_dims(input: &[usize], shape: &[i64], allow_zero: bool) -> R<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &s) in shape.iter().enumerate() {
        out.push(match s {
            -1 => {
                infer = Some(i);
                1
            }
            0 if !allow_zero => *input.get(i).ok_or("0 past the input rank")?,
            s if s >= 0 => s as usize,
            s => return Err(format!("shape value {s}")),
        });
    }
    if let Some(i) = infer {
        let known: usize = out.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {shape:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total || out.len() > MAX_RANK {
        return Err(format!("cannot reshape {input:?} to {shape:?}"));
    }
    Ok(out)
}

/// The value of a `Constant` node.
pub(super) fn constant_value(n: &OnnxNode, dev: &Device) -> R<Val> {
    let (name, a) = n.attrs.first().ok_or("no attribute")?;
    Ok(match (name.as_str(), a) {
        ("value", Attr::Tensor(TensorValue::Float(t))) => {
            Val::F(F::from_host(t.values.clone(), &t.dims, dev))
        }
        ("value", Attr::Tensor(TensorValue::Ints(t))) => Val::I(I {
            dims: t.dims.clone(),
            values: t.values.clone(),
        }),
        ("value_float", Attr::Float(v)) => Val::F(F::from_host(vec![*v], &[], dev)),
        ("value_floats", Attr::Floats(v)) => Val::F(F::from_host(v.clone(), &[v.len()], dev)),
        ("value_int", Attr::Int(v)) => Val::I(I {
            dims: vec![],
            values: vec![*v],
        }),
        ("value_ints", Attr::Ints(v)) => Val::I(I {
            dims: vec![v.len()],
            values: v.clone(),
        }),
        (name, _) => return Err(format!("unsupported Constant attribute {name}")),
    })
}

/// Both tensors expanded to their common (numpy-broadcast) shape, for the ops burn does not
/// broadcast itself (`max_pair`, `min_pair`).
pub(super) fn broadcast_pair(
    a: Tensor<MAX_RANK>,
    b: Tensor<MAX_RANK>,
) -> (Tensor<MAX_RANK>, Tensor<MAX_RANK>) {
    let (da, db) = (a.dims(), b.dims());
    if da == db {
        return (a, b);
    }
    let mut common = [1usize; MAX_RANK];
    for (c, (x, y)) in common.iter_mut().zip(da.iter().zip(&db)) {
        *c = (*x).max(*y);
    }
    let a = if da == common { a } else { a.expand(common) };
    let b = if db == common { b } else { b.expand(common) };
    (a, b)
}

/// The `[out, in]` matrix of 1-D bilinear interpolation with TensorFlow's default
/// coordinates (`align_corners = false`, `half_pixel_centers = false`): output `o` samples
/// input `o · in / out`, clamped at the last sample.
pub(super) fn asymmetric_weights(input: usize, output: usize) -> Vec<f32> {
    let mut m = vec![0f32; output * input];
    let scale = input as f32 / output.max(1) as f32;
    for o in 0..output {
        let x = o as f32 * scale;
        let lo = (x.floor() as usize).min(input.saturating_sub(1));
        let hi = (lo + 1).min(input.saturating_sub(1));
        let t = x - lo as f32;
        m[o * input + lo] += 1.0 - t;
        m[o * input + hi] += t;
    }
    m
}

/// Bilinear resize of `x` `[N, C, H, W]` to `size` with TensorFlow's default (asymmetric)
/// coordinates: rows then columns, each a matmul with [`asymmetric_weights`].
pub(super) fn resize_bilinear_asymmetric(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let dev = x.device();
    let [ho, wo] = size;
    let cols = Tensor::<2>::from_data(TensorData::new(asymmetric_weights(w, wo), [wo, w]), &dev);
    let rows = Tensor::<2>::from_data(TensorData::new(asymmetric_weights(h, ho), [ho, h]), &dev);
    // [N·C·H, W] · [W, Wo] → [N·C, H, Wo]
    let y = x.reshape([n * c * h, w]).matmul(cols.transpose());
    // → [N·C, Wo, H] · [H, Ho] → [N·C, Wo, Ho] → [N, C, Ho, Wo]
    let y = y
        .reshape([n * c, h, wo])
        .swap_dims(1, 2)
        .reshape([n * c * wo, h]);
    let y = y.matmul(rows.transpose()).reshape([n * c, wo, ho]);
    y.swap_dims(1, 2).reshape([n, c, ho, wo])
}
