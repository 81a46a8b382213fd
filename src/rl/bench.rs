//! The scheduler evaluation (`photolabel bench-sched`): split a recorded trace into training
//! and test photos, train the paper's value network and ours on the training photos, and
//! replay every policy over the test photos: run-all, random, static order, Q-greedy, Cost-Q
//! greedy (paper), ours, and the oracle; then the production policy with early stop.

use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use super::{TrainConfig, train};
use crate::error::Result;
use crate::sched::Catalog;
use crate::sched::eval::{
    BUDGETS, Oracle, PolicyReport, RandomOrder, RunAll, StaticOrder, ValueGreedy, evaluate,
    production,
};
use crate::sched::greedy::GreedyConfig;
use crate::sched::trace::Trace;
use crate::sched::valuenet::FeatureSet;

/// Settings of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchConfig {
    /// Share of photos used for training.
    pub train_share: f64,
    pub seed: u64,
    /// Training settings of our network (the paper's differs in features and discount).
    pub ours: TrainConfig,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            train_share: 0.2,
            seed: 1,
            ours: TrainConfig::default(),
        }
    }
}

/// Everything one evaluation measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    pub train_photos: usize,
    pub test_photos: usize,
    pub models: usize,
    pub labels: usize,
    pub policies: Vec<PolicyReport>,
    /// Production policy (ours, early stop, no deadline): mean recall and share of run-all
    /// time.
    pub production_recall: f64,
    pub production_time: f64,
    pub train_seconds: f64,
}

/// The paper's setting: label bits only, discounted returns.
pub fn paper_config(seed: u64) -> TrainConfig {
    TrainConfig {
        seed,
        features: FeatureSet::Paper,
        gamma: 0.9,
        ..TrainConfig::default()
    }
}

/// Runs the whole evaluation on `trace`.
pub fn bench_sched(
    trace: &Trace,
    cfg: &BenchConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<BenchReport> {
    let (train_set, test_set) = trace.split(cfg.train_share, cfg.seed);
    let catalog = Catalog::from_trace(&train_set);
    let cancel = AtomicBool::new(false);
    let t = Instant::now();
    progress("training the paper's network");
    let paper = train(
        &train_set,
        &catalog,
        &paper_config(cfg.ours.seed),
        &mut |_| {},
        &cancel,
    )?;
    progress("training ours");
    let ours = train(&train_set, &catalog, &cfg.ours, &mut |_| {}, &cancel)?;
    let train_seconds = t.elapsed().as_secs_f64();
    let paper_q = paper.predictor(&catalog);
    let ours_q = ours.predictor(&catalog);
    let no_stop_cost = GreedyConfig {
        use_cost: true,
        stop_below: None,
    };
    let no_stop_value = GreedyConfig {
        use_cost: false,
        stop_below: None,
    };
    let mut policies = Vec::new();
    let mut run = |name: &str, chooser: &mut dyn crate::sched::eval::Chooser| {
        progress(name);
        policies.push(evaluate(name, &catalog, chooser, &test_set));
    };
    run("run-all", &mut RunAll(&catalog));
    run("random", &mut RandomOrder::new(&catalog, cfg.seed));
    run("static", &mut StaticOrder::fit(&catalog, &train_set));
    run(
        "q-greedy",
        &mut ValueGreedy::new(&catalog, &paper_q, no_stop_value),
    );
    run(
        "cost-q (paper)",
        &mut ValueGreedy::new(&catalog, &paper_q, no_stop_cost),
    );
    run(
        "ours",
        &mut ValueGreedy::new(&catalog, &ours_q, no_stop_cost),
    );
    run("oracle", &mut Oracle(&catalog));
    let mut prod = ValueGreedy::new(&catalog, &ours_q, GreedyConfig::default());
    let (production_recall, production_time) = production(&catalog, &mut prod, &test_set);
    Ok(BenchReport {
        train_photos: train_set.photos.len(),
        test_photos: test_set.photos.len(),
        models: catalog.models.len(),
        labels: catalog.labels.len(),
        policies,
        production_recall,
        production_time,
        train_seconds,
    })
}

impl BenchReport {
    /// The report as a text table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} train / {} test photos, {} models, {} labels; training took {:.1}s",
            self.train_photos, self.test_photos, self.models, self.labels, self.train_seconds
        );
        let _ = writeln!(
            s,
            "{:<16} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>12}",
            "policy", "t@100%", "t@95%", "t@80%", "r@5%", "r@20%", "r@50%", "area", "decisions/s"
        );
        let at = |p: &PolicyReport, b: f64| {
            BUDGETS
                .iter()
                .position(|x| (*x - b).abs() < 1e-9)
                .and_then(|i| p.recall_at.get(i).copied())
                .unwrap_or(f64::NAN)
        };
        for p in &self.policies {
            let _ = writeln!(
                s,
                "{:<16} {:>6.1}% {:>6.1}% {:>6.1}% {:>6.1}% {:>6.1}% {:>6.1}% {:>7.3} {:>12.0}",
                p.policy,
                p.time_to_100 * 100.0,
                p.time_to_95 * 100.0,
                p.time_to_80 * 100.0,
                at(p, 0.05) * 100.0,
                at(p, 0.2) * 100.0,
                at(p, 0.5) * 100.0,
                p.area,
                p.decisions_per_s
            );
        }
        let _ = writeln!(
            s,
            "production (ours, early stop, no deadline): recall {:.1}% at {:.1}% of run-all time",
            self.production_recall * 100.0,
            self.production_time * 100.0
        );
        s
    }
}
