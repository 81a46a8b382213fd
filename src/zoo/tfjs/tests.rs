//! The translation checked against straightforward NHWC reference implementations written
//! here from TensorFlow's definitions (SAME padding, depthwise channel order, asymmetric
//! bilinear resize), on hand-built graphs that mix NCHW-producing and layout-sensitive ops.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::*;

fn dev() -> Device {
    crate::zoo::device::select_with(crate::zoo::device::DeviceChoice::Cpu)
        .unwrap()
        .device
}

fn node(name: &str, op: &str, inputs: &[&str], attrs: Value) -> TfNode {
    TfNode {
        name: name.to_owned(),
        op: op.to_owned(),
        inputs: inputs.iter().map(|s| (*s).to_owned()).collect(),
        attrs: attrs.as_object().cloned().unwrap_or_default(),
    }
}

fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let v = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..=c.len() {
            out.push(A[((v >> (18 - 6 * k)) & 63) as usize] as char);
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

fn s(v: &str) -> Value {
    json!({ "s": b64(v) })
}

fn ilist(v: &[i64]) -> Value {
    json!({ "list": { "i": v.iter().map(|x| x.to_string()).collect::<Vec<_>>() } })
}

fn input(h: usize, w: usize, c: usize) -> TfNode {
    node(
        "x",
        "Placeholder",
        &[],
        json!({"shape": {"shape": {"dim": [{"size": "1"}, {"size": h.to_string()},
            {"size": w.to_string()}, {"size": c.to_string()}]}}}),
    )
}

/// Deterministic pseudo-random values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

fn konst(m: &mut TfjsModel, name: &str, dims: &[usize], data: Vec<f32>) {
    m.nodes.push(node(name, "Const", &[], json!({})));
    m.consts.insert(
        name.to_owned(),
        TfConst {
            dims: dims.to_vec(),
            data: TfData::F(data),
        },
    );
}

fn ints(m: &mut TfjsModel, name: &str, data: Vec<i64>) {
    m.nodes.push(node(name, "Const", &[], json!({})));
    m.consts.insert(
        name.to_owned(),
        TfConst {
            dims: vec![data.len()],
            data: TfData::I(data),
        },
    );
}

fn run(m: &TfjsModel, out: &str, x: Vec<f32>, dims: [usize; 4]) -> (Vec<usize>, Vec<f32>) {
    let d = dev();
    let g = m.graph("t", &[out], &d).unwrap();
    let t = Tensor::<4>::from_data(burn::tensor::TensorData::new(x, dims), &d);
    let y = g.run(t).unwrap().remove(0);
    (y.dims(), y.to_vec().unwrap())
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() < 1e-4 * (1.0 + y.abs()), "at {i}: {x} vs {y}");
    }
}

/// TF SAME padding before the data: total / 2.
fn same_pad(input: usize, k: usize, s: usize) -> (usize, usize) {
    let out = input.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(input);
    (out, total / 2)
}

/// NHWC convolution (batch 1), filter HWIO; `depth_mult` = Some(M) for depthwise HW C M.
fn conv_ref(
    x: &[f32],
    [h, w, c]: [usize; 3],
    f: &[f32],
    [kh, kw, fi, fo]: [usize; 4],
    stride: usize,
    depthwise: bool,
) -> (Vec<f32>, [usize; 3]) {
    let (ho, pt) = same_pad(h, kh, stride);
    let (wo, pl) = same_pad(w, kw, stride);
    let co = if depthwise { fi * fo } else { fo };
    let mut y = vec![0f32; ho * wo * co];
    for oy in 0..ho {
        for ox in 0..wo {
            for o in 0..co {
                let mut acc = 0f32;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * stride + ky) as isize - pt as isize;
                        let ix = (ox * stride + kx) as isize - pl as isize;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        let at = |ci: usize| x[(iy as usize * w + ix as usize) * c + ci];
                        if depthwise {
                            let (ci, m) = (o / fo, o % fo);
                            acc += at(ci) * f[((ky * kw + kx) * fi + ci) * fo + m];
                        } else {
                            for ci in 0..c {
                                acc += at(ci) * f[((ky * kw + kx) * fi + ci) * fo + o];
                            }
                        }
                    }
                }
                y[(oy * wo + ox) * co + o] = acc;
            }
        }
    }
    (y, [ho, wo, co])
}

