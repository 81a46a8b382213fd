//! The decision-log rows of a photo's labelling (ran, late, skipped, failed), built in one
//! place for the serial and the concurrent path, and the labels a run produced.

use crate::sched::trace::{Output, StageRun};
use crate::store::{NewLabel, RunRecord, RunStatus};

/// A model that ran: its status follows from its error and from whether it finished in time.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ran(
    model: &str,
    seq: usize,
    predicted: Option<f32>,
    gain: f32,
    start_ms: f64,
    duration_ms: f64,
    mem_bytes: u64,
    error: Option<&str>,
    late: bool,
) -> RunRecord {
    let (status, reason) = match (error, late) {
        (Some(e), _) => (RunStatus::Failed, Some(e.to_owned())),
        (None, true) => (
            RunStatus::Late,
            Some("finished after the deadline".to_owned()),
        ),
        (None, false) => (RunStatus::Ran, None),
    };
    RunRecord {
        model: model.to_owned(),
        seq: seq as u32,
        predicted_value: predicted,
        actual_value: Some(gain),
        start_ms: Some(start_ms),
        duration_ms: Some(duration_ms),
        // The model's memory estimate (no per-run measurement on the CPU backend).
        peak_mem_bytes: Some(mem_bytes as i64),
        status,
        reason,
        stage: None,
    }
}

/// A model the scheduler left out, with why and its last predicted value.
pub(crate) fn skipped(model: &str, seq: usize, predicted: f32, why: &str) -> RunRecord {
    RunRecord {
        model: model.to_owned(),
        seq: seq as u32,
        predicted_value: Some(predicted),
        actual_value: None,
        start_ms: None,
        duration_ms: None,
        peak_mem_bytes: None,
        status: RunStatus::Skipped,
        reason: Some(why.to_owned()),
        stage: None,
    }
}

/// Labelling the whole photo failed before any model ran (`stage`: "decode", "labeller").
pub(crate) fn failed(stage: &str, message: String) -> RunRecord {
    RunRecord {
        model: stage.to_owned(),
        seq: 0,
        predicted_value: None,
        actual_value: None,
        start_ms: None,
        duration_ms: None,
        peak_mem_bytes: None,
        status: RunStatus::Failed,
        reason: Some(message),
        stage: None,
    }
}

/// The shared stage a run computed, as the decision log keeps it (each model needs at most
/// one stage, see [`crate::zoo::stages::stage_of`]).
pub(crate) fn stage(computed: &[StageRun]) -> Option<(String, f64)> {
    computed.first().map(|s| (s.stage.clone(), s.time_ms))
}

/// The labels of one run, as stored.
pub(crate) fn labels<'a>(
    model: &str,
    outputs: &'a [Output],
) -> impl Iterator<Item = NewLabel> + 'a {
    let model = model.to_owned();
    outputs.iter().map(move |o| NewLabel {
        label: o.label.clone(),
        model: model.clone(),
        confidence: o.confidence,
        bbox: o.bbox,
    })
}
