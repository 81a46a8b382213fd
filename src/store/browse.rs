//! Queries for browsing the library rather than scanning or labelling it: the ordered photo ids
//! a virtualised grid pages through ([`PhotoOrder`]), rows fetched by id for the visible part,
//! removal of a single label (user or model), and the library-wide summary of the scheduler's
//! decisions ([`RunSummary`]): how often each model ran or was skipped and the time skipping
//! saved compared with running every model.

use rusqlite::{OptionalExtension, params_from_iter};
use serde::{Deserialize, Serialize};

use super::Store;
use super::photos::{PHOTO_COLUMNS, Photo, photo_from_row};
use crate::error::Result;

/// Order of the library grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhotoOrder {
    /// Newest date taken first (file time when a photo has no EXIF date).
    #[default]
    Taken,
    /// Most recently added to the library first.
    Added,
}

/// How one model fared across the library.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelRunSummary {
    pub model: String,
    pub ran: i64,
    pub skipped: i64,
    pub failed: i64,
    /// Total time of the runs that happened.
    pub ran_ms: f64,
    /// Mean duration of a run of this model, when it ran at least once.
    pub mean_ms: Option<f64>,
}

/// The scheduler's decisions over the whole library.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunSummary {
    /// Per model, sorted by name.
    pub models: Vec<ModelRunSummary>,
    /// Photos with at least one decision recorded.
    pub photos: i64,
}

impl RunSummary {
    /// Time spent running models.
    pub fn ran_ms(&self) -> f64 {
        self.models.iter().map(|m| m.ran_ms).sum()
    }

    /// Estimated time skipping saved: each skip costs what that model's runs cost on average
    /// (models that never ran count nothing, so this is a lower bound).
    pub fn saved_ms(&self) -> f64 {
        self.models
            .iter()
            .map(|m| m.skipped as f64 * m.mean_ms.unwrap_or(0.0))
            .sum()
    }

    /// Share of decisions that ran a model (0..1), `None` without decisions.
    pub fn ran_share(&self) -> Option<f64> {
        let ran: i64 = self.models.iter().map(|m| m.ran).sum();
        let all: i64 = self
            .models
            .iter()
            .map(|m| m.ran + m.skipped + m.failed)
            .sum();
        (all > 0).then(|| ran as f64 / all as f64)
    }
}

impl Store {
    /// Ids of every present photo in `order` (newest first): the grid keeps this list and
    /// fetches rows only for what is on screen. 100,000 ids are 800 kB.
    pub fn photo_ids(&self, order: PhotoOrder) -> Result<Vec<i64>> {
        let sql = match order {
            PhotoOrder::Taken => {
                "SELECT id FROM photos WHERE status != 'missing' ORDER BY sort_key DESC"
            }
            PhotoOrder::Added => {
                "SELECT id FROM photos WHERE status != 'missing' ORDER BY added_at DESC, id DESC"
            }
        };
        let mut stmt = self.conn().prepare_cached(sql)?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The photos with these ids, in the order of `ids` (unknown ids are left out).
    pub fn photos_by_ids(&self, ids: &[i64]) -> Result<Vec<Photo>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE id IN ({marks})");
            let mut stmt = self.conn().prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(chunk.iter()), photo_from_row)?;
            let mut found: Vec<Photo> = rows.collect::<Result<_, _>>()?;
            let pos = |id: i64| chunk.iter().position(|&x| x == id).unwrap_or(usize::MAX);
            found.sort_by_key(|p| pos(p.id));
            out.extend(found);
        }
        Ok(out)
    }

    /// Removes one label of a photo (a user tag, or a model label the user disagrees with) and
    /// updates the tag index. Returns whether a label was removed. A removed model label is
    /// kept as a correction (`wrong` on this photo: relabelling does not bring it back, and the
    /// library learns from it, see [`super::corrections`]); a removed user tag takes its
    /// `right` verdict with it.
    pub fn remove_label(&mut self, photo_id: i64, label_id: i64) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let row: Option<(String, String, f32, String)> = tx
            .query_row(
                "SELECT label, model, confidence, source FROM labels WHERE id = ?1 AND photo_id = ?2",
                [label_id, photo_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        match &row {
            Some((label, model, confidence, source)) if source == "model" => {
                super::corrections::record(
                    &tx,
                    photo_id,
                    label,
                    super::corrections::Verdict::Wrong,
                    Some(model),
                    Some(*confidence),
                )?;
            }
            Some((label, _, _, _)) => super::corrections::forget(&tx, photo_id, label)?,
            None => {}
        }
        let n = tx.execute(
            "DELETE FROM labels WHERE id = ?1 AND photo_id = ?2",
            [label_id, photo_id],
        )?;
        if n > 0 {
            let key: Option<i64> = tx
                .query_row(
                    "SELECT sort_key FROM photos WHERE id = ?1 AND status = 'ok'",
                    [photo_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(key) = key {
                let extra = super::labels::load_parents(&tx)?;
                super::labels::reindex_photo(&tx, &self.vocab, &extra, photo_id, key)?;
            }
        }
        tx.commit()?;
        Ok(n > 0)
    }

    /// Per-model counts and times of the decision log, for the library-level timeline view.
    pub fn run_summary(&self) -> Result<RunSummary> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT model, \
                    sum(status = 'ran'), sum(status = 'skipped'), sum(status = 'failed'), \
                    coalesce(sum(CASE WHEN status = 'ran' THEN duration_ms END), 0), \
                    avg(CASE WHEN status = 'ran' THEN duration_ms END) \
             FROM model_runs GROUP BY model ORDER BY model",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ModelRunSummary {
                model: r.get(0)?,
                ran: r.get(1)?,
                skipped: r.get(2)?,
                failed: r.get(3)?,
                ran_ms: r.get(4)?,
                mean_ms: r.get(5)?,
            })
        })?;
        let models = rows.collect::<Result<_, _>>()?;
        let photos =
            self.conn()
                .query_row("SELECT count(DISTINCT photo_id) FROM model_runs", [], |r| {
                    r.get(0)
                })?;
        Ok(RunSummary { models, photos })
    }
}
