//! Named persons as tags: every photo showing a named person (one of its faces is theirs,
//! grouped or confirmed) carries a user label with the person's name, from the pseudo-model
//! [`PERSON_MODEL`], boxed on the face. Through the vocabulary (a label of a model it does
//! not know is its own tag) the name becomes a tag of the photo, so search finds `Alice`,
//! `person:Alice`, `Alice beach` and `Alice -Bob` like any other tag. The labels are derived
//! data: every change to faces or persons rewrites them for the photos it touched
//! ([`retag_photos`]), in the same transaction.

use std::collections::BTreeSet;

use rusqlite::{Transaction, params};

use super::labels::{NewLabel, insert_labels, load_parents, reindex_photo};
use crate::error::Result;
use crate::vocab::Vocabulary;

/// The `model` of person labels.
pub const PERSON_MODEL: &str = "people";

/// The photos of faces `faces`.
pub(crate) fn photos_of_faces(tx: &Transaction<'_>, faces: &[i64]) -> Result<BTreeSet<i64>> {
    let mut stmt = tx.prepare_cached("SELECT photo_id FROM faces WHERE id = ?1")?;
    let mut out = BTreeSet::new();
    for f in faces {
        if let Some(p) = stmt
            .query_map([f], |r| r.get::<_, i64>(0))?
            .next()
            .transpose()?
        {
            out.insert(p);
        }
    }
    Ok(out)
}

/// The photos showing person `person`.
pub(crate) fn photos_of_person(tx: &Transaction<'_>, person: i64) -> Result<BTreeSet<i64>> {
    let mut stmt = tx.prepare_cached("SELECT DISTINCT photo_id FROM faces WHERE person_id = ?1")?;
    let rows = stmt.query_map([person], |r| r.get::<_, i64>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Rewrites the person labels of `photos` from their faces and re-indexes their tags.
pub(crate) fn retag_photos(
    tx: &Transaction<'_>,
    vocab: &Vocabulary,
    photos: &BTreeSet<i64>,
) -> Result<()> {
    if photos.is_empty() {
        return Ok(());
    }
    let extra = load_parents(tx)?;
    for &photo in photos {
        tx.execute(
            "DELETE FROM labels WHERE photo_id = ?1 AND source = 'user' AND model = ?2",
            params![photo, PERSON_MODEL],
        )?;
        let labels: Vec<NewLabel> = {
            let mut stmt = tx.prepare_cached(
                "SELECT p.name, f.box_x, f.box_y, f.box_w, f.box_h
                   FROM faces f JOIN persons p ON p.id = f.person_id
                  WHERE f.photo_id = ?1 AND p.name IS NOT NULL ORDER BY f.id",
            )?;
            stmt.query_map([photo], |r| {
                Ok(NewLabel {
                    label: r.get(0)?,
                    model: PERSON_MODEL.to_owned(),
                    confidence: 1.0,
                    bbox: Some([r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]),
                })
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        insert_labels(tx, photo, &labels, "user")?;
        let key: i64 = tx.query_row("SELECT sort_key FROM photos WHERE id = ?1", [photo], |r| {
            r.get(0)
        })?;
        reindex_photo(tx, vocab, &extra, photo, key)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::faces::fixtures::{face, store_with_photos};
    use crate::store::Store;

    #[test]
    fn a_named_person_is_a_search_tag() {
        let (_d, mut store) = store_with_photos(3);
        let a = store
            .replace_faces(1, "faceres", &[face(0.0, &[1.0])])
            .unwrap();
        let b = store
            .replace_faces(2, "faceres", &[face(0.0, &[1.0])])
            .unwrap();
        let c = store
            .replace_faces(3, "faceres", &[face(0.0, &[1.0])])
            .unwrap();
        let g = store
            .apply_grouping(&[], &[vec![a[0], b[0]], vec![c[0]]], &[])
            .unwrap();
        let found = |store: &Store, q: &str| -> Vec<i64> {
            let query = crate::store::query::Query::parse(q).unwrap();
            let mut ids: Vec<i64> = store
                .search(&query, 100, 0)
                .unwrap()
                .iter()
                .map(|h| h.photo_id)
                .collect();
            ids.sort_unstable();
            ids
        };
        assert!(
            found(&store, "alice").is_empty(),
            "unnamed groups are no tags"
        );
        store.name_person(g[0], "Alice").unwrap();
        store.name_person(g[1], "Bob").unwrap();
        assert_eq!(found(&store, "Alice"), vec![1, 2]);
        assert_eq!(found(&store, "person:alice"), vec![1, 2]);
        assert_eq!(found(&store, "Alice -Bob"), vec![1, 2]);
        assert_eq!(found(&store, "alice OR bob"), vec![1, 2, 3]);
        // Not this person: photo 2 no longer shows Alice.
        store.reject_face(b[0], g[0]).unwrap();
        assert_eq!(found(&store, "person:Alice"), vec![1]);
        // Merging Bob into Alice: Bob's photo is Alice's, Bob is no tag any more.
        store.merge_persons(g[0], g[1]).unwrap();
        assert_eq!(found(&store, "alice"), vec![1, 3]);
        assert!(found(&store, "person:bob").is_empty());
    }
}
