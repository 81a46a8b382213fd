//! Grouping as the library runs it: the faces of a labelled photo go into the store
//! ([`store_faces`]), and [`group`] places the unsorted faces ([`super::cluster::plan`]) and
//! writes the result in one transaction. Incremental by default (faces already in a group stay
//! there); `full` redoes every automatic assignment, keeping the user's decisions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::store::{NewFace, Store};
use crate::zoo::faceres::FaceEmbedding;
use crate::zoo::nudenet::relative_box;

use super::cluster::{ClusterFace, Params, Plan, plan};
use super::quality;

/// What a grouping pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grouped {
    /// Faces that joined an existing person.
    pub joined: usize,
    /// New (unnamed) persons.
    pub new_persons: usize,
    /// Faces in the new persons.
    pub in_new_persons: usize,
    /// Faces left unsorted.
    pub unsorted: usize,
}

/// Replaces the faces model `model` found on photo `photo_id` (`width`×`height` pixels, as
/// the faces' coordinates) with `faces`; returns their ids in order (a face the user already
/// decided about at the same place is kept instead, see [`Store::replace_faces`]).
pub fn store_faces(
    store: &mut Store,
    photo_id: i64,
    model: &str,
    (width, height): (u32, u32),
    faces: &[FaceEmbedding],
) -> Result<Vec<i64>> {
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let rows: Vec<NewFace> = faces
        .iter()
        .map(|f| NewFace {
            model: model.to_owned(),
            bbox: relative_box(&f.face.xyxy, width, height),
            landmarks: f.face.landmarks.map(|p| [p[0] / w, p[1] / h]),
            score: f.face.score,
            quality: quality(&f.face),
            embedding: f.embedding.clone(),
        })
        .collect();
    store.replace_faces(photo_id, model, &rows)
}

/// Serialises this process's grouping passes (labelling's and "Find faces"' threads each have
/// their own connection): a pass plans from what the previous one wrote.
static PASS: Mutex<()> = Mutex::new(());

/// Places the library's unsorted faces (all automatic ones too with `full`) and stores the
/// result. Passes of this process run one at a time; a pass of another process that wrote
/// between this one's read and its write wins for the faces it placed
/// ([`Store::apply_grouping_as_seen`]).
pub fn group(store: &mut Store, params: &Params, full: bool) -> Result<Grouped> {
    let _pass = PASS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let faces = cluster_faces(store)?;
    let rejections = store.face_rejections()?;
    let Plan {
        assign,
        new_groups,
        unsort,
    } = plan(&faces, &rejections, params, full);
    store.apply_grouping_as_seen(&assign, &new_groups, &unsort, &seen_persons(&faces))?;
    // Counted in the database: reading every face (with its descriptor) again only to count
    // would double the pass's I/O.
    let unsorted = usize::try_from(store.unsorted_face_count()?).unwrap_or_default();
    Ok(Grouped {
        joined: assign.len(),
        new_persons: new_groups.len(),
        in_new_persons: new_groups.iter().map(Vec::len).sum(),
        unsorted,
    })
}

/// Every face of the library as grouping sees it.
fn cluster_faces(store: &Store) -> Result<Vec<ClusterFace>> {
    Ok(store
        .all_faces()?
        .into_iter()
        .map(|f| ClusterFace {
            id: f.id,
            quality: f.quality,
            embedding: f.embedding,
            person: f.person,
        })
        .collect())
}

/// Each face's person as a plan saw it.
fn seen_persons(faces: &[ClusterFace]) -> HashMap<i64, Option<i64>> {
    faces
        .iter()
        .map(|f| (f.id, f.person.map(|p| p.0)))
        .collect()
}

/// Grouping while labelling stores faces ([`crate::label::write::faces`]): one pass over the
/// library per photo would cost more than the photo's models once it holds thousands of faces,
/// so faces wait unsorted and are grouped together, at most every `every` or when labelling
/// has no more photos ([`Self::flush`]).
#[derive(Debug)]
pub struct Regroup {
    every: Duration,
    params: Params,
    /// Faces stored since the last pass, and when the first of them was.
    waiting: usize,
    since: Option<Instant>,
}

impl Regroup {
    /// Groups at most every `every` while faces keep coming.
    pub fn new(every: Duration) -> Self {
        Regroup {
            every,
            params: Params::default(),
            waiting: 0,
            since: None,
        }
    }

    /// Notes that `faces` faces were stored (0: a photo without faces, nothing to group).
    pub fn stored(&mut self, faces: usize) {
        if faces > 0 {
            self.waiting += faces;
            self.since.get_or_insert_with(Instant::now);
        }
    }

    /// Groups the waiting faces if the oldest has waited `every`; `None` when it did not group.
    pub fn tick(&mut self, store: &mut Store) -> Result<Option<Grouped>> {
        match self.since {
            Some(t) if t.elapsed() >= self.every => self.flush(store),
            _ => Ok(None),
        }
    }

