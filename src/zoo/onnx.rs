//! Reads the weights (initializers) and the node list out of an ONNX file, so hand-written burn
//! networks can load the `.onnx` files shipped in registry packages without burn-onnx code
//! generation. ONNX is protobuf; only the few fields needed are decoded, by a small wire-format
//! reader written here (no `prost`: its derive macro changes `itertools` features, which
//! rebuilds cubecl's proc-macros and all of burn).
//!
//! Fields read: `ModelProto.graph` (7), `.opset_import` (8), `.metadata_props` (14: key 1, value 2);
//! `GraphProto.node` (1), `.initializer` (5), `.input` (11), `.output` (12) (names only);
//! `TensorProto.dims` (1), `.data_type` (2), `.float_data` (4), `.int32_data` (5),
//! `.int64_data` (7), `.name` (8), `.raw_data` (9); `NodeProto.input` (1), `.output` (2),
//! `.name` (3), `.op_type` (4), `.attribute` (5); `AttributeProto.name` (1), `.f` (2), `.i` (3),
//! `.s` (4), `.t` (5), `.floats` (7), `.ints` (8). Everything else is skipped. Float32
//! initializers are kept in [`OnnxWeights::tensors`], int64/int32/bool ones (shape constants)
//! in [`OnnxWeights::ints`]; other types are listed by name only. [`super::graph`] executes the
//! node list.
//!
//! Loading into a module goes through burn-store: [`OnnxWeights::apply`] turns a list of
//! (ONNX initializer name → module parameter path, [`Layout`]) into burn-store tensors and
//! applies them, and a missing name, wrong shape or parameter left unloaded is
//! [`Error::WeightsLoad`]. Main types: [`OnnxWeights`], [`OnnxNode`], [`Layout`].

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Module;
use burn::store::{ModuleSnapshot, bridge};
use burn::tensor::TensorData;

use crate::error::{Error, Result};

/// ONNX `TensorProto.DataType.FLOAT`.
const FLOAT: u64 = 1;
/// ONNX `TensorProto.DataType` INT32, INT64, BOOL (all read as i64).
const INT32: u64 = 6;
const INT64: u64 = 7;
const BOOL: u64 = 9;

/// One integer tensor (int64, int32 or bool data widened to i64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnnxInts {
    pub dims: Vec<usize>,
    pub values: Vec<i64>,
}

/// A decoded `TensorProto`.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorValue {
    Float(OnnxTensor),
    Ints(OnnxInts),
    /// Another data type (its number).
    Other(u64),
}

/// A node attribute value (`AttributeProto`; graphs and string lists are not read).
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Float(f32),
    Int(i64),
    Bytes(Vec<u8>),
    Tensor(TensorValue),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
}

/// One float32 initializer.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxTensor {
    pub dims: Vec<usize>,
    pub values: Vec<f32>,
}

/// One graph node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OnnxNode {
    pub op_type: String,
    pub name: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// Attributes in file order.
    pub attrs: Vec<(String, Attr)>,
}

impl OnnxNode {
    /// Attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// Integer attribute `name`, else `default`.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        match self.attr(name) {
            Some(Attr::Int(i)) => *i,
            _ => default,
        }
    }

    /// Float attribute `name`, else `default`.
    pub fn float(&self, name: &str, default: f32) -> f32 {
        match self.attr(name) {
            Some(Attr::Float(f)) => *f,
            Some(Attr::Int(i)) => *i as f32,
            _ => default,
        }
    }

    /// Integer-list attribute `name`, if present.
    pub fn ints(&self, name: &str) -> Option<&[i64]> {
        match self.attr(name) {
            Some(Attr::Ints(v)) => Some(v),
            _ => None,
        }
    }

    /// String attribute `name` (lossy UTF-8), else `default`.
    pub fn string(&self, name: &str, default: &str) -> String {
        match self.attr(name) {
            Some(Attr::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => default.to_owned(),
        }
    }
}

/// How an initializer becomes a module parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Same shape.
    AsIs,
    /// Flattened to one dimension (PReLU slopes stored as `[1, C, 1, 1]`).
    Flat,
    /// 2-D transposed (`Gemm` with `transB = 1`: `[out, in]` → burn's `[in, out]`).
    Transpose,
}

