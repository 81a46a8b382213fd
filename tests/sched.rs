//! Scheduler and trainer on traces with known structure: the trainer is reproducible, and a
//! trained value network beats random order (and run-all) on photos it never saw.

#![allow(clippy::unwrap_used)] // helpers beside the tests panic on setup failure

use std::sync::atomic::AtomicBool;

use photolabel::fixtures::synthetic_trace;
use photolabel::rl::{TrainConfig, train};
use photolabel::sched::Catalog;
use photolabel::sched::eval::{Oracle, RandomOrder, RunAll, ValueGreedy, evaluate, production};
use photolabel::sched::greedy::GreedyConfig;

fn small_config(seed: u64) -> TrainConfig {
    TrainConfig {
        seed,
        epochs: 12,
        hidden: 32,
        updates_per_episode: 2,
        target_sync: 50,
        ..TrainConfig::default()
    }
}

#[test]
fn training_is_reproducible_for_a_seed() {
    let trace = synthetic_trace(40, 3);
    let catalog = Catalog::from_trace(&trace);
    let mut cfg = small_config(11);
    cfg.epochs = 3;
    let a = train(&trace, &catalog, &cfg, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let b = train(&trace, &catalog, &cfg, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(a.net, b.net);
    cfg.seed = 12;
    let c = train(&trace, &catalog, &cfg, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_ne!(a.net, c.net);
}

#[test]
fn a_trained_network_beats_random_on_held_out_photos() {
    let trace = synthetic_trace(500, 5);
    let (train_set, test_set) = trace.split(0.2, 1);
    let catalog = Catalog::from_trace(&train_set);
    let mut epochs_seen = 0;
    let ckpt = train(
        &train_set,
        &catalog,
        &small_config(1),
        &mut |p| epochs_seen = p.epoch,
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(epochs_seen, 12);
    let net = ckpt.predictor(&catalog);
    let no_stop = GreedyConfig {
        use_cost: true,
        stop_below: None,
    };
    let ours = evaluate(
        "ours",
        &catalog,
        &mut ValueGreedy::new(&catalog, &net, no_stop),
        &test_set,
    );
    let random = evaluate(
        "random",
        &catalog,
        &mut RandomOrder::new(&catalog, 9),
        &test_set,
    );
    let all = evaluate("run-all", &catalog, &mut RunAll(&catalog), &test_set);
    let oracle = evaluate("oracle", &catalog, &mut Oracle(&catalog), &test_set);
    eprintln!("{ours:?}\n{random:?}\n{all:?}\n{oracle:?}");
    assert!(
        ours.time_to_100 < random.time_to_100 - 0.1,
        "{} vs {}",
        ours.time_to_100,
        random.time_to_100
    );
    assert!(
        ours.area > random.area + 0.05,
        "{} vs {}",
        ours.area,
        random.area
    );
    assert!(oracle.time_to_100 <= ours.time_to_100 + 1e-9);
    // With early stop the production policy keeps most of the value for far less time.
    let mut prod = ValueGreedy::new(&catalog, &net, GreedyConfig::default());
    let (recall, time) = production(&catalog, &mut prod, &test_set);
    eprintln!("production: recall {recall:.3} at {time:.3} of run-all time");
    assert!(recall > 0.9 && time < 0.7, "recall {recall} time {time}");
}