    /// Groups the waiting faces now (labelling ran out of photos); `None` when none wait.
    pub fn flush(&mut self, store: &mut Store) -> Result<Option<Grouped>> {
        if self.waiting == 0 {
            return Ok(None);
        }
        let grouped = group(store, &self.params, false)?;
        self.waiting = 0;
        self.since = None;
        Ok(Some(grouped))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::Assignment;
    use crate::zoo::faceres::l2_normalised;
    use crate::zoo::mtcnn::Face;

    fn store_with_photos(n: i64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("lib.db")).unwrap();
        for i in 0..n {
            store
                .conn()
                .execute(
                    "INSERT INTO photos (path, size, mtime_ns, status, sort_key, added_at,
                                         scanned_at) VALUES (?1, 1, 0, 'ok', ?2, 0, 0)",
                    rusqlite::params![format!("/p{i}.jpg").into_bytes(), i],
                )
                .unwrap();
        }
        (dir, store)
    }

    /// Stores one 80-px face with descriptor `e` on photo `photo` (400×200 pixels).
    fn face_on(store: &mut Store, photo: i64, e: Vec<f32>) -> Result<Vec<i64>> {
        store_faces(store, photo, "faceres", (400, 200), &[embedded(80.0, e)])
    }

    fn embedded(side: f32, e: Vec<f32>) -> FaceEmbedding {
        let mut face = Face::new([100.0, 50.0, 100.0 + side, 50.0 + side], 0.99);
        face.landmarks[0] = [120.0, 70.0];
        FaceEmbedding {
            face,
            embedding: l2_normalised(e),
        }
    }

    #[test]
    fn photos_arriving_one_by_one_form_a_person_and_later_faces_join_it() {
        let (_d, mut store) = store_with_photos(5);
        let params = Params::default();
        let mut ids = Vec::new();
        for photo in 1..=3 {
            let e = vec![1.0, 0.05 * photo as f32, 0.0];
            ids.extend(face_on(&mut store, photo, e).unwrap());
            let g = group(&mut store, &params, false).unwrap();
            // Two faces are not a person yet; the third makes one.
            assert_eq!(g.new_persons, usize::from(photo == 3), "photo {photo}");
        }
        let row = store.face(ids[0]).unwrap().unwrap();
        let want = [0.25, 0.25, 0.2, 0.4];
        assert!(
            row.bbox.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{row:?}"
        );
        assert_eq!(row.landmarks[0], [0.3, 0.35]);
        let person = row.person.unwrap().0;
        // A later photo's face joins the person; a tiny face of the same person waits.
        face_on(&mut store, 4, vec![1.0, 0.0, 0.1]).unwrap();
        store_faces(
            &mut store,
            5,
            "faceres",
            (400, 200),
            &[embedded(12.0, vec![1.0, 0.0, 0.1])],
        )
        .unwrap();
        let g = group(&mut store, &params, false).unwrap();
        assert_eq!((g.joined, g.new_persons, g.unsorted), (1, 0, 1));
        let faces = store.faces_of_person(person).unwrap();
        assert_eq!(faces.len(), 4);
        assert!(
            faces
                .iter()
                .all(|f| f.person == Some((person, Assignment::Auto)))
        );
    }

    /// Two passes planned from the same read (two threads or processes, each with its own
    /// connection): the second to write finds the faces placed and leaves them, so the same
    /// faces never make two persons.
    #[test]
    fn a_pass_planned_before_another_wrote_leaves_the_faces_that_pass_placed() {
        let (dir, mut store) = store_with_photos(3);
        for photo in 1..=3 {
            let e = vec![1.0, 0.05 * photo as f32, 0.0];
            face_on(&mut store, photo, e).unwrap();
        }
        let params = Params::default();
        let stale = cluster_faces(&store).unwrap();
        let stale_plan = plan(&stale, &[], &params, false);
        assert_eq!(stale_plan.new_groups.len(), 1, "{stale_plan:?}");
        let mut other = Store::open(&dir.path().join("lib.db")).unwrap();
        let g = group(&mut other, &params, false).unwrap();
        assert_eq!((g.new_persons, g.in_new_persons), (1, 3));
        let persons = store.persons().unwrap();
        assert_eq!(persons.len(), 1);
        let created = store
            .apply_grouping_as_seen(
                &stale_plan.assign,
                &stale_plan.new_groups,
                &stale_plan.unsort,
                &seen_persons(&stale),
            )
            .unwrap();
        assert!(
            created.is_empty(),
            "the stale pass's person is gone: {created:?}"
        );
        assert_eq!(store.persons().unwrap().len(), 1);
        let faces = store.faces_of_person(persons[0].id).unwrap();
        assert_eq!(faces.len(), 3);
        // Written without the check, the stale plan would have moved them to a second person.
        let created = store
            .apply_grouping(
                &stale_plan.assign,
                &stale_plan.new_groups,
                &stale_plan.unsort,
            )
            .unwrap();
        assert_eq!(store.persons().unwrap().len(), 1);
        assert_eq!(store.faces_of_person(created[0]).unwrap().len(), 3);
    }

    #[test]
    fn regrouping_waits_for_its_interval_or_a_flush_and_then_places_the_stored_faces() {
        let (_d, mut store) = store_with_photos(4);
        let mut regroup = Regroup::new(Duration::from_secs(3600));
        assert_eq!(regroup.flush(&mut store).unwrap(), None, "nothing stored");
        for photo in 1..=3 {
            let e = vec![1.0, 0.05 * photo as f32, 0.0];
            let n = face_on(&mut store, photo, e).unwrap().len();
            regroup.stored(n);
            assert_eq!(
                regroup.tick(&mut store).unwrap(),
                None,
                "within the interval"
            );
        }
        assert_eq!(store.unsorted_face_count().unwrap(), 3);
        let g = regroup.flush(&mut store).unwrap().unwrap();
        assert_eq!((g.new_persons, g.in_new_persons, g.unsorted), (1, 3, 0));
        assert_eq!(regroup.flush(&mut store).unwrap(), None, "flushed once");
        // With no interval, the next stored face is grouped at the next tick.
        let mut eager = Regroup::new(Duration::ZERO);
        store_faces(
            &mut store,
            4,
            "faceres",
            (400, 200),
            &[
                embedded(80.0, vec![1.0, 0.1, 0.0]),
                embedded(80.0, vec![1.0, 0.0, 0.1]),
            ],
        )
        .unwrap();
        eager.stored(2);
        let g = eager.tick(&mut store).unwrap().unwrap();
        assert_eq!(g.joined, 2);
    }
}
