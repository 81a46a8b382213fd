//! Value-network checkpoints: the weights with everything needed to use them safely later (the
//! label space and model ids they were trained on, the feature set, the training settings and
//! held-out metrics), in a versioned JSON file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sched::calibration::Calibration;
use crate::sched::greedy::StopOn;
use crate::sched::prior::PriorTable;
use crate::sched::state::{LabelSpace, State};
use crate::sched::valuenet::FastNet;
use crate::sched::{Catalog, ValueModel};

/// Version of the checkpoint format written by this build.
pub const CHECKPOINT_VERSION: u32 = 1;

/// A trained value network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    /// Labels of the input, in order.
    pub labels: Vec<String>,
    /// Models of the output, in order.
    pub models: Vec<String>,
    pub net: FastNet,
    pub config: super::TrainConfig,
    /// Held-out figures measured when it was trained (name -> value).
    pub metrics: Vec<(String, f64)>,
    /// Empirical prior added to the network's output (the network then predicts a residual).
    #[serde(default)]
    pub prior: Option<PriorTable>,
    /// Early-stop threshold chosen on validation photos for this network (in its units).
    #[serde(default)]
    pub stop_below: Option<f32>,
    /// Whether `stop_below` is per expected millisecond (files written before `stop_on`).
    #[serde(default)]
    pub stop_per_ms: bool,
    /// What `stop_below` is compared with (absent in older files: see [`Checkpoint::stop_rule`]).
    #[serde(default)]
    pub stop_on: Option<StopOn>,
    /// Maps the network's raw predictions to probabilities of a gain, fitted on held-out
    /// photos; [`Checkpoint::predictor`] applies it, and `stop_below` is then in its units.
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// Early stops chosen on validation for each thoroughness (share of valuable labels to
    /// keep), best first; `stop_below` / `stop_on` are the main target's.
    #[serde(default)]
    pub stops: Vec<StopPoint>,
    /// Each model's mean time (ms) on the photos it was trained on, as measured where they
    /// were recorded: the cost profile a device starts from before it has measured a model
    /// itself (rescaled by what the device measures, see `label::costs`).
    #[serde(default)]
    pub costs: Vec<(String, f64)>,
}

/// An early stop chosen for one thoroughness.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StopPoint {
    /// Share of the validation photos' valuable labels it was chosen to keep.
    pub target: f64,
    pub stop_below: Option<f32>,
    pub stop_on: StopOn,
    /// What it kept on validation, and the share of run-all time it took.
    pub recall: f64,
    pub time: f64,
}

impl Checkpoint {
    /// What the early-stop threshold is compared with.
    pub fn stop_rule(&self) -> StopOn {
        self.stop_on.unwrap_or(if self.stop_per_ms {
            StopOn::PerMs
        } else {
            StopOn::Value
        })
    }

    /// The early stop for a thoroughness (share of valuable labels to keep, 0..1): the least
    /// thorough chosen stop that still keeps at least that much on validation, else the most
    /// thorough one; the main stop when no others were chosen.
    pub fn stop_for(&self, thoroughness: f64) -> (Option<f32>, StopOn) {
        let main = (self.stop_below, self.stop_rule());
        let mut points: Vec<&StopPoint> = self.stops.iter().collect();
        if points.is_empty() {
            return main;
        }
        points.sort_by(|a, b| a.target.total_cmp(&b.target));
        points
            .iter()
            .find(|p| p.target >= thoroughness - 1e-9)
            .or(points.last())
            .map_or(main, |p| (p.stop_below, p.stop_on))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec(self).map_err(|e| Error::Model(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json).map_err(|e| Error::io("cannot write checkpoint", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io("cannot write checkpoint", path, e))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::io("cannot read checkpoint", path, e))?;
        let c: Checkpoint = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Model(format!("bad checkpoint: {e}: {}", path.display())))?;
        if c.version > CHECKPOINT_VERSION {
            return Err(Error::Model(format!(
                "checkpoint version {} is newer than this build: {}",
                c.version,
                path.display()
            )));
        }
        Ok(c)
    }

    /// The label space the network reads.
    pub fn label_space(&self) -> LabelSpace {
        LabelSpace::from_names(self.labels.clone())
    }