/// The weights and nodes of an ONNX model.
#[derive(Debug, Clone, Default)]
pub struct OnnxWeights {
    /// Float32 initializers by name.
    pub tensors: BTreeMap<String, OnnxTensor>,
    /// Integer initializers (int64/int32/bool) by name.
    pub ints: BTreeMap<String, OnnxInts>,
    /// Names of initializers of other types.
    pub other: Vec<String>,
    /// Graph nodes in file order.
    pub nodes: Vec<OnnxNode>,
    /// Graph input names (initializers excluded by [`OnnxWeights::data_inputs`]).
    pub inputs: Vec<String>,
    /// Graph output names.
    pub outputs: Vec<String>,
    /// `ModelProto.metadata_props` (key, value).
    pub metadata: Vec<(String, String)>,
    /// Version of the default (`ai.onnx`) operator set, from `ModelProto.opset_import` (8).
    pub opset: i64,
}

impl OnnxWeights {
    /// Reads `path`; a file that is not a readable ONNX model is [`Error::WeightsLoad`].
    pub fn read(model_id: &str, path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading weights", path, e))?;
        Self::parse(&bytes).map_err(|msg| Error::WeightsLoad {
            model: model_id.to_owned(),
            msg: format!("not a readable ONNX model ({msg}): {}", path.display()),
        })
    }

    /// Parses ONNX bytes.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let mut out = OnnxWeights::default();
        let mut model = Wire::new(bytes);
        let mut found_graph = false;
        while let Some((field, value)) = model.next()? {
            match (field, value) {
                (7, Value::Bytes(graph)) => {
                    found_graph = true;
                    out.read_graph(graph)?;
                }
                (8, Value::Bytes(entry)) => {
                    let (mut domain, mut version) = (String::new(), 0);
                    let mut w = Wire::new(entry);
                    while let Some((f, v)) = w.next()? {
                        match (f, v) {
                            (1, Value::Bytes(b)) => {
                                domain = String::from_utf8_lossy(b).into_owned()
                            }
                            (2, Value::Varint(n)) => version = n as i64,
                            _ => {}
                        }
                    }
                    if domain.is_empty() || domain == "ai.onnx" {
                        out.opset = version;
                    }
                }
                (14, Value::Bytes(entry)) => {
                    let (mut key, mut val) = (String::new(), String::new());
                    let mut w = Wire::new(entry);
                    while let Some((f, v)) = w.next()? {
                        match (f, v) {
                            (1, Value::Bytes(b)) => key = String::from_utf8_lossy(b).into_owned(),
                            (2, Value::Bytes(b)) => val = String::from_utf8_lossy(b).into_owned(),
                            _ => {}
                        }
                    }
                    out.metadata.push((key, val));
                }
                _ => {}
            }
        }
        if !found_graph {
            return Err("no graph".to_owned());
        }
        Ok(out)
    }

    fn read_graph(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        let mut graph = Wire::new(bytes);
        while let Some((field, value)) = graph.next()? {
            match (field, value) {
                (1, Value::Bytes(b)) => self.nodes.push(read_node(b)?),
                (5, Value::Bytes(b)) => {
                    let (name, tensor) = read_tensor(b)?;
                    match tensor {
                        TensorValue::Float(t) => {
                            self.tensors.insert(name, t);
                        }
                        TensorValue::Ints(t) => {
                            self.ints.insert(name, t);
                        }
                        TensorValue::Other(_) => self.other.push(name),
                    }
                }
                (11, Value::Bytes(b)) => self.inputs.push(read_name(b)?),
                (12, Value::Bytes(b)) => self.outputs.push(read_name(b)?),
                _ => {}
            }
        }
        Ok(())
    }

    /// The float initializer `name` as burn data in `layout`.
    fn data(&self, name: &str, layout: Layout) -> std::result::Result<TensorData, String> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| format!("initializer {name:?} is not in the file"))?;
        let expected: usize = t.dims.iter().product();
        if expected != t.values.len() {
            return Err(format!(
                "initializer {name:?}: dims {:?} but {} values",
                t.dims,
                t.values.len()
            ));
        }
        Ok(match layout {
            Layout::AsIs => TensorData::new(t.values.clone(), t.dims.clone()),
            Layout::Flat => TensorData::new(t.values.clone(), [t.values.len()]),
            Layout::Transpose => {
                let [rows, cols] = t.dims[..] else {
                    return Err(format!("initializer {name:?} is not 2-D: {:?}", t.dims));
                };
                let mut v = vec![0f32; rows * cols];
                for r in 0..rows {
                    for c in 0..cols {
                        v[c * rows + r] = t.values[r * cols + c];
                    }
                }
                TensorData::new(v, [cols, rows])
            }
        })
    }

    /// Loads `module`'s parameters from this file: `map` lists (initializer name, parameter
    /// path such as `stem.conv.weight`, layout). Every parameter of the module must be set and
    /// shapes must match, else [`Error::WeightsLoad`].
    pub fn apply<M: Module>(
        &self,
        model_id: &str,
        module: &mut M,
        map: &[(String, String, Layout)],
    ) -> Result<()> {
        let fail = |msg: String| Error::WeightsLoad {
            model: model_id.to_owned(),
            msg,
        };
        let mut tensors = Vec::with_capacity(map.len());
        for (onnx_name, path, layout) in map {
            let data = self.data(onnx_name, *layout).map_err(fail)?;
            tensors.push(bridge::from_data(data, path.clone(), None));
        }
        let result = module.apply(tensors, None, None, false);
        super::check_apply(model_id, &result)
    }

    /// Graph inputs that are not initializers (the data the caller feeds).
    pub fn data_inputs(&self) -> Vec<&str> {
        self.inputs
            .iter()
            .filter(|n| !self.tensors.contains_key(*n) && !self.ints.contains_key(*n))
            .map(String::as_str)
            .collect()
    }

    /// Metadata value for `key` (e.g. PP-OCR's `character` dictionary).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Op types of the graph, sorted and deduplicated.
    pub fn op_types(&self) -> Vec<&str> {
        let mut ops: Vec<&str> = self.nodes.iter().map(|n| n.op_type.as_str()).collect();
        ops.sort_unstable();
        ops.dedup();
        ops
    }
}

