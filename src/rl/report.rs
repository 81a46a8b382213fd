//! The `bench-sched` report as text: validation, the policies on the test photos, the production
//! policy and its trade-off, the paper's deadline experiment, the library budget and the
//! reliability of the predictions.

use std::fmt::Write as _;

use super::bench::BenchReport;
use crate::sched::deadlines::DeadlineRow;
use crate::sched::eval::{BUDGETS, PolicyReport};

impl BenchReport {
    /// The report as a text table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let sel = &self.selection;
        let _ = writeln!(
            s,
            "validation on the training photos only ({} split(s), {} validation photos), no stop:",
            sel.folds, sel.val_photos
        );
        for (k, p) in sel.val.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {} {:<26} t@100 {:>5.1}%  t@95 {:>5.1}%  area {:.3}",
                if k == sel.chosen { "*" } else { " " },
                p.policy,
                p.time_to_100 * 100.0,
                p.time_to_95 * 100.0,
                p.area
            );
        }
        let _ = writeln!(
            s,
            "  early stop below {} on {} keeps {:.1}% of the value in {:.1}% of run-all time on val",
            sel.stop_below
                .map_or("(never)".to_string(), |t| format!("{t:.5}")),
            sel.stop_on.as_str(),
            sel.val_recall * 100.0,
            sel.val_time * 100.0
        );
        let ts = self.train_seconds;
        let _ = writeln!(
            s,
            "{} train / {} test photos, {} models, {} labels; training: paper {:.1}s, rich DQN \
             {:.1}s, validation of all variants {:.1}s, ours ({}) {:.1}s",
            self.train_photos,
            self.test_photos,
            self.models,
            self.labels,
            ts[0],
            ts[1],
            ts[2],
            self.ours,
            ts[3]
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
            "production (ours, early stop from validation, no deadline): recall {:.1}% at {:.1}% \
             of run-all time",
            self.production_recall * 100.0,
            self.production_time * 100.0
        );
        for (target, r, t) in &self.production_trade_off {
            let _ = writeln!(
                s,
                "  with the stop chosen for {:.0}% on validation: recall {:.1}% at {:.1}% of run-all time",
                target * 100.0,
                r * 100.0,
                t * 100.0
            );
        }
        if !self.deadlines.is_empty() {
            let _ = writeln!(
                s,
                "per-photo deadlines (share of each photo's run-all time): mean value recall, \
                 serial / concurrent within {} MiB, and the gain over random",
                self.mem_budget >> 20
            );
            let random: Vec<&DeadlineRow> = self
                .deadlines
                .iter()
                .filter(|r| r.policy == "random")
                .collect();
            for r in &self.deadlines {
                let base = random.iter().find(|b| b.share == r.share);
                let gain = |v: f64, b: f64| {
                    if b > 1e-9 {
                        format!("{:+.0}%", (v / b - 1.0) * 100.0)
                    } else {
                        "-".into()
                    }
                };
                let conc = r.concurrent.unwrap_or(f64::NAN);
                let _ = writeln!(
                    s,
                    "  {:>3.0}%  {:<16} serial {:>5.1}% ({:>6})  concurrent {:>5.1}% ({:>6})",
                    r.share * 100.0,
                    r.policy,
                    r.serial * 100.0,
                    base.map_or("-".into(), |b| gain(r.serial, b.serial)),
                    conc * 100.0,
                    base.map_or("-".into(), |b| gain(conc, b.concurrent.unwrap_or(0.0))),
                );
            }
        }
        if !self.budgets.is_empty() {
            let _ = writeln!(
                s,
                "a budget for all test photos, labelled in order (share of the set's value found \
                 / mean photo recall / budget used):"
            );
            for b in &self.budgets {
                let _ = writeln!(
                    s,
                    "  {:>3.0}% of run-all  {:<24} {:>5.1}%  {:>5.1}%  {:>5.1}%",
                    b.budget * 100.0,
                    b.policy,
                    b.value_share * 100.0,
                    b.photo_recall * 100.0,
                    b.used * 100.0
                );
            }
        }
        if let Some((raw, cal)) = &self.test_reliability {
            let _ = write!(
                s,
                "reliability of ours on the test photos, raw predictions (clamped to 0..1):\n{}\
                 calibrated on validation:\n{}",
                raw.table(),
                cal.table()
            );
        }
        if let Some((r, t)) = self.production_dqn {
            let _ = writeln!(
                s,
                "production (dueling rich, stop below -0.8): recall {:.1}% at {:.1}% of run-all \
                 time",
                r * 100.0,
                t * 100.0
            );
        }
        s
    }
}
