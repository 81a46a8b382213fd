//! A small ONNX graph executor on burn: runs the node list read by [`super::onnx`] eagerly, in
//! file order (ONNX files list nodes topologically), on burn tensors on the chosen device.
//!
//! Values are [`Val::F`] (a device float tensor, any rank up to [`MAX_RANK`]) or [`Val::I`]
//! (host integers: shapes, indices, axes), so shape arithmetic (`Shape`, `Gather`, `Slice`,
//! `Concat`, `Cast`, `Unsqueeze`, `Constant`, `ConstantOfShape`, `Range`, …) runs on the CPU and
//! only real data goes to the device. Float tensors are stored as rank-[`MAX_RANK`] burn
//! tensors with leading 1s plus their logical rank, which gives numpy broadcasting for free.
//!
//! At load ([`Graph::load`]): initializers become device tensors once, `Constant` nodes are
//! evaluated, `BatchNormalization` is folded into a per-channel scale and shift, every op is
//! checked against [`SUPPORTED_OPS`] (an unknown op is [`Error::WeightsLoad`] naming the op and
//! the model), and each value's last use is recorded so intermediates are dropped early.
//! A failure while running (a shape the graph does not accept) is [`Error::Model`].
//!
//! Ops: Conv (groups, pads, strides, dilations), ConvTranspose, BatchNormalization, Relu, PRelu,
//! Clip, Sigmoid, HardSigmoid, HardSwish, Add/Sub/Mul/Div/Pow/Sqrt/Exp (broadcast), MatMul,
//! Gemm, Softmax, ReduceMean/ReduceSum, MaxPool, AveragePool, GlobalAveragePool, Pad
//! (constant/reflect/edge), Resize (nearest/linear), Expand, Reshape, Flatten, Transpose,
//! Squeeze/Unsqueeze, Concat, Split, Slice, Gather, Shape, Cast, Constant, ConstantOfShape,
//! Range, Identity, Dropout. Main types: [`Graph`], [`Val`], [`F`].

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid, softmax};
use burn::tensor::module::{avg_pool2d, conv_transpose2d, conv2d, interpolate, max_pool2d};
use burn::tensor::ops::{
    AvgPoolOptions, ConvOptions, ConvTransposeOptions, InterpolateMode, InterpolateOptions,
    MaxPoolOptions, PadMode,
};
use burn::tensor::{Int, TensorData};

use super::onnx::{Attr, OnnxNode, OnnxWeights, TensorValue};
use crate::error::{Error, Result};

/// Highest tensor rank the executor handles.
pub const MAX_RANK: usize = 6;

/// Ops [`Graph`] can run.
pub const SUPPORTED_OPS: &[&str] = &[
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "Div",
    "Dropout",
    "Exp",
    "Expand",
    "Flatten",
    "Gather",
    "Gemm",
    "GlobalAveragePool",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "MatMul",
    "MaxPool",
    "Mul",
    "Pad",
    "Pow",
    "PRelu",
    "Range",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Resize",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Transpose",
    "Unsqueeze",
];

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

    fn with(t: Tensor<MAX_RANK>, rank: usize) -> Self {
        F {
            t,
            rank,
            host: None,
        }
    }

    fn reshaped(&self, dims: &[usize]) -> Self {
        F::with(self.t.clone().reshape(pad_dims(dims)), dims.len())
    }

    /// Scalar host value when this is a one-element constant.
    fn scalar(&self) -> Option<f32> {
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

fn pad_dims(dims: &[usize]) -> [usize; MAX_RANK] {
    let mut out = [1usize; MAX_RANK];
    let off = MAX_RANK - dims.len();
    out[off..].copy_from_slice(dims);
    out
}

/// Normalises a possibly negative axis.
fn axis(a: i64, rank: usize) -> std::result::Result<usize, String> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r.max(1)).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} out of range for rank {rank}"))
    }
}

type R<T> = std::result::Result<T, String>;

/// A loaded ONNX graph, ready to run.
#[derive(Debug)]
pub struct Graph {
    model: String,
    nodes: Vec<OnnxNode>,
    consts: HashMap<String, Val>,
    /// For each node, the values whose last use it is.
    frees: Vec<Vec<String>>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub metadata: Vec<(String, String)>,
    opset: i64,
    device: Device,
}

impl Graph {
    /// Reads `path` and prepares it for `device` (see the module docs).
    pub fn load(model_id: &str, path: &Path, device: &Device) -> Result<Self> {
        let w = OnnxWeights::read(model_id, path)?;
        Self::from_weights(model_id, w, device)
    }

