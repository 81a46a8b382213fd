//! The scheduler evaluation (`photolabel bench-sched`): split a recorded trace into training
//! and test photos, train the paper's value network and ours on the training photos, and
//! replay every policy over the test photos: run-all, random, static order, Q-greedy, Cost-Q
//! greedy (paper), ours, and the oracle; then the production policy with early stop.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use super::checkpoint::{Checkpoint, StopPoint};
use super::stops::{AsProbability, StopChoice, reliability, select_stops};
use super::supervised::{SupervisedConfig, train_full_info};
use super::{TrainConfig, train};
use crate::error::Result;
use crate::sched::budget::{BudgetOutcome, BudgetPolicy, replay_library};
use crate::sched::calibration::{Calibration, Reliability};
use crate::sched::deadlines::{DeadlineRow, deadline_experiment};
use crate::sched::eval::{
    Oracle, PolicyReport, RandomOrder, RunAll, StaticOrder, ValueGreedy, evaluate, production,
};
use crate::sched::greedy::{GreedyConfig, StopOn};
use crate::sched::prior::Target;
use crate::sched::trace::Trace;
use crate::sched::valuenet::FeatureSet;
use crate::sched::{Catalog, ValueModel};

/// Settings of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchConfig {
    /// Share of photos used for training.
    pub train_share: f64,
    /// Share of the training photos held out for validation (variant and stop-threshold
    /// selection) when `folds` < 2; the test photos are never looked at before the final
    /// replay.
    pub val_share: f64,
    /// Cross-validation folds of the training photos (>= 2), else one hold-out.
    pub folds: usize,
    /// Recall of valuable labels the production policy's early stop must keep on validation.
    pub target_recall: f64,
    pub seed: u64,
    /// Training settings of the Dueling DQN on rich features (the previous "ours").
    pub ours: TrainConfig,
    /// Also train and replay the Dueling DQN on rich features (slow).
    pub rich_dqn: bool,
    /// Full-information variants compared on validation (see [`candidates`]).
    pub candidates: Vec<Candidate>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            train_share: 0.2,
            val_share: 0.25,
            folds: 4,
            target_recall: 0.99,
            seed: 1,
            ours: TrainConfig::default(),
            rich_dqn: true,
            candidates: candidates(7, SupervisedConfig::default().epochs),
        }
    }
}

/// A named full-information variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub name: String,
    pub cfg: SupervisedConfig,
}

/// The variants "ours" chooses among on validation: the empirical prior alone, conditioned on
/// the executed models' hits or not, ranking by hit probability or by its odds, a residual
/// network over it (marginal-value and paper-reward targets, two sizes), and the network
/// without the prior. Nothing here depends on the number of models or labels.
pub fn candidates(seed: u64, epochs: usize) -> Vec<Candidate> {
    let base = SupervisedConfig {
        seed,
        epochs,
        ..SupervisedConfig::default()
    };
    let c = |name: &str, cfg: SupervisedConfig| Candidate {
        name: name.into(),
        cfg,
    };
    let mut out = Vec::new();
    for (tname, target) in [
        ("gain", Target::Gain),
        ("hit", Target::Hit),
        ("paper reward", Target::Paper),
    ] {
        out.push(c(
            &format!("prior ({tname})"),
            SupervisedConfig {
                hidden: 0,
                target,
                ..base.clone()
            },
        ));
        out.push(c(
            &format!("prior+net64 ({tname})"),
            SupervisedConfig {
                target,
                ..base.clone()
            },
        ));
        out.push(c(
            &format!("net64 ({tname})"),
            SupervisedConfig {
                target,
                prior: false,
                ..base.clone()
            },
        ));
    }
    for (name, target, shrink) in [
        ("prior|hits (hit)", Target::Hit, 2.0),
        ("prior|hits (gain)", Target::Gain, 2.0),
        ("prior|hits (paper reward)", Target::Paper, 2.0),
        ("prior|hits (hit) k=0.5", Target::Hit, 0.5),
        ("prior|hits (hit) k=8", Target::Hit, 8.0),
    ] {
        out.push(c(
            name,
            SupervisedConfig {
                hidden: 0,
                target,
                hit_shrink: Some(shrink),
                ..base.clone()
            },
        ));
    }
    for (name, shrink) in [
        ("prior (hit odds)", None),
        ("prior|hits (hit odds)", Some(2.0)),
    ] {
        out.push(c(
            name,
            SupervisedConfig {
                hidden: 0,
                target: Target::Hit,
                hit_shrink: shrink,
                odds: true,
                ..base.clone()
            },
        ));
    }
    out.push(c(
        "prior+net256 (gain)",
        SupervisedConfig {
            hidden: 256,
            ..base.clone()
        },
    ));
    out.push(c(
        "prior+net64 (gain) labels only",
        SupervisedConfig {
            features: FeatureSet::Paper,
            ..base
        },
    ));
    out
}

