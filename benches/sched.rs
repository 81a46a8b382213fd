//! Scheduler decision overhead (goal <= 0.1 ms per decision on CPU): predict every model's
//! value with the sparse value network and pick the best value per cost, at the real problem
//! size (1,100 labels, 16 models, 256 hidden units), compared with the same network's dense
//! forward pass in burn on the CPU measured in the same run.

use std::time::Instant;

use burn::prelude::*;
use photolabel::sched::greedy::{GreedyConfig, pick};
use photolabel::sched::state::{LabelSpace, State};
use photolabel::sched::trace::Context;
use photolabel::sched::valuenet::{DuelingNet, FeatureSet, NetShape, dense_batch};
use photolabel::sched::{Catalog, ModelInfo, ValueModel};

fn main() {
    let (labels, models) = (1100, 16);
    let shape = NetShape {
        labels,
        models,
        hidden: 256,
        features: FeatureSet::Rich,
    };
    let device = Device::flex();
    let net = DuelingNet::new(shape, 1, &device);
    let fast = net.export(shape).expect("export");
    let catalog = Catalog {
        models: (0..models)
            .map(|i| ModelInfo {
                id: format!("m{i}"),
                threshold: 0.5,
                theta: 1.0,
                mean_ms: 5.0 + i as f64 * 7.0,
                mem_bytes: 0,
                enabled: true,
            })
            .collect(),
        labels: LabelSpace::from_names((0..labels).map(|i| format!("l{i}")).collect()),
    };
    // A mid-schedule state: 5 models ran, 12 labels found.
    let mut state = State::new(
        labels,
        models,
        &Context {
            gps: true,
            ..Context::default()
        },
    );
    for i in 0..5 {
        state.executed[i * 3] = true;
    }
    for i in 0..12 {
        state.best[i * 89] = 0.5 + i as f32 / 30.0;
    }
    let mut q = vec![0f32; models];
    let n = 20_000;
    let t = Instant::now();
    let mut picked = 0usize;
    for _ in 0..n {
        fast.predict(&state, &mut q);
        if let Some((i, _)) = pick(&catalog, &q, &state, f64::INFINITY, GreedyConfig::default()) {
            picked += i;
        }
    }
    let ours_ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    std::hint::black_box(picked);

    let input = shape.sparse_input(&state);
    let m = 300;
    let t = Instant::now();
    for _ in 0..m {
        let x = dense_batch(&[&input], shape.input_dim(), &device);
        let out = net.forward(x).into_data();
        std::hint::black_box(out);
    }
    let burn_ms = t.elapsed().as_secs_f64() * 1e3 / m as f64;
    println!(
        "sched/decision: {ours_ms:.4} ms per decision ({:.0}/s; goal <= 0.1 ms) | burn dense \
         forward on CPU {burn_ms:.3} ms | ratio {:.3}x",
        1.0 / ours_ms * 1e3,
        ours_ms / burn_ms
    );
}
