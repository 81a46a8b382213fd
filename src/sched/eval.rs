//! Replay evaluation of schedulers over recorded traces (the protocol in
//! shared/design/scheduler.md): for each policy, the share of run-all time needed to reach
//! 100% / 95% / 80% of each photo's valuable-label value, recall under budgets from 5% to 100%
//! of run-all time (curve and area), and decisions per second. Baselines: run-all (fixed
//! order), random order, static order by mean value per cost, and the oracle.

use std::time::Instant;

use serde::Serialize;

use super::greedy::{GreedyConfig, pick};
use super::state::State;
use super::trace::{PhotoTrace, Trace};
use super::{Catalog, ValueModel};

/// Budgets, as shares of each photo's run-all time, of the recall curve.
pub const BUDGETS: [f64; 12] = [
    0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0,
];

/// Chooses the next model of a replayed photo.
pub trait Chooser {
    /// Next model among the unexecuted ones whose expected time fits `remaining_ms`; `None`
    /// ends the photo. `photo` is the recorded truth (only the oracle may look).
    fn choose(&mut self, state: &State, photo: &PhotoTrace, remaining_ms: f64) -> Option<usize>;

    /// Called before each photo (random order reseeds here).
    fn start_photo(&mut self, _photo: &PhotoTrace) {}
}

/// Runs models in catalog order.
pub struct RunAll<'a>(pub &'a Catalog);

impl Chooser for RunAll<'_> {
    fn choose(&mut self, state: &State, _: &PhotoTrace, remaining_ms: f64) -> Option<usize> {
        (0..self.0.models.len())
            .find(|&i| !state.executed[i] && self.0.cost_ms(i, &state.executed) <= remaining_ms)
    }
}

/// Runs models in a random order (seeded per photo).
pub struct RandomOrder<'a> {
    pub catalog: &'a Catalog,
    pub seed: u64,
    order: Vec<usize>,
}

impl<'a> RandomOrder<'a> {
    pub fn new(catalog: &'a Catalog, seed: u64) -> Self {
        RandomOrder {
            catalog,
            seed,
            order: Vec::new(),
        }
    }
}

impl Chooser for RandomOrder<'_> {
    fn start_photo(&mut self, photo: &PhotoTrace) {
        let mut h = self.seed
            ^ photo
                .hash
                .bytes()
                .fold(0u64, |a, b| a.rotate_left(5) ^ u64::from(b));
        self.order = (0..self.catalog.models.len()).collect();
        for i in (1..self.order.len()).rev() {
            h = super::trace::mix(h);
            self.order.swap(i, (h % (i as u64 + 1)) as usize);
        }
    }

    fn choose(&mut self, state: &State, _: &PhotoTrace, remaining_ms: f64) -> Option<usize> {
        self.order.iter().copied().find(|&i| {
            !state.executed[i] && self.catalog.cost_ms(i, &state.executed) <= remaining_ms
        })
    }
}

/// A fixed order by mean standalone value per cost, learnt on the training photos.
pub struct StaticOrder<'a> {
    pub catalog: &'a Catalog,
    pub order: Vec<usize>,
}

impl<'a> StaticOrder<'a> {
    pub fn fit(catalog: &'a Catalog, train: &Trace) -> Self {
        let n = catalog.models.len();
        let mut value = vec![0f64; n];
        for p in &train.photos {
            for r in &p.runs {
                if let Some(i) = catalog.index(&r.model) {
                    let t = catalog.models[i].threshold;
                    let mut best = std::collections::HashMap::new();
                    for o in r.outputs.iter().filter(|o| o.confidence >= t) {
                        let e = best.entry(&o.label).or_insert(0f32);
                        *e = e.max(o.confidence);
                    }
                    value[i] += best.values().map(|v| f64::from(*v)).sum::<f64>();
                }
            }
        }
        // Each model's standalone cost (its stage included).
        let alone: Vec<f64> = (0..n)
            .map(|i| catalog.cost_ms(i, &vec![false; n]))
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            let sa = value[a] / alone[a].max(1e-3);
            let sb = value[b] / alone[b].max(1e-3);
            sb.total_cmp(&sa).then(a.cmp(&b))
        });
        StaticOrder { catalog, order }
    }
}

