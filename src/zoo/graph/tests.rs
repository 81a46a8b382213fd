//! Unit tests of the executor: each op arm on small hand-built graphs.

#![allow(clippy::unwrap_used)]

use super::util::to_f;
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
