//! Faces and persons in the store (schema version 8): each face a face-embedding model found
//! on a photo, with its embedding; the persons faces are grouped into; and the user's
//! decisions about them. Who a face is has a source ([`Assignment`]): `auto` assignments are
//! grouping's and may be redone by it, `confirmed` ones and the "not this person" rejections
//! are the user's and grouping never changes them ([`crate::people::grouping`]).
//!
//! A named person's name is a tag of the photos showing them ([`super::person_tags`]): each
//! change here rewrites those tags for the photos it touched, in the same transaction.
//!
//! Embeddings and landmarks are stored as little-endian `f32` blobs. Main types:
//! [`NewFace`], [`FaceRow`], [`Person`], [`Assignment`].

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::person_tags::{photos_of_faces, photos_of_person, retag_photos};
use super::{Store, now_secs};
use crate::error::{Error, Result};

/// Who decided that a face shows a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Assignment {
    /// Grouping put it there; a later grouping may move it.
    Auto,
    /// The user said so; grouping never moves it.
    Confirmed,
}

impl Assignment {
    fn as_str(self) -> &'static str {
        match self {
            Assignment::Auto => "auto",
            Assignment::Confirmed => "confirmed",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "confirmed" {
            Assignment::Confirmed
        } else {
            Assignment::Auto
        }
    }
}

/// A face to store: box (x, y, w, h) and landmarks relative to the photo (0..1), detector
/// score, quality (0..1) and unit-length embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFace {
    pub model: String,
    pub bbox: [f32; 4],
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
    pub quality: f32,
    pub embedding: Vec<f32>,
}

/// A stored face and who it is.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceRow {
    pub id: i64,
    pub photo_id: i64,
    pub model: String,
    pub bbox: [f32; 4],
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
    pub quality: f32,
    pub embedding: Vec<f32>,
    /// The person and the source of that assignment; `None`: unsorted.
    pub person: Option<(i64, Assignment)>,
}

/// A person with how many faces and photos show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: i64,
    pub name: Option<String>,
    pub faces: i64,
    pub photos: i64,
}