    /// A predictor for `catalog`: models the network does not know get value 0 (and so are
    /// tried only when nothing better is left), catalog labels map onto the network's.
    pub fn predictor(&self, catalog: &Catalog) -> Predictor {
        let map = catalog
            .models
            .iter()
            .map(|m| self.models.iter().position(|id| id == &m.id))
            .collect();
        Predictor {
            prior: self.prior.clone(),
            net: self.net.clone(),
            model_map: map,
            same_space: catalog.labels.names() == self.labels.as_slice(),
            space: self.label_space(),
            catalog_labels: catalog.labels.names().to_vec(),
            calibration: self.calibration.clone(),
        }
    }
}

/// A checkpoint bound to a catalog.
#[derive(Debug, Clone)]
pub struct Predictor {
    prior: Option<PriorTable>,
    net: FastNet,
    model_map: Vec<Option<usize>>,
    same_space: bool,
    space: LabelSpace,
    catalog_labels: Vec<String>,
    /// Applied to the network's outputs (in its model order), when present.
    calibration: Option<Calibration>,
}

impl Predictor {
    /// The same predictor without the calibration (the network's raw values).
    pub fn uncalibrated(mut self) -> Self {
        self.calibration = None;
        self
    }

    /// Adds the prior (in the network's model order) to `q`.
    fn add_prior(&self, state: &State, q: &mut [f32]) {
        if let Some(p) = &self.prior
            && p.models.len() == q.len()
        {
            let mut pv = vec![0f32; q.len()];
            p.values_given(&state.executed, &state.hit, &mut pv);
            for (a, b) in q.iter_mut().zip(&pv) {
                *a += b;
            }
        }
    }
}

impl ValueModel for Predictor {
    fn predict(&self, state: &State, out: &mut [f32]) {
        let mut q = vec![0f32; self.net.shape.models];
        if self.same_space && state.executed.len() == self.net.shape.models {
            self.net.predict_state(state, &mut q);
            self.add_prior(state, &mut q);
        } else {
            // Re-express the state in the network's label and model order.
            let mut s = State {
                best: vec![0.0; self.space.len()],
                executed: vec![false; self.net.shape.models],
                hit: vec![false; self.net.shape.models],
                context: state.context,
                found: Default::default(),
                value: state.value,
            };
            for (i, c) in state.best.iter().enumerate() {
                if *c > 0.0
                    && let Some(j) = self.catalog_labels.get(i).and_then(|l| self.space.get(l))
                {
                    s.best[j] = *c;
                }
            }
            for (ci, e) in state.executed.iter().enumerate() {
                if let Some(Some(ni)) = self.model_map.get(ci) {
                    s.executed[*ni] = *e;
                    s.hit[*ni] = state.hit.get(ci).copied().unwrap_or(false);
                }
            }
            self.net.predict_state(&s, &mut q);
            self.add_prior(&s, &mut q);
        }
        if let Some(c) = &self.calibration {
            for (m, v) in q.iter_mut().enumerate() {
                *v = c.value(m, *v);
            }
        }
        for (ci, o) in out.iter_mut().enumerate() {
            *o = match self.model_map.get(ci) {
                Some(Some(ni)) => q[*ni],
                _ => 0.0,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thoroughness_picks_the_least_thorough_stop_that_still_keeps_enough() {
        // A file written before `stop_on` and `stops` existed reads with its old stop.
        let mut c = crate::label::shipped::default_checkpoint()
            .expect("shipped checkpoint")
            .clone();
        let mut json = serde_json::to_value(&c).unwrap();
        for field in ["stop_on", "calibration", "stops"] {
            json.as_object_mut().unwrap().remove(field);
        }
        json["stop_per_ms"] = serde_json::Value::Bool(true);
        let old: Checkpoint = serde_json::from_value(json).unwrap();
        assert_eq!(old.stop_rule(), StopOn::PerMs);
        assert_eq!(old.stop_for(0.9), (old.stop_below, StopOn::PerMs));
        let point = |target: f64, t: f32, on: StopOn| StopPoint {
            target,
            stop_below: Some(t),
            stop_on: on,
            recall: target,
            time: target,
        };
        c.stops = vec![
            point(0.99, 0.01, StopOn::Sum),
            point(0.9, 0.2, StopOn::Value),
            point(0.95, 0.1, StopOn::Sum),
        ];
        assert_eq!(c.stop_for(0.95), (Some(0.1), StopOn::Sum));
        assert_eq!(c.stop_for(0.92), (Some(0.1), StopOn::Sum));
        assert_eq!(c.stop_for(0.5), (Some(0.2), StopOn::Value));
        assert_eq!(c.stop_for(0.999), (Some(0.01), StopOn::Sum));
    }
}
