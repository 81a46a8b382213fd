//! Retraining the scheduler's value network from a user's own execution log (or a trace):
//! train on most photos, compare the new network with the current one on held-out photos,
//! and replace it only when it does better. The previous network is kept for rolling back.
//! `photolabel retrain` and the GUI's Retrain button both call [`retrain`].

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use super::bench::{candidates, select, validation_splits};
use super::supervised::train_full_info;
use super::{Checkpoint, TrainConfig, TrainMethod, TrainProgress, train};
use crate::error::{Error, Result};
use crate::sched::eval::{PolicyReport, ValueGreedy, evaluate};
use crate::sched::greedy::{GreedyConfig, StopOn};
use crate::sched::trace::Trace;
use crate::sched::{Catalog, ValueModel};

/// Where the current and previous networks live.
pub fn checkpoint_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("scheduler");
    (dir.join("current.json"), dir.join("previous.json"))
}

/// Before/after figures of a retraining.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrainReport {
    pub train_photos: usize,
    pub held_out_photos: usize,
    /// The current network on the held-out photos (None when there was none).
    pub before: Option<PolicyReport>,
    pub after: PolicyReport,
    /// Whether the new network is better (larger recall-curve area).
    pub improved: bool,
    /// Whether it was installed as the current network.
    pub installed: bool,
}

fn eval_net(catalog: &Catalog, net: &dyn ValueModel, test: &Trace, name: &str) -> PolicyReport {
    let cfg = GreedyConfig {
        use_cost: true,
        stop_below: None,
        stop_on: StopOn::Value,
    };
    evaluate(
        name,
        catalog,
        &mut ValueGreedy::new(catalog, net, cfg),
        test,
    )
}

/// Chooses a full-information variant and its early stop by cross-validation on `train_set`
/// (never on the held-out photos), then trains it on all of `train_set`. Each candidate is
/// trained for `cfg.epochs` random model orders per photo.
fn full_info(
    train_set: &Trace,
    catalog: &Catalog,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&TrainProgress),
    cancel: &AtomicBool,
) -> Result<Checkpoint> {
    let cands = candidates(cfg.seed, cfg.epochs.max(1));
    let folds = if train_set.photos.len() >= 8 { 4 } else { 1 };
    let splits = validation_splits(train_set, folds, 0.25, cfg.seed);
    let total = cands.len() + 1;
    let mut done = 0;
    let sel = select(&splits, catalog, &cands, 0.99, &mut |_| {
        done += 1;
        progress(&TrainProgress {
            epoch: done,
            epochs: total,
            steps: done,
            loss: 0.0,
            epsilon: 0.0,
            mean_return: 0.0,
        });
    })?;
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::Model("training cancelled".into()));
    }
    let mut ckpt = train_full_info(train_set, catalog, &cands[sel.chosen].cfg, cancel)?;
    sel.apply_to(&mut ckpt);
    progress(&TrainProgress {
        epoch: total,
        epochs: total,
        steps: total,
        loss: 0.0,
        epsilon: 0.0,
        mean_return: 0.0,
    });
    Ok(ckpt)
}