#[test]
fn fused_conv_and_depthwise_match_tensorflow_same_padding() {
    for (h, w, stride) in [(5, 5, 2), (6, 7, 2), (5, 4, 1)] {
        let c = 2;
        let mut m = TfjsModel::default();
        m.nodes.push(input(h, w, c));
        let f = values(3 * 3 * c * 3, 1);
        konst(&mut m, "f", &[3, 3, c, 3], f.clone());
        konst(&mut m, "b", &[3], vec![0.5, -0.25, 3.0]);
        m.nodes.push(node(
            "conv",
            "_FusedConv2D",
            &["x", "f", "b"],
            json!({"strides": ilist(&[1, stride as i64, stride as i64, 1]), "padding": s("SAME"),
                   "data_format": s("NHWC"), "num_args": {"i": "1"},
                   "fused_ops": {"list": {"s": [b64("BiasAdd"), b64("Relu6")]}}}),
        ));
        let dw = values(3 * 3 * 3 * 2, 2);
        konst(&mut m, "dw", &[3, 3, 3, 2], dw.clone());
        m.nodes.push(node(
            "dconv",
            "DepthwiseConv2dNative",
            &["conv", "dw"],
            json!({"strides": ilist(&[1, 2, 2, 1]), "padding": s("SAME")}),
        ));
        let x = values(h * w * c, 3);
        let (y1, d1) = conv_ref(&x, [h, w, c], &f, [3, 3, c, 3], stride, false);
        let y1: Vec<f32> = y1
            .iter()
            .enumerate()
            .map(|(i, v)| (v + [0.5, -0.25, 3.0][i % 3]).clamp(0.0, 6.0))
            .collect();
        let (want, wd) = conv_ref(&y1, d1, &dw, [3, 3, 3, 2], 2, true);
        let (dims, got) = run(&m, "dconv", x, [1, h, w, c]);
        assert_eq!(dims, vec![1, wd[0], wd[1], wd[2]]);
        close(&got, &want);
    }
}

#[test]
fn squeeze_excite_concat_resize_pad_and_pool_keep_nhwc_meaning() {
    let (h, w, c) = (4, 6, 3);
    let mut m = TfjsModel::default();
    m.nodes.push(input(h, w, c));
    let f = values(c * c, 4);
    konst(&mut m, "f", &[1, 1, c, c], f.clone());
    m.nodes.push(node(
        "conv",
        "Conv2D",
        &["x", "f"],
        json!({"strides": ilist(&[1, 1, 1, 1]), "padding": s("VALID")}),
    ));
    // Squeeze-and-excite: channel means (keep_dims), sigmoid, times the feature map.
    ints(&mut m, "hw", vec![1, 2]);
    m.nodes.push(node(
        "se",
        "Mean",
        &["conv", "hw"],
        json!({"keep_dims": {"b": true}}),
    ));
    m.nodes.push(node("gate", "Sigmoid", &["se"], json!({})));
    m.nodes
        .push(node("scaled", "Mul", &["conv", "gate"], json!({})));
    // A per-channel constant and a scalar.
    konst(&mut m, "pc", &[c], vec![1.0, 2.0, -1.0]);
    m.nodes
        .push(node("shifted", "AddV2", &["scaled", "pc"], json!({})));
    ints(&mut m, "axis", vec![3]);
    m.nodes.push(node(
        "cat",
        "ConcatV2",
        &["shifted", "x", "axis"],
        json!({"N": {"i": "2"}}),
    ));
    ints(&mut m, "size", vec![8, 12]);
    m.nodes.push(node(
        "up",
        "ResizeBilinear",
        &["cat", "size"],
        json!({"align_corners": {"b": false}, "half_pixel_centers": {"b": false}}),
    ));
    m.nodes.push(node(
        "pool",
        "MaxPool",
        &["up"],
        json!({"ksize": ilist(&[1, 3, 3, 1]), "strides": ilist(&[1, 1, 1, 1]), "padding": s("SAME")}),
    ));
    m.consts.insert(
        "pads".to_owned(),
        TfConst {
            dims: vec![4, 2],
            data: TfData::I(vec![0, 0, 1, 0, 0, 2, 0, 0]),
        },
    );
    m.nodes.push(node("pads", "Const", &[], json!({})));
    m.nodes
        .push(node("padded", "Pad", &["pool", "pads"], json!({})));

    let x = values(h * w * c, 5);
    // Reference, NHWC throughout.
    let (conv, _) = conv_ref(&x, [h, w, c], &f, [1, 1, c, c], 1, false);
    let mut mean = [0f32; 3];
    for (i, v) in conv.iter().enumerate() {
        mean[i % c] += v / (h * w) as f32;
    }
    let cc = 2 * c;
    let mut cat = vec![0f32; h * w * cc];
    for p in 0..h * w {
        for k in 0..c {
            let g = 1.0 / (1.0 + (-mean[k]).exp());
            cat[p * cc + k] = conv[p * c + k] * g + [1.0, 2.0, -1.0][k];
            cat[p * cc + c + k] = x[p * c + k];
        }
    }
    let (ho, wo) = (8, 12);
    let lerp = |o: usize, inp: usize, out: usize| {
        let s = o as f32 * inp as f32 / out as f32;
        let lo = (s.floor() as usize).min(inp - 1);
        (lo, (lo + 1).min(inp - 1), s - lo as f32)
    };
    let mut up = vec![0f32; ho * wo * cc];
    for oy in 0..ho {
        let (y0, y1, ty) = lerp(oy, h, ho);
        for ox in 0..wo {
            let (x0, x1, tx) = lerp(ox, w, wo);
            for k in 0..cc {
                let at = |y: usize, xx: usize| cat[(y * w + xx) * cc + k];
                let top = at(y0, x0) * (1.0 - tx) + at(y0, x1) * tx;
                let bot = at(y1, x0) * (1.0 - tx) + at(y1, x1) * tx;
                up[(oy * wo + ox) * cc + k] = top * (1.0 - ty) + bot * ty;
            }
        }
    }
    let mut pool = vec![f32::NEG_INFINITY; ho * wo * cc];
    for oy in 0..ho {
        for ox in 0..wo {
            for k in 0..cc {
                for dy in 0..3 {
                    for dx in 0..3 {
                        let (iy, ix) = (oy as isize + dy - 1, ox as isize + dx - 1);
                        if iy >= 0 && ix >= 0 && (iy as usize) < ho && (ix as usize) < wo {
                            let v = up[(iy as usize * wo + ix as usize) * cc + k];
                            let o = &mut pool[(oy * wo + ox) * cc + k];
                            *o = o.max(v);
                        }
                    }
                }
            }
        }
    }
    // Pad H by (1, 0) and W by (0, 2).
    let (hp, wp) = (ho + 1, wo + 2);
    let mut want = vec![0f32; hp * wp * cc];
    for y in 0..ho {
        for xx in 0..wo {
            for k in 0..cc {
                want[((y + 1) * wp + xx) * cc + k] = pool[(y * wo + xx) * cc + k];
            }
        }
    }
    let (dims, got) = run(&m, "padded", x, [1, h, w, c]);
    assert_eq!(dims, vec![1, hp, wp, cc]);
    close(&got, &want);
    // Only the graph input and the output change layout: two transposes, no more.
    let ir = translate::translate(&m, &["padded"]).unwrap();
    assert_eq!(
        translate::op_counts(&ir).get("Transpose"),
        Some(&2),
        "{:?}",
        translate::op_counts(&ir)
    );
}

