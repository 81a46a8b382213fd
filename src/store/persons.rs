//! Persons in the store: the people faces are grouped into, named by the user or not, with
//! their face and photo counts; naming and merging them (the user's decisions, which make the
//! faces concerned confirmed, see [`super::faces`]). Main type: [`Person`].

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::person_tags::{photos_of_person, retag_photos};
use super::{Store, now_secs};
use crate::error::{Error, Result};

/// A person with how many faces and photos show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: i64,
    pub name: Option<String>,
    pub faces: i64,
    pub photos: i64,
}

impl Store {
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

    /// Each person's best face, as `(person, face)`: the face of highest quality (then
    /// detector score, then the oldest), the one that shows the person best on a tile.
    pub fn best_faces(&self) -> Result<Vec<(i64, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT person_id, id FROM (
                 SELECT person_id, id, ROW_NUMBER() OVER (
                        PARTITION BY person_id ORDER BY quality DESC, score DESC, id) AS rank
                   FROM faces WHERE person_id IS NOT NULL)
              WHERE rank = 1 ORDER BY person_id",
        )?;
        Ok(stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// How many faces are in no person (unsorted).
    pub fn unsorted_face_count(&self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM faces WHERE person_id IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// The photos showing person `person`, newest first (as the grid's default order).
    pub fn person_photo_ids(&self, person: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id FROM photos p
              WHERE p.status != 'missing'
                AND p.id IN (SELECT photo_id FROM faces WHERE person_id = ?1)
              ORDER BY p.sort_key DESC, p.id DESC",
        )?;
        Ok(stmt
            .query_map([person], |r| r.get(0))?
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::faces::fixtures::{face, store_with_photos};
    use crate::store::Assignment;

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
        assert_eq!(store.person_photo_ids(g1).unwrap(), vec![2, 1]);
        assert_eq!(store.unsorted_face_count().unwrap(), 0);
        assert_eq!(
            store
                .best_faces()
                .unwrap()
                .iter()
                .map(|b| b.0)
                .collect::<Vec<_>>(),
            vec![g1, g2]
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