impl Chooser for StaticOrder<'_> {
    fn choose(&mut self, state: &State, _: &PhotoTrace, remaining_ms: f64) -> Option<usize> {
        self.order.iter().copied().find(|&i| {
            !state.executed[i] && self.catalog.cost_ms(i, &state.executed) <= remaining_ms
        })
    }
}

/// Greedy on a value model's predictions (Q-greedy, Cost-Q greedy, ours).
pub struct ValueGreedy<'a> {
    pub catalog: &'a Catalog,
    pub value: &'a dyn ValueModel,
    pub cfg: GreedyConfig,
    q: Vec<f32>,
}

impl<'a> ValueGreedy<'a> {
    pub fn new(catalog: &'a Catalog, value: &'a dyn ValueModel, cfg: GreedyConfig) -> Self {
        ValueGreedy {
            catalog,
            value,
            cfg,
            q: vec![0.0; catalog.models.len()],
        }
    }
}

impl Chooser for ValueGreedy<'_> {
    fn choose(&mut self, state: &State, _: &PhotoTrace, remaining_ms: f64) -> Option<usize> {
        self.value.predict(state, &mut self.q);
        pick(self.catalog, &self.q, state, remaining_ms, self.cfg).map(|(i, _)| i)
    }
}

/// Knows every model's true outputs and time: greedy by true marginal value per actual time.
/// The practical limit of any scheduler.
pub struct Oracle<'a>(pub &'a Catalog);

impl Chooser for Oracle<'_> {
    fn choose(&mut self, state: &State, photo: &PhotoTrace, remaining_ms: f64) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for r in &photo.runs {
            let Some(i) = self.0.index(&r.model) else {
                continue;
            };
            if state.executed[i] {
                continue;
            }
            let time = charge(self.0, state, photo, i, r);
            if time > remaining_ms {
                continue;
            }
            let mut s = state.clone();
            let gain = s.apply(&self.0.labels, i, &r.outputs, self.0.models[i].threshold);
            let score = f64::from(gain) / time.max(1e-3);
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((i, score));
            }
        }
        best.filter(|(_, s)| *s > 0.0).map(|(i, _)| i)
    }
}

/// What replaying model `i`'s recorded `run` costs in `state`: its own time, plus its shared
/// stage's recorded time unless a model already executed needed that stage (charged once).
pub fn charge(
    catalog: &Catalog,
    state: &State,
    photo: &PhotoTrace,
    i: usize,
    run: &super::trace::ModelRun,
) -> f64 {
    let stage = catalog.models[i].stage.as_deref();
    let done = stage.is_some_and(|s| catalog.stage_done(s, &state.executed));
    photo.charge(run, stage, done)
}

/// One replayed photo: the models run in order with their actual times and gains.
struct Replay {
    /// (time spent when this model finished, value after it)
    steps: Vec<(f64, f32)>,
    decisions: usize,
    decide_s: f64,
    /// Time spent, including a model cut short by the budget (up to the budget).
    spent: f64,
}

/// Replays `chooser` on a photo with a budget; a model whose actual time overruns the budget
/// ends the photo without its labels.
fn replay(catalog: &Catalog, chooser: &mut dyn Chooser, photo: &PhotoTrace, budget: f64) -> Replay {
    chooser.start_photo(photo);
    let mut state = catalog.new_state(&photo.context);
    let mut spent = 0.0;
    let mut out = Replay {
        steps: Vec::new(),
        decisions: 0,
        decide_s: 0.0,
        spent: 0.0,
    };
    loop {
        let t = Instant::now();
        let next = chooser.choose(&state, photo, budget - spent);
        out.decide_s += t.elapsed().as_secs_f64();
        out.decisions += 1;
        let Some(i) = next else {
            break;
        };
        let Some(run) = photo.runs.iter().find(|r| r.model == catalog.models[i].id) else {
            state.executed[i] = true;
            continue;
        };
        spent += charge(catalog, &state, photo, i, run);
        out.spent = spent.min(budget);
        if spent > budget {
            break;
        }
        state.apply(
            &catalog.labels,
            i,
            &run.outputs,
            catalog.models[i].threshold,
        );
        out.steps.push((spent, state.value));
        if state.done() {
            break;
        }
    }
    out
}

