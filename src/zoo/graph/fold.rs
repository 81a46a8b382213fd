//! Load-time folding: per-channel affine chains after a convolution merged into its weights.

use std::collections::HashMap;

use crate::zoo::onnx::OnnxNode;

/// Folds chains `Conv → Mul(c) → Add(d)` (either or both, constants per output channel or
/// scalar, each intermediate used once) into the conv: `W'[o] = W[o]·c[o]`,
/// `b'[o] = b[o]·c[o] + d[o]`. Returns the new node list and the new initializers.
#[allow(clippy::type_complexity)]
pub(super) fn fold_conv_affine(
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
