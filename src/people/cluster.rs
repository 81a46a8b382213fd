//! Grouping faces into people, incrementally: faces already in a group stay there, and only
//! the unsorted ones are placed, so a new photo never re-clusters the library.
//!
//! Two steps over the unsorted faces whose quality reaches [`Params::min_quality`] (small or
//! blurred faces stay unsorted rather than pollute groups):
//! 1. **Join**: a face may join a group when at least [`Params::k`] of its members (all of
//!    them, in a smaller group) are each at least [`Params::join`] similar to it: the face
//!    would be a dense point of that group, as in step 2. Among such groups it joins the one
//!    whose `k` closest members are most similar on average, if that beats the runner-up by
//!    [`Params::margin`] (an ambiguous face, such as one between two siblings, waits), and
//!    unless the user said "not this person" for that group. Scoring a group by its closest
//!    members' *mean* instead lets similar-looking people merge: the best few of a large
//!    group's faces are close to many strangers (on `../shared/faces` that rule, at the same
//!    threshold, put 7 people in 5 groups, pairwise precision 0.72).
//! 2. **Seed** (density-based, DBSCAN over the faces still unsorted): a face with at least
//!    [`Params::min_faces`] − 1 neighbours (cosine ≥ [`Params::link`]) is a core face; core
//!    faces linked to each other, and their neighbours, form a new group when it has at least
//!    [`Params::min_faces`] faces.
//!
//! The unsorted faces are placed one by one in arrival (id) order, as if grouping ran after
//! every face: each first tries to join (step 1, the groups seeded earlier in the same pass
//! included), else waits, and the waiting faces seed a group (step 2) as soon as enough of them
//! are alike; a face that waited tries once more at the end. So grouping once after a batch of
//! photos (labelling groups every few seconds) gives the groups grouping after each photo
//! gives. DBSCAN over the whole batch at once did not: one similar pair between two people
//! chained both into one group (two of the shared people, 7 faces labelled together).
//!
//! User decisions are inputs: confirmed faces are members that never move, rejections bar a
//! face from a group. A full regroup ([`plan`] with `full`, after thresholds change) takes the
//! automatic assignments back and places those faces again, except in a group the user said
//! "not this person" to without confirming any face of it: there the automatic faces are what
//! the group is, so they stay (else the group, and the user's decision, would dissolve).
//! Main types: [`Params`], [`ClusterFace`], [`Plan`].

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::store::Assignment;
use crate::zoo::faceres::cosine;

/// Grouping thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Least similarity to each of a group's `k` closest members for a face to join it.
    pub join: f32,
    /// Least similarity of two unsorted faces to count as neighbours when seeding groups.
    pub link: f32,
    /// How many members of a group a face must be close to (fewer in a smaller group).
    pub k: usize,
    /// Faces a new group needs.
    pub min_faces: usize,
    /// How far the best group must score above the runner-up.
    pub margin: f32,
    /// Least face quality ([`super::quality`]) to be grouped automatically.
    pub min_quality: f32,
}

impl Default for Params {
    /// Thresholds for `faceres` descriptors, chosen on `../shared/faces` (not by grouping
    /// those photos in one order): a pair above cosine 0.60 is a false accept about 1 % of
    /// the time (`examples/faces.rs`: TAR@1 %FAR threshold 0.604, EER threshold 0.62), so a
    /// face joins a group only when 3 members are above it, with a margin over the next
    /// group. Seeding a new group is stricter (`link` 0.65): fed in 50 shuffled orders,
    /// grouping after each photo, seeding at 0.60 made wrong groups in some orders (pairwise
    /// precision mean 0.943, worst 0.659; worst order: 1 of 7 people with a group of their
    /// own), while 0.65 and 0.70 gave precision 1.000 and recall 0.987 in every order (6 of 7
    /// people; the 7th has 2 photos, fewer than a group needs), and 0.75 split people
    /// (recall 0.861).
    fn default() -> Self {
        Params {
            join: 0.60,
            link: 0.65,
            k: 3,
            min_faces: 3,
            margin: 0.02,
            min_quality: 0.5,
        }
    }
}