/// What validation chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    /// Validation splits (folds) of the training photos.
    pub folds: usize,
    /// Validation photos over all splits (each training photo once with folds).
    pub val_photos: usize,
    /// Every candidate replayed on the validation photos.
    pub val: Vec<PolicyReport>,
    /// Index of the chosen candidate.
    pub chosen: usize,
    /// The share of valuable labels the main stop was chosen to keep.
    pub target_recall: f64,
    /// Early-stop threshold (None: never stop early) and what it kept on validation.
    pub stop_below: Option<f32>,
    /// What the threshold is compared with.
    pub stop_on: StopOn,
    pub val_recall: f64,
    pub val_time: f64,
    /// The same stop chosen for the lower targets of [`super::stops::TRADE_OFF_TARGETS`]: (target, stop).
    pub trade_off: Vec<(f64, StopChoice)>,
    /// Maps the chosen variant's raw predictions to probabilities of a gain (fitted on what
    /// the folds' networks saw on their validation photos); the stops are in its units.
    pub calibration: Option<Calibration>,
    /// How far the raw predictions were from probabilities on validation.
    pub raw_reliability: Option<Reliability>,
}

impl Selection {
    /// Gives `ckpt` the calibration and the stops chosen on validation.
    pub fn apply_to(&self, ckpt: &mut Checkpoint) {
        ckpt.stop_below = self.stop_below;
        ckpt.stop_on = Some(self.stop_on);
        // Builds that predate `stop_on` read this one.
        ckpt.stop_per_ms = self.stop_on == StopOn::PerMs;
        ckpt.calibration = self.calibration.clone();
        let point = |target: f64, c: &StopChoice| StopPoint {
            target,
            stop_below: c.0,
            stop_on: c.1,
            recall: c.2,
            time: c.3,
        };
        ckpt.stops = std::iter::once(point(
            self.target_recall,
            &(
                self.stop_below,
                self.stop_on,
                self.val_recall,
                self.val_time,
            ),
        ))
        .chain(self.trade_off.iter().map(|(t, c)| point(*t, c)))
        .collect();
    }
}

/// Photo-weighted mean of one policy's reports over validation folds.
fn pool(name: &str, reports: &[PolicyReport]) -> PolicyReport {
    let w: f64 = reports
        .iter()
        .map(|r| r.photos as f64)
        .sum::<f64>()
        .max(1.0);
    let mean = |f: &dyn Fn(&PolicyReport) -> f64| {
        reports.iter().map(|r| f(r) * r.photos as f64).sum::<f64>() / w
    };
    let budgets = reports.first().map_or(0, |r| r.recall_at.len());
    PolicyReport {
        policy: name.to_string(),
        photos: reports.iter().map(|r| r.photos).sum(),
        time_to_100: mean(&|r| r.time_to_100),
        time_to_95: mean(&|r| r.time_to_95),
        time_to_80: mean(&|r| r.time_to_80),
        recall_at: (0..budgets)
            .map(|k| mean(&|r| r.recall_at.get(k).copied().unwrap_or(0.0)))
            .collect(),
        area: mean(&|r| r.area),
        decisions_per_s: mean(&|r| r.decisions_per_s),
    }
}

/// Validation splits of the training photos: `folds` rotating folds when it is 2 or more,
/// else one hold-out of `val_share`. Only training photos are ever split.
pub fn validation_splits(
    train: &Trace,
    folds: usize,
    val_share: f64,
    seed: u64,
) -> Vec<(Trace, Trace)> {
    if folds >= 2 {
        train.folds(folds, seed ^ 0x7A11)
    } else {
        vec![train.split(1.0 - val_share, seed ^ 0x7A11)]
    }
}

