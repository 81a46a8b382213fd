//! TensorFlow ops to the executor's ONNX-op IR, so that tfjs models run on the same op
//! implementations as ONNX ones ([`crate::zoo::graph`]).
//!
//! TF is NHWC with HWIO filters; the executor's convolutions, pools and resizes are NCHW. A
//! layout pass tracks, for every 4-D value, whether it is stored *physically NCHW* (while
//! logically still the NHWC tensor TF means): convolutions, pools and resizes produce NCHW;
//! element-wise ops, reductions (axes remapped), concatenation (axis remapped), padding
//! (rows permuted) and softmax work on it as it is; constants that meet an NCHW value are
//! permuted once, at load. Only where the physical order matters (reshape, squeeze, matmul,
//! graph outputs, …) is a `Transpose` back to NHWC inserted, once per value. A MobileNet runs
//! with two transposes in all. Filters are permuted at load (HWIO → OIHW, depthwise
//! HW(C·M) → (C·M)1HW with `group = C`), fused ops (`BiasAdd`, `Relu`, `Relu6`, `LeakyRelu`,
//! `Prelu`, `FusedBatchNorm`) become the conv's bias and following nodes, TF `SAME` padding
//! is `SAME_UPPER` (asymmetric at stride 2, as TF pads), and ResizeBilinear's
//! `align_corners` / `half_pixel_centers` pick the coordinate mode.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::model::{TfConst, TfData, TfNode, TfjsModel};
use crate::zoo::onnx::{Attr, OnnxInts, OnnxNode, OnnxTensor, OnnxWeights};

type R<T> = std::result::Result<T, String>;

/// TF ops [`translate`] handles.
pub const TF_OPS: &[&str] = &[
    "Add",
    "AddV2",
    "AvgPool",
    "BiasAdd",
    "Cast",
    "ConcatV2",
    "Const",
    "Conv2D",
    "DepthwiseConv2dNative",
    "Exp",
    "ExpandDims",
    "FusedBatchNorm",
    "FusedBatchNormV3",
    "FusedDepthwiseConv2dNative",
    "Identity",
    "MatMul",
    "MaxPool",
    "Maximum",
    "Mean",
    "Minimum",
    "Mul",
    "Neg",
    "Pad",
    "PadV2",
    "Placeholder",
    "RealDiv",
    "Relu",
    "Relu6",
    "Reshape",
    "ResizeBilinear",
    "Rsqrt",
    "Sigmoid",
    "Softmax",
    "Sqrt",
    "Square",
    "SquaredDifference",
    "Squeeze",
    "StopGradient",
    "Sub",
    "Sum",
    "Unpack",
    "Abs",
    "_FusedConv2D",
    "_FusedMatMul",
];

/// Logical NHWC axis → physical axis of an NCHW-stored value.
const TO_PHYSICAL: [usize; 4] = [0, 2, 3, 1];
/// Physical NCHW axis → logical NHWC axis.
const TO_LOGICAL: [usize; 4] = [0, 3, 1, 2];

#[derive(Debug, Clone, Copy, Default)]
struct Info {
    rank: Option<usize>,
    /// Stored physically NCHW (rank 4 only).
    nchw: bool,
}

/// The subgraph of `model` that computes `outputs` (TF node names, `name` or `name:k`), as
/// executor IR. Graph inputs are the `Placeholder`s it needs, outputs are NHWC as in TF.
pub fn translate(model: &TfjsModel, outputs: &[&str]) -> R<OnnxWeights> {
    let order = ancestors(model, outputs)?;
    let unknown: Vec<&str> = order
        .iter()
        .map(|n| n.op.as_str())
        .filter(|op| !TF_OPS.contains(op))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "unsupported TensorFlow op(s) {} on the way to {}",
            unknown.join(", "),
            outputs.join(", ")
        ));
    }
    let mut t = Translator {
        model,
        out: OnnxWeights {
            opset: 13,
            ..OnnxWeights::default()
        },
        info: HashMap::new(),
        converted: HashMap::new(),
        fresh: 0,
    };
    for n in order {
        t.node(n)
            .map_err(|e| format!("{} ({}): {e}", n.name, n.op))?;
    }
    for o in outputs {
        let o = o.strip_suffix(":0").unwrap_or(o);
        let v = t.nhwc(o)?;
        t.out.outputs.push(v);
    }
    Ok(t.out)
}