/// A face as grouping sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterFace {
    pub id: i64,
    pub quality: f32,
    /// Unit length.
    pub embedding: Vec<f32>,
    pub person: Option<(i64, Assignment)>,
}

/// What grouping decided: faces joining existing persons, new groups, faces taken back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// `(face, person)`: automatic assignments to existing persons.
    pub assign: Vec<(i64, i64)>,
    /// Faces of each new (unnamed) person.
    pub new_groups: Vec<Vec<i64>>,
    /// Faces whose automatic assignment is taken back (full regroup).
    pub unsort: Vec<i64>,
}

impl Plan {
    /// Applies the plan to `faces` in memory (as [`crate::store::Store::apply_grouping`] does
    /// in the store), each new group getting the id `new_person` returns: for replaying
    /// grouping without a library (tests, `examples/faces.rs`).
    pub fn apply_to(&self, faces: &mut [ClusterFace], mut new_person: impl FnMut() -> i64) {
        let mut set = |id: i64, person: Option<(i64, Assignment)>| {
            if let Some(f) = faces.iter_mut().find(|f| f.id == id) {
                f.person = person;
            }
        };
        for &f in &self.unsort {
            set(f, None);
        }
        for &(f, p) in &self.assign {
            set(f, Some((p, Assignment::Auto)));
        }
        for group in &self.new_groups {
            let p = new_person();
            for &f in group {
                set(f, Some((p, Assignment::Auto)));
            }
        }
    }
}

/// For the similarities of a face to a group's members: the mean of the `k` largest (all,
/// when fewer) if the smallest of those reaches `threshold`, else `None`.
fn dense_score(mut sims: Vec<f32>, k: usize, threshold: f32) -> Option<f32> {
    sims.sort_by(|a, b| b.total_cmp(a));
    let n = k.max(1).min(sims.len());
    let top = sims.get(..n).filter(|t| !t.is_empty())?;
    (top[n - 1] >= threshold).then(|| top.iter().sum::<f32>() / n as f32)
}