/// Trains every candidate on each split's fitting photos, replays it on the split's
/// validation photos, and chooses the candidate with the least pooled time to 100% of the
/// value (ties: larger recall area); then its early-stop threshold for `target_recall`.
pub fn select(
    splits: &[(Trace, Trace)],
    catalog: &Catalog,
    cands: &[Candidate],
    target_recall: f64,
    progress: &mut dyn FnMut(&str),
) -> Result<Selection> {
    let cancel = AtomicBool::new(false);
    let no_stop = GreedyConfig {
        use_cost: true,
        stop_below: None,
        stop_on: StopOn::Value,
    };
    let mut reports: Vec<PolicyReport> = Vec::new();
    let mut chosen: Option<(usize, Vec<Checkpoint>)> = None;
    for (k, c) in cands.iter().enumerate() {
        progress(&format!("validation: {}", c.name));
        let mut per_split = Vec::new();
        let mut ckpts = Vec::new();
        for (fit, val) in splits {
            let ckpt = train_full_info(fit, catalog, &c.cfg, &cancel)?;
            let pred = ckpt.predictor(catalog);
            per_split.push(evaluate(
                &c.name,
                catalog,
                &mut ValueGreedy::new(catalog, &pred, no_stop),
                val,
            ));
            ckpts.push(ckpt);
        }
        let r = pool(&c.name, &per_split);
        let better = match &chosen {
            None => true,
            Some((b, _)) => {
                let b: &PolicyReport = &reports[*b];
                r.time_to_100 < b.time_to_100 - 1e-9
                    || ((r.time_to_100 - b.time_to_100).abs() <= 1e-9 && r.area > b.area)
            }
        };
        reports.push(r);
        if better {
            chosen = Some((k, ckpts));
        }
    }
    let Some((chosen, ckpts)) = chosen else {
        return Err(crate::error::Error::Model("no candidate to select".into()));
    };
    let preds: Vec<_> = ckpts.iter().map(|c| c.predictor(catalog)).collect();
    let pairs: Vec<(&dyn ValueModel, &Trace)> = preds
        .iter()
        .zip(splits)
        .map(|(p, (_, val))| (p as &dyn ValueModel, val))
        .collect();
    progress("calibration and early stops");
    let stops = select_stops(catalog, &pairs, target_recall, true, cands[chosen].cfg.odds);
    let (stop_below, stop_on, val_recall, val_time) = stops.main;
    Ok(Selection {
        folds: splits.len(),
        val_photos: splits.iter().map(|(_, v)| v.photos.len()).sum(),
        val: reports,
        chosen,
        target_recall,
        stop_below,
        stop_on,
        val_recall,
        val_time,
        trade_off: stops.trade_off,
        calibration: stops.calibration,
        raw_reliability: stops.raw_reliability,
    })
}

/// The catalog with each model's peak memory estimated from its weight files (traces do not
/// record memory on the CPU), and a budget of half of all of them together: not every model
/// fits at once, as on a small GPU.
pub fn with_memory_estimates(catalog: &Catalog) -> (Catalog, u64) {
    let mut c = catalog.clone();
    if let Ok(manifest) = crate::zoo::Manifest::embedded() {
        for m in &mut c.models {
            let bytes: u64 = crate::zoo::weight_ids(&m.id)
                .iter()
                .filter_map(|id| manifest.get(id).ok())
                .map(|s| s.size + s.extra_files.iter().map(|e| e.size).sum::<u64>())
                .sum();
            if bytes > 0 {
                m.mem_bytes = crate::label::models::memory_estimate(bytes);
            }
        }
    }
    let total: u64 = c.models.iter().map(|m| m.mem_bytes).sum();
    (c, (total / 2).max(1))
}

/// Library budgets replayed, as shares of the test photos' run-all time.
pub const LIBRARY_BUDGETS: [f64; 6] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];

