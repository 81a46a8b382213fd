//! Grouping as the library runs it: the faces of a labelled photo go into the store
//! ([`store_faces`]), and [`group`] places the unsorted faces ([`super::cluster::plan`]) and
//! writes the result in one transaction. Incremental by default (faces already in a group stay
//! there); `full` redoes every automatic assignment, keeping the user's decisions.

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

/// Places the library's unsorted faces (all automatic ones too with `full`) and stores the
/// result.
pub fn group(store: &mut Store, params: &Params, full: bool) -> Result<Grouped> {
    let faces: Vec<ClusterFace> = store
        .all_faces()?
        .into_iter()
        .map(|f| ClusterFace {
            id: f.id,
            quality: f.quality,
            embedding: f.embedding,
            person: f.person,
        })
        .collect();
    let rejections = store.face_rejections()?;
    let Plan {
        assign,
        new_groups,
        unsort,
    } = plan(&faces, &rejections, params, full);
    store.apply_grouping(&assign, &new_groups, &unsort)?;
    let unsorted = store
        .all_faces()?
        .iter()
        .filter(|f| f.person.is_none())
        .count();
    Ok(Grouped {
        joined: assign.len(),
        new_persons: new_groups.len(),
        in_new_persons: new_groups.iter().map(Vec::len).sum(),
        unsorted,
    })
}
