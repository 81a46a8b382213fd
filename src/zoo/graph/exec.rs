//! One arm per supported op: how a node turns its input values into output values.

use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid, softmax};
use burn::tensor::module::{avg_pool2d, conv_transpose2d, conv2d, interpolate, max_pool2d};
use burn::tensor::ops::{
    AvgPoolOptions, ConvOptions, ConvTransposeOptions, InterpolateMode, InterpolateOptions,
    MaxPoolOptions, PadMode,
};
use burn::tensor::{Int, TensorData};

use super::util::{
    broadcast_pair, conv_pads, int_binary, pair, reshape_dims, resize_bilinear_asymmetric, to_f,
};
use super::value::{F, I, MAX_RANK, Val, axis, pad_dims};
use super::{Graph, R};
use crate::zoo::onnx::{Attr, OnnxNode, TensorValue};

impl Graph {
    pub(super) fn exec(&self, n: &OnnxNode, ins: Vec<Option<Val>>) -> R<Vec<Val>> {
        let dev = &self.device;
        let get = |i: usize| -> R<Val> {
            ins.get(i)
                .cloned()
                .flatten()
                .ok_or_else(|| format!("input {i} missing"))
        };
        let f = |i: usize| -> R<F> { to_f(get(i)?, dev) };
        let ints = |i: usize| -> R<Option<Vec<i64>>> {
            match ins.get(i).cloned().flatten() {
                None => Ok(None),
                Some(Val::I(v)) => Ok(Some(v.values)),
                Some(Val::F(v)) => Ok(Some(v.to_vec()?.iter().map(|&x| x as i64).collect())),
            }
        };
        let one = |v: F| Ok(vec![Val::F(v)]);
        let op = n.op_type.as_str();
        match op {
            "Identity" | "Dropout" => Ok(vec![get(0)?]),
            "Relu" => {
                let x = f(0)?;
                one(F::with(relu(x.t), x.rank))
            }
            "Sigmoid" => {
                let x = f(0)?;
                one(F::with(sigmoid(x.t), x.rank))
            }
            "Exp" => {
                let x = f(0)?;
                one(F::with(x.t.exp(), x.rank))
            }
            "Sqrt" => {
                let x = f(0)?;
                one(F::with(x.t.sqrt(), x.rank))
            }
            "Abs" => {
                let x = f(0)?;
                one(F::with(x.t.abs(), x.rank))
            }
            "Neg" => {
                let x = f(0)?;
                one(F::with(x.t.neg(), x.rank))
            }
            "Max" | "Min" => {
                let (a, b) = (f(0)?, f(1)?);
                let rank = a.rank.max(b.rank);
                let (ta, tb) = broadcast_pair(a.t, b.t);
                let t = if op == "Max" {
                    ta.max_pair(tb)
                } else {
                    ta.min_pair(tb)
                };
                one(F::with(t, rank))
            }
            "HardSigmoid" => {
                let x = f(0)?;
                let (a, b) = (n.float("alpha", 0.2), n.float("beta", 0.5));
                one(F::with(
                    x.t.mul_scalar(a).add_scalar(b).clamp(0.0, 1.0),
                    x.rank,
                ))
            }
            "HardSwish" => {
                let x = f(0)?;
                let g =
                    x.t.clone()
                        .mul_scalar(1.0 / 6.0)
                        .add_scalar(0.5)
                        .clamp(0.0, 1.0);
                one(F::with(x.t * g, x.rank))
            }
            "Clip" => {
                let x = f(0)?;
                let bound = |i: usize, attr: &str| -> R<Option<f32>> {
                    match ins.get(i).cloned().flatten() {
                        Some(v) => {
                            let v = to_f(v, dev)?.to_vec()?;
                            Ok(v.first().copied())
                        }
                        None => Ok(n.attr(attr).map(|_| n.float(attr, 0.0))),
                    }
                };
                let (lo, hi) = (bound(1, "min")?, bound(2, "max")?);
                let mut t = x.t;
                if let Some(lo) = lo {
                    t = t.clamp_min(lo);
                }
                if let Some(hi) = hi {
                    t = t.clamp_max(hi);
                }
                one(F::with(t, x.rank))
            }
            "PRelu" => {
                let x = f(0)?;
                let s = f(1)?;
                let rank = x.rank.max(s.rank);
                let neg = x.t.clone().clamp_max(0.0) * s.t;
                one(F::with(x.t.clamp_min(0.0) + neg, rank))
            }
            "BatchNormalization" => {
                // Folded at load: inputs are (x, scale [C,1,1], shift [C,1,1]).
                let (x, a, b) = (f(0)?, f(1)?, f(2)?);
                one(F::with(x.t * a.t + b.t, x.rank))
            }
            "Add" | "Sub" | "Mul" | "Div" | "Pow" => {
                let (a, b) = (get(0)?, get(1)?);
                if let (Val::I(a), Val::I(b)) = (&a, &b) {
                    return Ok(vec![Val::I(int_binary(op, a, b)?)]);
                }
                let (a, b) = (to_f(a, dev)?, to_f(b, dev)?);
                let rank = a.rank.max(b.rank);
                let t = match (op, b.scalar()) {
                    ("Add", Some(s)) => a.t.add_scalar(s),
                    ("Sub", Some(s)) => a.t.sub_scalar(s),
                    ("Mul", Some(s)) => a.t.mul_scalar(s),
                    ("Div", Some(s)) => a.t.div_scalar(s),
                    ("Pow", Some(2.0)) => a.t.clone() * a.t,
                    ("Pow", Some(s)) => a.t.powf_scalar(s),
                    ("Add", None) => a.t + b.t,
                    ("Sub", None) => a.t - b.t,
                    ("Mul", None) => a.t * b.t,
                    ("Div", None) => a.t / b.t,
                    _ => a.t.powf(b.t),
                };
                one(F::with(t, rank))
            }
            "MatMul" => {
                let (a, b) = (f(0)?, f(1)?);
                if a.rank < 2 || b.rank < 2 {
                    return Err("1-D MatMul operands are not supported".to_owned());
                }
                let (da, db) = (a.t.dims(), b.t.dims());
                let mut sa = [0usize; MAX_RANK];
                let mut sb = [0usize; MAX_RANK];
                for d in 0..MAX_RANK - 2 {
                    let m = da[d].max(db[d]);
                    sa[d] = m;
                    sb[d] = m;
                }
                sa[MAX_RANK - 2..].copy_from_slice(&da[MAX_RANK - 2..]);
                sb[MAX_RANK - 2..].copy_from_slice(&db[MAX_RANK - 2..]);
                let rank = a.rank.max(b.rank);
                let ta = if sa == da { a.t } else { a.t.expand(sa) };
                let tb = if sb == db { b.t } else { b.t.expand(sb) };
                one(F::with(ta.matmul(tb), rank))
            }
            "Gemm" => {
                let (a, b) = (f(0)?.get::<2>(), f(1)?.get::<2>());
                let a = if n.int("transA", 0) != 0 {
                    a.transpose()
                } else {
                    a
                };
                let b = if n.int("transB", 0) != 0 {
                    b.transpose()
                } else {
                    b
                };
                let mut y = a.matmul(b);
                let alpha = n.float("alpha", 1.0);
                if alpha != 1.0 {
                    y = y.mul_scalar(alpha);
                }
                let mut y = F::new(y);
                if let Some(c) = ins.get(2).cloned().flatten() {
                    let c = to_f(c, dev)?;
                    let beta = n.float("beta", 1.0);
                    let ct = if beta != 1.0 {
                        c.t.mul_scalar(beta)
                    } else {
                        c.t
                    };
                    y = F::with(y.t + ct, 2);
                }
                one(y)
            }
            "Softmax" => {
                let x = f(0)?;
                let default = if self.opset >= 13 { -1 } else { 1 };
                let ax = axis(n.int("axis", default), x.rank)?;
                if self.opset < 13 && ax != x.rank - 1 {
                    // Opset < 13: softmax over everything from `axis` on (flattened).
                    let dims = x.dims();
                    let outer: usize = dims[..ax].iter().product();
                    let inner: usize = dims[ax..].iter().product();
                    let y = softmax(x.reshaped(&[outer, inner]).get::<2>(), 1);
                    return one(F::new(y).reshaped(&dims));
                }
                one(F::with(softmax(x.t, MAX_RANK - x.rank + ax), x.rank))
            }
            "ReduceMean" | "ReduceSum" => {
                let x = f(0)?;
                let axes = match n.ints("axes") {
                    Some(a) => a.to_vec(),
                    None => ints(1)?.unwrap_or_else(|| (0..x.rank as i64).collect()),
                };
                let keep = n.int("keepdims", 1) != 0;
                let mut dims = x.dims();
                let mut t = x.t;
                let mut axs: Vec<usize> =
                    axes.iter().map(|&a| axis(a, x.rank)).collect::<R<_>>()?;
                axs.sort_unstable();
                for &a in &axs {
                    let d = MAX_RANK - x.rank + a;
                    t = if op == "ReduceMean" {
                        t.mean_dim(d)
                    } else {
                        t.sum_dim(d)
                    };
                    dims[a] = 1;
                }
                let y = F::with(t, x.rank);
                if keep {
                    one(y)
                } else {
                    let kept: Vec<usize> = dims
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !axs.contains(i))
                        .map(|(_, d)| *d)
                        .collect();
                    one(y.reshaped(&kept))
                }
            }
            "Conv" => {
                let x = f(0)?.get::<4>();
                let w = f(1)?.get::<4>();
                let bias = match ins.get(2).cloned().flatten() {
                    Some(b) => Some(to_f(b, dev)?.get::<1>()),
                    None => None,
                };
                let [_, _, kh, kw] = w.dims();
                let [_, _, h, wd] = x.dims();
                let stride = pair(n.ints("strides"), 1)?;
                let dil = pair(n.ints("dilations"), 1)?;
                let pads = conv_pads(n, [h, wd], [kh, kw], stride, dil)?;
                let group = n.int("group", 1).max(1) as usize;
                let opts = ConvOptions::new_with_padding(stride, pads, dil, group);
                one(F::new(conv2d(x, w, bias, opts)))
            }
            "ConvTranspose" => {
                let x = f(0)?.get::<4>();
                let w = f(1)?.get::<4>();
                let bias = match ins.get(2).cloned().flatten() {
                    Some(b) => Some(to_f(b, dev)?.get::<1>()),
                    None => None,
                };
                let stride = pair(n.ints("strides"), 1)?;
                let dil = pair(n.ints("dilations"), 1)?;
                let out_pad = pair(n.ints("output_padding"), 0)?;
                let pads = n.ints("pads").map(<[i64]>::to_vec).unwrap_or(vec![0; 4]);
                if pads.len() != 4 || pads[0] != pads[2] || pads[1] != pads[3] {
                    return Err(format!("asymmetric ConvTranspose pads {pads:?}"));
                }
                let group = n.int("group", 1).max(1) as usize;
                let opts = ConvTransposeOptions::new(
                    stride,
                    [pads[0] as usize, pads[1] as usize],
                    out_pad,
                    dil,
                    group,
                );
                one(F::new(conv_transpose2d(x, w, bias, opts)))
            }
            "MaxPool" | "AveragePool" => {
                let x = f(0)?.get::<4>();
                let [_, _, h, w] = x.dims();
                let k = pair(n.ints("kernel_shape"), 1)?;
                let s = pair(n.ints("strides"), 1)?;
                let pads = conv_pads(n, [h, w], k, s, [1, 1])?;
                let ceil = n.int("ceil_mode", 0) != 0;
                let y = if op == "MaxPool" {
                    let o = MaxPoolOptions::new(k)
                        .with_stride(s)
                        .with_padding_pairs(pads)
                        .with_ceil_mode(ceil);
                    max_pool2d(x, o)
                } else {
                    let o = AvgPoolOptions::new(k)
                        .with_stride(s)
                        .with_padding_pairs(pads)
                        .with_count_include_pad(n.int("count_include_pad", 0) != 0)
                        .with_ceil_mode(ceil);
                    avg_pool2d(x, o)
                };
                one(F::new(y))
            }
            "GlobalAveragePool" => {
                let x = f(0)?;
                one(F::with(
                    x.t.mean_dim(MAX_RANK - 2).mean_dim(MAX_RANK - 1),
                    x.rank,
                ))
            }
            "Pad" => {
                let x = f(0)?;
                let pads = match n.ints("pads") {
                    Some(p) => p.to_vec(),
                    None => ints(1)?.ok_or("no pads")?,
                };
                let r = x.rank;
                if pads.len() != 2 * r || pads.iter().any(|&p| p < 0) {
                    return Err(format!("pads {pads:?} for rank {r}"));
                }
                let value = match ins.get(2).cloned().flatten() {
                    Some(v) => to_f(v, dev)?.to_vec()?.first().copied().unwrap_or(0.0),
                    None => n.float("value", 0.0),
                };
                let mode = match n.string("mode", "constant").as_str() {
                    "constant" => PadMode::Constant(value),
                    "reflect" => PadMode::Reflect,
                    "edge" => PadMode::Edge,
                    m => return Err(format!("pad mode {m}")),
                };
                let pairs: Vec<(usize, usize)> = (0..r)
                    .map(|i| (pads[i] as usize, pads[i + r] as usize))
                    .collect();
                one(F::with(x.t.pad(pairs, mode), r))
            }
            "Resize" => {
                let x = f(0)?.get::<4>();
                let [_, _, h, w] = x.dims();
                // opset 10: (X, scales); 11+: (X, roi, scales, sizes).
                let (scales_i, sizes_i) = if self.opset < 11 { (1, 9) } else { (2, 3) };
                let size = match ints(sizes_i)? {
                    Some(s) if s.len() == 4 => [s[2] as usize, s[3] as usize],
                    _ => {
                        let sc = match ins.get(scales_i).cloned().flatten() {
                            Some(v) => to_f(v, dev)?.to_vec()?,
                            None => return Err("neither sizes nor scales".to_owned()),
                        };
                        if sc.len() != 4 {
                            return Err(format!("scales {sc:?}"));
                        }
                        [
                            (h as f32 * sc[2]).floor() as usize,
                            (w as f32 * sc[3]).floor() as usize,
                        ]
                    }
                };
                let ctm = n.string("coordinate_transformation_mode", "half_pixel");
                let mode = match n.string("mode", "nearest").as_str() {
                    "nearest" => InterpolateMode::Nearest,
                    "linear" => InterpolateMode::Bilinear,
                    "cubic" => InterpolateMode::Bicubic,
                    m => return Err(format!("resize mode {m}")),
                };
                if ctm == "asymmetric" && matches!(mode, InterpolateMode::Bilinear) {
                    // TensorFlow's ResizeBilinear without half-pixel centres: burn's
                    // interpolate has no such mode, so it is two interpolation matmuls.
                    return one(F::new(resize_bilinear_asymmetric(x, size)));
                }
                let opts = InterpolateOptions::new(mode)
                    .with_align_corners(ctm == "align_corners")
                    .with_output_size(size);
                one(F::new(interpolate(x, opts)))
            }
            "Expand" => {
                let x = f(0)?;
                let shape = ints(1)?.ok_or("no shape")?;
                let dims = x.dims();
                let r = dims.len().max(shape.len());
                if r > MAX_RANK {
                    return Err(format!("rank {r} > {MAX_RANK}"));
                }
                let mut out = vec![1usize; r];
                for (i, o) in out.iter_mut().enumerate() {
                    let a = (i + dims.len()).checked_sub(r).map_or(1, |j| dims[j]);
                    let b = (i + shape.len())
                        .checked_sub(r)
                        .map_or(1, |j| shape[j].max(1) as usize);
                    *o = match (a, b) {
                        (a, b) if a == b || b == 1 => a,
                        (1, b) => b,
                        _ => return Err(format!("cannot expand {dims:?} to {shape:?}")),
                    };
                }
                one(F::with(x.t.expand(pad_dims(&out)), r))
            }
            "Reshape" => {
                let shape = ints(1)?.ok_or("no shape")?;
                let allow_zero = n.int("allowzero", 0) != 0;
                match get(0)? {
                    Val::F(x) => {
                        let d = reshape_dims(&x.dims(), &shape, allow_zero)?;
                        one(x.reshaped(&d))
                    }
                    Val::I(x) => {
                        let d = reshape_dims(&x.dims, &shape, allow_zero)?;
                        Ok(vec![Val::I(I {
                            dims: d,
                            values: x.values,
                        })])
                    }
                }
            }
            "Flatten" => {
                let x = f(0)?;
                let dims = x.dims();
                let ax = if n.int("axis", 1) == dims.len() as i64 {
                    dims.len()
                } else {
                    axis(n.int("axis", 1), dims.len())?
                };
                let a: usize = dims[..ax].iter().product();
                let b: usize = dims[ax..].iter().product();
                one(x.reshaped(&[a, b]))
            }
            "Transpose" => {
                let x = f(0)?;
                let r = x.rank;
                let perm: Vec<i64> = match n.ints("perm") {
                    Some(p) => p.to_vec(),
                    None => (0..r as i64).rev().collect(),
                };
                if perm.len() != r {
                    return Err(format!("perm {perm:?} for rank {r}"));
                }
                let off = MAX_RANK - r;
                let mut p6 = [0usize; MAX_RANK];
                for (i, v) in p6.iter_mut().enumerate() {
                    *v = if i < off {
                        i
                    } else {
                        off + axis(perm[i - off], r)?
                    };
                }
                one(F::with(x.t.permute(p6), r))
            }
            "Squeeze" | "Unsqueeze" => {
                let axes = match n.ints("axes") {
                    Some(a) => Some(a.to_vec()),
                    None => ints(1)?,
                };
                let v = get(0)?;
                let dims = match &v {
                    Val::F(x) => x.dims(),
                    Val::I(x) => x.dims.clone(),
                };
                let new = if op == "Squeeze" {
                    let r = dims.len();
                    let axs: Vec<usize> = match axes {
                        Some(a) => a.iter().map(|&a| axis(a, r)).collect::<R<_>>()?,
                        None => (0..r).filter(|&i| dims[i] == 1).collect(),
                    };
                    dims.iter()
                        .enumerate()
                        .filter(|(i, _)| !axs.contains(i))
                        .map(|(_, d)| *d)
                        .collect::<Vec<_>>()
                } else {
                    let axes = axes.ok_or("no axes")?;
                    let r = dims.len() + axes.len();
                    let axs: Vec<usize> = axes.iter().map(|&a| axis(a, r)).collect::<R<_>>()?;
                    let mut src = dims.iter();
                    (0..r)
                        .map(|i| {
                            if axs.contains(&i) {
                                1
                            } else {
                                src.next().copied().unwrap_or(1)
                            }
                        })
                        .collect()
                };
                if new.len() > MAX_RANK {
                    return Err(format!("rank {} > {MAX_RANK}", new.len()));
                }
                Ok(vec![match v {
                    Val::F(x) => Val::F(x.reshaped(&new)),
                    Val::I(x) => Val::I(I {
                        dims: new,
                        values: x.values,
                    }),
                }])
            }
            "Concat" => {
                let vals: Vec<Val> = ins.iter().flatten().cloned().collect();
                if vals.iter().all(|v| matches!(v, Val::I(_))) {
                    let mut values = Vec::new();
                    for v in vals {
                        if let Val::I(i) = v {
                            values.extend(i.values);
                        }
                    }
                    let len = values.len();
                    return Ok(vec![Val::I(I {
                        dims: vec![len],
                        values,
                    })]);
                }
                let fs: Vec<F> = vals.into_iter().map(|v| to_f(v, dev)).collect::<R<_>>()?;
                let r = fs.first().map_or(1, |x| x.rank);
                let ax = axis(n.int("axis", 0), r)?;
                let ts: Vec<Tensor<MAX_RANK>> = fs.into_iter().map(|x| x.t).collect();
                one(F::with(Tensor::cat(ts, MAX_RANK - r + ax), r))
            }
            "Split" => {
                let x = f(0)?;
                let dims = x.dims();
                let ax = axis(n.int("axis", 0), x.rank)?;
                let parts = n.outputs.len();
                let sizes: Vec<usize> = match n.ints("split") {
                    Some(s) => s.iter().map(|&v| v as usize).collect(),
                    None => match ints(1)? {
                        Some(s) => s.iter().map(|&v| v as usize).collect(),
                        None => vec![dims[ax] / parts.max(1); parts],
                    },
                };
                let d = MAX_RANK - x.rank + ax;
                let mut start = 0;
                let mut out = Vec::new();
                for s in sizes {
                    out.push(Val::F(F::with(x.t.clone().narrow(d, start, s), x.rank)));
                    start += s;
                }
                Ok(out)
            }
            "Slice" => {
                let v = get(0)?;
                let (starts, ends, axes, steps) = if self.opset < 10 {
                    (
                        n.ints("starts").map(<[i64]>::to_vec).ok_or("no starts")?,
                        n.ints("ends").map(<[i64]>::to_vec).ok_or("no ends")?,
                        n.ints("axes").map(<[i64]>::to_vec),
                        None,
                    )
                } else {
                    (
                        ints(1)?.ok_or("no starts")?,
                        ints(2)?.ok_or("no ends")?,
                        ints(3)?,
                        ints(4)?,
                    )
                };
                let dims = match &v {
                    Val::F(x) => x.dims(),
                    Val::I(x) => x.dims.clone(),
                };
                let r = dims.len();
                let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
                let mut ranges: Vec<(usize, usize)> = dims.iter().map(|&d| (0, d)).collect();
                for (k, &a) in axes.iter().enumerate() {
                    if steps
                        .as_ref()
                        .is_some_and(|s| s.get(k).is_some_and(|&s| s != 1))
                    {
                        return Err("Slice steps other than 1 are not supported".to_owned());
                    }
                    let a = axis(a, r)?;
                    let d = dims[a] as i64;
                    let clampi = |v: i64| -> usize {
                        let v = if v < 0 { v + d } else { v };
                        v.clamp(0, d) as usize
                    };
                    let (s, e) = (clampi(starts[k]), clampi(ends[k]));
                    ranges[a] = (s, e.max(s));
                }
                match v {
                    Val::F(x) => {
                        let mut t = x.t;
                        for (a, &(s, e)) in ranges.iter().enumerate() {
                            if (s, e) != (0, dims[a]) {
                                t = t.narrow(MAX_RANK - r + a, s, e - s);
                            }
                        }
                        one(F::with(t, r))
                    }
                    Val::I(x) => {
                        if r != 1 {
                            return Err("Slice of a multi-dimensional int tensor".to_owned());
                        }
                        let (s, e) = ranges[0];
                        Ok(vec![Val::I(I {
                            dims: vec![e - s],
                            values: x.values[s..e].to_vec(),
                        })])
                    }
                }
            }
            "Gather" => {
                let idx = match get(1)? {
                    Val::I(i) => i,
                    Val::F(x) => I {
                        dims: x.dims(),
                        values: x.to_vec()?.iter().map(|&v| v as i64).collect(),
                    },
                };
                match get(0)? {
                    Val::I(data) => {
                        if data.dims.len() > 1 {
                            return Err("Gather on a multi-dimensional int tensor".to_owned());
                        }
                        let len = data.values.len() as i64;
                        let values = idx
                            .values
                            .iter()
                            .map(|&i| {
                                let i = if i < 0 { i + len } else { i };
                                data.values
                                    .get(i as usize)
                                    .copied()
                                    .ok_or("index out of range")
                            })
                            .collect::<std::result::Result<Vec<i64>, &str>>()?;
                        Ok(vec![Val::I(I {
                            dims: idx.dims,
                            values,
                        })])
                    }
                    Val::F(x) => {
                        let dims = x.dims();
                        let ax = axis(n.int("axis", 0), x.rank)?;
                        let len = dims[ax] as i64;
                        let flat: Vec<i64> = idx
                            .values
                            .iter()
                            .map(|&i| if i < 0 { i + len } else { i })
                            .collect();
                        let it = Tensor::<1, Int>::from_data(
                            TensorData::new(flat.clone(), [flat.len()]),
                            dev,
                        );
                        let y = x.t.select(MAX_RANK - x.rank + ax, it);
                        let mut out_dims: Vec<usize> = dims[..ax].to_vec();
                        out_dims.extend(&idx.dims);
                        out_dims.extend(&dims[ax + 1..]);
                        one(F::with(y, x.rank).reshaped(&out_dims))
                    }
                }
            }
            "Shape" => {
                let dims = match get(0)? {
                    Val::F(x) => x.dims(),
                    Val::I(x) => x.dims,
                };
                let r = dims.len() as i64;
                let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
                let s = clampi(n.int("start", 0));
                let e = clampi(n.int("end", r)).max(s);
                let values: Vec<i64> = dims[s..e].iter().map(|&d| d as i64).collect();
                Ok(vec![Val::I(I {
                    dims: vec![values.len()],
                    values,
                })])
            }
            "Cast" => {
                let to = n.int("to", 1);
                let v = get(0)?;
                Ok(vec![match (to, v) {
                    (1 | 10 | 11, v) => Val::F(to_f(v, dev)?),
                    (_, Val::I(i)) => Val::I(i),
                    (_, Val::F(x)) => Val::I(I {
                        dims: x.dims(),
                        values: x.to_vec()?.iter().map(|&v| v as i64).collect(),
                    }),
                }])
            }
            "ConstantOfShape" => {
                let shape: Vec<usize> = ints(0)?
                    .ok_or("no shape")?
                    .iter()
                    .map(|&v| v as usize)
                    .collect();
                let numel: usize = shape.iter().product();
                Ok(vec![match n.attr("value") {
                    Some(Attr::Tensor(TensorValue::Ints(t))) => Val::I(I {
                        dims: shape,
                        values: vec![t.values.first().copied().unwrap_or(0); numel],
                    }),
                    Some(Attr::Tensor(TensorValue::Float(t))) => {
                        let v = t.values.first().copied().unwrap_or(0.0);
                        Val::F(F::with(Tensor::full(pad_dims(&shape), v, dev), shape.len()))
                    }
                    _ => Val::F(F::with(Tensor::zeros(pad_dims(&shape), dev), shape.len())),
                }])
            }
            "Range" => match (get(0)?, get(1)?, get(2)?) {
                (Val::I(s), Val::I(l), Val::I(d)) => {
                    let (s, l, d) = (
                        s.values.first().copied().unwrap_or(0),
                        l.values.first().copied().unwrap_or(0),
                        d.values.first().copied().unwrap_or(1),
                    );
                    if d == 0 {
                        return Err("Range delta 0".to_owned());
                    }
                    let mut values = Vec::new();
                    let mut v = s;
                    while (d > 0 && v < l) || (d < 0 && v > l) {
                        values.push(v);
                        v += d;
                    }
                    Ok(vec![Val::I(I {
                        dims: vec![values.len()],
                        values,
                    })])
                }
                (s, l, d) => {
                    let first = |v: Val| -> R<f32> {
                        to_f(v, dev)?
                            .to_vec()?
                            .first()
                            .copied()
                            .ok_or("empty".to_owned())
                    };
                    let (s, l, d) = (first(s)?, first(l)?, first(d)?);
                    let count = ((l - s) / d).ceil().max(0.0) as usize;
                    let values: Vec<f32> = (0..count).map(|i| s + i as f32 * d).collect();
                    one(F::from_host(values, &[count], dev))
                }
            },
            other => Err(format!("unsupported op {other}")),
        }
    }
}
