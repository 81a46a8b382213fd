//! Search by tags: finds candidate photos through the FTS5 tag index in newest-first order,
//! confirms each against the exact query semantics (phrases, confidence filters, hierarchy)
//! and reports which of its tags matched.

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use rusqlite::params;
use serde::Serialize;

use super::query::{FtsPlan, Query, fold_words};
use super::{Store, path_from_bytes};
use crate::error::Result;
use crate::vocab::PhotoTag;

/// A tag of a hit that satisfied a positive term of the query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchedTag {
    pub label: String,
    pub model: String,
    pub confidence: f32,
    /// The ancestor through which it matched (e.g. "animal" for "dog"), if not the label itself.
    pub via: Option<String>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub photo_id: i64,
    #[serde(serialize_with = "crate::json_path::path")]
    pub path: PathBuf,
    pub taken_at: Option<String>,
    pub matched: Vec<MatchedTag>,
}

const ALL_PHOTOS: &str = "SELECT sort_key FROM photos WHERE status = 'ok' ORDER BY sort_key DESC";

/// Label -> its parents.
pub type ParentMap = HashMap<String, Vec<String>>;

/// Prefix terms matching more index words than this keep FTS5's prefix syntax.
const MAX_PREFIX_EXPANSION: usize = 256;

impl Store {
    /// Runs a parsed query; hits come newest first (by date taken, else file time).
    pub fn search(&self, query: &Query, limit: usize, offset: usize) -> Result<Vec<SearchHit>> {
        let parents = self.parent_map()?;
        let conn = self.conn();
        let expand = |p: &str| -> Option<Vec<String>> {
            let mut words = conn
                .prepare_cached(
                    "SELECT word FROM tag_words WHERE word >= ?1 AND word < ?1 || char(1114111) \
                     ORDER BY word LIMIT ?2",
                )
                .ok()?;
            let rows = words
                .query_map(params![p, MAX_PREFIX_EXPANSION as i64 + 1], |r| r.get(0))
                .ok()?;
            let found: Vec<String> = rows.collect::<Result<_, _>>().ok()?;
            (found.len() <= MAX_PREFIX_EXPANSION).then_some(found)
        };
        let is_word = |w: &str| -> bool {
            conn.prepare_cached("SELECT 1 FROM tag_words WHERE word = ?1")
                .and_then(|mut st| st.exists([w]))
                .unwrap_or(false)
        };
        let mut resolved = query.clone();
        resolved.resolve_words(&is_word);
        let query = &resolved;
        let plan = query.fts_plan_with(&expand);
        // Candidates newest first. A negative plan walks all photos and, in step, the matches
        // to exclude (both in descending key order): an anti-join that reads only as far as
        // the page needs.
        let (sql, arg, exclude): (&str, Option<String>, Option<String>) = match plan {
            FtsPlan::All => (ALL_PHOTOS, None, None),
            FtsPlan::Matching(m) => (
                "SELECT rowid FROM tag_index WHERE tag_index MATCH ?1 ORDER BY rowid DESC",
                Some(m),
                None,
            ),
            FtsPlan::NotMatching(m) => (ALL_PHOTOS, None, Some(m)),
        };
        let mut cand = conn.prepare_cached(sql)?;
        let mut rows = match &arg {
            Some(m) => cand.query(params![m])?,
            None => cand.query([])?,
        };
        let mut excl_stmt = conn.prepare_cached(
            "SELECT rowid FROM tag_index WHERE tag_index MATCH ?1 ORDER BY rowid DESC",
        )?;
        let mut excl_rows = match &exclude {
            Some(m) => Some(excl_stmt.query(params![m])?),
            None => None,
        };
        let mut excl_head: Option<i64> = None;
        let mut photo_stmt = conn.prepare_cached(
            "SELECT id, path, taken_at FROM photos WHERE sort_key = ?1 AND status = 'ok'",
        )?;
        let terms = query.positive_terms();
        let mut hits = Vec::new();
        let mut skipped = 0;
        while let Some(row) = rows.next()? {
            let key: i64 = row.get(0)?;
            if let Some(ex) = excl_rows.as_mut() {
                // Advance the exclusion cursor to the first key <= this photo's.
                while excl_head.is_none_or(|h| h > key) {
                    match ex.next()? {
                        Some(r) => excl_head = Some(r.get(0)?),
                        None => {
                            excl_head = Some(i64::MIN);
                            break;
                        }
                    }
                }
                if excl_head == Some(key) {
                    continue;
                }
            }
            let Some((id, path, taken_at)) = photo_stmt
                .query_map([key], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get(2)?))
                })?
                .next()
                .transpose()?
            else {
                continue;
            };
            // The photo's tags through the vocabulary, exactly as they were indexed.
            let labels = super::labels::raw_labels(conn, id)?;
            let photo_tags = self.vocab.photo_tags(&labels, &parents);
            let expanded: Vec<(&PhotoTag, Option<&str>, Vec<String>)> = photo_tags
                .iter()
                .map(|t| {
                    let via = (t.tag != t.label).then_some(t.tag.as_str());
                    (t, via, fold_words(&t.tag))
                })
                .collect();
            let tags: Vec<(Vec<String>, f32)> = expanded
                .iter()
                .map(|(l, _, w)| (w.clone(), l.confidence))
                .collect();
            if !query.matches(&tags) {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            let mut matched: Vec<MatchedTag> = Vec::new();
            for (l, via, words) in &expanded {
                let passes = query.min_conf.is_none_or(|f| f.passes(l.confidence));
                if passes && terms.iter().any(|t| t.matches_words(words)) {
                    let already = matched
                        .iter()
                        .any(|m| m.label == l.label && m.model == l.model);
                    if !already {
                        matched.push(MatchedTag {
                            label: l.label.clone(),
                            model: l.model.clone(),
                            confidence: l.confidence,
                            via: via.map(str::to_string),
                        });
                    }
                }
            }
            hits.push(SearchHit {
                photo_id: id,
                path: path_from_bytes(&path),
                taken_at,
                matched,
            });
            if hits.len() >= limit {
                break;
            }
        }
        Ok(hits)
    }

    /// The candidate query alone (FTS5 `MATCH`, newest first, `limit` rows) without
    /// confirmation: the baseline the search benchmark compares against.
    pub fn bare_fts_rowids(&self, fts_match: &str, limit: usize) -> Result<Vec<i64>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT rowid FROM tag_index WHERE tag_index MATCH ?1 ORDER BY rowid DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![fts_match, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Friendly tags and categories in the library starting with `prefix` (any case), with
    /// their photo counts, most used first: search suggestions. Raw classes are left out.
    pub fn suggest_tags(&self, prefix: &str, limit: usize) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT tag, count(*) AS n FROM photo_tags WHERE tag LIKE ?1 || '%' \
             AND kind != 'raw' GROUP BY tag ORDER BY n DESC, tag LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![prefix, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The label hierarchy, cached until this or another connection writes the database.
    pub(crate) fn parent_map(&self) -> Result<Rc<ParentMap>> {
        let version: i64 = self
            .conn()
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if let Some((v, map)) = self.parents_cache.borrow().as_ref()
            && *v == version
        {
            return Ok(Rc::clone(map));
        }
        let mut map: ParentMap = HashMap::new();
        for (label, parent) in self.label_parents()? {
            map.entry(label).or_default().push(parent);
        }
        let map = Rc::new(map);
        self.parents_cache.replace(Some((version, Rc::clone(&map))));
        Ok(map)
    }
}
