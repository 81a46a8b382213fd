//! Faces in the store (schema version 9): each face a face-embedding model found on a photo,
//! with its embedding, and who it is (persons themselves: [`super::persons`]); the user's
//! decisions about faces. Who a face is has a source ([`Assignment`]): `auto` assignments are
//! grouping's and may be redone by it, `confirmed` ones and the "not this person" rejections
//! are the user's and grouping never changes them ([`crate::people::grouping`]).
//!
//! A named person's name is a tag of the photos showing them ([`super::person_tags`]): each
//! change here rewrites those tags for the photos it touched, in the same transaction.
//!
//! Embeddings and landmarks are stored as little-endian `f32` blobs. Main types:
//! [`NewFace`], [`FaceRow`], [`Assignment`].

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::person_tags::{photos_of_faces, retag_photos};
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
        self.write_grouping(assign, new_groups, unsort, None)
    }

    /// [`Store::apply_grouping`] for a plan made from `seen` (each face's person when the plan
    /// read the faces): a face whose person changed since (another grouping pass of this or
    /// another process placed it, the user moved it) is left as it is now, and a new person
    /// that so gets no face is deleted. Two passes planned from the same read therefore never
    /// make two persons of the same faces.
    pub fn apply_grouping_as_seen(
        &mut self,
        assign: &[(i64, i64)],
        new_groups: &[Vec<i64>],
        unsort: &[i64],
        seen: &HashMap<i64, Option<i64>>,
    ) -> Result<Vec<i64>> {
        self.write_grouping(assign, new_groups, unsort, Some(seen))
    }

    fn write_grouping(
        &mut self,
        assign: &[(i64, i64)],
        new_groups: &[Vec<i64>],
        unsort: &[i64],
        seen: Option<&HashMap<i64, Option<i64>>>,
    ) -> Result<Vec<i64>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let auto = |tx: &Transaction<'_>, face: i64, person: Option<i64>| {
            // ?3 = 0: unconditional; else only if the face is still with ?4 (NULL: unsorted).
            let (check, was) = match seen {
                None => (0, None),
                Some(s) => (1, s.get(&face).copied().flatten()),
            };
            tx.execute(
                "UPDATE faces SET person_id = ?2, assignment = CASE WHEN ?2 IS NULL THEN NULL
                                                                    ELSE 'auto' END
                  WHERE id = ?1 AND (assignment IS NULL OR assignment = 'auto')
                    AND (?3 = 0 OR person_id IS ?4)",
                params![face, person, check, was],
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
        // Only the persons that still exist (one that got no face was just deleted).
        let mut kept = Vec::with_capacity(created.len());
        for p in created {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM persons WHERE id = ?1)",
                [p],
                |r| r.get(0),
            )?;
            if exists {
                kept.push(p);
            }
        }
        let touched: Vec<i64> = unsort
            .iter()
            .copied()
            .chain(assign.iter().map(|a| a.0))
            .chain(new_groups.iter().flatten().copied())
            .collect();
        retag_photos(&tx, &self.vocab, &photos_of_faces(&tx, &touched)?)?;
        tx.commit()?;
        Ok(kept)
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

/// Fixtures of the people tests of the store (a library with photos, a face).
#[cfg(test)]
pub(crate) mod fixtures {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub(crate) fn store_with_photos(n: i64) -> (tempfile::TempDir, Store) {
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

    pub(crate) fn face(x: f32, e: &[f32]) -> NewFace {
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use fixtures::{face, store_with_photos};

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
}