/// Trains on `data` and installs the result under `data_dir` when it beats the current
/// network on held-out photos (or when `force`). `install` false only reports.
pub fn retrain(
    data: &Trace,
    data_dir: &Path,
    cfg: &TrainConfig,
    install: bool,
    force: bool,
    progress: &mut dyn FnMut(&TrainProgress),
    cancel: &AtomicBool,
) -> Result<(RetrainReport, Checkpoint)> {
    if data.photos.len() < 10 {
        return Err(Error::Model(format!(
            "only {} photos with every model's results; label more (exploration runs all \
             models on a share of photos) or pass --traces",
            data.photos.len()
        )));
    }
    let (train_set, held_out) = data.split(0.8, cfg.seed);
    let catalog = Catalog::from_trace(&train_set);
    let mut new = match cfg.method {
        TrainMethod::Dqn => train(&train_set, &catalog, cfg, progress, cancel)?,
        TrainMethod::FullInfo => full_info(&train_set, &catalog, cfg, progress, cancel)?,
    };
    let after = eval_net(&catalog, &new.predictor(&catalog), &held_out, "new");
    let (current_path, _) = checkpoint_paths(data_dir);
    // "Before" is the network in use: the library's own, else the shipped default (which a
    // retraining must beat on this library's held-out photos to replace it).
    let before = Checkpoint::load(&current_path)
        .ok()
        .or_else(|| crate::label::shipped::default_checkpoint().cloned())
        .map(|c| eval_net(&catalog, &c.predictor(&catalog), &held_out, "current"));
    let improved = before.as_ref().is_none_or(|b| after.area > b.area);
    new.metrics = vec![
        ("held_out_area".into(), after.area),
        ("held_out_time_to_100".into(), after.time_to_100),
        ("held_out_photos".into(), held_out.photos.len() as f64),
    ];
    let installed = install && (improved || force);
    if installed {
        install_checkpoint(data_dir, &new)?;
    }
    Ok((
        RetrainReport {
            train_photos: train_set.photos.len(),
            held_out_photos: held_out.photos.len(),
            before,
            after,
            improved,
            installed,
        },
        new,
    ))
}

/// Makes `ckpt` the library's network, keeping the one it replaces for rolling back.
pub fn install_checkpoint(data_dir: &Path, ckpt: &Checkpoint) -> Result<()> {
    let (current, previous) = checkpoint_paths(data_dir);
    if let Some(dir) = current.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("cannot create the scheduler folder", dir, e))?;
    }
    if current.exists() {
        std::fs::rename(&current, &previous)
            .map_err(|e| Error::io("cannot keep the previous network", &previous, e))?;
    }
    ckpt.save(&current)
}

/// Puts the previous network back.
pub fn roll_back(data_dir: &Path) -> Result<()> {
    let (current, previous) = checkpoint_paths(data_dir);
    if !previous.exists() {
        return Err(Error::Model("no previous network to roll back to".into()));
    }
    std::fs::rename(&previous, &current).map_err(|e| Error::io("cannot roll back", &current, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retraining_installs_only_improvements_and_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = crate::fixtures::synthetic_trace(120, 4);
        let cfg = TrainConfig {
            epochs: 4,
            hidden: 16,
            ..TrainConfig::default()
        };
        let no = AtomicBool::new(false);
        // With no network of its own, the library is compared with the shipped default (on a
        // different model set here, so the new network wins) and the winner is installed.
        let (r1, _) = retrain(&data, dir.path(), &cfg, true, false, &mut |_| {}, &no).unwrap();
        assert!(r1.before.is_some());
        assert!(r1.improved && r1.installed, "{r1:?}");
        let (current, previous) = checkpoint_paths(dir.path());
        assert!(current.exists() && !previous.exists());
        let installed = Checkpoint::load(&current).unwrap();
        assert_eq!(installed.config.method, TrainMethod::FullInfo);
        assert!(installed.prior.is_some() || installed.net.shape.hidden > 1);
        // The same training again is not better than itself: nothing changes.
        let (r2, _) = retrain(&data, dir.path(), &cfg, true, false, &mut |_| {}, &no).unwrap();
        assert_eq!(r2.before.as_ref().map(|b| b.area), Some(r2.after.area));
        assert!(!r2.improved && !r2.installed && !previous.exists());
        // Forced: installed, and the old one can come back.
        let (r3, _) = retrain(&data, dir.path(), &cfg, true, true, &mut |_| {}, &no).unwrap();
        assert!(r3.installed && previous.exists());
        roll_back(dir.path()).unwrap();
        assert!(current.exists() && !previous.exists());
        assert!(roll_back(dir.path()).is_err());
        let tiny = crate::fixtures::synthetic_trace(5, 4);
        assert!(retrain(&tiny, dir.path(), &cfg, true, false, &mut |_| {}, &no).is_err());
    }
}
