//! The scheduler that ships: a value network trained from the recorded traces of the shared
//! photos (`traces/`) by `tools/train-default-scheduler.sh`, stored as
//! `models/scheduler/default.json` and built into the binary, so that the first photo of a new
//! library is scheduled by a trained network rather than blindly. It stays in use until the
//! user's own retraining beats it on the user's held-out photos (`photolabel retrain`, the
//! Retrain button), and its cost profile is rescaled to what this device measures
//! (see [`super::costs`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::rl::Checkpoint;
use crate::rl::retrain::checkpoint_paths;

/// The shipped network's checkpoint, as committed.
const DEFAULT_JSON: &str = include_str!("../../models/scheduler/default.json");

/// Which network schedules the photos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// The user's own, retrained from their library (the file).
    Library(PathBuf),
    /// The default built into photolabel.
    Shipped,
    /// None (every model runs, in order).
    None,
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Network::Library(p) => write!(f, "retrained on this library ({})", p.display()),
            Network::Shipped => f.write_str("the shipped default (trained on the shared photos)"),
            Network::None => f.write_str("none (every model runs)"),
        }
    }
}

/// The shipped default network (parsed once; `None` only if the embedded file is broken,
/// which a unit test rules out).
pub fn default_checkpoint() -> Option<&'static Checkpoint> {
    static PARSED: OnceLock<Option<Checkpoint>> = OnceLock::new();
    PARSED
        .get_or_init(|| match serde_json::from_str(DEFAULT_JSON) {
            Ok(c) => Some(c),
            Err(e) => {
                log::error!("the shipped scheduler network does not parse: {e}");
                None
            }
        })
        .as_ref()
}

/// The network to schedule with: the library's own when one is installed and readable, else
/// the shipped default.
pub fn active(data_dir: &Path) -> (Option<Checkpoint>, Network) {
    let (current, _) = checkpoint_paths(data_dir);
    if current.exists() {
        match Checkpoint::load(&current) {
            Ok(c) => return (Some(c), Network::Library(current)),
            Err(e) => log::warn!("{e:#}; using the shipped scheduler"),
        }
    }
    match default_checkpoint() {
        Some(c) => (Some(c.clone()), Network::Shipped),
        None => (None, Network::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_network_parses_covers_the_zoo_and_carries_costs() {
        let c = default_checkpoint().expect("models/scheduler/default.json parses");
        for id in crate::zoo::IMPLEMENTED {
            assert!(c.models.iter().any(|m| m == id), "{id} missing");
            let cost = c.costs.iter().find(|(m, _)| m == id).map(|c| c.1);
            assert!(cost.is_some_and(|ms| ms > 0.0), "{id}: no cost");
        }
        assert!(c.stop_below.is_some());
        let dir = tempfile::tempdir().unwrap();
        let (active, which) = active(dir.path());
        assert_eq!(which, Network::Shipped);
        assert_eq!(active.as_ref(), Some(c));
    }
}
