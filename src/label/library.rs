//! The library's own execution log as a trace: the photos where every implemented model ran
//! (exploration photos), with their outputs and times, which is what retraining the scheduler
//! from the user's library (CLI `retrain`, the app's Retrain button) learns from, with the
//! user's corrections applied first.

use crate::error::Result;
use crate::sched::trace::{Trace, TraceHeader, TraceModel};
use crate::store::Store;
use crate::zoo::{self, Manifest};

/// The exploration photos of the library in `store` as a trace over the implemented models.
pub fn store_trace(store: &Store) -> Result<Trace> {
    let manifest = Manifest::embedded()?;
    let models: Vec<(String, f32)> = zoo::IMPLEMENTED
        .iter()
        .filter_map(|id| manifest.get(id).ok().map(|s| (id.to_string(), s.threshold)))
        .collect();
    let header = TraceHeader::new(
        "library log".into(),
        models
            .iter()
            .map(|(id, t)| TraceModel {
                id: id.clone(),
                family: manifest
                    .get(id)
                    .map(|s| s.family.clone())
                    .unwrap_or_default(),
                threshold: *t,
            })
            .collect(),
    );
    Ok(Trace {
        header,
        photos: store.export_trace(&models)?,
    })
}

/// What retraining on the library learns from the user's corrections first: stored model
/// labels under the thresholds learnt from the labels the user removed are hidden (see
/// [`crate::store::corrections`]), so the log the scheduler retrains on holds corrected labels.
/// Returns how many photos changed.
pub fn apply_corrections(store: &mut Store) -> Result<usize> {
    let n = store.apply_learned_thresholds()?;
    if n > 0 {
        log::info!("{n} photos lost labels the user's corrections say are wrong");
    }
    Ok(n)
}

/// [`store_trace`] of the library database at `db`, opened read-only.
pub fn library_trace(db: &std::path::Path) -> Result<Trace> {
    store_trace(&Store::open_readonly(db)?)
}
