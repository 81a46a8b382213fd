//! Scheduling under a deadline and a device-memory budget, with models running concurrently
//! (the paper's anchor/fill rule): each round, among models that fit into free memory and
//! finish before the deadline, pick the anchor with the best value per (time x memory); models
//! that would outlast the anchor are dropped for this round, and the remaining memory is filled
//! greedily by value per memory. When any running model finishes, its memory is freed, its
//! labels update the state, and the next round is planned.

use super::greedy::{Executed, StopOn, value_left};
use super::state::State;
use super::{Catalog, ValueModel};

/// Budget and stop rule for concurrent scheduling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackingConfig {
    pub mem_budget: u64,
    pub stop_below: Option<f32>,
    /// See [`super::greedy::GreedyConfig::stop_on`].
    pub stop_on: StopOn,
}

const MIB: f64 = 1024.0 * 1024.0;

/// The moment a round is planned at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Round<'a> {
    /// Models in flight (not candidates).
    pub running: &'a [usize],
    pub now_ms: f64,
    pub deadline_ms: f64,
    /// Memory the running models leave free.
    pub free_mem: u64,
}

/// Models to start now.
pub fn plan_round(
    catalog: &Catalog,
    q: &[f32],
    state: &State,
    round: Round<'_>,
    cfg: PackingConfig,
) -> Vec<usize> {
    let Round {
        running,
        now_ms,
        deadline_ms,
        free_mem,
    } = round;
    // A stage that a running model needs is being computed: models needing it wait for it
    // rather than computing it again, so it is not charged to them.
    let mut done = state.executed.clone();
    for &i in running {
        done[i] = true;
    }
    let cost: Vec<f64> = (0..catalog.models.len())
        .map(|i| catalog.cost_ms(i, &done))
        .collect();
    let fits = |i: usize, free: u64| {
        let m = &catalog.models[i];
        !state.executed[i]
            && !running.contains(&i)
            && m.enabled
            && m.mem_bytes <= free
            && now_ms + cost[i] <= deadline_ms
            && !super::greedy::below_stop(q[i], cost[i], cfg.stop_below, cfg.stop_on)
    };
    let cands: Vec<usize> = (0..catalog.models.len())
        .filter(|&i| fits(i, free_mem))
        .collect();
    if cfg.stop_on == StopOn::Sum
        && cfg.stop_below.is_some_and(|t| {
            value_left(q, |i| {
                !state.executed[i]
                    && !running.contains(&i)
                    && catalog.models[i].enabled
                    && now_ms + cost[i] <= deadline_ms
            }) < t
        })
    {
        return Vec::new();
    }
    let mem_mb = |i: usize| (catalog.models[i].mem_bytes as f64 / MIB).max(1.0);
    let Some(anchor) = cands.iter().copied().max_by(|&a, &b| {
        let sa = f64::from(q[a]) / (cost[a].max(1e-3) * mem_mb(a));
        let sb = f64::from(q[b]) / (cost[b].max(1e-3) * mem_mb(b));
        sa.total_cmp(&sb).then(b.cmp(&a))
    }) else {
        return Vec::new();
    };
    let horizon = now_ms + cost[anchor];
    let mut free = free_mem - catalog.models[anchor].mem_bytes;
    let mut fill: Vec<usize> = cands
        .into_iter()
        .filter(|&i| i != anchor && now_ms + cost[i] <= horizon)
        .collect();
    fill.sort_by(|&a, &b| {
        let sa = f64::from(q[a]) / mem_mb(a);
        let sb = f64::from(q[b]) / mem_mb(b);
        sb.total_cmp(&sa).then(a.cmp(&b))
    });
    let mut chosen = vec![anchor];
    for i in fill {
        let m = catalog.models[i].mem_bytes;
        if m <= free {
            free -= m;
            chosen.push(i);
        }
    }
    chosen
}

/// One model run in a concurrent schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ConcurrentRun {
    pub model: usize,
    pub predicted: f32,
    pub start_ms: f64,
    pub end_ms: f64,
    /// Whether it finished before the deadline (otherwise its labels are lost).
    pub in_time: bool,
}