#[test]
fn global_mean_matmul_and_softmax_as_a_classifier_head() {
    let (h, w, c) = (3, 3, 4);
    let mut m = TfjsModel::default();
    m.nodes.push(input(h, w, c));
    let f = values(c * c, 6);
    konst(&mut m, "f", &[1, 1, c, c], f.clone());
    m.nodes.push(node(
        "conv",
        "Conv2D",
        &["x", "f"],
        json!({"strides": ilist(&[1, 1, 1, 1]), "padding": s("SAME")}),
    ));
    ints(&mut m, "hw", vec![1, 2]);
    m.nodes.push(node(
        "gap",
        "Mean",
        &["conv", "hw"],
        json!({"keep_dims": {"b": false}}),
    ));
    let k = values(c * 2, 7);
    konst(&mut m, "k", &[c, 2], k.clone());
    konst(&mut m, "kb", &[2], vec![0.1, -0.1]);
    m.nodes.push(node(
        "fc",
        "_FusedMatMul",
        &["gap", "k", "kb"],
        json!({"fused_ops": {"list": {"s": [b64("BiasAdd")]}}, "transpose_b": {"b": false}}),
    ));
    m.nodes.push(node("p", "Softmax", &["fc"], json!({})));
    let x = values(h * w * c, 8);
    let (conv, _) = conv_ref(&x, [h, w, c], &f, [1, 1, c, c], 1, false);
    let mut gap = vec![0f32; c];
    for (i, v) in conv.iter().enumerate() {
        gap[i % c] += v / (h * w) as f32;
    }
    let logits: Vec<f32> = (0..2)
        .map(|j| (0..c).map(|i| gap[i] * k[i * 2 + j]).sum::<f32>() + [0.1, -0.1][j])
        .collect();
    let z: f32 = logits.iter().map(|l| l.exp()).sum();
    let want: Vec<f32> = logits.iter().map(|l| l.exp() / z).collect();
    let (dims, got) = run(&m, "p", x, [1, h, w, c]);
    assert_eq!(dims, vec![1, 2]);
    close(&got, &want);
}

#[test]
fn unsupported_ops_missing_nodes_and_cycles_are_load_errors() {
    let mut m = TfjsModel::default();
    m.nodes.push(input(2, 2, 1));
    m.nodes.push(node("t", "TopKV2", &["x"], json!({})));
    let e = m.graph("t", &["t"], &dev()).unwrap_err().to_string();
    assert!(e.contains("TopKV2"), "{e}");
    assert!(m.graph("t", &["nope"], &dev()).is_err());
    let mut c = TfjsModel::default();
    c.nodes.push(node("a", "Relu", &["b"], json!({})));
    c.nodes.push(node("b", "Relu", &["a"], json!({})));
    let e = c.graph("t", &["a"], &dev()).unwrap_err().to_string();
    assert!(e.contains("cycle"), "{e}");
}

