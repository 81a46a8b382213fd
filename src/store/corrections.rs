//! The user's corrections of labels, kept as rows rather than lost in deletes: a model label
//! the user removed is `wrong` on that photo, so relabelling never brings it back; a tag the
//! user added is `right`. From the removed labels' confidences against the ones left in place,
//! the library learns for each label a confidence below which it is not shown
//! ([`Store::learned_thresholds`]), applied to every new result and, when the scheduler is
//! retrained, to the labels already stored ([`Store::apply_learned_thresholds`]). The
//! execution log the scheduler retrains on reads the stored labels, so its targets are the
//! corrected ones.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};

use super::labels::NewLabel;
use super::{Store, now_secs};
use crate::error::Result;

/// Fewest removals of a label before the library learns a threshold for it.
pub const MIN_REMOVALS: usize = 2;

/// The user's verdict on a label of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Removed: the label is wrong for the photo.
    Wrong,
    /// Added by the user.
    Right,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Wrong => "wrong",
            Verdict::Right => "right",
        }
    }
}

/// Records a verdict (a later one on the same label of the photo replaces it).
pub(crate) fn record(
    tx: &Transaction<'_>,
    photo_id: i64,
    label: &str,
    verdict: Verdict,
    model: Option<&str>,
    confidence: Option<f32>,
) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO corrections (photo_id, label, verdict, model, confidence, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            photo_id,
            label,
            verdict.as_str(),
            model,
            confidence,
            now_secs()
        ],
    )?;
    Ok(())
}

/// Forgets the verdict on a label of a photo.
pub(crate) fn forget(tx: &Transaction<'_>, photo_id: i64, label: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM corrections WHERE photo_id = ?1 AND label = ?2",
        params![photo_id, label],
    )?;
    Ok(())
}

/// The model labels of a new result the user's corrections keep: none removed from this photo
/// before, none below the library's learned threshold for its label.
pub(crate) fn keep_labels(
    tx: &Transaction<'_>,
    photo_id: i64,
    labels: &[NewLabel],
    thresholds: &HashMap<String, f32>,
) -> Result<Vec<NewLabel>> {
    let mut stmt = tx.prepare_cached(
        "SELECT 1 FROM corrections WHERE photo_id = ?1 AND label = ?2 AND verdict = 'wrong'",
    )?;
    let mut out = Vec::with_capacity(labels.len());
    for l in labels {
        if thresholds.get(&l.label).is_some_and(|t| l.confidence < *t) {
            continue;
        }
        let removed = stmt
            .query_row(params![photo_id, l.label], |_| Ok(()))
            .optional()?
            .is_some();
        if !removed {
            out.push(l.clone());
        }
    }
    Ok(out)
}

/// The confidence below which a label is not shown, from the confidences of its removals
/// (`wrong`) and of its labels left in place (`kept`): the highest cut just above a removal
/// under which the removals are at least [`WRONG_PER_KEPT`] times the kept labels (so at least
/// two thirds of what it hides the user had removed); `None` when no cut is that clear.
pub fn threshold_from(wrong: &[f32], kept: &[f32]) -> Option<f32> {
    if wrong.len() < MIN_REMOVALS {
        return None;
    }
    wrong
        .iter()
        .map(|w| w + 1e-4)
        .filter(|t| {
            let hidden_wrong = wrong.iter().filter(|c| *c < t).count();
            let hidden_kept = kept.iter().filter(|c| *c < t).count();
            hidden_wrong >= MIN_REMOVALS && hidden_wrong >= WRONG_PER_KEPT * hidden_kept
        })
        .max_by(f32::total_cmp)
}

/// How many removals a hidden kept label must be outweighed by.
pub const WRONG_PER_KEPT: usize = 2;

