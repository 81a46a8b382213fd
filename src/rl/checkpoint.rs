//! Value-network checkpoints: the weights with everything needed to use them safely later (the
//! label space and model ids they were trained on, the feature set, the training settings and
//! held-out metrics), in a versioned JSON file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
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
    /// Whether `stop_below` is per expected millisecond.
    #[serde(default)]
    pub stop_per_ms: bool,
    /// Each model's mean time (ms) on the photos it was trained on, as measured where they
    /// were recorded: the cost profile a device starts from before it has measured a model
    /// itself (rescaled by what the device measures, see `label::costs`).
    #[serde(default)]
    pub costs: Vec<(String, f64)>,
}

impl Checkpoint {
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
}

impl Predictor {
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
        for (ci, o) in out.iter_mut().enumerate() {
            *o = match self.model_map.get(ci) {
                Some(Some(ni)) => q[*ni],
                _ => 0.0,
            };
        }
    }
}
