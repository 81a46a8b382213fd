//! The vocabulary's tags of the library: [`Store::apply_vocabulary`] rebuilds every photo's tags
//! from its stored raw labels when the vocabulary changed (cheap when it did not), and the
//! readers behind `photolabel tags`, the tag browser and the photo detail: [`TagCount`],
//! [`TagNode`] (the category tree with photo counts) and [`Store::photo_tags_for`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Store;
use crate::error::Result;
use crate::vocab::{PhotoTag, TagKind, Vocabulary};

/// The `meta` key holding the hash of the vocabulary the tags were built with.
const VOCAB_HASH_KEY: &str = "vocabulary_hash";

/// A tag in the library and how many photos carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagCount {
    pub tag: String,
    /// The tag's most direct role on any photo (a friendly tag that is also a category of
    /// another reads as a tag).
    pub kind: TagKind,
    pub priority: i32,
    pub photos: i64,
}

/// A node of the tag tree: a tag, its photo count and the tags below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagNode {
    pub tag: String,
    pub photos: i64,
    pub children: Vec<TagNode>,
}

impl Store {
    /// Makes `vocab` the vocabulary of this store and, when the library's tags were built with
    /// another one (its hash is recorded in the database), rebuilds every photo's tags from the
    /// stored raw labels. Idempotent; returns whether it reindexed. [`Store::open`] applies the
    /// embedded vocabulary, so callers need this only for another one.
    pub fn apply_vocabulary(&mut self, vocab: &Vocabulary) -> Result<bool> {
        if self.vocab.hash() != vocab.hash() {
            self.vocab = Arc::new(vocab.clone());
            self.parents_cache.replace(None);
        }
        let stored: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [VOCAB_HASH_KEY],
                |r| r.get(0),
            )
            .optional()?;
        if stored.as_deref() == Some(vocab.hash()) {
            return Ok(false);
        }
        self.rebuild_tag_index()?;
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![VOCAB_HASH_KEY, vocab.hash()],
        )?;
        log::info!("rebuilt the library's tags for vocabulary {}", vocab.hash());
        Ok(true)
    }

    /// The vocabulary this store computes tags with.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// A photo's tags with the raw label and model each came from, best priority first (for
    /// the photo detail).
    pub fn photo_tags_for(&self, photo_id: i64) -> Result<Vec<PhotoTag>> {
        let labels = super::labels::raw_labels(self.conn(), photo_id)?;
        let parents = self.parent_map()?;
        Ok(self.vocab.photo_tags(&labels, &parents))
    }

    /// Every tag in the library with its photo count, most photos first (raw classes
    /// included when `raw`).
    pub fn tag_counts(&self, raw: bool) -> Result<Vec<TagCount>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT tag, min(CASE kind WHEN 'tag' THEN 0 WHEN 'category' THEN 1 \
             WHEN 'rule' THEN 2 ELSE 3 END), max(priority), count(*) AS n \
             FROM photo_tags GROUP BY tag ORDER BY n DESC, tag",
        )?;
        let rows = stmt.query_map([], |r| {
            let kind = match r.get::<_, i64>(1)? {
                0 => TagKind::Tag,
                1 => TagKind::Category,
                2 => TagKind::Rule,
                _ => TagKind::Raw,
            };
            Ok(TagCount {
                tag: r.get(0)?,
                kind,
                priority: r.get(2)?,
                photos: r.get(3)?,
            })
        })?;
        let all: Vec<TagCount> = rows.collect::<Result<_, _>>()?;
        Ok(all
            .into_iter()
            .filter(|t| raw || t.kind != TagKind::Raw)
            .collect())
    }

    /// The library's friendly tags as a tree of categories with photo counts: roots are tags
    /// with no category above them; a tag appears under each of its categories. Children and
    /// roots come most photos first.
    pub fn tag_tree(&self) -> Result<Vec<TagNode>> {
        let counts: BTreeMap<String, i64> = self
            .tag_counts(false)?
            .into_iter()
            .map(|t| (t.tag, t.photos))
            .collect();
        let children = self.vocab.children();
        let parents = self.parent_map()?;
        let mut below: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (parent, kids) in &children {
            for k in kids {
                if counts.contains_key(k) && counts.contains_key(parent) {
                    below.entry(parent).or_default().insert(k);
                }
            }
        }
        for (label, ps) in parents.iter() {
            for p in ps {
                if counts.contains_key(label) && counts.contains_key(p) {
                    below.entry(p).or_default().insert(label);
                }
            }
        }
        let has_parent: BTreeSet<&str> = below.values().flatten().copied().collect();
        fn build(
            tag: &str,
            counts: &BTreeMap<String, i64>,
            below: &BTreeMap<&str, BTreeSet<&str>>,
            path: &mut Vec<String>,
        ) -> TagNode {
            path.push(tag.to_string());
            let next: Vec<&str> = below
                .get(tag)
                .into_iter()
                .flatten()
                .filter(|k| !path.iter().any(|p| p == *k))
                .copied()
                .collect();
            let mut kids: Vec<TagNode> = next
                .into_iter()
                .map(|k| build(k, counts, below, path))
                .collect();
            path.pop();
            kids.sort_by(|a, b| b.photos.cmp(&a.photos).then_with(|| a.tag.cmp(&b.tag)));
            TagNode {
                tag: tag.to_string(),
                photos: counts.get(tag).copied().unwrap_or(0),
                children: kids,
            }
        }
        let mut roots: Vec<TagNode> = counts
            .keys()
            .filter(|t| !has_parent.contains(t.as_str()))
            .map(|t| build(t, &counts, &below, &mut Vec::new()))
            .collect();
        roots.sort_by(|a, b| b.photos.cmp(&a.photos).then_with(|| a.tag.cmp(&b.tag)));
        Ok(roots)
    }
}

/// `photolabel tags`: the library's tags with photo counts, one per line (`--tree`: indented
/// under their categories), into `out`.
pub fn write_tags(store: &Store, tree: bool, out: &mut dyn std::io::Write) -> Result<()> {
    let io = |e| crate::error::Error::io("cannot write the tag list", "<stdout>", e);
    if tree {
        fn walk(n: &TagNode, depth: usize, out: &mut dyn std::io::Write) -> std::io::Result<()> {
            writeln!(
                out,
                "{:indent$}{} ({})",
                "",
                n.tag,
                n.photos,
                indent = depth * 2
            )?;
            n.children.iter().try_for_each(|c| walk(c, depth + 1, out))
        }
        for root in store.tag_tree()? {
            walk(&root, 0, out).map_err(io)?;
        }
    } else {
        for t in store.tag_counts(false)? {
            writeln!(out, "{:>7}  {}", t.photos, t.tag).map_err(io)?;
        }
    }
    Ok(())
}
