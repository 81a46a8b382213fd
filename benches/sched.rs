//! Scheduler decision overhead (goal <= 0.1 ms per decision on CPU) at a realistic problem size
//! (1,100 labels, 16 models), all measured in the same run:
//! - ours: the empirical prior (16 models: singleton table with the submodular bound) plus a
//!   64-unit residual network on rich features, then the Cost-Q pick;
//! - the paper's Cost-Q: its 256-unit Dueling network on label bits (sparse CPU form), then
//!   the same pick;
//! - ours conditioned on hits: the prior-only variant conditioned on which executed models found
//!   something, keeping the most reference photos it ever keeps (2,000): first decision
//!   (answered by the table), after one model hit (many matches, capped) and mid-schedule;
//! - static order: a fixed list scan (the cheapest possible baseline);
//! - the paper network's dense forward pass in burn on the CPU.

use std::time::Instant;

use burn::prelude::*;
use photolabel::rl::{Checkpoint, TrainConfig};
use photolabel::sched::greedy::{GreedyConfig, pick};
use photolabel::sched::prior::{PriorTable, Target};
use photolabel::sched::state::{LabelSpace, State};
use photolabel::sched::trace::{
    Context, ModelRun, Output, PhotoTrace, Trace, TraceHeader, TraceModel,
};
use photolabel::sched::valuenet::{DuelingNet, FeatureSet, NetShape, dense_batch};
use photolabel::sched::{Catalog, ModelInfo, ValueModel};

fn per_decision(n: usize, mut f: impl FnMut() -> usize) -> f64 {
    let t = Instant::now();
    let mut acc = 0usize;
    for _ in 0..n {
        acc = acc.wrapping_add(f());
    }
    std::hint::black_box(acc);
    t.elapsed().as_secs_f64() * 1e3 / n as f64
}

