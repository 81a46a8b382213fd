//! Place tags in the store: the town, region and country reverse-geocoded from a photo's GPS
//! position at scan time ([`crate::scan::places`]) are kept as user labels from the `place`
//! model, so they survive relabelling (models never touch user labels) and are replaced, never
//! duplicated, when the photo is scanned again; and each place tag is filed under the `place`
//! category (`label_parents`), so search's hierarchy and the tag browser group them.

use rusqlite::{Transaction, params};

use super::ScanRecord;
use super::labels::NewLabel;
use crate::error::Result;
use crate::scan::places::{PLACE_CATEGORY, PLACE_MODEL};

/// Files every place tag of `records` under the place category (idempotent). Returns whether
/// a new one was added (the caller's cached hierarchy is then stale).
pub(crate) fn file_places(tx: &Transaction<'_>, records: &[ScanRecord]) -> Result<bool> {
    let mut stmt =
        tx.prepare_cached("INSERT OR IGNORE INTO label_parents (label, parent) VALUES (?1, ?2)")?;
    let mut added = false;
    for rec in records {
        let Ok(meta) = &rec.meta else { continue };
        for place in &meta.places {
            if place != PLACE_CATEGORY {
                added |= stmt.execute(params![place, PLACE_CATEGORY])? > 0;
            }
        }
    }
    Ok(added)
}

/// Replaces a photo's place labels with `places`.
pub(crate) fn replace_places(tx: &Transaction<'_>, photo_id: i64, places: &[String]) -> Result<()> {
    tx.execute(
        "DELETE FROM labels WHERE photo_id = ?1 AND source = 'user' AND model = ?2",
        params![photo_id, PLACE_MODEL],
    )?;
    let labels: Vec<NewLabel> = places
        .iter()
        .map(|p| NewLabel {
            label: p.clone(),
            model: PLACE_MODEL.to_string(),
            confidence: 1.0,
            bbox: None,
        })
        .collect();
    super::labels::insert_labels(tx, photo_id, &labels, "user")
}
