//! The people operations the CLI (`photolabel people`) and the app's engine both run, so that
//! neither has its own copy: the overview of the library's persons with the face that shows
//! each best ([`overview`]), the faces on one photo with who they are ([`photo_faces`]),
//! merging ([`merge`]), and finding the faces of the photos not looked at yet, grouping them as
//! they come ([`find_faces`], [`find_faces_with`]). Naming, "not this person" and "this is"
//! are single store calls ([`Store::name_person`], [`Store::reject_face`],
//! [`Store::confirm_face`]) that both call directly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use image::RgbImage;
use serde::Serialize;

use super::cluster::Params;
use super::grouping::{self, Grouped, Regroup};
use crate::error::Result;
use crate::store::{Assignment, Person, Store};
use crate::zoo::faceres::{FaceEmbedding, FaceRes};

/// The model whose faces the library keeps.
pub const FACE_MODEL: &str = "faceres";

/// A face to show for a person: where it is on which photo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceRef {
    pub face_id: i64,
    pub photo_id: i64,
    /// (x, y, w, h) relative to the upright photo, 0..1.
    pub bbox: [f32; 4],
    #[serde(serialize_with = "crate::json_path::path")]
    pub path: PathBuf,
    /// EXIF orientation of the photo (the box is on the upright image).
    pub orientation: Option<u16>,
}

/// A person with their counts and best face.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonTile {
    pub person: Person,
    pub best_face: Option<FaceRef>,
}

/// The library's persons (named first, by name; then by id) and its unsorted faces.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PeopleOverview {
    pub persons: Vec<PersonTile>,
    pub unsorted_faces: i64,
}

impl PeopleOverview {
    /// The named persons as (id, name), in name order.
    pub fn named(&self) -> Vec<(i64, String)> {
        self.persons
            .iter()
            .filter_map(|t| t.person.name.clone().map(|n| (t.person.id, n)))
            .collect()
    }
}

/// The persons of the library, each with the face that shows them best
/// ([`Store::best_faces`]), and how many faces are unsorted.
pub fn overview(store: &Store) -> Result<PeopleOverview> {
    let best: HashMap<i64, i64> = store.best_faces()?.into_iter().collect();
    let mut persons = Vec::new();
    for person in store.persons()? {
        let best_face = match best.get(&person.id) {
            Some(&face) => face_ref(store, face)?,
            None => None,
        };
        persons.push(PersonTile { person, best_face });
    }
    Ok(PeopleOverview {
        persons,
        unsorted_faces: store.unsorted_face_count()?,
    })
}

fn face_ref(store: &Store, face: i64) -> Result<Option<FaceRef>> {
    let Some(row) = store.face(face)? else {
        return Ok(None);
    };
    let Some(photo) = store.photo(row.photo_id)? else {
        return Ok(None);
    };
    Ok(Some(FaceRef {
        face_id: row.id,
        photo_id: row.photo_id,
        bbox: row.bbox,
        path: photo.path,
        orientation: photo.meta.orientation,
    }))
}

/// A face on a photo and who it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoFace {
    pub face_id: i64,
    /// (x, y, w, h) relative to the upright photo, 0..1.
    pub bbox: [f32; 4],
    /// The person, when the face is in one.
    pub person: Option<i64>,
    /// The person's name, when named.
    pub name: Option<String>,
    /// Whether the user confirmed the person (rather than grouping).
    pub confirmed: bool,
}

/// The faces on photo `photo_id`, in id order, with their persons' names.
pub fn photo_faces(store: &Store, photo_id: i64) -> Result<Vec<PhotoFace>> {
    let faces = store.faces_of_photo(photo_id)?;
    if faces.is_empty() {
        return Ok(Vec::new());
    }
    let names: HashMap<i64, Option<String>> = store
        .persons()?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    Ok(faces
        .into_iter()
        .map(|f| PhotoFace {
            face_id: f.id,
            bbox: f.bbox,
            person: f.person.map(|p| p.0),
            name: f.person.and_then(|p| names.get(&p.0).cloned().flatten()),
            confirmed: matches!(f.person, Some((_, Assignment::Confirmed))),
        })
        .collect())
}

/// Merges persons `from` into `into` (which keeps its name), one after the other.
pub fn merge(store: &mut Store, into: i64, from: &[i64]) -> Result<()> {
    for &f in from {
        store.merge_persons(into, f)?;
    }
    Ok(())
}

/// Where [`find_faces`] is, after each photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindStep {
    /// Photos looked at so far in this run.
    pub done: usize,
    /// Photos this run will look at.
    pub total: usize,
    pub photo_id: i64,
    /// Why this photo could not be looked at.
    pub error: Option<String>,
}