/// Replays `chooser` on one photo within `budget_ms`: the time spent (a model cut short by the
/// budget counts up to it) and the value found.
pub fn replay_photo(
    catalog: &Catalog,
    chooser: &mut dyn Chooser,
    photo: &PhotoTrace,
    budget_ms: f64,
) -> (f64, f32) {
    let r = replay(catalog, chooser, photo, budget_ms);
    (r.spent, r.steps.last().map_or(0.0, |s| s.1))
}

/// Run-all time and total value of a recorded photo.
pub fn totals(catalog: &Catalog, photo: &PhotoTrace) -> (f64, f32) {
    let mut state = catalog.new_state(&photo.context);
    let mut time = 0.0;
    for r in &photo.runs {
        if let Some(i) = catalog.index(&r.model) {
            time += r.time_ms;
            state.apply(&catalog.labels, i, &r.outputs, catalog.models[i].threshold);
        }
    }
    (time, state.value)
}

/// Figures of one policy over a test set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyReport {
    pub policy: String,
    /// Photos with at least one valuable label (the others need no model at all).
    pub photos: usize,
    /// Mean share of run-all time to reach 100%, 95%, 80% of each photo's value.
    pub time_to_100: f64,
    pub time_to_95: f64,
    pub time_to_80: f64,
    /// Mean recall at each of [`BUDGETS`].
    pub recall_at: Vec<f64>,
    /// Mean of the recall curve (area under it over the budget grid, 0..1).
    pub area: f64,
    pub decisions_per_s: f64,
}

/// Evaluates one policy on the test photos.
pub fn evaluate(
    name: &str,
    catalog: &Catalog,
    chooser: &mut dyn Chooser,
    test: &Trace,
) -> PolicyReport {
    let mut reach = [0f64; 3];
    let mut recall = vec![0f64; BUDGETS.len()];
    let mut n = 0usize;
    let mut decisions = 0usize;
    let mut decide_s = 0.0;
    for photo in &test.photos {
        let (all_time, all_value) = totals(catalog, photo);
        if all_value <= 1e-6 || all_time <= 0.0 {
            continue;
        }
        n += 1;
        let full = replay(catalog, chooser, photo, f64::INFINITY);
        decisions += full.decisions;
        decide_s += full.decide_s;
        for (k, frac) in [1.0f32, 0.95, 0.8].iter().enumerate() {
            let goal = all_value * frac - 1e-5;
            let t = full
                .steps
                .iter()
                .find(|(_, v)| *v >= goal)
                .map_or(all_time, |(t, _)| *t);
            reach[k] += t / all_time;
        }
        for (k, b) in BUDGETS.iter().enumerate() {
            let r = replay(catalog, chooser, photo, b * all_time);
            decisions += r.decisions;
            decide_s += r.decide_s;
            let v = r.steps.last().map_or(0.0, |s| s.1);
            recall[k] += f64::from(v / all_value);
        }
    }
    let nf = n.max(1) as f64;
    let recall_at: Vec<f64> = recall.iter().map(|r| r / nf).collect();
    PolicyReport {
        policy: name.to_string(),
        photos: n,
        time_to_100: reach[0] / nf,
        time_to_95: reach[1] / nf,
        time_to_80: reach[2] / nf,
        area: recall_at.iter().sum::<f64>() / recall_at.len() as f64,
        recall_at,
        decisions_per_s: decisions as f64 / decide_s.max(1e-9),
    }
}