/// Replays a concurrent schedule where `execute(i)` gives each model's outputs and actual
/// duration (from a trace, or measured). Returns the runs and the final state.
pub fn simulate(
    catalog: &Catalog,
    value: &dyn ValueModel,
    mut state: State,
    deadline_ms: f64,
    cfg: PackingConfig,
    execute: &mut dyn FnMut(usize) -> Executed,
) -> (Vec<ConcurrentRun>, State) {
    let n = catalog.models.len();
    let mut q = vec![0f32; n];
    let mut now = 0.0;
    let mut free = cfg.mem_budget;
    // (model, end, outputs, run index)
    let mut running: Vec<(usize, f64, Executed, usize)> = Vec::new();
    let mut runs = Vec::new();
    loop {
        value.predict(&state, &mut q);
        let in_flight: Vec<usize> = running.iter().map(|r| r.0).collect();
        let round = Round {
            running: &in_flight,
            now_ms: now,
            deadline_ms,
            free_mem: free,
        };
        for i in plan_round(catalog, &q, &state, round, cfg) {
            let ex = execute(i);
            free -= catalog.models[i].mem_bytes;
            let end = now + ex.time_ms;
            runs.push(ConcurrentRun {
                model: i,
                predicted: q[i],
                start_ms: now,
                end_ms: end,
                in_time: end <= deadline_ms,
            });
            running.push((i, end, ex, runs.len() - 1));
        }
        // Advance to the next completion.
        let Some(next) = running
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
            .map(|(k, _)| k)
        else {
            break;
        };
        let (i, end, ex, _) = running.swap_remove(next);
        now = end;
        free += catalog.models[i].mem_bytes;
        if end > deadline_ms {
            break;
        }
        let t = catalog.models[i].threshold;
        if ex.error.is_none() {
            state.apply(&catalog.labels, i, &ex.outputs, t);
        } else {
            state.executed[i] = true;
        }
    }
    // Models still running at the deadline count as executed but gave nothing in time.
    for (i, _, _, _) in running {
        state.executed[i] = true;
    }
    (runs, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::ModelInfo;
    use crate::sched::state::LabelSpace;
    use crate::sched::trace::{Context, Output};

    struct Fixed(Vec<f32>);
    impl ValueModel for Fixed {
        fn predict(&self, _: &State, out: &mut [f32]) {
            out.copy_from_slice(&self.0);
        }
    }

    fn catalog() -> Catalog {
        let m = |id: &str, ms: f64, mb: u64| ModelInfo {
            id: id.into(),
            threshold: 0.5,
            theta: 1.0,
            mean_ms: ms,
            mem_bytes: mb << 20,
            enabled: true,
            stage: None,
        };
        Catalog {
            // big-slow, small-fast, mid, tiny-but-long
            models: vec![
                m("a", 100.0, 800),
                m("b", 20.0, 100),
                m("c", 50.0, 300),
                m("d", 200.0, 50),
            ],
            labels: LabelSpace::from_names(vec![]),
            stages: Vec::new(),
        }
    }

    #[test]
    fn anchor_then_fill_within_memory_and_horizon() {
        let c = catalog();
        let state = c.new_state(&Context::default());
        let q = [0.9, 0.5, 0.6, 0.9];
        let cfg = PackingConfig {
            mem_budget: 1000 << 20,
            stop_below: None,
            stop_on: StopOn::Value,
        };
        // Anchor by q/(t*mem): b 0.5/(20*100) = 2.5e-4 beats d 0.9/(200*50) = 9e-5.
        // Horizon 20 ms: only models finishing by then may fill; none other does.
        assert_eq!(
            plan_round(
                &c,
                &q,
                &state,
                Round {
                    running: &[],
                    now_ms: 0.0,
                    deadline_ms: 1000.0,
                    free_mem: 1000 << 20
                },
                cfg
            ),
            vec![1]
        );
        // With b running and 900 MiB free, anchor d (9e-5) beats c (4e-5) and a (1.1e-5);
        // horizon 200 ms lets a (800 MiB) and c (300 MiB) fill by q/mem: c 0.002 > a 0.0011,
        // then a no longer fits.
        assert_eq!(
            plan_round(
                &c,
                &q,
                &state,
                Round {
                    running: &[1],
                    now_ms: 0.0,
                    deadline_ms: 1000.0,
                    free_mem: 900 << 20
                },
                cfg
            ),
            vec![3, 2]
        );
        // A tight deadline removes what cannot finish.
        assert_eq!(
            plan_round(
                &c,
                &q,
                &state,
                Round {
                    running: &[1],
                    now_ms: 0.0,
                    deadline_ms: 60.0,
                    free_mem: 900 << 20
                },
                cfg
            ),
            vec![2]
        );
    }

    #[test]
    fn simulation_runs_concurrently_and_respects_the_deadline() {
        let c = catalog();
        let q = Fixed(vec![0.9, 0.5, 0.6, 0.9]);
        let cfg = PackingConfig {
            mem_budget: 1000 << 20,
            stop_below: None,
            stop_on: StopOn::Value,
        };
        let mut exec = |i: usize| Executed {
            outputs: vec![Output {
                label: format!("l{i}"),
                confidence: 0.9,
                bbox: None,
            }],
            time_ms: c.models[i].mean_ms,
            error: None,
        };
        let (runs, _) = simulate(
            &c,
            &q,
            c.new_state(&Context::default()),
            150.0,
            cfg,
            &mut exec,
        );
        // b at 0; at 20 d cannot finish by 150, so c runs; a would end at 170.
        let started: Vec<(usize, f64)> = runs.iter().map(|r| (r.model, r.start_ms)).collect();
        assert_eq!(started, vec![(1, 0.0), (2, 20.0)]);

        let (runs, state) = simulate(
            &c,
            &q,
            c.new_state(&Context::default()),
            300.0,
            cfg,
            &mut exec,
        );
        // With 300 ms, d anchors at 20 and c fills beside it in the remaining memory.
        assert!(
            runs.iter().all(|r| r.end_ms <= 300.0 && r.in_time),
            "{runs:?}"
        );
        assert!(state.value > 2.6, "b, c and d at least: {}", state.value);
        let overlap = runs.iter().any(|a| {
            runs.iter()
                .any(|b| a.model != b.model && a.start_ms < b.end_ms && b.start_ms < a.end_ms)
        });
        assert!(overlap, "{runs:?}");
    }
}