/// Everything one evaluation measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    pub train_photos: usize,
    pub test_photos: usize,
    pub models: usize,
    pub labels: usize,
    pub selection: Selection,
    /// Name of the chosen variant.
    pub ours: String,
    pub policies: Vec<PolicyReport>,
    /// Production policy (ours, early stop chosen on validation, no deadline): mean recall
    /// and share of run-all time.
    pub production_recall: f64,
    pub production_time: f64,
    /// Production at lower recall targets (stops chosen on validation): (target, recall,
    /// time share) on the test photos.
    pub production_trade_off: Vec<(f64, f64, f64)>,
    /// The same with the Dueling DQN on rich features and the default stop (-0.8), if
    /// trained.
    pub production_dqn: Option<(f64, f64)>,
    /// How well ours' raw and calibrated predictions match what each model added on the test
    /// photos (states of its order without a stop).
    pub test_reliability: Option<(Reliability, Reliability)>,
    /// The test photos labelled in order within a budget for all of them (shares of their
    /// run-all time, [`LIBRARY_BUDGETS`]): adaptive budget vs fixed deadline vs random.
    pub budgets: Vec<BudgetOutcome>,
    /// The paper's deadline experiment ([`deadline_experiment`]) on the test photos.
    pub deadlines: Vec<DeadlineRow>,
    /// The memory budget of its concurrent replay (half the models' estimated peak memory).
    pub mem_budget: u64,
    /// Training seconds: paper's network, rich DQN, validation of all candidates, final
    /// training of ours.
    pub train_seconds: [f64; 4],
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

