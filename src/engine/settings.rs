//! Labelling settings the user edits in the GUI and the engine hands to the labeller: the
//! per-photo deadline, the memory budget, the share of exploratory decisions and which models
//! may run with what priority and threshold. Serde with defaults, so settings written by an
//! older build still load.

use serde::{Deserialize, Serialize};

/// How one model may be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelSetting {
    /// The model's id in the zoo.
    pub id: String,
    pub enabled: bool,
    /// Higher runs earlier when the scheduler's values tie.
    pub priority: i32,
    /// Labels below this confidence are dropped.
    pub threshold: f32,
}

impl Default for ModelSetting {
    fn default() -> Self {
        ModelSetting {
            id: String::new(),
            enabled: true,
            priority: 0,
            threshold: 0.5,
        }
    }
}

/// Settings of the labelling run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabelSettings {
    /// Time budget per photo, in milliseconds.
    pub deadline_ms: u32,
    /// Memory the models of one photo may use together, in MiB.
    pub memory_budget_mib: u32,
    /// Share of decisions taken at random to keep learning (0..1).
    pub exploration: f32,
    /// Models and how to use them (empty until the model zoo is installed).
    pub models: Vec<ModelSetting>,
}

impl Default for LabelSettings {
    fn default() -> Self {
        LabelSettings {
            deadline_ms: 500,
            memory_budget_mib: 2048,
            exploration: 0.05,
            models: Vec::new(),
        }
    }
}

impl LabelSettings {
    /// The same settings with every value in its valid range.
    pub fn clamped(mut self) -> Self {
        self.deadline_ms = self.deadline_ms.clamp(10, 600_000);
        self.memory_budget_mib = self.memory_budget_mib.clamp(64, 1 << 20);
        self.exploration = self.exploration.clamp(0.0, 1.0);
        for m in &mut self.models {
            m.threshold = m.threshold.clamp(0.0, 1.0);
        }
        self
    }
}
