//! Scheduler and trainer on traces with known structure: the trainer is reproducible, and a
//! trained value network beats random order (and run-all) on photos it never saw.

#![allow(clippy::unwrap_used)] // helpers beside the tests panic on setup failure

use std::sync::atomic::AtomicBool;

use photolabel::fixtures::synthetic_trace;
use photolabel::rl::{TrainConfig, train};
use photolabel::sched::Catalog;
use photolabel::sched::eval::{Oracle, RandomOrder, RunAll, ValueGreedy, evaluate, production};
use photolabel::sched::greedy::{GreedyConfig, StopOn};

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
        stop_on: StopOn::Value,
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

#[test]
fn validation_selection_is_deterministic_and_never_sees_test_photos() {
    use photolabel::rl::bench::{candidates, select, validation_splits};
    let trace = synthetic_trace(200, 4);
    let (train_set, test_set) = trace.split(0.3, 1);
    let catalog = Catalog::from_trace(&train_set);
    let splits = validation_splits(&train_set, 3, 0.25, 1);
    assert_eq!(splits.len(), 3);
    // Every training photo is validated exactly once; no test photo is ever used.
    let mut val: Vec<&str> = splits
        .iter()
        .flat_map(|(_, v)| v.photos.iter().map(|p| p.hash.as_str()))
        .collect();
    val.sort_unstable();
    let mut train_hashes: Vec<&str> = train_set.photos.iter().map(|p| p.hash.as_str()).collect();
    train_hashes.sort_unstable();
    assert_eq!(val, train_hashes);
    for (fit, v) in &splits {
        assert_eq!(fit.photos.len() + v.photos.len(), train_set.photos.len());
        assert!(fit.photos.iter().all(|p| !v.photos.contains(p)));
        assert!(
            fit.photos
                .iter()
                .chain(&v.photos)
                .all(|p| !test_set.photos.contains(p))
        );
    }
    let hold_out = validation_splits(&train_set, 1, 0.25, 1);
    assert_eq!(hold_out.len(), 1);
    assert_eq!(hold_out[0].1.photos.len(), 15);

    let cands: Vec<_> = candidates(3, 4)
        .into_iter()
        .filter(|c| c.cfg.hidden <= 64)
        .take(4)
        .collect();
    // Everything but the measured decision speed is reproducible.
    let run = || {
        let mut s = select(&splits, &catalog, &cands, 0.99, &mut |_| {}).unwrap();
        s.val.iter_mut().for_each(|r| r.decisions_per_s = 0.0);
        s
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b, "selection is seeded");
    assert_eq!(a.val.len(), cands.len());
    assert_eq!(a.val_photos, train_set.photos.len());
    let best = a
        .val
        .iter()
        .map(|r| r.time_to_100)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(a.val[a.chosen].time_to_100, best);
    // The stop threshold keeps the target recall on validation (no stop always does).
    assert!(a.val_recall >= 0.99 - 1e-9, "{a:?}");
}

#[test]
fn ours_full_information_beats_random_and_stops_early_on_held_out_photos() {
    use photolabel::rl::bench::{candidates, select, validation_splits};
    use photolabel::rl::supervised::train_full_info;
    let trace = synthetic_trace(500, 5);
    let (train_set, test_set) = trace.split(0.2, 1);
    let catalog = Catalog::from_trace(&train_set);
    let splits = validation_splits(&train_set, 4, 0.25, 1);
    let cands = candidates(1, 20);
    let sel = select(&splits, &catalog, &cands, 0.99, &mut |_| {}).unwrap();
    let mut ckpt = train_full_info(
        &train_set,
        &catalog,
        &cands[sel.chosen].cfg,
        &AtomicBool::new(false),
    )
    .unwrap();
    sel.apply_to(&mut ckpt);
    let net = ckpt.predictor(&catalog);
    let no_stop = GreedyConfig {
        use_cost: true,
        stop_below: None,
        stop_on: StopOn::Value,
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
    eprintln!("{}: {ours:?}\n{random:?}", cands[sel.chosen].name);
    assert!(ours.time_to_100 < random.time_to_100 - 0.1);
    assert!(ours.area > random.area + 0.05);
    let mut prod = ValueGreedy::new(
        &catalog,
        &net,
        GreedyConfig {
            use_cost: true,
            stop_below: sel.stop_below,
            stop_on: sel.stop_on,
        },
    );
    let (recall, time) = production(&catalog, &mut prod, &test_set);
    eprintln!("production: recall {recall:.3} at {time:.3}");
    assert!(recall > 0.95 && time < 1.0, "recall {recall} time {time}");
}

/// `bench-sched --traces A --test B --retrain-on 10,30`: the network trained on another
/// library and the ones retrained on 10 and 30 of this library's photos are all replayed on
/// the same held-out photos of this library, none of which any of them trained on.
#[test]
fn generalisation_replays_every_scenario_on_the_same_unseen_photos() {
    use photolabel::rl::bench::{BenchConfig, candidates, generalisation};
    let other = synthetic_trace(60, 7);
    let library = synthetic_trace(80, 8);
    let cfg = BenchConfig {
        folds: 2,
        rich_dqn: false,
        ours: small_config(3),
        candidates: candidates(3, 4).into_iter().take(2).collect(),
        ..BenchConfig::default()
    };
    let reports = generalisation(&other, &library, &[10, 30], &cfg, &mut |_| {}).unwrap();
    let trained: Vec<usize> = reports.iter().map(|(_, r)| r.train_photos).collect();
    assert_eq!(trained, vec![60, 10, 30]);
    for (scenario, r) in &reports {
        assert_eq!(r.test_photos, 50, "{scenario}");
        let names: Vec<&str> = r.policies.iter().map(|p| p.policy.as_str()).collect();
        assert!(
            names.contains(&"ours") && names.contains(&"oracle"),
            "{names:?}"
        );
    }
    assert!(reports[0].0.contains("other trace"));
}