/// Runs the whole evaluation on `trace`, split into training and test photos
/// (`cfg.train_share`).
pub fn bench_sched(
    trace: &Trace,
    cfg: &BenchConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<BenchReport> {
    let (train_set, test_set) = trace.split(cfg.train_share, cfg.seed);
    bench_sets(&train_set, &test_set, cfg, progress)
}

/// How well a network trained elsewhere does on a library it never saw, and after retraining
/// on some of that library's own photos (`photolabel bench-sched --traces A --test B
/// --retrain-on 100,500`): the shipped network is trained on other photos than a user's.
///
/// Every scenario is replayed on the same held-out photos of `library`: those left once the
/// largest retraining set is taken out. Returns (scenario, report) pairs, the network trained
/// on `other` first.
pub fn generalisation(
    other: &Trace,
    library: &Trace,
    retrain_on: &[usize],
    cfg: &BenchConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<(String, BenchReport)>> {
    let n = library.photos.len();
    let largest = retrain_on
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .min(n.saturating_sub(1));
    let (pool, held_out) = library.split(largest as f64 / n.max(1) as f64, cfg.seed);
    progress(&format!(
        "trained on the other trace ({} photos), tested on {} held-out photos",
        other.photos.len(),
        held_out.photos.len()
    ));
    let mut out = vec![(
        format!(
            "trained on the other trace ({} photos), never saw this one",
            other.photos.len()
        ),
        bench_sets(other, &held_out, cfg, progress)?,
    )];
    for &k in retrain_on {
        let k = k.min(pool.photos.len());
        let train = Trace {
            header: pool.header.clone(),
            photos: pool.photos[..k].to_vec(),
        };
        progress(&format!("retrained on {k} photos of this trace"));
        out.push((
            format!("retrained on {k} photos of this trace"),
            bench_sets(&train, &held_out, cfg, progress)?,
        ));
    }
    Ok(out)
}

/// The whole evaluation with the training and test photos given.
pub fn bench_sets(
    train_set: &Trace,
    test_set: &Trace,
    cfg: &BenchConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<BenchReport> {
    let (train_set, test_set) = (train_set.clone(), test_set.clone());
    let splits = validation_splits(&train_set, cfg.folds, cfg.val_share, cfg.seed);
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
    let paper_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let dqn = if cfg.rich_dqn {
        progress("training the Dueling DQN on rich features");
        Some(train(
            &train_set,
            &catalog,
            &cfg.ours,
            &mut |_| {},
            &cancel,
        )?)
    } else {
        None
    };
    let dqn_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let selection = select(
        &splits,
        &catalog,
        &cfg.candidates,
        cfg.target_recall,
        progress,
    )?;
    let val_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let chosen = &cfg.candidates[selection.chosen];
    progress(&format!(
        "training ours ({}) on all training photos",
        chosen.name
    ));
    let mut ours = train_full_info(&train_set, &catalog, &chosen.cfg, &cancel)?;
    selection.apply_to(&mut ours);
    let ours_s = t.elapsed().as_secs_f64();
    let paper_q = paper.predictor(&catalog);
    let ours_q = ours.predictor(&catalog);
    let dqn_q = dqn.as_ref().map(|d| d.predictor(&catalog));
    let no_stop_cost = GreedyConfig {
        use_cost: true,
        stop_below: None,
        stop_on: StopOn::Value,
    };
    let no_stop_value = GreedyConfig {
        use_cost: false,
        stop_below: None,
        stop_on: StopOn::Value,
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
    if let Some(q) = &dqn_q {
        run(
            "dueling rich",
            &mut ValueGreedy::new(&catalog, q, no_stop_cost),
        );
    }
    let ours_raw = ours_q.clone().uncalibrated();
    if ours.calibration.is_some() {
        run(
            "ours (raw)",
            &mut ValueGreedy::new(&catalog, &ours_raw, no_stop_cost),
        );
    }
    run(
        "ours",
        &mut ValueGreedy::new(&catalog, &ours_q, no_stop_cost),
    );
    run("oracle", &mut Oracle(&catalog));
    progress("reliability on the test photos");
    let test_reliability = ours.calibration.as_ref().map(|_| {
        (
            reliability(
                &catalog,
                &ours_raw,
                &test_set,
                if chosen.cfg.odds {
                    AsProbability::RawOdds
                } else {
                    AsProbability::Raw
                },
            ),
            reliability(
                &catalog,
                &ours_raw,
                &test_set,
                ours.calibration
                    .as_ref()
                    .map_or(AsProbability::Raw, AsProbability::Calibrated),
            ),
        )
    });
    let mut prod = ValueGreedy::new(
        &catalog,
        &ours_q,
        GreedyConfig {
            use_cost: true,
            stop_below: selection.stop_below,
            stop_on: selection.stop_on,
        },
    );
    let (production_recall, production_time) = production(&catalog, &mut prod, &test_set);
    let production_trade_off = selection
        .trade_off
        .iter()
        .map(|(target, (stop_below, stop_on, _, _))| {
            let cfg = GreedyConfig {
                use_cost: true,
                stop_below: *stop_below,
                stop_on: *stop_on,
            };
            let (r, t) = production(
                &catalog,
                &mut ValueGreedy::new(&catalog, &ours_q, cfg),
                &test_set,
            );
            (*target, r, t)
        })
        .collect();
    progress("deadlines, serial and within a memory budget");
    let (mem_catalog, mem_budget) = with_memory_estimates(&catalog);
    let deadlines = deadline_experiment(
        &mem_catalog,
        &[
            ("ours", Some(&ours_q), true),
            ("cost-q (paper)", Some(&paper_q), true),
            ("random", None, false),
        ],
        &test_set,
        Some(mem_budget),
        cfg.seed,
    );
    progress("library budgets");
    let budgets = LIBRARY_BUDGETS
        .iter()
        .flat_map(|&share| {
            [
                BudgetPolicy::Adaptive,
                BudgetPolicy::FixedDeadline,
                BudgetPolicy::Random,
            ]
            .map(|p| {
                replay_library(
                    &catalog,
                    &ours_q,
                    &test_set,
                    share,
                    (selection.stop_below, selection.stop_on),
                    p,
                    cfg.seed,
                )
            })
        })
        .collect();
    let production_dqn = dqn_q.as_ref().map(|q| {
        let mut g = ValueGreedy::new(&catalog, q, GreedyConfig::default());
        production(&catalog, &mut g, &test_set)
    });
    Ok(BenchReport {
        train_photos: train_set.photos.len(),
        test_photos: test_set.photos.len(),
        models: catalog.models.len(),
        labels: catalog.labels.len(),
        ours: chosen.name.clone(),
        selection,
        policies,
        production_recall,
        production_time,
        production_trade_off,
        production_dqn,
        test_reliability,
        budgets,
        deadlines,
        mem_budget,
        train_seconds: [paper_s, dqn_s, val_s, ours_s],
    })
}