fn main() {
    let (labels, models) = (1100, 16);
    let device = Device::flex();
    let catalog = Catalog {
        models: (0..models)
            .map(|i| ModelInfo {
                id: format!("m{i}"),
                threshold: 0.5,
                theta: 1.0,
                mean_ms: 5.0 + i as f64 * 7.0,
                mem_bytes: 0,
                enabled: true,
                stage: None,
            })
            .collect(),
        labels: LabelSpace::from_names((0..labels).map(|i| format!("l{i}")).collect()),
        stages: Vec::new(),
    };
    // A small synthetic training trace for the prior.
    let trace = Trace {
        header: TraceHeader::new(
            "bench".into(),
            (0..models)
                .map(|i| TraceModel {
                    id: format!("m{i}"),
                    family: "x".into(),
                    threshold: 0.5,
                })
                .collect(),
        ),
        photos: (0..photolabel::sched::prior::MAX_CONDITIONING_PHOTOS)
            .map(|p| PhotoTrace {
                photo: format!("{p}.jpg"),
                hash: format!("h{p}"),
                context: Context::default(),
                runs: (0..models)
                    .map(|m| ModelRun {
                        model: format!("m{m}"),
                        time_ms: 5.0 + m as f64 * 7.0,
                        peak_mem_bytes: None,
                        outputs: (0..(p + m) % 4)
                            .map(|k| Output {
                                label: format!("l{}", (p * 7 + m * 13 + k * 31) % labels),
                                confidence: 0.5 + ((p + k) % 5) as f32 / 10.0,
                                bbox: None,
                            })
                            .collect(),
                        error: None,
                        stages: Vec::new(),
                    })
                    .collect(),
            })
            .collect(),
    };
    let ours_shape = NetShape {
        labels,
        models,
        hidden: 64,
        features: FeatureSet::Rich,
    };
    let ours = Checkpoint {
        version: 1,
        labels: catalog.labels.names().to_vec(),
        models: catalog.models.iter().map(|m| m.id.clone()).collect(),
        net: DuelingNet::new(ours_shape, 1, &device)
            .export(ours_shape)
            .expect("export"),
        config: TrainConfig::default(),
        metrics: Vec::new(),
        prior: Some(PriorTable::fit(&trace, &catalog, Target::Gain)),
        stop_below: None,
        stop_per_ms: false,
        stop_on: None,
        calibration: None,
        stops: Vec::new(),
        costs: Vec::new(),
    }
    .predictor(&catalog);
    let conditioned =
        PriorTable::fit(&trace, &catalog, Target::Hit).conditioned(&trace, &catalog, 2.0);
    let paper_shape = NetShape {
        labels,
        models,
        hidden: 256,
        features: FeatureSet::Paper,
    };
    let paper_net = DuelingNet::new(paper_shape, 1, &device);
    let paper = paper_net.export(paper_shape).expect("export");

    // A mid-schedule state: 5 models ran, 12 labels found.
    let mut state = State::new(
        labels,
        models,
        &Context {
            gps: true,
            ..Context::default()
        },
    );
    let fresh = state.clone();
    // One model ran and found something, like most photos: many reference photos match, and
    // the prediction averages over the cap of MAX_MATCHED_PHOTOS.
    let mut one = state.clone();
    one.executed[1] = true;
    one.hit[1] = true;
    for i in 0..5 {
        state.executed[i * 3] = true;
        state.hit[i * 3] = i % 2 == 0;
    }
    for i in 0..12 {
        state.best[i * 89] = 0.5 + i as f32 / 30.0;
    }
    let cfg = GreedyConfig::default();
    let mut q = vec![0f32; models];
    let n = 20_000;
    let ours_ms = per_decision(n, || {
        ours.predict(&state, &mut q);
        pick(&catalog, &q, &state, f64::INFINITY, cfg).map_or(0, |p| p.0)
    });
    let cond_fresh_ms = per_decision(2_000, || {
        conditioned.predict(&fresh, &mut q);
        pick(&catalog, &q, &fresh, f64::INFINITY, cfg).map_or(0, |p| p.0)
    });
    let cond_one_ms = per_decision(2_000, || {
        conditioned.predict(&one, &mut q);
        pick(&catalog, &q, &one, f64::INFINITY, cfg).map_or(0, |p| p.0)
    });
    let cond_mid_ms = per_decision(2_000, || {
        conditioned.predict(&state, &mut q);
        pick(&catalog, &q, &state, f64::INFINITY, cfg).map_or(0, |p| p.0)
    });
    let paper_ms = per_decision(n, || {
        paper.predict(&state, &mut q);
        pick(&catalog, &q, &state, f64::INFINITY, cfg).map_or(0, |p| p.0)
    });
    let order: Vec<usize> = (0..models).rev().collect();
    let static_ms = per_decision(n, || {
        order
            .iter()
            .copied()
            .find(|&i| !state.executed[i])
            .unwrap_or(0)
    });
    let input = paper_shape.sparse_input(&state);
    let burn_ms = per_decision(300, || {
        let x = dense_batch(&[&input], paper_shape.input_dim(), &device);
        let out = paper_net.forward(x).into_data();
        std::hint::black_box(out);
        0
    });
    println!(
        "sched/decision ours (prior + residual net64, rich): {ours_ms:.4} ms ({:.0}/s; goal <= \
         0.1 ms)",
        1e3 / ours_ms
    );
    println!(
        "sched/decision ours conditioned on hits (2,000 reference photos): first decision \
         {cond_fresh_ms:.4} ms, after one hit {cond_one_ms:.4} ms, mid-schedule {cond_mid_ms:.4} \
         ms (goal <= 0.1 ms)"
    );
    println!(
        "sched/decision cost-q (paper net, sparse): {paper_ms:.4} ms | ratio ours/paper {:.3}x",
        ours_ms / paper_ms
    );
    println!(
        "sched/decision static order: {static_ms:.6} ms | paper net dense burn forward: \
         {burn_ms:.3} ms | ratio ours/burn {:.3}x",
        ours_ms / burn_ms
    );
}
