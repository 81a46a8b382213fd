//! Labelling settings the user edits in the GUI and the engine hands to the labeller: the
//! per-photo deadline, the memory budget, the thoroughness of the early stop, the share of
//! exploratory decisions, which models may run with what priority and threshold, whether
//! labelled photos get XMP sidecars and whether scanned ones leave shared thumbnails. Serde with defaults, so settings written by an older build
//! still load.

use serde::{Deserialize, Serialize};

use crate::label::LabelConfig;
use crate::label::models::ModelChoice;
use crate::label::service::ServiceOptions;
use crate::xmp::XmpOptions;

/// The scheduler's priority theta of a model's priority setting (0 = neutral 1.0, each step
/// up or down scales its predicted value by 1.5).
pub fn theta(priority: i32) -> f32 {
    1.5f32.powi(priority.clamp(-8, 8))
}

/// How one model may be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelSetting {
    /// The model's id in the zoo.
    pub id: String,
    pub enabled: bool,
    /// Priority: each step up multiplies the model's predicted value by 1.5 in the
    /// scheduler's pick and stop (theta), each step down divides it.
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

/// How many of a photo's valuable labels the scheduler should find before it stops (the early
/// stop chosen on validation photos for that share; see `Checkpoint::stop_for`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Thoroughness {
    /// 99% of the labels every model together would give.
    Thorough,
    /// 95%.
    #[default]
    Balanced,
    /// 90%.
    Quick,
}

impl Thoroughness {
    pub const ALL: [Thoroughness; 3] = [
        Thoroughness::Thorough,
        Thoroughness::Balanced,
        Thoroughness::Quick,
    ];

    /// Share of the valuable labels to keep.
    pub fn share(self) -> f64 {
        match self {
            Thoroughness::Thorough => 0.99,
            Thoroughness::Balanced => 0.95,
            Thoroughness::Quick => 0.9,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Thoroughness::Thorough => "Thorough (99% of labels)",
            Thoroughness::Balanced => "Balanced (95%)",
            Thoroughness::Quick => "Quick (90%)",
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
    /// Share of each photo's labels to find before stopping.
    pub thoroughness: Thoroughness,
    /// Models and how to use them (empty until the model zoo is installed).
    pub models: Vec<ModelSetting>,
    /// XMP sidecars written as photos are labelled (off by default). Not a labeller setting:
    /// the labelling thread keeps it apart, so changing it does not reload the models.
    pub xmp: XmpOptions,
    /// Leave a freedesktop `large` thumbnail (`~/.cache/thumbnails/large`) for every photo the
    /// scan decodes, for file managers and viewers to reuse (off by default). Not a labeller
    /// setting either: the scanner uses it.
    pub share_thumbnails: bool,
}

impl Default for LabelSettings {
    fn default() -> Self {
        LabelSettings {
            deadline_ms: 1000,
            memory_budget_mib: 2048,
            exploration: 0.05,
            thoroughness: Thoroughness::default(),
            models: Vec::new(),
            xmp: XmpOptions::default(),
            share_thumbnails: false,
        }
    }
}

impl LabelSettings {
    /// What the labelling service runs with under these settings: the one conversion from the
    /// app's settings (the CLI's `label DIR` starts from the same defaults), so that both make
    /// the same decisions for the same photo.
    pub fn service_options(&self) -> ServiceOptions {
        let models = crate::zoo::IMPLEMENTED
            .iter()
            .filter_map(|id| {
                let setting = self.models.iter().find(|m| m.id == *id);
                if setting.is_some_and(|s| !s.enabled) {
                    return None;
                }
                Some(ModelChoice {
                    id: (*id).to_string(),
                    threshold: setting.map(|s| s.threshold),
                    theta: setting.map_or(1.0, |s| theta(s.priority)),
                })
            })
            .collect();
        ServiceOptions {
            models,
            fetch: true,
            config: LabelConfig {
                deadline_ms: Some(f64::from(self.deadline_ms)),
                exploration: f64::from(self.exploration),
                thoroughness: Some(self.thoroughness.share()),
                memory_budget: (self.memory_budget_mib > 0)
                    .then(|| u64::from(self.memory_budget_mib) << 20),
                ..LabelConfig::default()
            },
        }
    }

    /// The same settings with every value in its valid range.
    pub fn clamped(mut self) -> Self {
        self.deadline_ms = self.deadline_ms.clamp(10, 600_000);
        self.memory_budget_mib = self.memory_budget_mib.clamp(64, 1 << 20);
        self.exploration = self.exploration.clamp(0.0, 1.0);
        self.xmp.min_confidence = self.xmp.min_confidence.clamp(0.0, 1.0);
        for m in &mut self.models {
            m.threshold = m.threshold.clamp(0.0, 1.0);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thoroughness_reaches_the_labeller_and_old_settings_still_load() {
        let mut s = LabelSettings::default();
        assert_eq!(s.thoroughness, Thoroughness::Balanced);
        assert_eq!(s.service_options().config.thoroughness, Some(0.95));
        s.thoroughness = Thoroughness::Thorough;
        assert_eq!(s.service_options().config.thoroughness, Some(0.99));
        // Settings written before the thoroughness existed load with the default.
        let old = r#"{"deadline_ms": 500, "memory_budget_mib": 1024, "exploration": 0.1}"#;
        let s: LabelSettings = serde_json::from_str(old).unwrap();
        assert_eq!(
            (s.deadline_ms, s.thoroughness),
            (500, Thoroughness::Balanced)
        );
        let json = serde_json::to_string(&Thoroughness::Quick).unwrap();
        assert_eq!(json, "\"quick\"");
    }
}