/// Plans grouping of `faces` given the user's rejections `(face, person)`. With `full`, every
/// automatic assignment is taken back first and all faces are placed again.
pub fn plan(faces: &[ClusterFace], rejections: &[(i64, i64)], params: &Params, full: bool) -> Plan {
    let rejected: HashSet<(i64, i64)> = rejections.iter().copied().collect();
    let confirmed: HashSet<i64> = faces
        .iter()
        .filter_map(|f| match f.person {
            Some((p, Assignment::Confirmed)) => Some(p),
            _ => None,
        })
        .collect();
    // Groups whose automatic faces stay in a full regroup (see the module docs).
    let kept = |p: i64| !confirmed.contains(&p) && rejections.iter().any(|r| r.1 == p);
    let mut out = Plan::default();
    // Every group faces may join: the existing persons (in id order), then the groups this
    // pass seeds.
    let mut groups: Vec<(Option<i64>, Vec<usize>)> = Vec::new();
    let mut pending = Vec::new();
    {
        let mut members: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (i, f) in faces.iter().enumerate() {
            match f.person {
                Some((p, Assignment::Confirmed)) => members.entry(p).or_default().push(i),
                Some((p, Assignment::Auto)) if !full || kept(p) => {
                    members.entry(p).or_default().push(i)
                }
                Some((_, Assignment::Auto)) => {
                    out.unsort.push(f.id);
                    pending.push(i);
                }
                None => pending.push(i),
            }
        }
        groups.extend(members.into_iter().map(|(p, m)| (Some(p), m)));
    }
    let existing = groups.len();
    pending.retain(|&i| faces[i].quality >= params.min_quality);
    pending.sort_by_key(|&i| faces[i].id);

    // The group face `i` joins (index into `groups`), if any.
    let join = |i: usize, groups: &[(Option<i64>, Vec<usize>)]| -> Option<usize> {
        let f = &faces[i];
        let mut scored: Vec<(f32, usize)> = groups
            .iter()
            .enumerate()
            .filter(|(_, (p, m))| {
                !m.is_empty() && !p.is_some_and(|p| rejected.contains(&(f.id, p)))
            })
            .filter_map(|(g, (_, m))| {
                let sims = m
                    .iter()
                    .map(|&j| cosine(&f.embedding, &faces[j].embedding))
                    .collect();
                Some((dense_score(sims, params.k, params.join)?, g))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let runner_up = scored.get(1).map_or(f32::NEG_INFINITY, |s| s.0);
        scored
            .first()
            .filter(|(s, _)| s - runner_up >= params.margin)
            .map(|&(_, g)| g)
    };

    // Faces are placed one by one in arrival (id) order, as if grouping ran after each
    // (see the module docs): join a group, else wait, and seed a group as soon as enough
    // waiting faces are alike. Waiting faces: index into `faces`, neighbours among them
    // (positions), whether a group took them.
    let mut left: Vec<usize> = Vec::new();
    let mut neighbours: Vec<Vec<usize>> = Vec::new();
    let mut taken: Vec<bool> = Vec::new();
    for &i in &pending {
        if let Some(g) = join(i, &groups) {
            if let Some(p) = groups[g].0 {
                out.assign.push((faces[i].id, p));
            }
            groups[g].1.push(i);
            continue;
        }
        let a = left.len();
        left.push(i);
        taken.push(false);
        neighbours.push(Vec::new());
        for b in 0..a {
            if !taken[b] && cosine(&faces[i].embedding, &faces[left[b]].embedding) >= params.link {
                neighbours[a].push(b);
                neighbours[b].push(a);
            }
        }
        // Only the new face's neighbourhood changed: seed from it or a neighbour now core.
        let starts: Vec<usize> = std::iter::once(a)
            .chain(neighbours[a].iter().copied())
            .collect();
        for start in starts {
            if let Some(seeded) = seed(start, &neighbours, &taken, params.min_faces) {
                for &b in &seeded {
                    taken[b] = true;
                }
                groups.push((None, seeded.iter().map(|&b| left[b]).collect()));
            }
        }
    }
    // A face that waited gets one more try at the groups seeded after it arrived.
    for (b, &i) in left.iter().enumerate() {
        if !taken[b]
            && let Some(g) = join(i, &groups)
        {
            if let Some(p) = groups[g].0 {
                out.assign.push((faces[i].id, p));
            }
            groups[g].1.push(i);
        }
    }

    out.assign.sort_by_key(|&(f, _)| f);
    out.new_groups = groups[existing..]
        .iter()
        .map(|(_, m)| m.iter().map(|&i| faces[i].id).collect())
        .collect();
    out
}

/// The group DBSCAN grows from waiting face `start` through core faces (at least
/// `min_faces` − 1 neighbours not taken), if `start` is a core face and the group reaches
/// `min_faces`; positions in order.
fn seed(
    start: usize,
    neighbours: &[Vec<usize>],
    taken: &[bool],
    min_faces: usize,
) -> Option<Vec<usize>> {
    let core = |a: usize| neighbours[a].iter().filter(|&&b| !taken[b]).count() + 1 >= min_faces;
    if taken[start] || !core(start) {
        return None;
    }
    let mut group = BTreeSet::from([start]);
    let mut stack = vec![start];
    while let Some(a) = stack.pop() {
        if !core(a) {
            continue;
        }
        for &b in &neighbours[a] {
            if !taken[b] && group.insert(b) {
                stack.push(b);
            }
        }
    }
    (group.len() >= min_faces).then(|| group.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit vector near axis `axis` of 8 dimensions, tilted by `noise` along `tilt`.
    fn emb(axis: usize, tilt: usize, noise: f32) -> Vec<f32> {
        let mut v = vec![0.0; 8];
        v[axis] = 1.0;
        v[tilt] += noise;
        crate::zoo::faceres::l2_normalised(v)
    }

    fn face(id: i64, e: Vec<f32>) -> ClusterFace {
        ClusterFace {
            id,
            quality: 1.0,
            embedding: e,
            person: None,
        }
    }

    /// Three faces of person A (axis 0), three of B (axis 1), one lone face (axis 2).
    fn library() -> Vec<ClusterFace> {
        vec![
            face(1, emb(0, 3, 0.1)),
            face(2, emb(0, 4, 0.2)),
            face(3, emb(0, 5, 0.15)),
            face(4, emb(1, 3, 0.1)),
            face(5, emb(1, 4, 0.2)),
            face(6, emb(1, 5, 0.1)),
            face(7, emb(2, 6, 0.1)),
        ]
    }

    #[test]
    fn a_batch_is_grouped_as_if_each_face_came_alone_and_one_similar_pair_chains_nothing() {
        // A's faces, then B's; A's last face and B's first are alike (cosine above `link`).
        let a = |t: f32| crate::zoo::faceres::l2_normalised(vec![1.0, t, 0.0, 0.0]);
        let b = |t: f32| crate::zoo::faceres::l2_normalised(vec![0.0, t, 1.0, 0.0]);
        let bridge_a = crate::zoo::faceres::l2_normalised(vec![1.0, 0.0, 0.75, 0.0]);
        let bridge_b = crate::zoo::faceres::l2_normalised(vec![0.75, 0.0, 1.0, 0.0]);
        assert!(cosine(&bridge_a, &bridge_b) >= Params::default().link);
        let faces = vec![
            face(1, a(0.1)),
            face(2, a(0.2)),
            face(3, a(0.15)),
            face(4, bridge_a),
            face(5, bridge_b),
            face(6, b(0.1)),
            face(7, b(0.2)),
            face(8, b(0.15)),
        ];
        let params = Params::default();
        let batch = plan(&faces, &[], &params, false);
        assert_eq!(batch.new_groups.len(), 2, "{batch:?}");
        assert!(batch.new_groups[0].iter().all(|f| *f <= 4), "{batch:?}");
        assert!(batch.new_groups[1].iter().all(|f| *f >= 5), "{batch:?}");
        // The same faces grouped after each one arrives end in the same groups.
        let mut one_by_one: Vec<ClusterFace> = Vec::new();
        let mut next_person = 100;
        for f in &faces {
            one_by_one.push(f.clone());
            plan(&one_by_one, &[], &params, false).apply_to(&mut one_by_one, || {
                next_person += 1;
                next_person
            });
        }
        let person_of = |id: i64| one_by_one.iter().find(|f| f.id == id).unwrap().person;
        for g in &batch.new_groups {
            assert!(
                g.iter()
                    .all(|&f| person_of(f).is_some() && person_of(f) == person_of(g[0])),
                "{batch:?} vs {one_by_one:?}"
            );
        }
    }

    #[test]
    fn a_face_close_to_a_few_members_only_does_not_join() {
        // Close to two members of a big group, far from the rest: the mean of the 3 closest
        // (0.68) would pass 0.6, the density rule does not.
        assert_eq!(dense_score(vec![0.3, 0.9, 0.85, 0.2], 3, 0.6), None);
        let s = dense_score(vec![0.7, 0.9, 0.8, 0.2], 3, 0.6).unwrap();
        assert!((s - 0.8).abs() < 1e-6);
        // A group smaller than k: all its members must be close.
        assert!(dense_score(vec![0.9], 3, 0.6).is_some());
        assert_eq!(dense_score(vec![0.9, 0.5], 3, 0.6), None);
        assert_eq!(dense_score(Vec::new(), 3, 0.6), None);
    }

    #[test]
    fn dense_faces_seed_groups_and_a_lone_face_stays_unsorted() {
        let p = plan(&library(), &[], &Params::default(), false);
        assert_eq!(p.new_groups, vec![vec![1, 2, 3], vec![4, 5, 6]]);
        assert!(p.assign.is_empty() && p.unsort.is_empty());
    }

    #[test]
    fn two_faces_are_not_a_group_yet_and_a_third_makes_one() {
        let faces = library()[..2].to_vec();
        assert!(
            plan(&faces, &[], &Params::default(), false)
                .new_groups
                .is_empty()
        );
        let mut faces = faces;
        faces.push(library()[2].clone());
        assert_eq!(
            plan(&faces, &[], &Params::default(), false).new_groups,
            vec![vec![1, 2, 3]]
        );
    }

    #[test]
    fn a_new_face_joins_its_group_and_leaves_the_rest_alone() {
        let mut faces = library();
        for f in &mut faces[..3] {
            f.person = Some((10, Assignment::Auto));
        }
        for f in &mut faces[3..6] {
            f.person = Some((20, Assignment::Confirmed));
        }
        faces.push(face(8, emb(1, 6, 0.3)));
        faces.push(face(9, emb(0, 7, 0.25)));
        let p = plan(&faces, &[], &Params::default(), false);
        assert_eq!(p.assign, vec![(8, 20), (9, 10)]);
        assert!(p.new_groups.is_empty() && p.unsort.is_empty());
    }

    #[test]
    fn low_quality_and_ambiguous_faces_wait() {
        let mut faces = library();
        for f in &mut faces[..3] {
            f.person = Some((10, Assignment::Auto));
        }
        for f in &mut faces[3..6] {
            f.person = Some((20, Assignment::Auto));
        }
        let mut blurred = face(8, emb(0, 6, 0.1));
        blurred.quality = 0.1;
        // Halfway between A and B (siblings): close enough to both, closer to neither.
        let between = face(
            9,
            crate::zoo::faceres::l2_normalised(vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        );
        faces.push(blurred);
        faces.push(between);
        let p = plan(&faces, &[], &Params::default(), false);
        assert!(p.assign.is_empty(), "{p:?}");
    }

    #[test]
    fn not_this_person_is_respected_by_every_grouping() {
        let mut faces = library();
        for f in &mut faces[..3] {
            f.person = Some((10, Assignment::Auto));
        }
        faces.push(face(8, emb(0, 6, 0.1)));
        let rejections = [(8, 10)];
        for full in [false, true] {
            let p = plan(&faces, &rejections, &Params::default(), full);
            assert!(p.assign.iter().all(|a| a.0 != 8), "full {full}: {p:?}");
            assert!(
                p.new_groups.iter().all(|g| !g.contains(&8)),
                "full {full}: {p:?}"
            );
            // The group the user spoke about stays as it is.
            assert!(p.unsort.is_empty(), "full {full}: {p:?}");
        }
        // Without the rejection, the face would have joined.
        let p = plan(&faces, &[], &Params::default(), false);
        assert_eq!(p.assign, vec![(8, 10)]);
    }

    #[test]
    fn a_full_regroup_keeps_confirmed_faces_and_redoes_automatic_ones() {
        let mut faces = library();
        // The user confirmed face 1 as person 10; grouping had wrongly put B's faces there too.
        faces[0].person = Some((10, Assignment::Confirmed));
        for f in &mut faces[3..6] {
            f.person = Some((10, Assignment::Auto));
        }
        let p = plan(&faces, &[], &Params::default(), true);
        assert_eq!(p.unsort, vec![4, 5, 6]);
        assert_eq!(p.assign, vec![(2, 10), (3, 10)]);
        assert_eq!(p.new_groups, vec![vec![4, 5, 6]]);
        // Without `full`, nothing grouped moves: faces 2 and 3 resemble only one of the
        // group's members (mean of the 3 closest far under the threshold) and, two of them,
        // are too few to seed a group.
        let p = plan(&faces, &[], &Params::default(), false);
        assert_eq!(p, Plan::default());
    }
}