/// The nodes `outputs` depend on, each after its inputs (iterative: a hostile file may nest
/// deeply); a cycle or a reference to a missing node is an error.
fn ancestors<'m>(model: &'m TfjsModel, outputs: &[&str]) -> R<Vec<&'m TfNode>> {
    let by_name: HashMap<&str, &TfNode> =
        model.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let base = |v: &str| -> String {
        match v.rsplit_once(':') {
            Some((b, k)) if k.bytes().all(|c| c.is_ascii_digit()) => b.to_owned(),
            _ => v.to_owned(),
        }
    };
    let mut done: HashSet<&str> = HashSet::new();
    let mut open: HashSet<&str> = HashSet::new();
    let mut order = Vec::new();
    for out in outputs {
        let root = base(out);
        let root = *by_name
            .get(root.as_str())
            .ok_or_else(|| format!("the model has no node {out}"))?;
        let mut stack: Vec<(&TfNode, usize)> = vec![(root, 0)];
        while let Some((n, k)) = stack.pop() {
            if k == 0 {
                if done.contains(n.name.as_str()) {
                    continue;
                }
                if !open.insert(n.name.as_str()) {
                    return Err(format!("the graph has a cycle through {}", n.name));
                }
            }
            if let Some(input) = n.inputs.get(k) {
                stack.push((n, k + 1));
                let b = base(input);
                let dep = *by_name
                    .get(b.as_str())
                    .ok_or_else(|| format!("node {} reads missing node {input}", n.name))?;
                if !done.contains(dep.name.as_str()) {
                    if open.contains(dep.name.as_str()) {
                        return Err(format!("the graph has a cycle through {}", dep.name));
                    }
                    stack.push((dep, 0));
                }
            } else {
                open.remove(n.name.as_str());
                done.insert(n.name.as_str());
                order.push(n);
            }
        }
    }
    Ok(order)
}

struct Translator<'m> {
    model: &'m TfjsModel,
    out: OnnxWeights,
    info: HashMap<String, Info>,
    /// (value, to NCHW?) → the converted value's name.
    converted: HashMap<(String, bool), String>,
    fresh: usize,
}

