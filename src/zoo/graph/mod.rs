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

//!
//! Files: `value.rs` (the values), `exec.rs` (one arm per op), `fold.rs` (load-time folding),
//! `util.rs` (attribute and shape helpers shared by the arms).

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;

use super::onnx::{Attr, OnnxNode, OnnxWeights, TensorValue};
use crate::error::{Error, Result};

mod exec;
mod fold;
#[cfg(test)]
mod tests;
mod util;
mod value;

use fold::fold_conv_affine;
use util::constant_value;
pub use value::{F, I, MAX_RANK, Val};

/// Ops [`Graph`] can run.
pub const SUPPORTED_OPS: &[&str] = &[
    "Abs",
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
    "Max",
    "MaxPool",
    "Min",
    "Mul",
    "Neg",
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
}
