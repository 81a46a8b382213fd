//! Writing labelling results to the library, in one place for the CLI and the app's engine:
//! a photo's labels and decision log (with its scheduler context and deadline), and a failure
//! that says whether it can be retried. The tags search reads (`animal` finds a golden
//! retriever) are rebuilt by the store from these raw labels through the vocabulary
//! (`models/vocabulary.toml`, see `crate::vocab`) in the same transaction. When the user asked
//! for them, [`sidecar`] then writes the photo's XMP sidecar.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::sched::trace::Context;
use crate::store::{NewLabel, RunRecord, Store};
use crate::xmp::XmpOptions;
use crate::zoo::faceres::FacesFound;

use super::{PhotoResult, records};

/// Writes one photo's labelling result with its context and deadline, and the faces the face
/// embedder described ([`faces`]) when it ran.
pub fn results(
    store: &mut Store,
    photo_id: i64,
    result: &PhotoResult,
    ctx: &Context,
) -> Result<()> {
    if let Some(found) = &result.faces {
        faces(store, photo_id, found)?;
    }
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

/// Writes what labelling one photo gave: the result, or (the photo could not be decoded) a
/// final failure; hands the result back.
pub fn labelled(
    store: &mut Store,
    photo_id: i64,
    labelled: Result<(PhotoResult, Context)>,
) -> Result<PhotoResult> {
    match labelled {
        Ok((result, ctx)) => {
            results(store, photo_id, &result, &ctx)?;
            Ok(result)
        }
        Err(e) => {
            failure(store, photo_id, "decode", &e)?;
            Err(e)
        }
    }
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

/// Stores the faces the face embedder described on a photo (replacing its earlier ones, keeping
/// the user's decisions; see [`crate::people::grouping::store_faces`]), before the photo's
/// labels: a photo killed between the two is labelled again and its faces replaced. They wait
/// unsorted until the next grouping ([`crate::people::grouping::Regroup`]). Returns how many
/// faces were stored.
pub fn faces(store: &mut Store, photo_id: i64, found: &FacesFound) -> Result<usize> {
    crate::people::grouping::store_faces(
        store,
        photo_id,
        crate::people::service::FACE_MODEL,
        found.size,
        &found.faces,
    )
    .map(|ids| ids.len())
}

/// After a photo's results are written: its XMP sidecar, when `xmp` asks for sidecars as
/// photos are labelled (see `crate::xmp`). Returns the sidecar's path, if it has one. A failure
/// here is the sidecar's (e.g. a sidecar that is not valid XML is left alone), never the
/// labelling's.
pub fn sidecar(store: &Store, photo_id: i64, xmp: &XmpOptions) -> Result<Option<PathBuf>> {
    if !xmp.write_on_label {
        return Ok(None);
    }
    let Some(photo) = store.photo(photo_id)? else {
        return Ok(None);
    };
    Ok(crate::xmp::export::export_photo(store, &photo, xmp)?.map(|w| w.path().to_path_buf()))
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
