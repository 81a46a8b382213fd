//! Writing labelling results to the library, in one place for the CLI and the app's engine:
//! a photo's labels and decision log (with its scheduler context and deadline), a failure that
//! says whether it can be retried, and the label hierarchy search reads (`animal` finds `dog`).

use crate::error::{Error, Result};
use crate::sched::trace::Context;
use crate::store::{NewLabel, RunRecord, Store};
use crate::zoo::manifest::label_file;

use super::{PhotoResult, records};

/// Broad categories above the vocabularies' parents (`dog` -> `pet`, `animal`).
const CATEGORY_PARENTS: &str = include_str!("../../models/labels/category_parents.txt");

/// Every (label, parent) pair of the shipped vocabularies: the ImageNet classes' parents and
/// the categories above them.
pub fn vocabulary_parents() -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for text in [label_file("imagenet1k_parent.txt")?, CATEGORY_PARENTS] {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (label, parent) = line
                .split_once('\t')
                .ok_or_else(|| Error::Manifest(format!("bad parent line {line:?}")))?;
            if label != parent {
                pairs.push((label.to_owned(), parent.to_owned()));
            }
        }
    }
    Ok(pairs)
}

/// Makes the store's label hierarchy hold the shipped vocabularies (idempotent; the tag index
/// is rebuilt only when pairs were missing and photos already have labels).
pub fn ensure_vocabulary(store: &mut Store) -> Result<()> {
    let pairs = vocabulary_parents()?;
    let have: std::collections::HashSet<(String, String)> =
        store.label_parents()?.into_iter().collect();
    let missing: Vec<(String, String)> = pairs.into_iter().filter(|p| !have.contains(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    store.set_label_parents(&missing)?;
    if store.stats()?.labels > 0 {
        store.rebuild_tag_index()?;
    }
    log::info!("label hierarchy: {} pairs added", missing.len());
    Ok(())
}

/// Writes one photo's labelling result with its context and deadline.
pub fn results(
    store: &mut Store,
    photo_id: i64,
    result: &PhotoResult,
    ctx: &Context,
) -> Result<()> {
    let json = serde_json::to_string(ctx).ok();
    outcome(
        store,
        photo_id,
        &result.labels,
        &result.runs,
        json.as_deref(),
        result.deadline_ms,
    )
}

/// Writes one photo's labels and decision log (already built, e.g. by an engine plug-in).
pub fn outcome(
    store: &mut Store,
    photo_id: i64,
    labels: &[NewLabel],
    runs: &[RunRecord],
    context: Option<&str>,
    deadline_ms: Option<f64>,
) -> Result<()> {
    store.write_photo_results(photo_id, labels, runs, false)?;
    store.set_sched_run(photo_id, context, deadline_ms)
}

/// Whether a failure to label a photo can go away by itself (weights fetched later, a device
/// that comes back, a model fixed by an update) rather than being the photo's own fault.
pub fn retryable(e: &Error) -> bool {
    !matches!(e, Error::Image { .. } | Error::Io { .. })
}

/// Records that labelling a photo failed at `stage` ("decode", "labeller"), retryable or not
/// according to [`retryable`].
pub fn failure(store: &mut Store, photo_id: i64, stage: &str, e: &Error) -> Result<()> {
    failure_message(store, photo_id, stage, format!("{e:#}"), retryable(e))
}

/// Records a failure from its message (engine plug-ins report `anyhow` errors).
pub fn failure_message(
    store: &mut Store,
    photo_id: i64,
    stage: &str,
    message: String,
    retryable: bool,
) -> Result<()> {
    let run = records::failed(stage, message);
    store.write_photo_failure(photo_id, &run, retryable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_parents_reach_animal_from_dog_breeds() {
        let pairs = vocabulary_parents().unwrap();
        let parent = |l: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(a, _)| a == l)
                .map(|(_, p)| p.as_str())
                .collect()
        };
        assert_eq!(parent("Golden Retriever"), vec!["dog"]);
        assert!(parent("dog").contains(&"animal"));
        assert!(parent("dog").contains(&"pet"));
        assert!(pairs.len() > 1000);
    }
}