    /// Prepares parsed ONNX for `device`.
    pub fn from_weights(model_id: &str, w: OnnxWeights, device: &Device) -> Result<Self> {
        let fail = |msg: String| Error::WeightsLoad {
            model: model_id.to_owned(),
            msg,
        };
        let unsupported: Vec<&str> = w
            .op_types()
            .into_iter()
            .filter(|op| !SUPPORTED_OPS.contains(op))
            .collect();
        if !unsupported.is_empty() {
            return Err(fail(format!(
                "unsupported ONNX op(s) {} (the graph executor supports {})",
                unsupported.join(", "),
                SUPPORTED_OPS.len()
            )));
        }
        let inputs: Vec<String> = w.data_inputs().into_iter().map(str::to_owned).collect();
        let mut consts: HashMap<String, Val> = HashMap::new();
        for (name, t) in &w.tensors {
            consts.insert(
                name.clone(),
                Val::F(F::from_host(t.values.clone(), &t.dims, device)),
            );
        }
        for (name, t) in &w.ints {
            consts.insert(
                name.clone(),
                Val::I(I {
                    dims: t.dims.clone(),
                    values: t.values.clone(),
                }),
            );
        }
        let mut nodes = Vec::with_capacity(w.nodes.len());
        // Host copies of float `Constant` outputs (BatchNormalization folding reads them).
        let mut const_host: HashMap<String, Vec<f32>> = HashMap::new();
        for node in w.nodes {
            match node.op_type.as_str() {
                "Constant" => {
                    if let (Some(out), Some((_, Attr::Tensor(TensorValue::Float(t))))) =
                        (node.outputs.first(), node.attrs.first())
                    {
                        const_host.insert(out.clone(), t.values.clone());
                    }
                    let v = constant_value(&node, device)
                        .map_err(|m| fail(format!("Constant {}: {m}", node.name)))?;
                    if let Some(out) = node.outputs.first() {
                        consts.insert(out.clone(), v);
                    }
                }
                "BatchNormalization" => {
                    let host = |i: usize| -> R<Vec<f32>> {
                        let name = node.inputs.get(i).ok_or("missing input")?;
                        w.tensors
                            .get(name)
                            .map(|t| t.values.clone())
                            .or_else(|| const_host.get(name).cloned())
                            .ok_or_else(|| format!("{name} is not a constant"))
                    };
                    let fold = || -> R<(Vec<f32>, Vec<f32>)> {
                        let (scale, bias, mean, var) = (host(1)?, host(2)?, host(3)?, host(4)?);
                        let eps = node.float("epsilon", 1e-5);
                        let a: Vec<f32> = scale
                            .iter()
                            .zip(&var)
                            .map(|(s, v)| s / (v + eps).sqrt())
                            .collect();
                        let b = bias
                            .iter()
                            .zip(&mean)
                            .zip(&a)
                            .map(|((b, m), a)| b - m * a)
                            .collect();
                        Ok((a, b))
                    };
                    let (a, b) = fold().map_err(|m| fail(format!("BN {}: {m}", node.name)))?;
                    let c = a.len();
                    let out = node.outputs.first().cloned().unwrap_or_default();
                    let mut folded = node.clone();
                    let (na, nb) = (format!("{out}::bn_a"), format!("{out}::bn_b"));
                    consts.insert(na.clone(), Val::F(F::from_host(a, &[c, 1, 1], device)));
                    consts.insert(nb.clone(), Val::F(F::from_host(b, &[c, 1, 1], device)));
                    folded.inputs = vec![node.inputs[0].clone(), na, nb];
                    nodes.push(folded);
                }
                _ => nodes.push(node),
            }
        }
        // Conv followed by per-channel constant Mul/Add (dlib's affine layers in age/gender):
        // folded into the conv's weight and bias.
        let host = |name: &str| -> Option<(Vec<usize>, Vec<f32>)> {
            w.tensors
                .get(name)
                .map(|t| (t.dims.clone(), t.values.clone()))
                .or_else(|| {
                    let v = const_host.get(name)?;
                    match consts.get(name) {
                        Some(Val::F(f)) => Some((f.dims(), v.clone())),
                        _ => None,
                    }
                })
        };
        let (nodes, folded) = fold_conv_affine(nodes, &w.outputs, host);
        for (name, dims, values) in folded {
            consts.insert(name, Val::F(F::from_host(values, &dims, device)));
        }
        // Last use of each value, to drop intermediates as soon as possible.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            for inp in &n.inputs {
                last.insert(inp.as_str(), i);
            }
        }
        let mut frees = vec![Vec::new(); nodes.len()];
        for (name, i) in last {
            if !w.outputs.iter().any(|o| o == name) && !consts.contains_key(name) {
                frees[i].push(name.to_owned());
            }
        }
        Ok(Graph {
            model: model_id.to_owned(),
            nodes,
            consts,
            frees,
            inputs,
            outputs: w.outputs,
            metadata: w.metadata,
            opset: w.opset,
            device: device.clone(),
        })
    }

    /// Metadata value for `key`.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The device the graph runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs the graph and returns its first output flattened (classifier probabilities and the
    /// like); a missing or unreadable output is [`Error::Inference`] naming the model.
    pub fn run_first_vec(&self, input: Tensor<4>) -> Result<Vec<f32>> {
        let fail = |msg: String| Error::Inference {
            model: self.model.clone(),
            msg,
        };
        self.run(input)?
            .first()
            .ok_or_else(|| fail("no output".to_owned()))?
            .to_vec()
            .map_err(fail)
    }

    /// Runs the graph on its (first) data input and returns the graph outputs as floats.
    pub fn run(&self, input: Tensor<4>) -> Result<Vec<F>> {
        let name = self
            .inputs
            .first()
            .ok_or_else(|| Error::Model(format!("{}: graph has no input", self.model)))?;
        let outs = self.run_with(vec![(name.clone(), Val::F(F::new(input)))])?;
        outs.into_iter()
            .map(|v| match v {
                Val::F(f) => Ok(f),
                Val::I(i) => {
                    let dims = i.dims.clone();
                    Ok(F::from_host(
                        i.values.iter().map(|&x| x as f32).collect(),
                        &dims,
                        &self.device,
                    ))
                }
            })
            .collect()
    }

    /// Runs the graph with named inputs; returns the graph outputs in order.
    pub fn run_with(&self, feeds: Vec<(String, Val)>) -> Result<Vec<Val>> {
        let mut env: HashMap<String, Val> = feeds.into_iter().collect();
        for (i, node) in self.nodes.iter().enumerate() {
            let ins: Vec<Option<Val>> = node
                .inputs
                .iter()
                .map(|n| {
                    if n.is_empty() {
                        None
                    } else {
                        env.get(n).or_else(|| self.consts.get(n)).cloned()
                    }
                })
                .collect();
            let outs = self.exec(node, ins).map_err(|m| {
                Error::Model(format!(
                    "{}: node {:?} ({}): {m}",
                    self.model, node.name, node.op_type
                ))
            })?;
            for name in &self.frees[i] {
                env.remove(name);
            }
            for (name, v) in node.outputs.iter().zip(outs) {
                env.insert(name.clone(), v);
            }
        }
        self.outputs
            .iter()
            .map(|o| {
                env.remove(o)
                    .or_else(|| self.consts.get(o).cloned())
                    .ok_or_else(|| Error::Model(format!("{}: output {o} not computed", self.model)))
            })
            .collect()
    }

    fn exec(&self, n: &OnnxNode, ins: Vec<Option<Val>>) -> R<Vec<Val>> {
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

/// Folds chains `Conv → Mul(c) → Add(d)` (either or both, constants per output channel or
/// scalar, each intermediate used once) into the conv: `W'[o] = W[o]·c[o]`,
/// `b'[o] = b[o]·c[o] + d[o]`. Returns the new node list and the new initializers.
#[allow(clippy::type_complexity)]
fn fold_conv_affine(
    mut nodes: Vec<OnnxNode>,
    outputs: &[String],
    host: impl Fn(&str) -> Option<(Vec<usize>, Vec<f32>)>,
) -> (Vec<OnnxNode>, Vec<(String, Vec<usize>, Vec<f32>)>) {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for n in &nodes {
        for i in &n.inputs {
            *uses.entry(i.clone()).or_default() += 1;
        }
    }
    for o in outputs {
        *uses.entry(o.clone()).or_default() += 1;
    }
    let mut removed = vec![false; nodes.len()];
    let mut new_inits = Vec::new();
    for i in 0..nodes.len() {
        if nodes[i].op_type != "Conv" || removed[i] || nodes[i].inputs.len() < 2 {
            continue;
        }
        let Some((wdims, wvals)) = host(&nodes[i].inputs[1]) else {
            continue;
        };
        let Some(&oc) = wdims.first() else { continue };
        if oc == 0 || wvals.len() % oc != 0 {
            continue;
        }
        let bias = match nodes[i].inputs.get(2).filter(|b| !b.is_empty()) {
            Some(b) => match host(b) {
                Some((_, v)) if v.len() == oc => v,
                _ => continue,
            },
            None => vec![0.0; oc],
        };
        let per_channel = |dims: &[usize], v: &[f32]| -> Option<Vec<f32>> {
            let r = dims.len();
            if v.len() == 1 {
                Some(vec![v[0]; oc])
            } else if v.len() == oc && r >= 3 && dims[r - 3] == oc {
                Some(v.to_vec())
            } else {
                None
            }
        };
        let (mut scale, mut shift) = (vec![1f32; oc], vec![0f32; oc]);
        let mut out = nodes[i].outputs.first().cloned().unwrap_or_default();
        let mut absorbed = Vec::new();
        while uses.get(&out) == Some(&1) {
            let Some(j) = (i + 1..nodes.len()).find(|&j| nodes[j].inputs.contains(&out)) else {
                break;
            };
            let n = &nodes[j];
            if !(n.op_type == "Mul" || n.op_type == "Add") || n.inputs.len() != 2 {
                break;
            }
            let other = if n.inputs[0] == out {
                &n.inputs[1]
            } else {
                &n.inputs[0]
            };
            let Some(c) = host(other).and_then(|(d, v)| per_channel(&d, &v)) else {
                break;
            };
            for o in 0..oc {
                if n.op_type == "Mul" {
                    scale[o] *= c[o];
                    shift[o] *= c[o];
                } else {
                    shift[o] += c[o];
                }
            }
            absorbed.push(j);
            out = n.outputs.first().cloned().unwrap_or_default();
        }
        if absorbed.is_empty() {
            continue;
        }
        let per = wvals.len() / oc;
        let wnew: Vec<f32> = wvals
            .iter()
            .enumerate()
            .map(|(k, v)| v * scale[k / per])
            .collect();
        let bnew: Vec<f32> = (0..oc).map(|o| bias[o] * scale[o] + shift[o]).collect();
        let (wn, bn) = (format!("{out}::folded_w"), format!("{out}::folded_b"));
        new_inits.push((wn.clone(), wdims, wnew));
        new_inits.push((bn.clone(), vec![oc], bnew));
        let x = nodes[i].inputs[0].clone();
        nodes[i].inputs = vec![x, wn, bn];
        nodes[i].outputs = vec![out];
        for j in absorbed {
            removed[j] = true;
        }
    }
    let nodes = nodes
        .into_iter()
        .zip(removed)
        .filter(|(_, r)| !r)
        .map(|(n, _)| n)
        .collect();
    (nodes, new_inits)
}

/// Float view of a value (ints are converted and uploaded).
fn to_f(v: Val, dev: &Device) -> R<F> {
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
fn int_binary(op: &str, a: &I, b: &I) -> R<I> {
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
fn pair(v: Option<&[i64]>, default: usize) -> R<[usize; 2]> {
    match v {
        None => Ok([default; 2]),
        Some([a, b]) if *a >= 0 && *b >= 0 => Ok([*a as usize, *b as usize]),
        Some(other) => Err(format!("expected two spatial values, got {other:?}")),
    }
}

/// Conv padding `[(top, bottom), (left, right)]` from `pads` or `auto_pad`.
fn conv_pads(
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
fn reshape_dims(input: &[usize], shape: &[i64], allow_zero: bool) -> R<Vec<usize>> {
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
fn constant_value(n: &OnnxNode, dev: &Device) -> R<Val> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::zoo::onnx::{OnnxInts, OnnxTensor};

    fn dev() -> Device {
        crate::zoo::device::select_with(crate::zoo::device::DeviceChoice::Cpu)
            .unwrap()
            .device
    }

    fn node(op: &str, ins: &[&str], outs: &[&str], attrs: Vec<(&str, Attr)>) -> OnnxNode {
        OnnxNode {
            op_type: op.to_owned(),
            name: op.to_owned(),
            inputs: ins.iter().map(|s| s.to_string()).collect(),
            outputs: outs.iter().map(|s| s.to_string()).collect(),
            attrs: attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }

    /// A one-node (or few-node) graph with input `x`, output `y` and float initializers.
    fn graph(nodes: Vec<OnnxNode>, inits: Vec<(&str, Vec<usize>, Vec<f32>)>) -> Graph {
        let mut w = OnnxWeights {
            opset: 13,
            ..Default::default()
        };
        w.inputs = vec!["x".to_owned()];
        w.outputs = vec!["y".to_owned()];
        for (name, dims, values) in inits {
            w.tensors
                .insert(name.to_owned(), OnnxTensor { dims, values });
        }
        w.nodes = nodes;
        Graph::from_weights("test", w, &dev()).unwrap()
    }

    fn run(g: &Graph, dims: &[usize], x: Vec<f32>) -> (Vec<usize>, Vec<f32>) {
        let xf = F::from_host(x, dims, g.device());
        let out = g.run_with(vec![("x".to_owned(), Val::F(xf))]).unwrap();
        let y = to_f(out.into_iter().next().unwrap(), g.device()).unwrap();
        let y = F::with(y.t, y.rank);
        (y.dims(), y.to_vec().unwrap())
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-4, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn conv_with_pads_stride_and_bias() {
        // 1x1x3x3 input, 2x2 kernel of ones, pads 1 on top/left only, stride 2, bias 10.
        let g = graph(
            vec![node(
                "Conv",
                &["x", "w", "b"],
                &["y"],
                vec![
                    ("pads", Attr::Ints(vec![1, 1, 0, 0])),
                    ("strides", Attr::Ints(vec![2, 2])),
                ],
            )],
            vec![
                ("w", vec![1, 1, 2, 2], vec![1.0; 4]),
                ("b", vec![1], vec![10.0]),
            ],
        );
        let (d, y) = run(&g, &[1, 1, 3, 3], (1..=9).map(|v| v as f32).collect());
        assert_eq!(d, vec![1, 1, 2, 2]);
        // windows: [1], [2+3], [4+7], [5+6+8+9]
        close(&y, &[11.0, 15.0, 21.0, 38.0]);
    }

    #[test]
    fn conv_mul_add_is_folded() {
        // Conv (2 out channels) → Mul [2,1,1] → Add [1,2,1,1]: one node left, same values.
        let g = graph(
            vec![
                node("Conv", &["x", "w", "b"], &["c"], vec![]),
                node("Mul", &["c", "s"], &["m"], vec![]),
                node("Add", &["d", "m"], &["y"], vec![]),
            ],
            vec![
                ("w", vec![2, 1, 1, 1], vec![1.0, 2.0]),
                ("b", vec![2], vec![1.0, 0.0]),
                ("s", vec![2, 1, 1], vec![3.0, -1.0]),
                ("d", vec![1, 2, 1, 1], vec![0.5, 10.0]),
            ],
        );
        assert_eq!(g.nodes.len(), 1);
        let (d, y) = run(&g, &[1, 1, 1, 2], vec![1.0, 2.0]);
        assert_eq!(d, vec![1, 2, 1, 2]);
        // ch0: (x+1)*3+0.5 → 6.5, 9.5; ch1: 2x*-1+10 → 8, 6
        close(&y, &[6.5, 9.5, 8.0, 6.0]);
    }

    #[test]
    fn depthwise_conv_groups() {
        let g = graph(
            vec![node(
                "Conv",
                &["x", "w"],
                &["y"],
                vec![("group", Attr::Int(2))],
            )],
            vec![("w", vec![2, 1, 1, 1], vec![2.0, -1.0])],
        );
        let (_, y) = run(&g, &[1, 2, 1, 2], vec![1.0, 2.0, 3.0, 4.0]);
        close(&y, &[2.0, 4.0, -3.0, -4.0]);
    }

    #[test]
    fn conv_transpose_stride_2() {
        // 1x1x1x2 input, 2x2 kernel [[1,2],[3,4]], stride 2 → 1x1x2x4.
        let g = graph(
            vec![node(
                "ConvTranspose",
                &["x", "w"],
                &["y"],
                vec![("strides", Attr::Ints(vec![2, 2]))],
            )],
            vec![("w", vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0])],
        );
        let (d, y) = run(&g, &[1, 1, 1, 2], vec![1.0, 10.0]);
        assert_eq!(d, vec![1, 1, 2, 4]);
        close(&y, &[1.0, 2.0, 10.0, 20.0, 3.0, 4.0, 30.0, 40.0]);
    }

    #[test]
    fn batchnorm_is_folded() {
        let g = graph(
            vec![node(
                "BatchNormalization",
                &["x", "s", "b", "m", "v"],
                &["y"],
                vec![("epsilon", Attr::Float(0.0))],
            )],
            vec![
                ("s", vec![2], vec![2.0, 1.0]),
                ("b", vec![2], vec![1.0, 0.0]),
                ("m", vec![2], vec![1.0, 3.0]),
                ("v", vec![2], vec![4.0, 1.0]),
            ],
        );
        let (_, y) = run(&g, &[1, 2, 1, 1], vec![5.0, 5.0]);
        // (5-1)/2*2+1 = 5; (5-3)/1*1+0 = 2
        close(&y, &[5.0, 2.0]);
    }

    #[test]
    fn activations() {
        let x = vec![-4.0, -1.0, 0.0, 1.0, 4.0];
        type Case<'a> = (&'a str, Vec<(&'a str, Attr)>, Vec<f32>);
        let cases: Vec<Case> = vec![
            ("Relu", vec![], vec![0.0, 0.0, 0.0, 1.0, 4.0]),
            (
                "HardSigmoid",
                vec![("alpha", Attr::Float(0.2)), ("beta", Attr::Float(0.5))],
                vec![0.0, 0.3, 0.5, 0.7, 1.0],
            ),
            (
                "HardSwish",
                vec![],
                vec![0.0, -1.0 / 3.0, 0.0, 2.0 / 3.0, 4.0],
            ),
            (
                "Sigmoid",
                vec![],
                x.iter().map(|v: &f32| 1.0 / (1.0 + (-v).exp())).collect(),
            ),
            (
                "Clip",
                vec![("min", Attr::Float(-1.0)), ("max", Attr::Float(2.0))],
                vec![-1.0, -1.0, 0.0, 1.0, 2.0],
            ),
        ];
        for (op, attrs, want) in cases {
            let g = graph(vec![node(op, &["x"], &["y"], attrs)], vec![]);
            let (_, y) = run(&g, &[5], x.clone());
            close(&y, &want);
        }
        // Clip with bounds as inputs (opset 11+), PRelu with per-channel slope.
        let g = graph(
            vec![node("Clip", &["x", "lo", "hi"], &["y"], vec![])],
            vec![("lo", vec![], vec![0.0]), ("hi", vec![], vec![6.0])],
        );
        close(&run(&g, &[2], vec![-3.0, 9.0]).1, &[0.0, 6.0]);
        let g = graph(
            vec![node("PRelu", &["x", "s"], &["y"], vec![])],
            vec![("s", vec![2, 1, 1], vec![0.5, 0.1])],
        );
        close(&run(&g, &[1, 2, 1, 1], vec![-2.0, -10.0]).1, &[-1.0, -1.0]);
    }

    #[test]
    fn broadcast_arithmetic_and_layer_norm_pieces() {
        // [2,3] - mean over last axis, squared, mean, sqrt.
        let g = graph(
            vec![
                node(
                    "ReduceMean",
                    &["x"],
                    &["m"],
                    vec![("axes", Attr::Ints(vec![-1]))],
                ),
                node("Sub", &["x", "m"], &["d"], vec![]),
                node("Pow", &["d", "two"], &["p"], vec![]),
                node(
                    "ReduceMean",
                    &["p"],
                    &["v"],
                    vec![("axes", Attr::Ints(vec![-1]))],
                ),
                node("Sqrt", &["v"], &["s"], vec![]),
                node("Div", &["d", "s"], &["y"], vec![]),
            ],
            vec![("two", vec![], vec![2.0])],
        );
        let (d, y) = run(&g, &[2, 3], vec![1.0, 2.0, 3.0, 0.0, 0.0, 3.0]);
        assert_eq!(d, vec![2, 3]);
        let s1 = (2.0f32 / 3.0).sqrt();
        let s2 = 2.0f32.sqrt();
        close(
            &y,
            &[-1.0 / s1, 0.0, 1.0 / s1, -1.0 / s2, -1.0 / s2, 2.0 / s2],
        );
    }

    #[test]
    fn matmul_gemm_softmax() {
        // [1,2,3] @ [3,2] (batch broadcast).
        let g = graph(
            vec![node("MatMul", &["x", "w"], &["y"], vec![])],
            vec![("w", vec![3, 2], vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0])],
        );
        let (d, y) = run(&g, &[1, 2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(d, vec![1, 2, 2]);
        close(&y, &[4.0, 5.0, 10.0, 11.0]);
        // Gemm transB: x [1,2] · w[2(out),2]^T + c.
        let g = graph(
            vec![node(
                "Gemm",
                &["x", "w", "c"],
                &["y"],
                vec![("transB", Attr::Int(1)), ("alpha", Attr::Float(2.0))],
            )],
            vec![
                ("w", vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]),
                ("c", vec![2], vec![0.5, -0.5]),
            ],
        );
        close(&run(&g, &[1, 2], vec![1.0, 1.0]).1, &[6.5, 13.5]);
        let g = graph(
            vec![node(
                "Softmax",
                &["x"],
                &["y"],
                vec![("axis", Attr::Int(1))],
            )],
            vec![],
        );
        let e = 1.0f32.exp();
        close(
            &run(&g, &[1, 2], vec![0.0, 1.0]).1,
            &[1.0 / (1.0 + e), e / (1.0 + e)],
        );
    }

    #[test]
    fn pools_and_global_average() {
        let x: Vec<f32> = (1..=16).map(|v| v as f32).collect();
        let g = graph(
            vec![node(
                "MaxPool",
                &["x"],
                &["y"],
                vec![
                    ("kernel_shape", Attr::Ints(vec![2, 2])),
                    ("strides", Attr::Ints(vec![2, 2])),
                ],
            )],
            vec![],
        );
        close(
            &run(&g, &[1, 1, 4, 4], x.clone()).1,
            &[6.0, 8.0, 14.0, 16.0],
        );
        let g = graph(
            vec![node(
                "AveragePool",
                &["x"],
                &["y"],
                vec![
                    ("kernel_shape", Attr::Ints(vec![2, 2])),
                    ("strides", Attr::Ints(vec![2, 2])),
                ],
            )],
            vec![],
        );
        close(
            &run(&g, &[1, 1, 4, 4], x.clone()).1,
            &[3.5, 5.5, 11.5, 13.5],
        );
        let g = graph(
            vec![node("GlobalAveragePool", &["x"], &["y"], vec![])],
            vec![],
        );
        let (d, y) = run(&g, &[1, 1, 4, 4], x);
        assert_eq!(d, vec![1, 1, 1, 1]);
        close(&y, &[8.5]);
    }

    #[test]
    fn pad_resize_and_shape_ops() {
        // Zero-pad channels 1 → 3 (age_v1's downsampling skips).
        let mut w = OnnxWeights {
            opset: 13,
            ..Default::default()
        };
        w.inputs = vec!["x".to_owned()];
        w.outputs = vec!["y".to_owned()];
        w.ints.insert(
            "p".to_owned(),
            OnnxInts {
                dims: vec![8],
                values: vec![0, 1, 0, 0, 0, 1, 0, 0],
            },
        );
        w.nodes = vec![node("Pad", &["x", "p"], &["y"], vec![])];
        let g = Graph::from_weights("t", w, &dev()).unwrap();
        let (d, y) = run(&g, &[1, 1, 1, 2], vec![1.0, 2.0]);
        assert_eq!(d, vec![1, 3, 1, 2]);
        close(&y, &[0.0, 0.0, 1.0, 2.0, 0.0, 0.0]);
        // Reflect pad on the last axis.
        let g = graph(
            vec![node(
                "Pad",
                &["x"],
                &["y"],
                vec![
                    ("pads", Attr::Ints(vec![0, 0, 0, 1, 0, 0, 0, 1])),
                    ("mode", Attr::Bytes(b"reflect".to_vec())),
                ],
            )],
            vec![],
        );
        close(
            &run(&g, &[1, 1, 1, 3], vec![1.0, 2.0, 3.0]).1,
            &[2.0, 1.0, 2.0, 3.0, 2.0],
        );
        // Nearest 2x resize (PP-OCR's FPN).
        let g = graph(
            vec![node(
                "Resize",
                &["x", "", "sc"],
                &["y"],
                vec![
                    ("mode", Attr::Bytes(b"nearest".to_vec())),
                    (
                        "coordinate_transformation_mode",
                        Attr::Bytes(b"asymmetric".to_vec()),
                    ),
                ],
            )],
            vec![("sc", vec![4], vec![1.0, 1.0, 2.0, 2.0])],
        );
        let (d, y) = run(&g, &[1, 1, 1, 2], vec![1.0, 2.0]);
        assert_eq!(d, vec![1, 1, 2, 4]);
        close(&y, &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
        // Shape → Slice → Concat(-1) → Reshape (flatten as PP-OCR exports it), then Transpose.
        let mut w = OnnxWeights {
            opset: 13,
            ..Default::default()
        };
        w.inputs = vec!["x".to_owned()];
        w.outputs = vec!["y".to_owned()];
        for (k, v) in [("s0", 0), ("s1", 2), ("m1", -1)] {
            w.ints.insert(
                k.to_owned(),
                OnnxInts {
                    dims: vec![1],
                    values: vec![v],
                },
            );
        }
        w.nodes = vec![
            node("Shape", &["x"], &["sh"], vec![]),
            node("Slice", &["sh", "s0", "s1"], &["hd"], vec![]),
            node(
                "Concat",
                &["hd", "m1"],
                &["ns"],
                vec![("axis", Attr::Int(0))],
            ),
            node("Reshape", &["x", "ns"], &["r"], vec![]),
            node(
                "Transpose",
                &["r"],
                &["y"],
                vec![("perm", Attr::Ints(vec![0, 2, 1]))],
            ),
        ];
        let g = Graph::from_weights("t", w, &dev()).unwrap();
        let (d, y) = run(&g, &[1, 2, 1, 2], vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d, vec![1, 2, 2]);
        close(&y, &[1.0, 3.0, 2.0, 4.0]);
    }

    #[test]
    fn expand_same_pool_and_linear_resize() {
        let mut w = OnnxWeights {
            opset: 13,
            ..Default::default()
        };
        w.inputs = vec!["x".to_owned()];
        w.outputs = vec!["y".to_owned()];
        w.ints.insert(
            "s".to_owned(),
            OnnxInts {
                dims: vec![2],
                values: vec![3, 1],
            },
        );
        w.nodes = vec![node("Expand", &["x", "s"], &["y"], vec![])];
        let g = Graph::from_weights("t", w, &dev()).unwrap();
        let (d, y) = run(&g, &[1, 2], vec![1.0, 2.0]);
        assert_eq!(d, vec![3, 2]);
        close(&y, &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
        // MaxPool 3x3 stride 2 with SAME_UPPER on 3x3: output 2x2, padding 2 in all, (1, 1);
        // windows rows/cols {0,1} and {1,2}.
        let g = graph(
            vec![node(
                "MaxPool",
                &["x"],
                &["y"],
                vec![
                    ("kernel_shape", Attr::Ints(vec![3, 3])),
                    ("strides", Attr::Ints(vec![2, 2])),
                    ("auto_pad", Attr::Bytes(b"SAME_UPPER".to_vec())),
                ],
            )],
            vec![],
        );
        let (d, y) = run(&g, &[1, 1, 3, 3], (1..=9).map(|v| v as f32).collect());
        assert_eq!(d, vec![1, 1, 2, 2]);
        close(&y, &[5.0, 6.0, 8.0, 9.0]);
        // Linear resize, half_pixel: [0, 4] → 4 wide = 0, 1, 3, 4 (edges clamped).
        let g = graph(
            vec![node(
                "Resize",
                &["x", "", "sc"],
                &["y"],
                vec![("mode", Attr::Bytes(b"linear".to_vec()))],
            )],
            vec![("sc", vec![4], vec![1.0, 1.0, 1.0, 2.0])],
        );
        let (d, y) = run(&g, &[1, 1, 1, 2], vec![0.0, 4.0]);
        assert_eq!(d, vec![1, 1, 1, 4]);
        close(&y, &[0.0, 1.0, 3.0, 4.0]);
    }

    #[test]
    fn split_squeeze_gather_flatten() {
        let g = graph(
            vec![
                node("Split", &["x"], &["a", "b"], vec![("axis", Attr::Int(1))]),
                node("Sub", &["b", "a"], &["d"], vec![]),
                node("Flatten", &["d"], &["y"], vec![("axis", Attr::Int(1))]),
            ],
            vec![],
        );
        let (d, y) = run(&g, &[1, 4, 1, 1], vec![1.0, 2.0, 5.0, 7.0]);
        assert_eq!(d, vec![1, 2]);
        close(&y, &[4.0, 5.0]);
        let mut w = OnnxWeights {
            opset: 13,
            ..Default::default()
        };
        w.inputs = vec!["x".to_owned()];
        w.outputs = vec!["y".to_owned()];
        w.ints.insert(
            "i".to_owned(),
            OnnxInts {
                dims: vec![],
                values: vec![-1],
            },
        );
        w.ints.insert(
            "ax".to_owned(),
            OnnxInts {
                dims: vec![1],
                values: vec![0],
            },
        );
        w.nodes = vec![
            node("Gather", &["x", "i"], &["g"], vec![("axis", Attr::Int(1))]),
            node("Unsqueeze", &["g", "ax"], &["u"], vec![]),
            node("Squeeze", &["u", "ax"], &["y"], vec![]),
        ];
        let g = Graph::from_weights("t", w, &dev()).unwrap();
        let (d, y) = run(&g, &[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(d, vec![2]);
        close(&y, &[3.0, 6.0]);
    }

    #[test]
    fn unknown_op_is_a_load_error_naming_it() {
        let w = OnnxWeights {
            nodes: vec![node("LSTM", &["x"], &["y"], vec![])],
            ..Default::default()
        };
        let err = Graph::from_weights("some_model", w, &dev()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::WeightsLoad { .. }), "{msg}");
        assert!(msg.contains("LSTM") && msg.contains("some_model"), "{msg}");
    }
}