/// What a [`find_faces`] run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FindReport {
    /// Photos looked at.
    pub photos: usize,
    /// Photos that could not be read.
    pub failed: usize,
    /// Faces found on them.
    pub faces: usize,
    pub joined: usize,
    pub new_persons: usize,
    pub in_new_persons: usize,
    /// Faces unsorted after the run.
    pub unsorted: usize,
    /// Whether the run was stopped before its last photo.
    pub stopped: bool,
}

impl FindReport {
    fn add(&mut self, g: Grouped) {
        self.joined += g.joined;
        self.new_persons += g.new_persons;
        self.in_new_persons += g.in_new_persons;
        self.unsorted = g.unsorted;
    }
}

/// Fetches the face models' weights when they are not in `cache_dir` yet (as labelling does)
/// and loads the face embedder on the selected device.
pub fn load_embedder(cache_dir: &Path) -> Result<FaceRes> {
    let manifest = crate::zoo::Manifest::embedded()?;
    for id in crate::zoo::weight_ids(FACE_MODEL) {
        crate::zoo::weights::fetch(cache_dir, manifest.get(id)?)?;
    }
    let dev = crate::zoo::device::select()?.device;
    FaceRes::load_cached(cache_dir, &dev)
}

/// Finds, embeds and groups the faces of the photos the face model has not looked at yet (or
/// whose content changed since), at most `limit` of them, newest first; see
/// [`find_faces_with`]. The model is loaded from `cache_dir` (fetched first if needed).
pub fn find_faces(
    store: &mut Store,
    cache_dir: &Path,
    limit: Option<usize>,
    progress: &mut dyn FnMut(&FindStep) -> bool,
) -> Result<FindReport> {
    let net = load_embedder(cache_dir)?;
    find_faces_with(
        store,
        &mut |img| net.embed_faces(img, &crate::zoo::stages::PhotoStages::new().scope()),
        limit,
        progress,
    )
}

/// How long found faces wait, at most, for grouping while a run goes on: one pass reads every
/// face of the library, so a pass per photo would make a run over a large library quadratic.
pub const REGROUP_EVERY: Duration = Duration::from_secs(10);