impl Translator<'_> {
    fn info(&self, v: &str) -> Info {
        self.info.get(v).copied().unwrap_or_default()
    }

    fn is_const(&self, v: &str) -> bool {
        self.model.consts.contains_key(v)
    }

    fn konst(&self, v: &str) -> R<&TfConst> {
        self.model
            .consts
            .get(v)
            .ok_or_else(|| format!("{v} must be a constant"))
    }

    fn const_ints(&self, v: &str) -> R<Vec<i64>> {
        match &self.konst(v)?.data {
            TfData::I(i) => Ok(i.clone()),
            TfData::F(f) => Ok(f.iter().map(|&x| x as i64).collect()),
        }
    }

    fn const_floats(&self, v: &str) -> R<Vec<f32>> {
        match &self.konst(v)?.data {
            TfData::F(f) => Ok(f.clone()),
            TfData::I(i) => Ok(i.iter().map(|&x| x as f32).collect()),
        }
    }

    fn name(&mut self, base: &str, what: &str) -> String {
        self.fresh += 1;
        format!("{base}::{what}{}", self.fresh)
    }

    fn add_float(&mut self, name: String, dims: Vec<usize>, values: Vec<f32>) -> String {
        self.info.insert(
            name.clone(),
            Info {
                rank: Some(dims.len()),
                nchw: false,
            },
        );
        self.out
            .tensors
            .insert(name.clone(), OnnxTensor { dims, values });
        name
    }

    fn add_ints(&mut self, name: String, dims: Vec<usize>, values: Vec<i64>) -> String {
        self.out
            .ints
            .insert(name.clone(), OnnxInts { dims, values });
        name
    }

    fn emit(&mut self, op: &str, inputs: Vec<String>, output: &str, attrs: Vec<(&str, Attr)>) {
        self.out.nodes.push(OnnxNode {
            op_type: op.to_owned(),
            name: output.to_owned(),
            inputs,
            outputs: vec![output.to_owned()],
            attrs: attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        });
    }

    fn set(&mut self, v: &str, rank: Option<usize>, nchw: bool) {
        self.info.insert(v.to_owned(), Info { rank, nchw });
    }

    /// `v` stored NHWC (a transpose inserted once when it is NCHW).
    fn nhwc(&mut self, v: &str) -> R<String> {
        if !self.info(v).nchw {
            return Ok(v.to_owned());
        }
        if let Some(c) = self.converted.get(&(v.to_owned(), false)) {
            return Ok(c.clone());
        }
        let out = format!("{v}::nhwc");
        self.emit(
            "Transpose",
            vec![v.to_owned()],
            &out,
            vec![("perm", Attr::Ints(vec![0, 2, 3, 1]))],
        );
        self.set(&out, Some(4), false);
        self.converted.insert((v.to_owned(), false), out.clone());
        Ok(out)
    }

    /// `v` stored NCHW: a transpose for a computed value, a permuted copy for a constant
    /// (broadcast to rank 4 first), `v` itself for a scalar.
    fn nchw(&mut self, v: &str) -> R<String> {
        let info = self.info(v);
        if info.nchw {
            return Ok(v.to_owned());
        }
        if let Some(c) = self.converted.get(&(v.to_owned(), true)) {
            return Ok(c.clone());
        }
        let out = if let Some(c) = self.model.consts.get(v) {
            let n: usize = c.dims.iter().product();
            if n == 1 {
                return self.plain(v);
            }
            if c.dims.len() > 4 {
                return Err(format!(
                    "constant {v} of rank {} meets a 4-D value",
                    c.dims.len()
                ));
            }
            let mut d = vec![1usize; 4 - c.dims.len()];
            d.extend(&c.dims);
            let vals = permute(&self.const_floats(v)?, &d, &[0, 3, 1, 2]);
            let name = format!("{v}::nchw");
            self.add_float(name, vec![d[0], d[3], d[1], d[2]], vals)
        } else {
            if info.rank != Some(4) {
                return Err(format!("{v} is not 4-D"));
            }
            let out = format!("{v}::nchw");
            self.emit(
                "Transpose",
                vec![v.to_owned()],
                &out,
                vec![("perm", Attr::Ints(vec![0, 3, 1, 2]))],
            );
            out
        };
        self.set(&out, Some(4), true);
        self.converted.insert((v.to_owned(), true), out.clone());
        Ok(out)
    }

    /// `v` as an executor input as it is (a constant is registered on first use).
    fn plain(&mut self, v: &str) -> R<String> {
        if let Some(c) = self.model.consts.get(v) {
            if !self.out.tensors.contains_key(v) && !self.out.ints.contains_key(v) {
                let c = c.clone();
                match c.data {
                    TfData::F(f) => {
                        self.add_float(v.to_owned(), c.dims, f);
                    }
                    TfData::I(i) => {
                        self.add_ints(v.to_owned(), c.dims.clone(), i);
                        self.set(v, Some(c.dims.len()), false);
                    }
                }
            }
        } else if !self.info.contains_key(v) {
            return Err(format!(
                "{v} is not computed (multi-output nodes are not supported)"
            ));
        }
        Ok(v.to_owned())
    }

    fn input(&self, n: &TfNode, i: usize) -> R<String> {
        n.inputs
            .get(i)
            .cloned()
            .ok_or_else(|| format!("input {i} missing"))
    }

    fn node(&mut self, n: &TfNode) -> R<()> {
        let out = n.name.as_str();
        match n.op.as_str() {
            "Const" => {
                self.konst(out)?;
            }
            "Placeholder" => {
                let rank = shape_attr(n).map(|s| s.len());
                self.out.inputs.push(out.to_owned());
                self.set(out, rank, false);
            }
            "Identity" | "StopGradient" => {
                let x = self.input(n, 0)?;
                let x = self.plain(&x)?;
                let i = self.info(&x);
                self.emit("Identity", vec![x], out, vec![]);
                self.set(out, i.rank, i.nchw);
            }
            "Cast" => self.cast(n)?,
            "Unpack" => self.unpack(n)?,
            "Conv2D" | "_FusedConv2D" | "DepthwiseConv2dNative" | "FusedDepthwiseConv2dNative" => {
                self.conv(n)?
            }
            "MatMul" | "_FusedMatMul" => self.matmul(n)?,
            "BiasAdd" | "Add" | "AddV2" | "Sub" | "Mul" | "RealDiv" | "Maximum" | "Minimum"
            | "SquaredDifference" => self.binary(n)?,
            "Relu" | "Relu6" | "Sigmoid" | "Sqrt" | "Rsqrt" | "Square" | "Exp" | "Abs" | "Neg" => {
                let x = self.input(n, 0)?;
                let x = self.plain(&x)?;
                let i = self.info(&x);
                self.unary(&n.op, x, out)?;
                self.set(out, i.rank, i.nchw);
            }
            "FusedBatchNorm" | "FusedBatchNormV3" => {
                let (a, b) = self.batch_norm(n, 1)?;
                let x = self.input(n, 0)?;
                let x = self.plain(&x)?;
                let i = self.info(&x);
                let c = a.len();
                let (an, bn) = (self.name(out, "bn_a"), self.name(out, "bn_b"));
                let shape = if i.nchw { vec![c, 1, 1] } else { vec![c] };
                let an = self.add_float(an, shape.clone(), a);
                let bn = self.add_float(bn, shape, b);
                let mid = self.name(out, "bn_mul");
                self.emit("Mul", vec![x, an], &mid, vec![]);
                self.emit("Add", vec![mid, bn], out, vec![]);
                self.set(out, i.rank, i.nchw);
            }
            "Mean" | "Sum" => self.reduce(n)?,
            "MaxPool" | "AvgPool" => {
                let x = self.input(n, 0)?;
                let x = self.nchw(&x)?;
                let k = spatial(n, "ksize")?;
                let s = spatial(n, "strides")?;
                let mut attrs = vec![
                    ("kernel_shape", Attr::Ints(k.to_vec())),
                    ("strides", Attr::Ints(s.to_vec())),
                ];
                attrs.extend(padding(n)?);
                let op = if n.op == "MaxPool" {
                    "MaxPool"
                } else {
                    "AveragePool"
                };
                self.emit(op, vec![x], out, attrs);
                self.set(out, Some(4), true);
            }
            "Pad" | "PadV2" => {
                let x = self.input(n, 0)?;
                let p = self.const_ints(&self.input(n, 1)?)?;
                let value = match n.inputs.get(2) {
                    Some(v) => self.const_floats(v)?.first().copied().unwrap_or(0.0),
                    None => 0.0,
                };
                let nchw = self.info(&x).nchw;
                let x = self.plain(&x)?;
                let r = p.len() / 2;
                let (mut begin, mut end) = (vec![0; r], vec![0; r]);
                for phys in 0..r {
                    let logical = if nchw { TO_LOGICAL[phys] } else { phys };
                    begin[phys] = p[2 * logical];
                    end[phys] = p[2 * logical + 1];
                }
                begin.extend(end);
                let attrs = vec![("pads", Attr::Ints(begin)), ("value", Attr::Float(value))];
                self.emit("Pad", vec![x], out, attrs);
                self.set(out, Some(r), nchw);
            }
            "ResizeBilinear" => {
                let x = self.input(n, 0)?;
                let x = self.nchw(&x)?;
                let size = self.const_ints(&self.input(n, 1)?)?;
                if size.len() != 2 {
                    return Err(format!("size {size:?}"));
                }
                let sizes = self.name(out, "sizes");
                let sizes = self.add_ints(sizes, vec![4], vec![1, 1, size[0], size[1]]);
                let ctm = if attr_bool(n, "align_corners") {
                    "align_corners"
                } else if attr_bool(n, "half_pixel_centers") {
                    "half_pixel"
                } else {
                    "asymmetric"
                };
                let attrs = vec![
                    ("mode", Attr::Bytes(b"linear".to_vec())),
                    ("coordinate_transformation_mode", Attr::Bytes(ctm.into())),
                ];
                self.emit(
                    "Resize",
                    vec![x, String::new(), String::new(), sizes],
                    out,
                    attrs,
                );
                self.set(out, Some(4), true);
            }
            "ConcatV2" => {
                let k = n.inputs.len().checked_sub(1).ok_or("no axis input")?;
                let axis = *self.const_ints(&n.inputs[k])?.first().ok_or("empty axis")?;
                let parts: Vec<String> = n.inputs[..k].to_vec();
                let any_nchw = parts.iter().any(|p| self.info(p).nchw);
                let all4 = parts.iter().all(|p| {
                    self.info(p).rank == Some(4)
                        || self.model.consts.get(p).is_some_and(|c| c.dims.len() == 4)
                });
                let rank = parts
                    .iter()
                    .find_map(|p| {
                        self.info(p)
                            .rank
                            .or_else(|| self.model.consts.get(p).map(|c| c.dims.len()))
                    })
                    .ok_or("unknown rank")?;
                let (ins, axis, nchw) = if any_nchw && all4 {
                    let ins = parts.iter().map(|p| self.nchw(p)).collect::<R<Vec<_>>>()?;
                    let a = norm_axis(axis, 4)?;
                    (ins, TO_PHYSICAL[a] as i64, true)
                } else {
                    let mut ins = Vec::new();
                    for p in &parts {
                        let p = self.plain(p)?;
                        ins.push(self.nhwc(&p)?);
                    }
                    (ins, axis, false)
                };
                self.emit("Concat", ins, out, vec![("axis", Attr::Int(axis))]);
                self.set(out, Some(rank), nchw);
            }
            "Softmax" => {
                let x = self.input(n, 0)?;
                let x = self.plain(&x)?;
                let i = self.info(&x);
                let axis = if i.nchw { 1 } else { -1 };
                self.emit("Softmax", vec![x], out, vec![("axis", Attr::Int(axis))]);
                self.set(out, i.rank, i.nchw);
            }
            "Reshape" => {
                let x = self.input(n, 0)?;
                let x = self.plain(&x)?;
                let x = self.nhwc(&x)?;
                let shape = self.input(n, 1)?;
                let dims = self.const_ints(&shape)?;
                let shape = self.plain(&shape)?;
                self.emit(
                    "Reshape",
                    vec![x, shape],
                    out,
                    vec![("allowzero", Attr::Int(1))],
                );
                self.set(out, Some(dims.len()), false);
            }
            "Squeeze" => {
                let x = self.input(n, 0)?;
                let x = self.plain(&x)?;
                let rank = self.info(&x).rank;
                let x = self.nhwc(&x)?;
                let axes = attr_ints(n, "squeeze_dims");
                let new_rank = match (&axes, rank) {
                    (Some(a), Some(r)) if !a.is_empty() => Some(r - a.len()),
                    _ => None,
                };
                let attrs = match axes {
                    Some(a) if !a.is_empty() => vec![("axes", Attr::Ints(a))],
                    _ => vec![],
                };
                self.emit("Squeeze", vec![x], out, attrs);
                self.set(out, new_rank, false);
            }
            "ExpandDims" => {
                let x = self.input(n, 0)?;
                let x = self.plain(&x)?;
                let rank = self.info(&x).rank;
                let x = self.nhwc(&x)?;
                let axis = *self
                    .const_ints(&self.input(n, 1)?)?
                    .first()
                    .ok_or("empty axis")?;
                let attrs = vec![("axes", Attr::Ints(vec![axis]))];
                self.emit("Unsqueeze", vec![x], out, attrs);
                self.set(out, rank.map(|r| r + 1), false);
            }
            other => return Err(format!("unsupported op {other}")),
        }
        Ok(())
    }

    /// `Cast` to `DT_FLOAT`: graph inputs are fed as float tensors (an `int32` image input
    /// carries whole numbers 0..255 either way) and the translated ops compute floats, so the
    /// cast is the identity; an integer constant becomes a float one. Any other target type
    /// is refused.
    fn cast(&mut self, n: &TfNode) -> R<()> {
        let out = n.name.as_str();
        match attr_type(n, "DstT").as_deref() {
            Some("DT_FLOAT") => {}
            other => {
                return Err(format!(
                    "Cast to {} is not supported (only to DT_FLOAT)",
                    other.unwrap_or("an unnamed type")
                ));
            }
        }
        let x = self.input(n, 0)?;
        if let Some(c) = self.model.consts.get(&x) {
            let dims = c.dims.clone();
            let vals = self.const_floats(&x)?;
            self.add_float(out.to_owned(), dims, vals);
            return Ok(());
        }
        let x = self.plain(&x)?;
        let i = self.info(&x);
        self.emit("Identity", vec![x], out, vec![]);
        self.set(out, i.rank, i.nchw);
        Ok(())
    }

    /// `Unpack` (tf.unstack) with `num = 1`: its one output is the input without that axis, a
    /// `Squeeze`. More outputs are refused (the executor IR here has one output per node).
    fn unpack(&mut self, n: &TfNode) -> R<()> {
        let out = n.name.as_str();
        let num = attr_i(n, "num").ok_or("Unpack without num")?;
        if num != 1 {
            return Err(format!(
                "Unpack into {num} tensors is not supported (only num = 1)"
            ));
        }
        let x = self.input(n, 0)?;
        let x = self.plain(&x)?;
        let rank = self
            .info(&x)
            .rank
            .ok_or("Unpack of a value of unknown rank")?;
        let axis = norm_axis(attr_i(n, "axis").unwrap_or(0), rank)?;
        let x = self.nhwc(&x)?;
        let attrs = vec![("axes", Attr::Ints(vec![axis as i64]))];
        self.emit("Squeeze", vec![x], out, attrs);
        self.set(out, Some(rank - 1), false);
        Ok(())
    }

    fn unary(&mut self, op: &str, x: String, out: &str) -> R<()> {
        match op {
            "Relu" | "Sigmoid" | "Sqrt" | "Exp" | "Abs" | "Neg" => {
                self.emit(op, vec![x], out, vec![]);
            }
            "Relu6" => self.emit(
                "Clip",
                vec![x],
                out,
                vec![("min", Attr::Float(0.0)), ("max", Attr::Float(6.0))],
            ),
            "Square" | "Rsqrt" => {
                let e = if op == "Square" { 2.0 } else { -0.5 };
                let k = self.name(out, "exp");
                let k = self.add_float(k, vec![], vec![e]);
                self.emit("Pow", vec![x, k], out, vec![]);
            }
            other => return Err(format!("unsupported activation {other}")),
        }
        Ok(())
    }

    /// Element-wise binary op, both operands brought to one layout.
    fn binary(&mut self, n: &TfNode) -> R<()> {
        let out = n.name.as_str();
        let (a, b) = (self.input(n, 0)?, self.input(n, 1)?);
        // Maximum/Minimum against a scalar constant is a clip (ReLU6 written out).
        if let ("Maximum" | "Minimum", Some(s)) = (n.op.as_str(), self.scalar(&b)) {
            let a = self.plain(&a)?;
            let i = self.info(&a);
            let bound = if n.op == "Maximum" { "min" } else { "max" };
            self.emit("Clip", vec![a], out, vec![(bound, Attr::Float(s))]);
            self.set(out, i.rank, i.nchw);
            return Ok(());
        }
        let (a, b, nchw) = self.align(&a, &b)?;
        let rank = match (self.info(&a).rank, self.info(&b).rank) {
            (Some(x), Some(y)) => Some(x.max(y)),
            _ => None,
        };
        let op = match n.op.as_str() {
            "BiasAdd" | "Add" | "AddV2" => "Add",
            "Sub" => "Sub",
            "Mul" => "Mul",
            "RealDiv" => "Div",
            "Maximum" => "Max",
            "Minimum" => "Min",
            "SquaredDifference" => {
                let d = self.name(out, "diff");
                self.emit("Sub", vec![a, b], &d, vec![]);
                self.emit("Mul", vec![d.clone(), d], out, vec![]);
                self.set(out, rank, nchw);
                return Ok(());
            }
            other => return Err(format!("unsupported binary op {other}")),
        };
        self.emit(op, vec![a, b], out, vec![]);
        self.set(out, rank, nchw);
        Ok(())
    }

    fn scalar(&self, v: &str) -> Option<f32> {
        let c = self.model.consts.get(v)?;
        if c.dims.iter().product::<usize>() != 1 {
            return None;
        }
        match &c.data {
            TfData::F(f) => f.first().copied(),
            TfData::I(i) => i.first().map(|&x| x as f32),
        }
    }

    /// Both operands in one layout; NCHW when either is (constants permuted, scalars as they
    /// are), NHWC when a computed lower-rank operand would broadcast differently.
    fn align(&mut self, a: &str, b: &str) -> R<(String, String, bool)> {
        let (a, b) = (self.plain(a)?, self.plain(b)?);
        let (ia, ib) = (self.info(&a), self.info(&b));
        if !ia.nchw && !ib.nchw {
            return Ok((a, b, false));
        }
        let fits = |t: &Self, v: &str, i: Info| {
            i.nchw
                || t.is_const(v)
                || i.rank == Some(4)
                || t.model
                    .consts
                    .get(v)
                    .is_some_and(|c| c.dims.iter().product::<usize>() == 1)
        };
        if fits(self, &a, ia) && fits(self, &b, ib) {
            Ok((self.nchw(&a)?, self.nchw(&b)?, true))
        } else {
            Ok((self.nhwc(&a)?, self.nhwc(&b)?, false))
        }
    }

    /// Per-channel scale and shift of a batch norm whose (scale, offset, mean, variance) are
    /// inputs `first..first + 4`.
    fn batch_norm(&self, n: &TfNode, first: usize) -> R<(Vec<f32>, Vec<f32>)> {
        let get = |k: usize| -> R<Vec<f32>> { self.const_floats(&self.input(n, first + k)?) };
        let (scale, offset, mean, var) = (get(0)?, get(1)?, get(2)?, get(3)?);
        let eps = attr_f(n, "epsilon").unwrap_or(1e-3);
        let c = scale.len();
        if [offset.len(), mean.len(), var.len()] != [c; 3] {
            return Err("batch norm parameters differ in length".to_owned());
        }
        let a: Vec<f32> = scale
            .iter()
            .zip(&var)
            .map(|(s, v)| s / (v + eps).sqrt())
            .collect();
        let b = offset
            .iter()
            .zip(&mean)
            .zip(&a)
            .map(|((o, m), a)| o - m * a)
            .collect();
        Ok((a, b))
    }

    fn conv(&mut self, n: &TfNode) -> R<()> {
        let out = n.name.as_str();
        if attr_str(n, "data_format").is_some_and(|f| f != "NHWC") {
            return Err("only NHWC convolutions are supported".to_owned());
        }
        let depthwise = n.op.contains("Depthwise");
        let x = self.input(n, 0)?;
        let x = self.nchw(&x)?;
        let f = self.konst(&self.input(n, 1)?)?.clone();
        let [kh, kw, ci, co] = <[usize; 4]>::try_from(f.dims.as_slice())
            .map_err(|_| format!("filter shape {:?}", f.dims))?;
        let values = match &f.data {
            TfData::F(v) => v.clone(),
            TfData::I(_) => return Err("integer filter".to_owned()),
        };
        // HWIO → OIHW; depthwise HW C M → (C·M) 1 H W, output channel c·M + m as in TF.
        let (w, wdims, group) = if depthwise {
            let w = permute(&values, &f.dims, &[2, 3, 0, 1]);
            (w, vec![ci * co, 1, kh, kw], ci)
        } else {
            (
                permute(&values, &f.dims, &[3, 2, 0, 1]),
                vec![co, ci, kh, kw],
                1,
            )
        };
        let outc = wdims[0];
        let mut w = w;
        let mut bias: Option<Vec<f32>> = None;
        let fused = attr_strs(n, "fused_ops");
        let mut acts = Vec::new();
        let mut arg = 2;
        for op in &fused {
            match op.as_str() {
                "BiasAdd" => {
                    bias = Some(self.const_floats(&self.input(n, arg)?)?);
                    arg += 1;
                }
                "FusedBatchNorm" => {
                    let (a, b) = self.batch_norm(n, arg)?;
                    arg += 4;
                    if a.len() != outc {
                        return Err("batch norm size differs from the conv's".to_owned());
                    }
                    let per = w.len() / outc;
                    for (o, s) in a.iter().enumerate() {
                        w[o * per..(o + 1) * per].iter_mut().for_each(|v| *v *= s);
                    }
                    bias = Some(b);
                }
                "Relu" | "Relu6" | "Elu" | "Sigmoid" => acts.push((op.clone(), None)),
                "LeakyRelu" => acts.push((
                    op.clone(),
                    Some(vec![attr_f(n, "leakyrelu_alpha").unwrap_or(0.2)]),
                )),
                "Prelu" => {
                    acts.push((op.clone(), Some(self.const_floats(&self.input(n, arg)?)?)));
                    arg += 1;
                }
                other => return Err(format!("unsupported fused op {other}")),
            }
        }
        let strides = spatial(n, "strides")?;
        let dil = spatial(n, "dilations").unwrap_or([1, 1]);
        let wn = self.name(out, "w");
        let wn = self.add_float(wn, wdims, w);
        let mut ins = vec![x, wn];
        if let Some(b) = bias {
            if b.len() != outc {
                return Err(format!("bias of {} for {outc} channels", b.len()));
            }
            let bn = self.name(out, "b");
            ins.push(self.add_float(bn, vec![outc], b));
        }
        let mut attrs = vec![
            ("strides", Attr::Ints(strides.to_vec())),
            ("dilations", Attr::Ints(dil.to_vec())),
            ("group", Attr::Int(group as i64)),
            ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
        ];
        attrs.extend(padding(n)?);
        self.finish_with_acts("Conv", ins, attrs, out, acts, true)
    }

    /// Emits `op` and then the fused activations, the last one writing `out`.
    fn finish_with_acts(
        &mut self,
        op: &str,
        ins: Vec<String>,
        attrs: Vec<(&str, Attr)>,
        out: &str,
        acts: Vec<(String, Option<Vec<f32>>)>,
        nchw: bool,
    ) -> R<()> {
        let rank = if nchw { Some(4) } else { Some(2) };
        let mut cur = if acts.is_empty() {
            out.to_owned()
        } else {
            self.name(out, "pre")
        };
        self.emit(op, ins, &cur, attrs);
        self.set(&cur, rank, nchw);
        let k = acts.len();
        for (i, (act, arg)) in acts.into_iter().enumerate() {
            let next = if i + 1 == k {
                out.to_owned()
            } else {
                self.name(out, "act")
            };
            match (act.as_str(), arg) {
                ("LeakyRelu" | "Prelu", Some(alpha)) => {
                    let c = alpha.len();
                    let shape = if nchw && c > 1 {
                        vec![c, 1, 1]
                    } else {
                        vec![c]
                    };
                    let an = self.name(out, "alpha");
                    let an = self.add_float(an, shape, alpha);
                    self.emit("PRelu", vec![cur, an], &next, vec![]);
                }
                (a, _) => self.unary(a, cur, &next)?,
            }
            self.set(&next, rank, nchw);
            cur = next;
        }
        Ok(())
    }

    fn matmul(&mut self, n: &TfNode) -> R<()> {
        let out = n.name.as_str();
        let a = self.input(n, 0)?;
        let a = self.plain(&a)?;
        let mut a = self.nhwc(&a)?;
        if attr_bool(n, "transpose_a") {
            let t = self.name(out, "at");
            self.emit(
                "Transpose",
                vec![a],
                &t,
                vec![("perm", Attr::Ints(vec![1, 0]))],
            );
            self.set(&t, Some(2), false);
            a = t;
        }
        let b = self.input(n, 1)?;
        let b = self.plain(&b)?;
        let mut ins = vec![a, b];
        let mut acts = Vec::new();
        let mut arg = 2;
        for op in attr_strs(n, "fused_ops") {
            match op.as_str() {
                "BiasAdd" => {
                    let b = self.input(n, arg)?;
                    ins.push(self.plain(&b)?);
                    arg += 1;
                }
                "Relu" | "Relu6" | "Sigmoid" => acts.push((op, None)),
                other => return Err(format!("unsupported fused op {other}")),
            }
        }
        let attrs = vec![("transB", Attr::Int(i64::from(attr_bool(n, "transpose_b"))))];
        self.finish_with_acts("Gemm", ins, attrs, out, acts, false)
    }

    fn reduce(&mut self, n: &TfNode) -> R<()> {
        let out = n.name.as_str();
        let x = self.input(n, 0)?;
        let mut x = self.plain(&x)?;
        let axes = self.const_ints(&self.input(n, 1)?)?;
        let keep = attr_bool(n, "keep_dims");
        let info = self.info(&x);
        let rank = info.rank.ok_or("reduction of a value of unknown rank")?;
        let mut logical: Vec<usize> = axes.iter().map(|&a| norm_axis(a, rank)).collect::<R<_>>()?;
        logical.sort_unstable();
        logical.dedup();
        let mut nchw = info.nchw;
        if nchw && !keep {
            // Without keep_dims the kept axes must come out in NHWC order.
            let kept = |order: &[usize]| -> Vec<usize> {
                order
                    .iter()
                    .copied()
                    .filter(|a| !logical.contains(a))
                    .collect()
            };
            if kept(&TO_LOGICAL) != kept(&[0, 1, 2, 3]) {
                x = self.nhwc(&x)?;
                nchw = false;
            }
        }
        let phys: Vec<i64> = logical
            .iter()
            .map(|&a| {
                if nchw {
                    TO_PHYSICAL[a] as i64
                } else {
                    a as i64
                }
            })
            .collect();
        let op = if n.op == "Mean" {
            "ReduceMean"
        } else {
            "ReduceSum"
        };
        let attrs = vec![
            ("axes", Attr::Ints(phys)),
            ("keepdims", Attr::Int(i64::from(keep))),
        ];
        self.emit(op, vec![x], out, attrs);
        let r = if keep { rank } else { rank - logical.len() };
        self.set(out, Some(r), nchw && keep);
        Ok(())
    }
}

