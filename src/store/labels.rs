//! Labels and model runs: what the models (or the user) said about a photo, and the
//! scheduler's decision log for it. A photo's results are written in one transaction together
//! with its tag-index document, so search never sees half a photo.

use rusqlite::{Transaction, params};
use serde::Serialize;

use super::{Store, now_secs};
use crate::error::Result;
use crate::vocab::{ExtraParents, RawLabel, Vocabulary};

/// Who produced a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelSource {
    Model,
    User,
}

/// A label to write: name, producing model, confidence, optional box (x, y, w, h relative to
/// the image, 0..1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewLabel {
    pub label: String,
    pub model: String,
    pub confidence: f32,
    pub bbox: Option<[f32; 4]>,
}

/// A stored label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    pub id: i64,
    pub label: String,
    pub model: String,
    pub confidence: f32,
    pub bbox: Option<[f32; 4]>,
    pub source: LabelSource,
}

/// Outcome of one scheduling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ran,
    /// Ran to the end, but after the photo's deadline: its duration counts towards the
    /// model's cost; its labels are kept when the photo was still being labelled.
    Late,
    Skipped,
    Failed,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ran => "ran",
            RunStatus::Late => "late",
            RunStatus::Skipped => "skipped",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "ran" => RunStatus::Ran,
            "late" => RunStatus::Late,
            "skipped" => RunStatus::Skipped,
            _ => RunStatus::Failed,
        }
    }
}

/// One row of the decision log: a model run (or skip) on a photo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub model: String,
    /// Decision order within the photo (0 = first).
    pub seq: u32,
    pub predicted_value: Option<f32>,
    pub actual_value: Option<f32>,
    /// Milliseconds from the start of the photo's schedule.
    pub start_ms: Option<f64>,
    pub duration_ms: Option<f64>,
    pub peak_mem_bytes: Option<i64>,
    pub status: RunStatus,
    /// Why a model was skipped (deadline, low value, memory) or how it failed.
    pub reason: Option<String>,
    /// The shared stage this run computed for the photo ([`crate::zoo::stages`]) and its
    /// time, part of `duration_ms`.
    pub stage: Option<(String, f64)>,
}

/// A model's measured cost on this device (see [`Store::model_profiles`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelProfile {
    pub model: String,
    /// Successful runs ever logged.
    pub runs: i64,
    /// Runs the figures below are over (the latest ones).
    pub window: usize,
    pub mean_ms: f64,
    pub p95_ms: f64,
    /// Largest peak memory logged (an estimate per model, see the labeller).
    pub peak_mem_bytes: Option<i64>,
}

/// Nearest-rank percentile of sorted values (0 when empty).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Failures after which a photo's labelling failure is final (no more retries).
pub const MAX_LABEL_FAILURES: i64 = 3;

/// (id, path, hash, scheduler context) of a photo in the execution log.
type LogPhotoRow = (i64, Vec<u8>, Option<String>, Option<String>);