/// [`find_faces`] with any embedder: each photo is read upright, its faces embedded and stored
/// (replacing the model's earlier ones, keeping the user's decisions), and the stored faces
/// are grouped (incrementally) at most every [`REGROUP_EVERY`] and at the end, so persons
/// appear while the run goes on. `progress` is told after every photo and stops the run by
/// answering `false`. A photo that cannot be read is reported and skipped; an embedder or
/// store error ends the run.
pub fn find_faces_with(
    store: &mut Store,
    embed: &mut dyn FnMut(&RgbImage) -> Result<Vec<FaceEmbedding>>,
    limit: Option<usize>,
    progress: &mut dyn FnMut(&FindStep) -> bool,
) -> Result<FindReport> {
    let mut todo = store.photos_without_faces_scan(FACE_MODEL)?;
    if let Some(l) = limit {
        todo.truncate(l);
    }
    let mut regroup = Regroup::new(REGROUP_EVERY);
    let mut report = FindReport::default();
    let total = todo.len();
    for id in todo {
        let Some(photo) = store.photo(id)? else {
            continue;
        };
        report.photos += 1;
        let error = match crate::zoo::load_photo(&photo.path) {
            Ok(img) => {
                let faces = embed(&img)?;
                report.faces += faces.len();
                grouping::store_faces(store, id, FACE_MODEL, img.dimensions(), &faces)?;
                regroup.stored(faces.len());
                if let Some(g) = regroup.tick(store)? {
                    report.add(g);
                }
                None
            }
            Err(e) => {
                report.failed += 1;
                Some(format!("{e:#}"))
            }
        };
        let step = FindStep {
            done: report.photos,
            total,
            photo_id: id,
            error,
        };
        if !progress(&step) {
            report.stopped = report.photos < total;
            break;
        }
    }
    match regroup.flush(store)? {
        Some(g) => report.add(g),
        // Nothing new: still a pass, for faces left unsorted by an earlier run.
        None if report.photos == 0 => {
            report.add(grouping::group(store, &Params::default(), false)?)
        }
        None => {}
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::faces::fixtures::{face, store_with_photos};

    #[test]
    fn the_overview_shows_each_persons_best_face_and_the_unsorted_ones() {
        let (_d, mut store) = store_with_photos(3);
        let mut sharp = face(0.5, &[1.0]);
        sharp.quality = 0.95;
        let a = store
            .replace_faces(1, FACE_MODEL, &[face(0.0, &[1.0]), sharp])
            .unwrap();
        let b = store
            .replace_faces(2, FACE_MODEL, &[face(0.0, &[1.0]), face(0.5, &[1.0])])
            .unwrap();
        let g = store
            .apply_grouping(&[], &[vec![a[0], a[1]], vec![b[0]]], &[])
            .unwrap();
        store.name_person(g[1], "Bob").unwrap();
        let o = overview(&store).unwrap();
        assert_eq!(o.unsorted_faces, 1);
        assert_eq!(o.named(), vec![(g[1], "Bob".to_string())]);
        // Named first; the sharper face shows the unnamed person.
        assert_eq!(o.persons[0].person.id, g[1]);
        let best = o.persons[1].best_face.as_ref().unwrap();
        assert_eq!((best.face_id, best.photo_id), (a[1], 1));
        assert_eq!(best.bbox, [0.5, 0.1, 0.2, 0.3]);
        let on2 = photo_faces(&store, 2).unwrap();
        assert_eq!(on2.len(), 2);
        assert_eq!(on2[0].name.as_deref(), Some("Bob"));
        assert!(on2[0].confirmed, "naming confirms");
        assert_eq!(on2[1].person, None);
        merge(&mut store, g[1], &[g[0]]).unwrap();
        let o = overview(&store).unwrap();
        assert_eq!(o.persons.len(), 1);
        assert_eq!(o.persons[0].person.faces, 3);
        assert_eq!(o.persons[0].person.name.as_deref(), Some("Bob"));
    }

    #[test]
    fn finding_faces_embeds_stores_and_groups_the_photos_not_looked_at() {
        use crate::fixtures::{jpeg_bytes, pattern_image};
        use crate::zoo::faceres::l2_normalised;
        use crate::zoo::mtcnn::Face;
        let (dir, mut store) = store_with_photos(3);
        // Photos 1 and 2 are real files; photo 3's file is missing.
        for id in 1..=2 {
            let path = dir.path().join(format!("f{id}.jpg"));
            std::fs::write(&path, jpeg_bytes(&pattern_image(200, 160, id as u64), None)).unwrap();
            store
                .conn()
                .execute(
                    "UPDATE photos SET path = ?2 WHERE id = ?1",
                    rusqlite::params![id, path.to_string_lossy().as_bytes()],
                )
                .unwrap();
        }
        let mut calls = 0;
        let mut embed = |img: &RgbImage| -> Result<Vec<FaceEmbedding>> {
            calls += 1;
            assert_eq!(img.dimensions(), (200, 160));
            Ok((0..2)
                .map(|k| FaceEmbedding {
                    face: Face::new(
                        [10.0 + 90.0 * k as f32, 20.0, 90.0 + 90.0 * k as f32, 100.0],
                        0.99,
                    ),
                    embedding: l2_normalised(vec![1.0, 0.02 * (calls * 2 + k) as f32, 0.0]),
                })
                .collect())
        };
        // Stopped after the first photo (the newest: photo 3, whose file is missing).
        let mut steps = Vec::new();
        let r = find_faces_with(&mut store, &mut embed, None, &mut |s| {
            steps.push(s.clone());
            false
        })
        .unwrap();
        assert_eq!((r.photos, r.failed, r.faces), (1, 1, 0));
        assert!(r.stopped, "stopped with 2 photos left");
        assert_eq!(steps.len(), 1);
        assert_eq!((steps[0].photo_id, steps[0].total), (3, 3));
        assert!(steps[0].error.is_some());
        let r = find_faces_with(&mut store, &mut embed, None, &mut |_| true).unwrap();
        assert_eq!((r.photos, r.failed, r.faces), (3, 1, 4));
        assert!(!r.stopped);
        assert_eq!(r.new_persons, 1, "{r:?}");
        let o = overview(&store).unwrap();
        assert_eq!(o.persons.len(), 1);
        assert_eq!(
            (o.persons[0].person.faces, o.persons[0].person.photos),
            (4, 2)
        );
        let f = &photo_faces(&store, 1).unwrap()[1];
        assert!(
            (f.bbox[0] - 0.5).abs() < 1e-6 && (f.bbox[2] - 0.4).abs() < 1e-6,
            "{f:?}"
        );
        // Only the unreadable photo is left to look at.
        assert_eq!(
            store.photos_without_faces_scan(FACE_MODEL).unwrap(),
            vec![3]
        );
        let r = find_faces_with(&mut store, &mut embed, Some(0), &mut |_| true).unwrap();
        assert_eq!(r.photos, 0);
    }
}