/// `values` of shape `dims` with axes permuted: output axis `i` is input axis `perm[i]`.
fn permute(values: &[f32], dims: &[usize], perm: &[usize]) -> Vec<f32> {
    let r = dims.len();
    let mut stride = vec![1usize; r];
    for i in (0..r.saturating_sub(1)).rev() {
        stride[i] = stride[i + 1] * dims[i + 1];
    }
    let odims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let ostride: Vec<usize> = perm.iter().map(|&p| stride[p]).collect();
    let total: usize = dims.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut idx = vec![0usize; r];
    for _ in 0..total {
        let src: usize = idx.iter().zip(&ostride).map(|(i, s)| i * s).sum();
        out.push(values[src]);
        for k in (0..r).rev() {
            idx[k] += 1;
            if idx[k] < odims[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

fn norm_axis(a: i64, rank: usize) -> R<usize> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} out of range for rank {rank}"))
    }
}

fn attr<'n>(n: &'n TfNode, k: &str) -> Option<&'n Value> {
    n.attrs.get(k)
}

fn attr_bool(n: &TfNode, k: &str) -> bool {
    attr(n, k)
        .and_then(|v| v.get("b"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn attr_f(n: &TfNode, k: &str) -> Option<f32> {
    attr(n, k)
        .and_then(|v| v.get("f"))
        .and_then(|f| {
            f.as_f64()
                .or_else(|| f.as_str().and_then(|s| s.parse().ok()))
        })
        .map(|f| f as f32)
}

fn attr_i(n: &TfNode, k: &str) -> Option<i64> {
    attr(n, k).and_then(|v| v.get("i")).and_then(int_value)
}

/// A type attribute (`{"type": "DT_FLOAT"}`).
fn attr_type(n: &TfNode, k: &str) -> Option<String> {
    attr(n, k)
        .and_then(|v| v.get("type"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn decode_str(v: &Value) -> Option<String> {
    let bytes = super::js_literal::base64_decode(v.as_str()?).ok()?;
    String::from_utf8(bytes).ok()
}

fn attr_str(n: &TfNode, k: &str) -> Option<String> {
    attr(n, k).and_then(|v| v.get("s")).and_then(decode_str)
}

fn attr_strs(n: &TfNode, k: &str) -> Vec<String> {
    attr(n, k)
        .and_then(|v| v.get("list"))
        .and_then(|l| l.get("s"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(decode_str)
        .collect()
}

fn int_value(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn attr_ints(n: &TfNode, k: &str) -> Option<Vec<i64>> {
    let l = attr(n, k)?.get("list")?;
    Some(match l.get("i").and_then(Value::as_array) {
        Some(a) => a.iter().filter_map(int_value).collect(),
        None => Vec::new(),
    })
}

fn shape_attr(n: &TfNode) -> Option<Vec<i64>> {
    let dims = attr(n, "shape")?.get("shape")?.get("dim")?.as_array()?;
    Some(
        dims.iter()
            .map(|d| d.get("size").and_then(int_value).unwrap_or(-1))
            .collect(),
    )
}

/// The H and W entries of an NHWC 4-list attribute (`strides`, `ksize`, `dilations`).
fn spatial(n: &TfNode, k: &str) -> R<[i64; 2]> {
    match attr_ints(n, k).as_deref() {
        Some([1, h, w, 1]) if *h > 0 && *w > 0 => Ok([*h, *w]),
        Some([h, w]) if *h > 0 && *w > 0 => Ok([*h, *w]),
        None if k == "dilations" => Ok([1, 1]),
        other => Err(format!("{k} {other:?}")),
    }
}

/// ONNX padding attributes for TF's `padding` (`SAME` pads the extra row/column at the end,
/// as `SAME_UPPER` does; `EXPLICIT` reads `explicit_paddings`).
fn padding(n: &TfNode) -> R<Vec<(&'static str, Attr)>> {
    match attr_str(n, "padding").as_deref() {
        Some("SAME") => Ok(vec![("auto_pad", Attr::Bytes(b"SAME_UPPER".to_vec()))]),
        Some("VALID") | None => Ok(vec![]),
        Some("EXPLICIT") => {
            let p = attr_ints(n, "explicit_paddings").unwrap_or_default();
            if p.len() != 8 {
                return Err(format!("explicit_paddings {p:?}"));
            }
            Ok(vec![("pads", Attr::Ints(vec![p[2], p[4], p[3], p[5]]))])
        }
        Some(other) => Err(format!("padding {other}")),
    }
}

/// For tests: the ops of a translation, counted.
#[cfg(test)]
pub(crate) fn op_counts(w: &OnnxWeights) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for n in &w.nodes {
        *m.entry(n.op_type.clone()).or_default() += 1;
    }
    m
}
