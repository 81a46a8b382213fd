//! Reading a TensorFlow.js graph model: the GraphDef nodes of `modelTopology` (TF op names and
//! attributes) and the constant tensors described by `weightsManifest`, read from the binary
//! shards concatenated in manifest order and dequantised (`float16`; `uint8`/`uint16` as
//! `q · scale + min`). Everything read is checked against the bytes actually present: a
//! manifest that claims more data than the shards hold, a shape whose size overflows, or an
//! unknown dtype is an error naming what is wrong.

use std::collections::HashMap;

use serde_json::Value;

type R<T> = std::result::Result<T, String>;

/// Largest number of elements one constant may claim (far above any real model: 2^28).
const MAX_ELEMENTS: usize = 1 << 28;

/// A node of the GraphDef.
#[derive(Debug, Clone, PartialEq)]
pub struct TfNode {
    pub name: String,
    pub op: String,
    /// Data inputs as `name` (output 0) or `name:k`; control inputs (`^name`) are dropped.
    pub inputs: Vec<String>,
    pub attrs: serde_json::Map<String, Value>,
}

/// Values of one constant tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum TfData {
    F(Vec<f32>),
    I(Vec<i64>),
}

/// One constant tensor from the weights manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct TfConst {
    pub dims: Vec<usize>,
    pub data: TfData,
}

/// A parsed tfjs graph model.
#[derive(Debug, Clone, Default)]
pub struct TfjsModel {
    /// Nodes by name, in file order.
    pub nodes: Vec<TfNode>,
    /// Constant tensors by node name.
    pub consts: HashMap<String, TfConst>,
}

impl TfjsModel {
    /// Parses the model JSON (`modelTopology` + `weightsManifest`) with the shard bytes
    /// concatenated in manifest order.
    pub fn from_parts(model: &Value, weights: &[u8]) -> R<Self> {
        let topo = model
            .get("modelTopology")
            .ok_or("no modelTopology (not a tfjs graph model)")?;
        let nodes = topo
            .get("node")
            .and_then(Value::as_array)
            .ok_or("modelTopology has no node list")?;
        let mut out = TfjsModel::default();
        for n in nodes {
            out.nodes.push(node(n)?);
        }
        let manifest = model
            .get("weightsManifest")
            .and_then(Value::as_array)
            .ok_or("no weightsManifest")?;
        let mut offset = 0usize;
        for group in manifest {
            let specs = group
                .get("weights")
                .and_then(Value::as_array)
                .ok_or("a weightsManifest group has no weights list")?;
            for spec in specs {
                let (name, c, used) = weight(spec, &weights[offset.min(weights.len())..])?;
                offset += used;
                out.consts.insert(name, c);
            }
        }
        if offset != weights.len() {
            log::warn!(
                "tfjs weights: the manifest describes {offset} bytes, the shards hold {}",
                weights.len()
            );
        }
        Ok(out)
    }

    /// The paths (in order) of the shard files named by the manifest, for checks.
    pub fn shard_names(model: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for g in model
            .get("weightsManifest")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for p in g
                .get("paths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(s) = p.as_str() {
                    out.push(s.to_owned());
                }
            }
        }
        out
    }
}

fn node(n: &Value) -> R<TfNode> {
    let text = |k: &str| n.get(k).and_then(Value::as_str).map(str::to_owned);
    let name = text("name").ok_or("a node has no name")?;
    let op = text("op").ok_or_else(|| format!("node {name} has no op"))?;
    let inputs = n
        .get("input")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !s.starts_with('^'))
        .map(|s| s.strip_suffix(":0").unwrap_or(s).to_owned())
        .collect();
    let attrs = match n.get("attr") {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    Ok(TfNode {
        name,
        op,
        inputs,
        attrs,
    })
}