impl Store {
    /// Each label's learned threshold (see [`threshold_from`]), for labels removed at least
    /// [`MIN_REMOVALS`] times.
    pub fn learned_thresholds(&self) -> Result<HashMap<String, f32>> {
        let mut labels = self.conn().prepare_cached(
            "SELECT label FROM corrections WHERE verdict = 'wrong' AND confidence IS NOT NULL \
             GROUP BY label HAVING count(*) >= ?1",
        )?;
        let names: Vec<String> = labels
            .query_map([MIN_REMOVALS as i64], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        let mut wrong_q = self.conn().prepare_cached(
            "SELECT confidence FROM corrections WHERE label = ?1 AND verdict = 'wrong' \
             AND confidence IS NOT NULL",
        )?;
        let mut kept_q = self.conn().prepare_cached(
            "SELECT confidence FROM labels WHERE label = ?1 AND source = 'model'",
        )?;
        let mut out = HashMap::new();
        for name in names {
            let wrong: Vec<f32> = wrong_q
                .query_map([&name], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            let kept: Vec<f32> = kept_q
                .query_map([&name], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            if let Some(t) = threshold_from(&wrong, &kept) {
                out.insert(name, t);
            }
        }
        Ok(out)
    }

    /// Hides the stored model labels below the learned thresholds (called when the scheduler
    /// is retrained on the library): returns how many photos changed. Their tag index is
    /// rebuilt in the same transaction.
    pub fn apply_learned_thresholds(&mut self) -> Result<usize> {
        let thresholds = self.learned_thresholds()?;
        if thresholds.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.transaction()?;
        let mut photos: Vec<i64> = Vec::new();
        {
            let mut find = tx.prepare_cached(
                "SELECT DISTINCT photo_id FROM labels WHERE label = ?1 AND source = 'model' \
                 AND confidence < ?2",
            )?;
            let mut delete = tx.prepare_cached(
                "DELETE FROM labels WHERE label = ?1 AND source = 'model' AND confidence < ?2",
            )?;
            for (label, t) in &thresholds {
                let ids: Vec<i64> = find
                    .query_map(params![label, t], |r| r.get(0))?
                    .collect::<std::result::Result<_, _>>()?;
                photos.extend(ids);
                delete.execute(params![label, t])?;
            }
        }
        photos.sort_unstable();
        photos.dedup();
        let extra = super::labels::load_parents(&tx)?;
        for &id in &photos {
            let key: Option<i64> = tx
                .query_row(
                    "SELECT sort_key FROM photos WHERE id = ?1 AND status = 'ok'",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(key) = key {
                super::labels::reindex_photo(&tx, &self.vocab, &extra, id, key)?;
            }
        }
        tx.commit()?;
        Ok(photos.len())
    }

    /// The user's verdicts on a photo's labels: (label, removed = wrong / added = right).
    pub fn corrections_for(&self, photo_id: i64) -> Result<Vec<(String, Verdict)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT label, verdict FROM corrections WHERE photo_id = ?1 ORDER BY label",
        )?;
        let rows = stmt.query_map([photo_id], |r| {
            let v: String = r.get(1)?;
            Ok((
                r.get(0)?,
                if v == "wrong" {
                    Verdict::Wrong
                } else {
                    Verdict::Right
                },
            ))
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::labels::LabelSource;

    fn label(name: &str, confidence: f32) -> NewLabel {
        NewLabel {
            label: name.into(),
            model: "centernet".into(),
            confidence,
            bbox: None,
        }
    }

    fn shown(store: &Store, photo: i64, name: &str) -> bool {
        store
            .labels_for(photo)
            .unwrap()
            .iter()
            .any(|l| l.label == name && l.source == LabelSource::Model)
    }

    /// #14: the user removes a wrong "kite" from the photos where a model saw one with little
    /// confidence. Relabelling does not bring it back there; retraining (which applies what the
    /// corrections taught) hides the other low-confidence kites, and keeps the confident ones;
    /// a later photo's low-confidence kite is not shown at all.
    #[test]
    fn removed_labels_stay_removed_and_teach_the_library_a_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("lib.sqlite")).unwrap();
        let confidences = [0.5f32, 0.55, 0.6, 0.58, 0.7, 0.8, 0.9, 0.95];
        let mut ids = Vec::new();
        for (k, c) in confidences.iter().enumerate() {
            store
                .conn()
                .execute(
                    "INSERT INTO photos (path, size, mtime_ns, status, sort_key, added_at, \
                     scanned_at) VALUES (?1, 1, 1, 'ok', ?2, 1, 1)",
                    params![format!("/p{k}.jpg").into_bytes(), k as i64],
                )
                .unwrap();
            let id = store.conn().last_insert_rowid();
            store
                .write_photo_results(id, &[label("kite", *c), label("sky", 0.9)], &[], false)
                .unwrap();
            ids.push(id);
        }
        assert!(store.learned_thresholds().unwrap().is_empty());
        // The user removes the three least confident kites.
        for &id in &ids[..3] {
            let l = store
                .labels_for(id)
                .unwrap()
                .into_iter()
                .find(|l| l.label == "kite")
                .unwrap();
            assert!(store.remove_label(id, l.id).unwrap());
            assert_eq!(
                store.corrections_for(id).unwrap(),
                vec![("kite".to_string(), Verdict::Wrong)]
            );
        }
        let t = store.learned_thresholds().unwrap()["kite"];
        assert!((0.6..0.61).contains(&t), "{t}");
        // Relabelling a corrected photo does not bring its kite back (the sky stays).
        store
            .write_photo_results(
                ids[1],
                &[label("kite", 0.75), label("sky", 0.9)],
                &[],
                false,
            )
            .unwrap();
        assert!(!shown(&store, ids[1], "kite") && shown(&store, ids[1], "sky"));
        // Retraining applies the threshold: the uncorrected 0.58 kite goes, 0.7 and up stay.
        assert!(shown(&store, ids[3], "kite"));
        assert_eq!(store.apply_learned_thresholds().unwrap(), 1);
        assert!(!shown(&store, ids[3], "kite"));
        for &id in &ids[4..] {
            assert!(shown(&store, id, "kite"));
        }
        let q = crate::store::query::Query::parse("kite").unwrap();
        assert_eq!(store.search(&q, 100, 0).unwrap().len(), 4);
        // New results: a weak kite is not shown, a confident one is.
        store
            .write_photo_results(ids[3], &[label("kite", 0.59)], &[], false)
            .unwrap();
        assert!(!shown(&store, ids[3], "kite"));
        store
            .write_photo_results(ids[3], &[label("kite", 0.85)], &[], false)
            .unwrap();
        assert!(shown(&store, ids[3], "kite"));
        // A tag the user adds back is a `right` verdict, and removing it forgets the verdict.
        store.add_user_label(ids[0], "kite").unwrap();
        assert_eq!(
            store.corrections_for(ids[0]).unwrap(),
            vec![("kite".to_string(), Verdict::Right)]
        );
        let user = store
            .labels_for(ids[0])
            .unwrap()
            .into_iter()
            .find(|l| l.source == LabelSource::User)
            .unwrap();
        store.remove_label(ids[0], user.id).unwrap();
        assert!(store.corrections_for(ids[0]).unwrap().is_empty());
    }

    #[test]
    fn the_threshold_hides_most_removals_and_few_kept_labels() {
        // Removed at 0.55, 0.6 and 0.9; kept at 0.7, 0.8, 0.95: cutting at 0.6 hides two
        // removals and nothing kept; cutting at 0.9 would hide three removals but two kept.
        let t = threshold_from(&[0.55, 0.6, 0.9], &[0.7, 0.8, 0.95]).unwrap();
        assert!((0.6..0.61).contains(&t), "{t}");
        // One removal teaches nothing, nor do removals that would take more kept labels with
        // them than half as many as they hide.
        assert_eq!(threshold_from(&[0.5], &[]), None);
        assert_eq!(threshold_from(&[0.9, 0.95], &[0.5, 0.6, 0.7, 0.8]), None);
    }
}