impl Store {
    /// Replaces a photo's model labels and decision log with a new labelling result and marks the
    /// photo labelled (or failed), all in one transaction. User labels are kept.
    pub fn write_photo_results(
        &mut self,
        photo_id: i64,
        labels: &[NewLabel],
        runs: &[RunRecord],
        failed: bool,
    ) -> Result<()> {
        let thresholds = self.learned_thresholds()?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM labels WHERE photo_id = ?1 AND source = 'model'",
            [photo_id],
        )?;
        tx.execute("DELETE FROM model_runs WHERE photo_id = ?1", [photo_id])?;
        // Labels the user removed from this photo stay removed; labels under what the library
        // learned from the user's removals are not shown.
        let labels = super::corrections::keep_labels(&tx, photo_id, labels, &thresholds)?;
        insert_labels(&tx, photo_id, &labels, "model")?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO model_runs (photo_id, model, seq, predicted_value, actual_value, \
                 start_ms, duration_ms, peak_mem_bytes, status, reason, run_at, stage, stage_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let now = now_secs();
            for r in runs {
                stmt.execute(params![
                    photo_id,
                    r.model,
                    r.seq,
                    r.predicted_value,
                    r.actual_value,
                    r.start_ms,
                    r.duration_ms,
                    r.peak_mem_bytes,
                    r.status.as_str(),
                    r.reason,
                    now,
                    r.stage.as_ref().map(|s| &s.0),
                    r.stage.as_ref().map(|s| s.1),
                ])?;
            }
        }
        let status = if failed { "failed" } else { "labelled" };
        // A labelled photo starts its failure count afresh; a failure written here is final
        // (see `write_photo_failure` for the ones that are retried).
        tx.execute(
            "UPDATE photos SET label_status = ?2, label_retry = 0, \
             label_failures = CASE WHEN ?2 = 'failed' THEN label_failures + 1 ELSE 0 END \
             WHERE id = ?1",
            params![photo_id, status],
        )?;
        let key: i64 = tx.query_row(
            "SELECT sort_key FROM photos WHERE id = ?1",
            [photo_id],
            |r| r.get(0),
        )?;
        let extra = load_parents(&tx)?;
        reindex_photo(&tx, &self.vocab, &extra, photo_id, key)?;
        tx.commit()?;
        Ok(())
    }

    /// Records that labelling a photo failed with `run` (a `failed` run saying why) in one
    /// transaction: its model results are replaced by that run, its failure count grows, and
    /// it stays `failed`. With `retryable` (the reason can go away: weights missing, a fetch or
    /// device error) [`Store::requeue_retryable`] puts it back in the queue until it has failed
    /// [`MAX_LABEL_FAILURES`] times; after that the failure is final.
    pub fn write_photo_failure(
        &mut self,
        photo_id: i64,
        run: &RunRecord,
        retryable: bool,
    ) -> Result<()> {
        self.write_photo_results(photo_id, &[], std::slice::from_ref(run), true)?;
        self.conn.execute(
            "UPDATE photos SET label_retry = ?2 WHERE id = ?1",
            params![
                photo_id,
                i64::from(retryable && self.label_failures(photo_id)? < MAX_LABEL_FAILURES)
            ],
        )?;
        Ok(())
    }

    /// How many times labelling this photo has failed since it was last labelled.
    pub fn label_failures(&self, photo_id: i64) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT label_failures FROM photos WHERE id = ?1",
            [photo_id],
            |r| r.get(0),
        )?)
    }

    /// Puts photos whose labelling failed for a reason that can go away back in the queue
    /// (called when the reason may be gone: models were fetched, the user pressed Retry, the
    /// labeller started). Returns how many were requeued.
    pub fn requeue_retryable(&mut self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE photos SET label_status = 'pending', label_retry = 0 \
             WHERE label_status = 'failed' AND label_retry = 1 AND status = 'ok'",
            [],
        )?)
    }

    /// Photos whose labelling failed and will be retried (see [`Store::requeue_retryable`]).
    pub fn retryable_failures(&self) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM photos WHERE label_status = 'failed' AND label_retry = 1",
            [],
            |r| r.get(0),
        )?)
    }

    /// Writes model labels for many photos in one transaction (bulk import, e.g. from a trace):
    /// the same effect as [`Store::write_photo_results`] without runs, per photo.
    pub fn write_many_labels(&mut self, items: &[(i64, Vec<NewLabel>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        let extra = load_parents(&tx)?;
        for (photo_id, labels) in items {
            tx.execute(
                "DELETE FROM labels WHERE photo_id = ?1 AND source = 'model'",
                [photo_id],
            )?;
            insert_labels(&tx, *photo_id, labels, "model")?;
            tx.execute(
                "UPDATE photos SET label_status = 'labelled' WHERE id = ?1",
                [photo_id],
            )?;
            let key: i64 = tx.query_row(
                "SELECT sort_key FROM photos WHERE id = ?1",
                [photo_id],
                |r| r.get(0),
            )?;
            reindex_photo(&tx, &self.vocab, &extra, *photo_id, key)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Adds a user's own tag to a photo (confidence 1). Kept through relabelling.
    pub fn add_user_label(&mut self, photo_id: i64, label: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        let new = NewLabel {
            label: label.to_string(),
            model: "user".to_string(),
            confidence: 1.0,
            bbox: None,
        };
        insert_labels(&tx, photo_id, std::slice::from_ref(&new), "user")?;
        super::corrections::record(
            &tx,
            photo_id,
            label,
            super::corrections::Verdict::Right,
            None,
            None,
        )?;
        let key: i64 = tx.query_row(
            "SELECT sort_key FROM photos WHERE id = ?1",
            [photo_id],
            |r| r.get(0),
        )?;
        let extra = load_parents(&tx)?;
        reindex_photo(&tx, &self.vocab, &extra, photo_id, key)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces a photo's imported keywords (read again because its sidecar changed while the
    /// photo did not) and notes that it was examined now.
    pub fn set_imported_keywords(
        &mut self,
        photo_id: i64,
        keywords: &[super::ImportedKeyword],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        replace_imported(&tx, photo_id, keywords)?;
        let (key, ok): (i64, bool) = tx.query_row(
            "UPDATE photos SET scanned_at = ?2 WHERE id = ?1 RETURNING sort_key, status = 'ok'",
            params![photo_id, now_secs()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if ok {
            let extra = load_parents(&tx)?;
            reindex_photo(&tx, &self.vocab, &extra, photo_id, key)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Declares parents of labels (e.g. "dog" -> "animal"), used by search's hierarchy. Call
    /// [`Store::rebuild_tag_index`] afterwards if labels already exist.
    pub fn set_label_parents(&mut self, pairs: &[(String, String)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO label_parents (label, parent) VALUES (?1, ?2)",
            )?;
            for (label, parent) in pairs {
                stmt.execute(params![label, parent])?;
            }
        }
        tx.commit()?;
        self.parents_cache.replace(None);
        Ok(())
    }

    /// Rebuilds every photo's tags and tag document from its stored labels (after the label
    /// hierarchy or the vocabulary changed).
    pub fn rebuild_tag_index(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM tag_index", [])?;
        tx.execute("DELETE FROM photo_tags", [])?;
        let extra = load_parents(&tx)?;
        let photos: Vec<(i64, i64)> = {
            let mut stmt = tx.prepare(
                "SELECT id, sort_key FROM photos WHERE status = 'ok' \
                 AND id IN (SELECT photo_id FROM labels)",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, key) in photos {
            reindex_photo(&tx, &self.vocab, &extra, id, key)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A photo's labels, best confidence first.
    pub fn labels_for(&self, photo_id: i64) -> Result<Vec<Label>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, label, model, confidence, box_x, box_y, box_w, box_h, source \
             FROM labels WHERE photo_id = ?1 ORDER BY confidence DESC, label",
        )?;
        let rows = stmt.query_map([photo_id], |r| {
            let bx: Option<f32> = r.get(4)?;
            let bbox = match bx {
                Some(x) => Some([x, r.get(5)?, r.get(6)?, r.get(7)?]),
                None => None,
            };
            Ok(Label {
                id: r.get(0)?,
                label: r.get(1)?,
                model: r.get(2)?,
                confidence: r.get(3)?,
                bbox,
                source: if r.get::<_, String>(8)? == "user" {
                    LabelSource::User
                } else {
                    LabelSource::Model
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A photo's decision log in decision order.
    pub fn runs_for(&self, photo_id: i64) -> Result<Vec<RunRecord>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT model, seq, predicted_value, actual_value, start_ms, duration_ms, \
             peak_mem_bytes, status, reason, stage, stage_ms FROM model_runs \
             WHERE photo_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([photo_id], |r| {
            Ok(RunRecord {
                model: r.get(0)?,
                seq: r.get(1)?,
                predicted_value: r.get(2)?,
                actual_value: r.get(3)?,
                start_ms: r.get(4)?,
                duration_ms: r.get(5)?,
                peak_mem_bytes: r.get(6)?,
                status: RunStatus::parse(&r.get::<_, String>(7)?),
                reason: r.get(8)?,
                stage: match (r.get::<_, Option<String>>(9)?, r.get::<_, Option<f64>>(10)?) {
                    (Some(s), Some(ms)) => Some((s, ms)),
                    _ => None,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Mean measured duration and run count of each model over the decision log (its cost
    /// profile on this device), without the shared stages the runs computed (those are
    /// [`Self::stage_costs`]).
    pub fn model_costs(&self) -> Result<Vec<(String, f64, i64)>> {
        let mut stmt = self.conn().prepare(
            "SELECT model, avg(max(duration_ms - coalesce(stage_ms, 0), 0)), count(*) FROM model_runs \
             WHERE status IN ('ran', 'late') AND duration_ms IS NOT NULL GROUP BY model ORDER BY model",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Mean measured time and count of each shared stage over the decision log.
    pub fn stage_costs(&self) -> Result<Vec<(String, f64, i64)>> {
        let mut stmt = self.conn().prepare(
            "SELECT stage, avg(stage_ms), count(*) FROM model_runs \
             WHERE status IN ('ran', 'late') AND stage IS NOT NULL AND stage_ms IS NOT NULL \
             GROUP BY stage ORDER BY stage",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Each model's cost profile on this device over its latest `window` successful runs
    /// (refreshed as runs accumulate): mean and 95th-percentile duration, largest peak memory
    /// recorded, and the total run count. Models that never ran are absent.
    pub fn model_profiles(&self, window: usize) -> Result<Vec<ModelProfile>> {
        let models: Vec<(String, i64)> = {
            let mut stmt = self.conn().prepare(
                "SELECT model, count(*) FROM model_runs \
                 WHERE status IN ('ran', 'late') AND duration_ms IS NOT NULL GROUP BY model ORDER BY model",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut stmt = self.conn().prepare(
            "SELECT duration_ms, peak_mem_bytes FROM model_runs \
             WHERE model = ?1 AND status IN ('ran', 'late') AND duration_ms IS NOT NULL \
             ORDER BY id DESC LIMIT ?2",
        )?;
        let mut out = Vec::with_capacity(models.len());
        for (model, runs) in models {
            let rows = stmt.query_map(params![model, window.max(1) as i64], |r| {
                Ok((r.get::<_, f64>(0)?, r.get::<_, Option<i64>>(1)?))
            })?;
            let rows: Vec<(f64, Option<i64>)> = rows.collect::<Result<_, _>>()?;
            let mut ms: Vec<f64> = rows.iter().map(|r| r.0).collect();
            ms.sort_by(f64::total_cmp);
            let n = ms.len().max(1);
            out.push(ModelProfile {
                model,
                runs,
                window: ms.len(),
                mean_ms: ms.iter().sum::<f64>() / n as f64,
                p95_ms: percentile(&ms, 0.95),
                peak_mem_bytes: rows.iter().filter_map(|r| r.1).max(),
            });
        }
        Ok(out)
    }

    /// Stores the scheduler's context of a photo (JSON).
    pub fn set_sched_context(&mut self, photo_id: i64, json: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET sched_context = ?2 WHERE id = ?1",
            params![photo_id, json],
        )?;
        Ok(())
    }

    /// Stores what the scheduler saw and applied for a photo's latest run: its context (JSON)
    /// and the deadline in milliseconds (`None`: no deadline, e.g. an exploration photo).
    pub fn set_sched_run(
        &mut self,
        photo_id: i64,
        context_json: Option<&str>,
        deadline_ms: Option<f64>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET sched_context = coalesce(?2, sched_context), \
             sched_deadline_ms = ?3 WHERE id = ?1",
            params![photo_id, context_json, deadline_ms],
        )?;
        Ok(())
    }

    /// The scheduler's stored context (JSON) and deadline of a photo's latest run.
    pub fn sched_run(&self, photo_id: i64) -> Result<(Option<String>, Option<f64>)> {
        Ok(self.conn().query_row(
            "SELECT sched_context, sched_deadline_ms FROM photos WHERE id = ?1",
            [photo_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// The execution log as a trace: photos on which every one of `models` ran (exploration
    /// photos), with each model's stored labels and measured time.
    pub fn export_trace(
        &self,
        models: &[(String, f32)],
    ) -> Result<Vec<crate::sched::trace::PhotoTrace>> {
        use crate::sched::trace::{Context, ModelRun, Output, PhotoTrace, StageRun};
        let mut photos = self.conn().prepare(
            "SELECT p.id, p.path, p.hash, p.sched_context FROM photos p WHERE p.status = 'ok' \
             AND (SELECT count(DISTINCT model) FROM model_runs r WHERE r.photo_id = p.id \
                  AND r.status = 'ran') >= ?1 ORDER BY p.id",
        )?;
        let rows: Vec<LogPhotoRow> = photos
            .query_map([models.len() as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (id, path, hash, ctx) in rows {
            let runs_log = self.runs_for(id)?;
            let labels = self.labels_for(id)?;
            let mut runs = Vec::new();
            for (m, _) in models {
                let Some(r) = runs_log
                    .iter()
                    .find(|r| &r.model == m && r.status == RunStatus::Ran)
                else {
                    break;
                };
                runs.push(ModelRun {
                    model: m.clone(),
                    time_ms: r.duration_ms.unwrap_or(0.0),
                    peak_mem_bytes: r.peak_mem_bytes.map(|b| b as u64),
                    outputs: labels
                        .iter()
                        .filter(|l| &l.model == m && l.source == LabelSource::Model)
                        .map(|l| Output {
                            label: l.label.clone(),
                            confidence: l.confidence,
                            bbox: l.bbox,
                        })
                        .collect(),
                    error: None,
                    stages: r
                        .stage
                        .iter()
                        .map(|(stage, ms)| StageRun {
                            stage: stage.clone(),
                            time_ms: *ms,
                        })
                        .collect(),
                });
            }
            if runs.len() != models.len() {
                continue;
            }
            out.push(PhotoTrace {
                photo: super::path_from_bytes(&path).to_string_lossy().into_owned(),
                hash: hash.unwrap_or_default(),
                context: ctx
                    .and_then(|c| serde_json::from_str::<Context>(&c).ok())
                    .unwrap_or_default(),
                runs,
            });
        }
        Ok(out)
    }

    /// Every (label, parent) pair of the hierarchy.
    pub fn label_parents(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT label, parent FROM label_parents ORDER BY label, parent")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

pub(crate) fn insert_labels(
    tx: &Transaction<'_>,
    photo_id: i64,
    labels: &[NewLabel],
    source: &str,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO labels (photo_id, label, model, confidence, box_x, box_y, box_w, box_h, \
         source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for l in labels {
        let b = l.bbox;
        stmt.execute(params![
            photo_id,
            l.label,
            l.model,
            l.confidence,
            b.map(|b| b[0]),
            b.map(|b| b[1]),
            b.map(|b| b[2]),
            b.map(|b| b[3]),
            source,
        ])?;
    }
    Ok(())
}

/// Replaces a photo's imported keywords (user labels whose model is an
/// [`super::KeywordOrigin`]) with `keywords`: a rescan finds the same ones again, so they are
/// never duplicated, and a keyword removed in the other program goes here too.
pub(crate) fn replace_imported(
    tx: &Transaction<'_>,
    photo_id: i64,
    keywords: &[super::ImportedKeyword],
) -> Result<()> {
    tx.execute(
        "DELETE FROM labels WHERE photo_id = ?1 AND source = 'user' AND model IN (?2, ?3)",
        params![
            photo_id,
            super::KeywordOrigin::Xmp.model(),
            super::KeywordOrigin::Iptc.model()
        ],
    )?;
    let labels: Vec<NewLabel> = keywords
        .iter()
        .map(|k| NewLabel {
            label: k.keyword.clone(),
            model: k.origin.model().to_string(),
            confidence: 1.0,
            bbox: None,
        })
        .collect();
    insert_labels(tx, photo_id, &labels, "user")
}

/// The parents declared with [`Store::set_label_parents`], read inside a transaction.
pub(crate) fn load_parents(tx: &Transaction<'_>) -> Result<ExtraParents> {
    let mut stmt = tx.prepare_cached("SELECT label, parent FROM label_parents")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut map = ExtraParents::new();
    for row in rows {
        let (label, parent) = row?;
        map.entry(label).or_default().push(parent);
    }
    Ok(map)
}

/// A photo's labels as the vocabulary reads them.
pub(crate) fn raw_labels(conn: &rusqlite::Connection, photo_id: i64) -> Result<Vec<RawLabel>> {
    let mut stmt = conn.prepare_cached(
        "SELECT label, model, confidence FROM labels WHERE photo_id = ?1 \
         ORDER BY confidence DESC, label",
    )?;
    let rows = stmt.query_map([photo_id], |r| {
        Ok(RawLabel {
            label: r.get(0)?,
            model: r.get(1)?,
            confidence: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Rewrites the tags of one photo from its labels through the vocabulary: its `photo_tags`
/// rows and its tag-index document (friendly tags, categories, rule tags and raw classes).
pub(crate) fn reindex_photo(
    tx: &Transaction<'_>,
    vocab: &Vocabulary,
    extra: &ExtraParents,
    photo_id: i64,
    sort_key: i64,
) -> Result<()> {
    tx.execute("DELETE FROM tag_index WHERE rowid = ?1", [sort_key])?;
    tx.execute("DELETE FROM photo_tags WHERE photo_id = ?1", [photo_id])?;
    let labels = raw_labels(tx, photo_id)?;
    let tags = vocab.photo_tags(&labels, extra);
    if tags.is_empty() {
        return Ok(());
    }
    // One row per tag: its best kind, priority and confidence.
    let mut rows: std::collections::BTreeMap<&str, (crate::vocab::TagKind, i32, f32)> =
        std::collections::BTreeMap::new();
    for t in &tags {
        let e = rows
            .entry(t.tag.as_str())
            .or_insert((t.kind, t.priority, t.confidence));
        e.0 = e.0.min(t.kind);
        e.1 = e.1.max(t.priority);
        e.2 = e.2.max(t.confidence);
    }
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO photo_tags (photo_id, tag, kind, priority, confidence) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (tag, (kind, priority, conf)) in &rows {
            stmt.execute(params![photo_id, tag, kind.as_str(), priority, conf])?;
        }
    }
    let names: Vec<&str> = rows.keys().copied().collect();
    tx.execute(
        "INSERT INTO tag_index (rowid, tags) VALUES (?1, ?2)",
        params![sort_key, names.join(" ; ")],
    )?;
    let mut words = tx.prepare_cached("INSERT OR IGNORE INTO tag_words (word) VALUES (?1)")?;
    for tag in names {
        for word in super::query::fold_words(tag) {
            words.execute([word])?;
        }
    }
    Ok(())
}