#[test]
fn shards_must_be_the_ones_the_manifest_names() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("model.json");
    std::fs::write(
        &json_path,
        serde_json::to_vec(&json!({
            "modelTopology": {"node": [{"name": "w", "op": "Const"}]},
            "weightsManifest": [{"paths": ["w.bin"],
                "weights": [{"name": "w", "shape": [2], "dtype": "float32"}]}]
        }))
        .unwrap(),
    )
    .unwrap();
    let bin = dir.path().join("w.bin");
    std::fs::write(&bin, [0u8; 8]).unwrap();
    let other = dir.path().join("other.bin");
    std::fs::write(&other, [0u8; 8]).unwrap();
    assert!(read_json("t", &json_path, &[other]).is_err());
    let m = read_json("t", &json_path, std::slice::from_ref(&bin)).unwrap();
    assert_eq!(m.consts["w"].data, TfData::F(vec![0.0, 0.0]));
    std::fs::write(&bin, [0u8; 7]).unwrap();
    let e = read_json("t", &json_path, &[bin]).unwrap_err().to_string();
    assert!(e.contains("needs 8 bytes"), "{e}");
}

/// MoveNet's input path: an int32 image `Cast` to float, `Unpack` (num 1) of the batch axis,
/// `ExpandDims` back, normalised; and an `Unpack` of a convolution's (NCHW-stored) output.
#[test]
fn cast_to_float_and_single_unpack_are_identity_and_squeeze() {
    let (h, w, c) = (2, 3, 2);
    let mut m = TfjsModel::default();
    m.nodes.push(input(h, w, c));
    let ty = |t: &str| json!({ "type": t });
    m.nodes.push(node(
        "cast",
        "Cast",
        &["x"],
        json!({"DstT": ty("DT_FLOAT"), "SrcT": ty("DT_INT32")}),
    ));
    m.nodes.push(node(
        "unstack",
        "Unpack",
        &["cast"],
        json!({"axis": {"i": "0"}, "num": {"i": "1"}}),
    ));
    ints(&mut m, "zero", vec![0]);
    m.nodes
        .push(node("stack", "ExpandDims", &["unstack", "zero"], json!({})));
    // An integer constant cast to float meets the image.
    ints(&mut m, "offset", vec![3, -1]);
    m.nodes.push(node(
        "offset_f",
        "Cast",
        &["offset"],
        json!({"DstT": ty("DT_FLOAT")}),
    ));
    m.nodes
        .push(node("sub", "Sub", &["stack", "offset_f"], json!({})));
    let f = values(c * 3, 9);
    konst(&mut m, "f", &[1, 1, c, 3], f.clone());
    m.nodes.push(node(
        "conv",
        "Conv2D",
        &["sub", "f"],
        json!({"strides": ilist(&[1, 1, 1, 1]), "padding": s("SAME")}),
    ));
    m.nodes.push(node(
        "out",
        "Unpack",
        &["conv"],
        json!({"axis": {"i": "-4"}, "num": {"i": "1"}}),
    ));
    let x: Vec<f32> = (0..h * w * c).map(|i| (i * 37 % 256) as f32).collect();
    let shifted: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, v)| v - [3.0, -1.0][i % c])
        .collect();
    let (want, _) = conv_ref(&shifted, [h, w, c], &f, [1, 1, c, 3], 1, false);
    let (dims, got) = run(&m, "out", x.clone(), [1, h, w, c]);
    assert_eq!(dims, vec![h, w, 3]);
    close(&got, &want);
    let (dims, got) = run(&m, "stack", x.clone(), [1, h, w, c]);
    assert_eq!(dims, vec![1, h, w, c]);
    close(&got, &x);

    // A cast to an integer type and an unstack into several tensors are load errors.
    let mut bad = TfjsModel::default();
    bad.nodes.push(input(h, w, c));
    bad.nodes
        .push(node("ci", "Cast", &["x"], json!({"DstT": ty("DT_INT32")})));
    bad.nodes.push(node(
        "u2",
        "Unpack",
        &["x"],
        json!({"axis": {"i": "3"}, "num": {"i": "2"}}),
    ));
    let e = bad.graph("t", &["ci"], &dev()).unwrap_err().to_string();
    assert!(e.contains("DT_INT32"), "{e}");
    let e = bad.graph("t", &["u2"], &dev()).unwrap_err().to_string();
    assert!(e.contains("num = 1"), "{e}");
}