/// One weight spec: its name, values and the number of bytes it takes in `bytes`.
fn weight(spec: &Value, bytes: &[u8]) -> R<(String, TfConst, usize)> {
    let name = spec
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a weight has no name")?
        .to_owned();
    let dims: Vec<usize> = spec
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("weight {name} has no shape"))?
        .iter()
        .map(|d| {
            d.as_u64()
                .and_then(|d| usize::try_from(d).ok())
                .ok_or_else(|| format!("weight {name}: bad dimension {d}"))
        })
        .collect::<R<_>>()?;
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(|| format!("weight {name}: shape {dims:?} is too large"))?;
    let dtype = spec
        .get("dtype")
        .and_then(Value::as_str)
        .unwrap_or("float32");
    let quant = spec.get("quantization");
    let qtype = quant.and_then(|q| q.get("dtype")).and_then(Value::as_str);
    let width = match (qtype, dtype) {
        (Some("uint8"), _) | (None, "bool") => 1,
        (Some("uint16" | "float16"), _) => 2,
        (None, "float32" | "int32") => 4,
        (q, d) => {
            return Err(format!(
                "weight {name}: dtype {d} (quantised as {q:?}) is not supported"
            ));
        }
    };
    let used = count * width;
    let raw = bytes.get(..used).ok_or_else(|| {
        format!(
            "weight {name}: needs {used} bytes but the shards end {} bytes in",
            bytes.len()
        )
    })?;
    let num = |k: &str| quant.and_then(|q| q.get(k)).and_then(Value::as_f64);
    let data = match (qtype, dtype) {
        (Some("float16"), _) => TfData::F(
            raw.chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
        ),
        (Some(q @ ("uint8" | "uint16")), d) => {
            let (min, scale) = (
                num("min").ok_or_else(|| format!("weight {name}: quantisation without min"))?,
                num("scale").ok_or_else(|| format!("weight {name}: quantisation without scale"))?,
            );
            let qs: Vec<f64> = if q == "uint8" {
                raw.iter().map(|&v| f64::from(v)).collect()
            } else {
                raw.chunks_exact(2)
                    .map(|b| f64::from(u16::from_le_bytes([b[0], b[1]])))
                    .collect()
            };
            let vals = qs.into_iter().map(|v| v * scale + min);
            if d == "int32" {
                TfData::I(vals.map(|v| v.round() as i64).collect())
            } else {
                TfData::F(vals.map(|v| v as f32).collect())
            }
        }
        (_, "float32") => TfData::F(
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        (_, "int32") => TfData::I(
            raw.chunks_exact(4)
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
        ),
        _ => TfData::I(raw.iter().map(|&b| i64::from(b != 0)).collect()),
    };
    Ok((name, TfConst { dims, data }, used))
}

/// IEEE 754 half precision to single.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn half_precision_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    fn model(weights: Value) -> Value {
        serde_json::json!({
            "modelTopology": {"node": [
                {"name": "x", "op": "Placeholder"},
                {"name": "y", "op": "Add", "input": ["x", "w:0", "^ctl"]}
            ]},
            "weightsManifest": [{"paths": ["a.bin"], "weights": weights}]
        })
    }

    #[test]
    fn weights_dequantise_in_manifest_order() {
        let m = model(serde_json::json!([
            {"name": "h", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}},
            {"name": "q", "shape": [3], "dtype": "float32",
             "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.5}},
            {"name": "i", "shape": [1], "dtype": "int32"},
            {"name": "f", "shape": [], "dtype": "float32"}
        ]));
        let mut bytes = vec![0x00, 0x3c, 0x00, 0xc0, 0, 2, 4];
        bytes.extend_from_slice(&(-7i32).to_le_bytes());
        bytes.extend_from_slice(&2.5f32.to_le_bytes());
        let t = TfjsModel::from_parts(&m, &bytes).unwrap();
        assert_eq!(t.consts["h"].data, TfData::F(vec![1.0, -2.0]));
        assert_eq!(t.consts["q"].data, TfData::F(vec![-1.0, 0.0, 1.0]));
        assert_eq!(t.consts["i"].data, TfData::I(vec![-7]));
        assert_eq!(t.consts["f"].dims, Vec::<usize>::new());
        assert_eq!(t.nodes[1].inputs, vec!["x", "w"]);
        assert_eq!(TfjsModel::shard_names(&m), vec!["a.bin"]);
    }

    #[test]
    fn a_manifest_claiming_more_than_the_shards_hold_is_refused() {
        let m = model(serde_json::json!([{"name": "w", "shape": [4], "dtype": "float32"}]));
        let e = TfjsModel::from_parts(&m, &[0; 15]).unwrap_err();
        assert!(e.contains("needs 16 bytes"), "{e}");
        let m = model(serde_json::json!([
            {"name": "w", "shape": [1 << 20, 1 << 20], "dtype": "float32"}
        ]));
        assert!(
            TfjsModel::from_parts(&m, &[])
                .unwrap_err()
                .contains("too large")
        );
        let m = model(serde_json::json!([{"name": "w", "shape": [1], "dtype": "string"}]));
        assert!(
            TfjsModel::from_parts(&m, &[0; 8])
                .unwrap_err()
                .contains("string")
        );
        assert!(TfjsModel::from_parts(&serde_json::json!({}), &[]).is_err());
    }
}