/// The production policy (greedy with early stop, no deadline): mean recall and mean share of
/// run-all time spent.
pub fn production(catalog: &Catalog, chooser: &mut dyn Chooser, test: &Trace) -> (f64, f64) {
    let (mut recall, mut time, mut n) = (0.0, 0.0, 0usize);
    for photo in &test.photos {
        let (all_time, all_value) = totals(catalog, photo);
        if all_time <= 0.0 {
            continue;
        }
        n += 1;
        let r = replay(catalog, chooser, photo, f64::INFINITY);
        let (t, v) = r.steps.last().copied().unwrap_or((0.0, 0.0));
        recall += if all_value > 1e-6 {
            f64::from(v / all_value)
        } else {
            1.0
        };
        time += t / all_time;
    }
    let nf = n.max(1) as f64;
    (recall / nf, time / nf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::trace::{Context, ModelRun, Output, TraceHeader, TraceModel};

    /// Three models: "cheap" finds nothing, "dogs" finds a dog on even photos, "slow" finds a
    /// sky everywhere but costs ten times more.
    fn trace(n: usize) -> Trace {
        let models = ["cheap", "dogs", "slow"]
            .map(|id| TraceModel {
                id: id.into(),
                family: "x".into(),
                threshold: 0.5,
            })
            .to_vec();
        let out = |l: &str| {
            vec![Output {
                label: l.into(),
                confidence: 0.9,
                bbox: None,
            }]
        };
        let photos = (0..n)
            .map(|i| PhotoTrace {
                photo: format!("{i}.jpg"),
                hash: format!("h{i}"),
                context: Context::default(),
                runs: vec![
                    ModelRun {
                        model: "cheap".into(),
                        time_ms: 10.0,
                        peak_mem_bytes: None,
                        outputs: vec![],
                        error: None,
                        stages: Vec::new(),
                    },
                    ModelRun {
                        model: "dogs".into(),
                        time_ms: 20.0,
                        peak_mem_bytes: None,
                        outputs: if i % 2 == 0 { out("dog") } else { vec![] },
                        error: None,
                        stages: Vec::new(),
                    },
                    ModelRun {
                        model: "slow".into(),
                        time_ms: 200.0,
                        peak_mem_bytes: None,
                        outputs: out("sky"),
                        error: None,
                        stages: Vec::new(),
                    },
                ],
            })
            .collect();
        Trace {
            header: TraceHeader::new("cpu".into(), models),
            photos,
        }
    }

    #[test]
    fn oracle_beats_static_beats_run_all_and_curves_are_monotone() {
        let t = trace(20);
        let cat = Catalog::from_trace(&t);
        let all = evaluate("run-all", &cat, &mut RunAll(&cat), &t);
        let stat = evaluate("static", &cat, &mut StaticOrder::fit(&cat, &t), &t);
        let oracle = evaluate("oracle", &cat, &mut Oracle(&cat), &t);
        assert_eq!(all.photos, 20);
        // Run-all reaches everything only at the very end.
        assert!((all.time_to_100 - 1.0).abs() < 1e-9);
        // Oracle skips "cheap" (useless) and runs dogs only where they are.
        assert!(oracle.time_to_100 < stat.time_to_100 + 1e-9);
        assert!(stat.time_to_100 <= all.time_to_100);
        assert!(oracle.area >= stat.area && stat.area >= all.area - 1e-9);
        for r in [&all, &stat, &oracle] {
            assert!(r.recall_at.windows(2).all(|w| w[1] >= w[0] - 1e-9), "{r:?}");
            assert!((r.recall_at.last().unwrap() - 1.0).abs() < 1e-6);
        }
        let mut rnd = RandomOrder::new(&cat, 7);
        let r1 = evaluate("random", &cat, &mut rnd, &t);
        let r2 = evaluate("random", &cat, &mut RandomOrder::new(&cat, 7), &t);
        assert_eq!(r1.recall_at, r2.recall_at, "random is seeded");
    }

    /// "mtcnn_onet" and "age_v1" share the faces stage (100 ms), which the first of them
    /// computed when the trace was recorded; "mobilenet_v2" needs none.
    fn stage_trace() -> Trace {
        use crate::zoo::stages::{FACES, StageRun};
        let run = |model: &str, time_ms: f64, stage: bool| ModelRun {
            model: model.into(),
            time_ms,
            peak_mem_bytes: None,
            outputs: vec![Output {
                label: format!("{model} label"),
                confidence: 0.9,
                bbox: None,
            }],
            error: None,
            stages: if stage {
                vec![StageRun {
                    stage: FACES.into(),
                    time_ms: 100.0,
                }]
            } else {
                Vec::new()
            },
        };
        let models = ["mtcnn_onet", "age_v1", "mobilenet_v2"]
            .map(|id| TraceModel {
                id: id.into(),
                family: "x".into(),
                threshold: 0.5,
            })
            .to_vec();
        Trace {
            header: TraceHeader::new("cpu".into(), models),
            photos: vec![PhotoTrace {
                photo: "0.jpg".into(),
                hash: "h0".into(),
                context: Context::default(),
                runs: vec![
                    run("mtcnn_onet", 105.0, true),
                    run("age_v1", 20.0, false),
                    run("mobilenet_v2", 30.0, false),
                ],
            }],
        }
    }

    /// Runs models in a fixed order.
    struct InOrder(Vec<usize>);

    impl Chooser for InOrder {
        fn choose(&mut self, state: &State, _: &PhotoTrace, _: f64) -> Option<usize> {
            self.0.iter().copied().find(|&i| !state.executed[i])
        }
    }

    #[test]
    fn a_shared_stage_is_charged_once_to_whichever_model_needs_it_first() {
        let t = stage_trace();
        let cat = Catalog::from_trace(&t);
        let (face, age, mob) = (
            cat.index("mtcnn_onet").unwrap(),
            cat.index("age_v1").unwrap(),
            cat.index("mobilenet_v2").unwrap(),
        );
        // Own costs without the stage; the stage's cost apart.
        assert_eq!(cat.models[face].mean_ms, 5.0);
        assert_eq!(cat.models[age].mean_ms, 20.0);
        assert_eq!(cat.stage_ms(crate::zoo::stages::FACES), 100.0);
        let mut done = vec![false; 3];
        assert_eq!(cat.cost_ms(age, &done), 120.0);
        assert_eq!(cat.cost_ms(face, &done), 105.0);
        assert_eq!(cat.cost_ms(mob, &done), 30.0);
        done[face] = true;
        assert_eq!(cat.cost_ms(age, &done), 20.0);
        done = vec![false, false, true];
        assert_eq!(cat.cost_ms(age, &done), 120.0, "mobilenet needs no faces");
        // The profile a checkpoint ships has the stage too.
        assert!(cat.cost_profile().contains(&("faces".to_string(), 100.0)));

        // Replayed in any order, every model costs the recorded total: the stage once.
        let photo = &t.photos[0];
        for order in [
            vec![face, age, mob],
            vec![age, mob, face],
            vec![mob, age, face],
        ] {
            let r = replay(&cat, &mut InOrder(order.clone()), photo, f64::INFINITY);
            let spent: Vec<f64> = r.steps.iter().map(|s| s.0).collect();
            assert_eq!(spent.last().copied(), Some(155.0), "{order:?}: {spent:?}");
        }
        // Age first pays for the faces; the face boxes after it cost only their own time.
        let r = replay(
            &cat,
            &mut InOrder(vec![age, face, mob]),
            photo,
            f64::INFINITY,
        );
        assert_eq!(r.steps[0].0, 120.0);
        assert_eq!(r.steps[1].0, 125.0);
        // Under a budget of 110 ms age alone does not fit, as the greedy pick also knows.
        let r = replay(&cat, &mut InOrder(vec![age]), photo, 110.0);
        assert!(r.steps.is_empty());
    }

    #[test]
    fn split_is_deterministic_and_disjoint() {
        let t = trace(50);
        let (a, b) = t.split(0.2, 1);
        assert_eq!((a.photos.len(), b.photos.len()), (10, 40));
        let (a2, _) = t.split(0.2, 1);
        assert_eq!(a.photos, a2.photos);
        assert!(a.photos.iter().all(|p| !b.photos.contains(p)));
    }
}