/// The `name` (field 1) of a `ValueInfoProto`.
fn read_name(bytes: &[u8]) -> std::result::Result<String, String> {
    let mut wire = Wire::new(bytes);
    while let Some((field, value)) = wire.next()? {
        if let (1, Value::Bytes(b)) = (field, value) {
            return Ok(String::from_utf8_lossy(b).into_owned());
        }
    }
    Ok(String::new())
}

fn read_node(bytes: &[u8]) -> std::result::Result<OnnxNode, String> {
    let mut node = OnnxNode::default();
    let mut wire = Wire::new(bytes);
    while let Some((field, value)) = wire.next()? {
        if let Value::Bytes(b) = value {
            let s = || String::from_utf8_lossy(b).into_owned();
            match field {
                1 => node.inputs.push(s()),
                2 => node.outputs.push(s()),
                3 => node.name = s(),
                4 => node.op_type = s(),
                5 => {
                    if let Some(a) = read_attr(b)? {
                        node.attrs.push(a);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(node)
}

/// An `AttributeProto` (name, value); `None` for kinds not read (graphs, string lists).
fn read_attr(bytes: &[u8]) -> std::result::Result<Option<(String, Attr)>, String> {
    let mut name = String::new();
    let mut value = None;
    let mut floats = Vec::new();
    let mut ints = Vec::new();
    let mut atype = 0;
    let mut wire = Wire::new(bytes);
    while let Some((field, v)) = wire.next()? {
        match (field, v) {
            (1, Value::Bytes(b)) => name = String::from_utf8_lossy(b).into_owned(),
            (2, Value::Fixed32(f)) => value = Some(Attr::Float(f32::from_bits(f))),
            (3, Value::Varint(i)) => value = Some(Attr::Int(i as i64)),
            (4, Value::Bytes(b)) => value = Some(Attr::Bytes(b.to_vec())),
            (5, Value::Bytes(b)) => value = Some(Attr::Tensor(read_tensor(b)?.1)),
            (7, Value::Fixed32(f)) => floats.push(f32::from_bits(f)),
            (7, Value::Bytes(packed)) => floats.extend(le_f32s(packed)?),
            (8, Value::Varint(i)) => ints.push(i as i64),
            (8, Value::Bytes(packed)) => {
                let mut w = Wire::new(packed);
                while !w.done() {
                    ints.push(w.varint()? as i64);
                }
            }
            (20, Value::Varint(t)) => atype = t,
            _ => {}
        }
    }
    // AttributeType: FLOATS = 6, INTS = 7. Empty lists carry only the type.
    let value = match atype {
        6 => Some(Attr::Floats(floats)),
        7 => Some(Attr::Ints(ints)),
        _ if !floats.is_empty() => Some(Attr::Floats(floats)),
        _ if !ints.is_empty() => Some(Attr::Ints(ints)),
        _ => value,
    };
    Ok(value.map(|v| (name, v)))
}

/// A `TensorProto`: its name and its dims and values (float32, or integers widened to i64).
fn read_tensor(bytes: &[u8]) -> std::result::Result<(String, TensorValue), String> {
    let mut name = String::new();
    let mut dims = Vec::new();
    let mut data_type = 0;
    let mut float_data = Vec::new();
    let mut int_data: Vec<i64> = Vec::new();
    let mut raw: Option<&[u8]> = None;
    let mut wire = Wire::new(bytes);
    while let Some((field, value)) = wire.next()? {
        match (field, value) {
            (1, Value::Varint(d)) => dims.push(d as usize),
            (1, Value::Bytes(packed)) => {
                let mut w = Wire::new(packed);
                while !w.done() {
                    dims.push(w.varint()? as usize);
                }
            }
            (2, Value::Varint(t)) => data_type = t,
            (4, Value::Fixed32(v)) => float_data.push(f32::from_bits(v)),
            (4, Value::Bytes(packed)) => float_data.extend(le_f32s(packed)?),
            (5 | 7, Value::Varint(v)) => int_data.push(v as i64),
            (5 | 7, Value::Bytes(packed)) => {
                let mut w = Wire::new(packed);
                while !w.done() {
                    int_data.push(w.varint()? as i64);
                }
            }
            (8, Value::Bytes(b)) => name = String::from_utf8_lossy(b).into_owned(),
            (9, Value::Bytes(b)) => raw = Some(b),
            (14, Value::Varint(1)) => return Err(format!("{name}: external data unsupported")),
            _ => {}
        }
    }
    let value = match data_type {
        FLOAT => TensorValue::Float(OnnxTensor {
            dims,
            values: match raw {
                Some(b) => le_f32s(b)?,
                None => float_data,
            },
        }),
        INT32 | INT64 | BOOL => {
            let values = match raw {
                Some(b) if data_type == INT64 => {
                    if !b.len().is_multiple_of(8) {
                        return Err(format!("{name}: int64 data of {} bytes", b.len()));
                    }
                    b.chunks_exact(8)
                        .map(|c| {
                            i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                        })
                        .collect()
                }
                Some(b) if data_type == INT32 => {
                    if !b.len().is_multiple_of(4) {
                        return Err(format!("{name}: int32 data of {} bytes", b.len()));
                    }
                    b.chunks_exact(4)
                        .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                        .collect()
                }
                Some(b) => b.iter().map(|&v| i64::from(v)).collect(),
                None => int_data,
            };
            TensorValue::Ints(OnnxInts { dims, values })
        }
        other => TensorValue::Other(other),
    };
    Ok((name, value))
}

fn le_f32s(b: &[u8]) -> std::result::Result<Vec<f32>, String> {
    if !b.len().is_multiple_of(4) {
        return Err(format!("float data of {} bytes", b.len()));
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// A protobuf field value.
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Protobuf wire-format reader over one message.
struct Wire<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Wire<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Wire { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".to_owned())
    }

    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).ok_or("length overflow")?;
        let s = self.buf.get(self.pos..end).ok_or("truncated field")?;
        self.pos = end;
        Ok(s)
    }

    /// The next (field number, value), or `None` at the end.
    fn next(&mut self) -> std::result::Result<Option<(u64, Value<'a>)>, String> {
        if self.done() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|e| e.to_string())?;
                Value::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        Ok(Some((key >> 3, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(num: u64, wire: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![((num << 3) | wire) as u8];
        if wire == 2 {
            v.push(payload.len() as u8);
        }
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn parses_a_tiny_model() {
        let mut tensor = field(1, 0, &[2]);
        tensor.extend(field(1, 0, &[3]));
        tensor.extend(field(2, 0, &[1]));
        tensor.extend(field(8, 2, b"w"));
        let raw: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        tensor.extend(field(9, 2, &raw));
        let mut node = field(1, 2, b"x");
        node.extend(field(2, 2, b"y"));
        node.extend(field(4, 2, b"Conv"));
        let mut graph = field(1, 2, &node);
        graph.extend(field(5, 2, &tensor));
        let model = field(7, 2, &graph);
        let w = OnnxWeights::parse(&model).unwrap();
        assert_eq!(w.op_types(), vec!["Conv"]);
        let t = &w.tensors["w"];
        assert_eq!(t.dims, vec![2, 3]);
        assert_eq!(t.values, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let tr = w.data("w", Layout::Transpose).unwrap();
        assert_eq!(tr.shape().to_vec(), vec![3, 2]);
        assert_eq!(
            tr.try_to_vec::<f32>().unwrap(),
            vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
        );
        assert!(OnnxWeights::parse(b"\x3a\x05ab").is_err());
    }
}