/// Floats as a little-endian blob.
pub fn floats_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A little-endian blob as floats (trailing bytes ignored).
pub fn blob_to_floats(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn landmarks_blob(l: &[[f32; 2]; 5]) -> Vec<u8> {
    floats_to_blob(&l.concat())
}

fn landmarks_of(b: &[u8]) -> [[f32; 2]; 5] {
    let v = blob_to_floats(b);
    std::array::from_fn(|k| {
        [
            v.get(2 * k).copied().unwrap_or(0.0),
            v.get(2 * k + 1).copied().unwrap_or(0.0),
        ]
    })
}

const FACE_COLUMNS: &str = "id, photo_id, model, box_x, box_y, box_w, box_h, landmarks, score, \
                            quality, embedding, person_id, assignment";

fn face_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FaceRow> {
    let person: Option<i64> = r.get(11)?;
    let assignment: Option<String> = r.get(12)?;
    Ok(FaceRow {
        id: r.get(0)?,
        photo_id: r.get(1)?,
        model: r.get(2)?,
        bbox: [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
        landmarks: landmarks_of(&r.get::<_, Vec<u8>>(7)?),
        score: r.get(8)?,
        quality: r.get(9)?,
        embedding: blob_to_floats(&r.get::<_, Vec<u8>>(10)?),
        person: person.map(|p| (p, Assignment::parse(assignment.as_deref().unwrap_or("")))),
    })
}

fn set_person(tx: &Transaction<'_>, face: i64, person: Option<(i64, Assignment)>) -> Result<()> {
    let n = tx.execute(
        "UPDATE faces SET person_id = ?2, assignment = ?3 WHERE id = ?1",
        params![face, person.map(|p| p.0), person.map(|p| p.1.as_str())],
    )?;
    if n == 0 {
        return Err(Error::People(format!("no face {face}")));
    }
    Ok(())
}

impl Store {
    /// Replaces the faces model `model` found on photo `photo_id` with `faces` and returns
    /// their ids. Faces the user decided about (a confirmed person or a rejection) are kept,
    /// with their decisions, and the new faces overlapping them (IoU > 0.5) are not added.
    pub fn replace_faces(
        &mut self,
        photo_id: i64,
        model: &str,
        faces: &[NewFace],
    ) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM faces WHERE photo_id = ?1 AND model = ?2
               AND (assignment IS NULL OR assignment = 'auto')
               AND id NOT IN (SELECT face_id FROM face_rejections)",
            params![photo_id, model],
        )?;
        let kept: Vec<[f32; 4]> = {
            let mut stmt = tx.prepare(
                "SELECT box_x, box_y, box_w, box_h FROM faces WHERE photo_id = ?1 AND model = ?2",
            )?;
            stmt.query_map(params![photo_id, model], |r| {
                Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?])
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        let mut ids = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO faces (photo_id, model, box_x, box_y, box_w, box_h, landmarks,
                                    score, quality, embedding, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for f in faces {
                if kept.iter().any(|k| xywh_iou(k, &f.bbox) > 0.5) {
                    continue;
                }
                stmt.execute(params![
                    photo_id,
                    f.model,
                    f.bbox[0],
                    f.bbox[1],
                    f.bbox[2],
                    f.bbox[3],
                    landmarks_blob(&f.landmarks),
                    f.score,
                    f.quality,
                    floats_to_blob(&f.embedding),
                    now_secs(),
                ])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO face_scans (photo_id, model, hash, scanned_at)
             SELECT id, ?2, hash, ?3 FROM photos WHERE id = ?1",
            params![photo_id, model, now_secs()],
        )?;
        retag_photos(&tx, &self.vocab, &[photo_id].into())?;
        tx.commit()?;
        Ok(ids)
    }

    /// The readable photos whose current content model `model` has not looked at for faces
    /// ([`Self::replace_faces`] records that, faces found or not), newest first.
    pub fn photos_without_faces_scan(&self, model: &str) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id FROM photos p
              WHERE p.status = 'ok' AND NOT EXISTS (
                    SELECT 1 FROM face_scans s
                     WHERE s.photo_id = p.id AND s.model = ?1 AND s.hash IS p.hash)
              ORDER BY p.sort_key DESC",
        )?;
        Ok(stmt
            .query_map([model], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// One face.
    pub fn face(&self, id: i64) -> Result<Option<FaceRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {FACE_COLUMNS} FROM faces WHERE id = ?1"),
                [id],
                face_row,
            )
            .optional()?)
    }

    /// The faces of a photo, in id order.
    pub fn faces_of_photo(&self, photo_id: i64) -> Result<Vec<FaceRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FACE_COLUMNS} FROM faces WHERE photo_id = ?1 ORDER BY id"
        ))?;
        Ok(stmt
            .query_map([photo_id], face_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Every face of the library, in id order (what grouping works on).
    pub fn all_faces(&self) -> Result<Vec<FaceRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {FACE_COLUMNS} FROM faces ORDER BY id"))?;
        Ok(stmt
            .query_map([], face_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The faces of a person, in id order.
    pub fn faces_of_person(&self, person: i64) -> Result<Vec<FaceRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FACE_COLUMNS} FROM faces WHERE person_id = ?1 ORDER BY id"
        ))?;
        Ok(stmt
            .query_map([person], face_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Every "not this person" decision as `(face, person)`, sorted.
    pub fn face_rejections(&self) -> Result<Vec<(i64, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT face_id, person_id FROM face_rejections ORDER BY 1, 2")?;
        Ok(stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// A new person, named or not; a name another person has is an error.
    pub fn create_person(&mut self, name: Option<&str>) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO persons (name, created_at) VALUES (?1, ?2)",
            params![name.map(str::trim), now_secs()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Every person with their face and photo counts, named ones first (by name), then by id.
    pub fn persons(&self) -> Result<Vec<Person>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id, p.name, COUNT(f.id), COUNT(DISTINCT f.photo_id)
               FROM persons p LEFT JOIN faces f ON f.person_id = p.id
              GROUP BY p.id ORDER BY p.name IS NULL, p.name, p.id",
        )?;
        Ok(stmt
            .query_map([], |r| {
                Ok(Person {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    faces: r.get(2)?,
                    photos: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The person named `name` (case-insensitive).
    pub fn person_by_name(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM persons WHERE name = ?1",
                [name.trim()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Names (or renames) person `id`; an empty name forgets it. The faces grouping had put
    /// there become confirmed: naming a group is the user saying it is one person.
    pub fn name_person(&mut self, id: i64, name: &str) -> Result<()> {
        let name = name.trim();
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE persons SET name = ?2 WHERE id = ?1",
            params![id, (!name.is_empty()).then_some(name)],
        )?;
        if n == 0 {
            return Err(Error::People(format!("no person {id}")));
        }
        if !name.is_empty() {
            tx.execute(
                "UPDATE faces SET assignment = 'confirmed' WHERE person_id = ?1",
                [id],
            )?;
        }
        let photos = photos_of_person(&tx, id)?;
        retag_photos(&tx, &self.vocab, &photos)?;
        tx.commit()?;
        Ok(())
    }

    /// Merges person `from` into `into`: every face of `from` becomes `into`'s, confirmed (the
    /// user said they are one person), its rejections move along, and `from` is deleted. A
    /// face rejected for one of the two is left out of the merge, unsorted.
    pub fn merge_persons(&mut self, into: i64, from: i64) -> Result<()> {
        if into == from {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        let mut photos = photos_of_person(&tx, into)?;
        photos.extend(photos_of_person(&tx, from)?);
        tx.execute(
            "UPDATE faces SET person_id = NULL, assignment = NULL
              WHERE person_id IN (?1, ?2)
                AND id IN (SELECT face_id FROM face_rejections WHERE person_id IN (?1, ?2))",
            params![into, from],
        )?;
        tx.execute(
            "UPDATE faces SET person_id = ?1, assignment = 'confirmed' WHERE person_id IN (?1, ?2)",
            params![into, from],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO face_rejections (face_id, person_id)
             SELECT face_id, ?1 FROM face_rejections WHERE person_id = ?2",
            params![into, from],
        )?;
        let n = tx.execute("DELETE FROM persons WHERE id = ?1", [from])?;
        if n == 0 {
            return Err(Error::People(format!("no person {from}")));
        }
        retag_photos(&tx, &self.vocab, &photos)?;
        tx.commit()?;
        Ok(())
    }

    /// The user says face `face` is person `person` (confirmed; a rejection of that pair is
    /// forgotten).
    pub fn confirm_face(&mut self, face: i64, person: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM face_rejections WHERE face_id = ?1 AND person_id = ?2",
            params![face, person],
        )?;
        set_person(&tx, face, Some((person, Assignment::Confirmed)))?;
        retag_photos(&tx, &self.vocab, &photos_of_faces(&tx, &[face])?)?;
        tx.commit()?;
        Ok(())
    }

    /// The user says face `face` is not person `person`: it leaves that person (unsorted) and
    /// grouping never puts it back there.
    pub fn reject_face(&mut self, face: i64, person: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO face_rejections (face_id, person_id) VALUES (?1, ?2)",
            params![face, person],
        )?;
        tx.execute(
            "UPDATE faces SET person_id = NULL, assignment = NULL
              WHERE id = ?1 AND person_id = ?2",
            params![face, person],
        )?;
        retag_photos(&tx, &self.vocab, &photos_of_faces(&tx, &[face])?)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes grouping's result: `assign` gives faces to persons (`Auto`; faces the user
    /// confirmed are never touched), `new_groups` creates an unnamed person per list of faces,
    /// `unsort` takes faces out of their automatic person. Persons left with no face and no
    /// name are deleted. One transaction.
    pub fn apply_grouping(
        &mut self,
        assign: &[(i64, i64)],
        new_groups: &[Vec<i64>],
        unsort: &[i64],
    ) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let auto = |tx: &Transaction<'_>, face: i64, person: Option<i64>| {
            tx.execute(
                "UPDATE faces SET person_id = ?2, assignment = CASE WHEN ?2 IS NULL THEN NULL
                                                                    ELSE 'auto' END
                  WHERE id = ?1 AND (assignment IS NULL OR assignment = 'auto')",
                params![face, person],
            )
        };
        for &f in unsort {
            auto(&tx, f, None)?;
        }
        for &(f, p) in assign {
            auto(&tx, f, Some(p))?;
        }
        let mut created = Vec::new();
        for group in new_groups {
            tx.execute(
                "INSERT INTO persons (name, created_at) VALUES (NULL, ?1)",
                [now_secs()],
            )?;
            let p = tx.last_insert_rowid();
            for &f in group {
                auto(&tx, f, Some(p))?;
            }
            created.push(p);
        }
        tx.execute(
            "DELETE FROM persons WHERE name IS NULL
               AND id NOT IN (SELECT person_id FROM faces WHERE person_id IS NOT NULL)
               AND id NOT IN (SELECT person_id FROM face_rejections)",
            [],
        )?;
        let touched: Vec<i64> = unsort
            .iter()
            .copied()
            .chain(assign.iter().map(|a| a.0))
            .chain(new_groups.iter().flatten().copied())
            .collect();
        retag_photos(&tx, &self.vocab, &photos_of_faces(&tx, &touched)?)?;
        tx.commit()?;
        Ok(created)
    }
}

/// IoU of two (x, y, w, h) boxes.
fn xywh_iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn store_with_photos(n: i64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("lib.db")).unwrap();
        for i in 0..n {
            store
                .conn()
                .execute(
                    "INSERT INTO photos (path, size, mtime_ns, status, sort_key, added_at,
                                         scanned_at) VALUES (?1, 1, 0, 'ok', ?2, 0, 0)",
                    params![format!("/p{i}.jpg").into_bytes(), i],
                )
                .unwrap();
        }
        (dir, store)
    }

    fn face(x: f32, e: &[f32]) -> NewFace {
        NewFace {
            model: "faceres".into(),
            bbox: [x, 0.1, 0.2, 0.3],
            landmarks: [
                [x, 0.2],
                [x + 0.1, 0.2],
                [x + 0.05, 0.25],
                [x, 0.3],
                [x + 0.1, 0.3],
            ],
            score: 0.99,
            quality: 0.8,
            embedding: e.to_vec(),
        }
    }

    #[test]
    fn faces_round_trip_with_their_embeddings() {
        let (_d, mut store) = store_with_photos(2);
        let ids = store
            .replace_faces(
                1,
                "faceres",
                &[face(0.1, &[1.0, 0.0]), face(0.6, &[0.0, -1.5])],
            )
            .unwrap();
        assert_eq!(ids.len(), 2);
        let rows = store.faces_of_photo(1).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].embedding, vec![0.0, -1.5]);
        assert_eq!(rows[0].landmarks[4], [0.2, 0.3]);
        assert_eq!(rows[0].bbox, [0.1, 0.1, 0.2, 0.3]);
        assert_eq!(rows[0].person, None);
        assert_eq!(store.face(ids[0]).unwrap().unwrap(), rows[0]);
        assert!(store.faces_of_photo(2).unwrap().is_empty());
        assert_eq!(store.all_faces().unwrap().len(), 2);
        // Photo 1 was looked at; photo 2 is looked at and has no face: neither is again,
        // until its content changes.
        assert_eq!(store.photos_without_faces_scan("faceres").unwrap(), vec![2]);
        store.replace_faces(2, "faceres", &[]).unwrap();
        assert!(
            store
                .photos_without_faces_scan("faceres")
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.photos_without_faces_scan("other").unwrap().len(), 2);
        store
            .conn()
            .execute("UPDATE photos SET hash = 'changed' WHERE id = 2", [])
            .unwrap();
        assert_eq!(store.photos_without_faces_scan("faceres").unwrap(), vec![2]);
        // Relabelling replaces the photo's faces.
        store
            .replace_faces(1, "faceres", &[face(0.3, &[0.5, 0.5])])
            .unwrap();
        assert_eq!(store.all_faces().unwrap().len(), 1);
    }

    #[test]
    fn user_decisions_survive_relabelling_and_grouping() {
        let (_d, mut store) = store_with_photos(1);
        let ids = store
            .replace_faces(
                1,
                "faceres",
                &[face(0.0, &[1.0]), face(0.5, &[1.0]), face(0.8, &[1.0])],
            )
            .unwrap();
        let created = store
            .apply_grouping(&[], &[vec![ids[0], ids[1], ids[2]]], &[])
            .unwrap();
        let p = created[0];
        store.confirm_face(ids[0], p).unwrap();
        store.reject_face(ids[1], p).unwrap();
        assert_eq!(store.face_rejections().unwrap(), vec![(ids[1], p)]);
        let f1 = store.face(ids[1]).unwrap().unwrap();
        assert_eq!(f1.person, None);
        // Grouping cannot move a confirmed face.
        store.apply_grouping(&[], &[], &[ids[0], ids[2]]).unwrap();
        assert_eq!(
            store.face(ids[0]).unwrap().unwrap().person,
            Some((p, Assignment::Confirmed))
        );
        assert_eq!(store.face(ids[2]).unwrap().unwrap().person, None);
        // Relabelling keeps the faces the user decided about, and skips new ones on them.
        store
            .replace_faces(1, "faceres", &[face(0.0, &[1.0]), face(0.3, &[1.0])])
            .unwrap();
        let rows = store.faces_of_photo(1).unwrap();
        let kept: Vec<i64> = rows.iter().map(|r| r.id).collect();
        assert!(kept.contains(&ids[0]) && kept.contains(&ids[1]), "{rows:?}");
        // The undecided face at x = 0.8 is gone, the new one at 0.3 added, the one at 0 not.
        let xs: Vec<f32> = rows.iter().map(|r| r.bbox[0]).collect();
        assert_eq!(xs, vec![0.0, 0.5, 0.3], "{rows:?}");
        assert_eq!(rows.len(), 3, "{rows:?}");
    }

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

    #[test]
    fn persons_are_named_merged_and_counted() {
        let (_d, mut store) = store_with_photos(2);
        let a = store
            .replace_faces(1, "faceres", &[face(0.0, &[1.0]), face(0.5, &[1.0])])
            .unwrap();
        let b = store
            .replace_faces(2, "faceres", &[face(0.0, &[1.0])])
            .unwrap();
        let groups = store
            .apply_grouping(&[], &[vec![a[0], b[0]], vec![a[1]]], &[])
            .unwrap();
        let (g1, g2) = (groups[0], groups[1]);
        store.name_person(g1, " Alice ").unwrap();
        assert_eq!(store.person_by_name("alice").unwrap(), Some(g1));
        assert_eq!(
            store.face(a[0]).unwrap().unwrap().person,
            Some((g1, Assignment::Confirmed))
        );
        let persons = store.persons().unwrap();
        assert_eq!(persons[0].name.as_deref(), Some("Alice"));
        assert_eq!((persons[0].faces, persons[0].photos), (2, 2));
        assert!(
            store.create_person(Some("alice")).is_err(),
            "names are unique"
        );
        // Merging: g2's face rejected for g1 stays out.
        store.reject_face(a[1], g1).unwrap();
        store.confirm_face(a[1], g2).unwrap();
        store.merge_persons(g1, g2).unwrap();
        assert_eq!(store.face(a[1]).unwrap().unwrap().person, None);
        assert_eq!(store.persons().unwrap().len(), 1);
        assert_eq!(store.faces_of_person(g1).unwrap().len(), 2);
        // An unnamed person left empty by grouping goes away; a named one stays.
        let lone = store.apply_grouping(&[], &[vec![a[1]]], &[]).unwrap()[0];
        store.apply_grouping(&[], &[], &[a[1]]).unwrap();
        assert!(store.persons().unwrap().iter().all(|p| p.id != lone));
        store.apply_grouping(&[], &[], &[a[0], b[0]]).unwrap();
        assert_eq!(store.persons().unwrap().len(), 1);
    }
}
