//! The scheduler's view of a photo in progress: which valuable labels were found so far (with
//! their best confidences), which models ran, and cheap context features. [`LabelSpace`] maps
//! label names to positions in the value network's input.

use std::collections::HashMap;

use super::trace::{Context, Output, Trace};

/// Index of every label the value network knows, built from the training traces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSpace {
    index: HashMap<String, usize>,
    names: Vec<String>,
}

impl LabelSpace {
    /// Every label that was valuable at least once in `trace`, in first-seen order of a sorted
    /// walk (deterministic).
    pub fn from_trace(trace: &Trace) -> Self {
        let thresholds: HashMap<&str, f32> = trace
            .header
            .models
            .iter()
            .map(|m| (m.id.as_str(), m.threshold))
            .collect();
        let mut names: Vec<String> = trace
            .photos
            .iter()
            .flat_map(|p| p.runs.iter())
            .flat_map(|r| {
                let t = thresholds.get(r.model.as_str()).copied().unwrap_or(0.5);
                r.outputs
                    .iter()
                    .filter(move |o| o.confidence >= t)
                    .map(|o| o.label.clone())
            })
            .collect();
        names.sort();
        names.dedup();
        Self::from_names(names)
    }

    /// A space over exactly these names.
    pub fn from_names(names: Vec<String>) -> Self {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        LabelSpace { index, names }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn get(&self, label: &str) -> Option<usize> {
        self.index.get(label).copied()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// Number of context features (see [`context_features`]).
pub const CONTEXT_FEATURES: usize = 16;

/// Context as numbers in roughly 0..1.
pub fn context_features(c: &Context) -> [f32; CONTEXT_FEATURES] {
    let mut f = [0f32; CONTEXT_FEATURES];
    f[0] = c.flash.map_or(0.5, |b| f32::from(u8::from(b)));
    // log2 exposure from 1/8000 s (-13) to 30 s (+5).
    f[1] = c
        .exposure_s
        .filter(|e| *e > 0.0)
        .map_or(0.5, |e| ((e.log2() + 13.0) / 18.0).clamp(0.0, 1.0) as f32);
    f[2] = c
        .focal_mm
        .map_or(0.5, |x| (x / 200.0).clamp(0.0, 1.0) as f32);
    f[3] = c.iso.map_or(0.5, |x| {
        (f64::from(x).max(1.0).log2() / 16.0).clamp(0.0, 1.0) as f32
    });
    f[4] = f32::from(u8::from(c.gps));
    f[5] = c.hour.map_or(0.5, |h| f32::from(h) / 24.0);
    let (w, h) = (c.width.max(1) as f32, c.height.max(1) as f32);
    f[6] = (w / h / 2.0).clamp(0.0, 1.0);
    f[7] = ((w * h).log2() / 28.0).clamp(0.0, 1.0);
    if let Some(t) = &c.thumb {
        f[8..11].copy_from_slice(&t.mean);
        f[11..14].copy_from_slice(&t.std);
        f[14] = t.saturation;
        f[15] = t.edges;
    }
    f
}

/// A photo's scheduling state.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Best confidence of each known valuable label found so far (0 = not found).
    pub best: Vec<f32>,
    /// Which models have run (or failed).
    pub executed: Vec<bool>,
    /// Which executed models found at least one valuable label (new or not).
    pub hit: Vec<bool>,
    /// Context features, fixed for the photo.
    pub context: [f32; CONTEXT_FEATURES],
    /// Every valuable label found (also ones outside the label space), best confidence.
    pub found: HashMap<String, f32>,
    /// Sum of best confidences of `found`: the value obtained so far.
    pub value: f32,
}

impl State {
    /// The state before any model ran.
    pub fn new(labels: usize, models: usize, context: &Context) -> Self {
        State {
            best: vec![0.0; labels],
            executed: vec![false; models],
            hit: vec![false; models],
            context: context_features(context),
            found: HashMap::new(),
            value: 0.0,
        }
    }

    /// Records model `m`'s outputs; labels at or above `threshold` are valuable. Returns the
    /// marginal value gained (increase of the sum of best confidences).
    pub fn apply(
        &mut self,
        space: &LabelSpace,
        m: usize,
        outputs: &[Output],
        threshold: f32,
    ) -> f32 {
        if let Some(e) = self.executed.get_mut(m) {
            *e = true;
        }
        let before = self.value;
        for o in outputs.iter().filter(|o| o.confidence >= threshold) {
            if let Some(h) = self.hit.get_mut(m) {
                *h = true;
            }
            let entry = self.found.entry(o.label.clone()).or_insert(0.0);
            if o.confidence > *entry {
                self.value += o.confidence - *entry;
                *entry = o.confidence;
                if let Some(i) = space.get(&o.label) {
                    self.best[i] = o.confidence;
                }
            }
        }
        self.value - before
    }

    /// Whether every model has run.
    pub fn done(&self) -> bool {
        self.executed.iter().all(|e| *e)
    }
}

/// The reward for gaining `gain` with priority `theta`: ln(theta * gain + 1), or -1 when
/// nothing new was found.
pub fn reward(gain: f32, theta: f32) -> f32 {
    if gain > 1e-6 {
        (theta * gain + 1.0).ln()
    } else {
        -1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(label: &str, c: f32) -> Output {
        Output {
            label: label.into(),
            confidence: c,
            bbox: None,
        }
    }

    #[test]
    fn value_counts_each_label_once_at_its_best() {
        let space = LabelSpace::from_names(vec!["cat".into(), "dog".into()]);
        let mut s = State::new(2, 3, &Context::default());
        let g1 = s.apply(&space, 0, &[out("dog", 0.6), out("cat", 0.3)], 0.5);
        assert!((g1 - 0.6).abs() < 1e-6, "cat is below threshold");
        let g2 = s.apply(&space, 1, &[out("dog", 0.9), out("tree", 0.7)], 0.5);
        assert!((g2 - (0.3 + 0.7)).abs() < 1e-6);
        assert_eq!(s.best, vec![0.0, 0.9]);
        assert_eq!(s.hit, vec![true, true, false]);
        assert!((s.value - 1.6).abs() < 1e-6);
        let g3 = s.apply(&space, 2, &[out("dog", 0.8)], 0.5);
        assert_eq!(g3, 0.0);
        assert!(s.done());
        assert_eq!(reward(g3, 1.0), -1.0);
        assert!((reward(1.0, 1.0) - 2f32.ln()).abs() < 1e-6);
    }
}
