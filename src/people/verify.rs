//! Verification figures of a face embedding: given faces whose identities are known, the
//! cosine similarity of every same-person pair and every different-person pair, and from them
//! the true-accept rate at a fixed false-accept rate ([`Pairs::tar_at_far`]), the equal error
//! rate ([`Pairs::eer`]) and the area under the ROC curve ([`Pairs::auc`]). The face
//! benchmark (`examples/faces.rs`) and the People test (`tests/people.rs`) compute their
//! figures here so both say the same thing; [`grouping_score`] judges a grouping of those
//! faces the same way (pairwise precision and recall, groups against people). Main types:
//! [`Pairs`], [`GroupingScore`].

use crate::zoo::faceres::cosine;

/// Similarities of all same-person and all different-person pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pairs {
    pub same: Vec<f32>,
    pub different: Vec<f32>,
}

/// One operating point: accept a pair when its similarity is above `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Operating {
    pub threshold: f32,
    /// Fraction of same-person pairs accepted.
    pub tar: f32,
    /// Fraction of different-person pairs accepted.
    pub far: f32,
}

fn mean(v: &[f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.iter().sum::<f32>() / v.len() as f32
}

fn frac(n: usize, of: usize) -> f32 {
    if of == 0 { 0.0 } else { n as f32 / of as f32 }
}

impl Pairs {
    /// Every pair of `embeddings` (L2-normalised), split by whether `who` says the same
    /// person.
    pub fn of<S: PartialEq>(who: &[S], embeddings: &[Vec<f32>]) -> Self {
        let mut out = Pairs::default();
        let n = who.len().min(embeddings.len());
        for i in 0..n {
            for j in i + 1..n {
                let s = cosine(&embeddings[i], &embeddings[j]);
                if who[i] == who[j] {
                    out.same.push(s);
                } else {
                    out.different.push(s);
                }
            }
        }
        out
    }

    /// Mean similarity of same-person pairs.
    pub fn mean_same(&self) -> f32 {
        mean(&self.same)
    }

    /// Mean similarity of different-person pairs.
    pub fn mean_different(&self) -> f32 {
        mean(&self.different)
    }

    /// Accepting pairs above `threshold`.
    pub fn at(&self, threshold: f32) -> Operating {
        Operating {
            threshold,
            tar: frac(
                self.same.iter().filter(|&&s| s > threshold).count(),
                self.same.len(),
            ),
            far: frac(
                self.different.iter().filter(|&&s| s > threshold).count(),
                self.different.len(),
            ),
        }
    }

    /// The highest true-accept rate whose false-accept rate is at most `far`: the threshold
    /// is the ⌊far · n⌋+1-th highest different-pair similarity (pairs strictly above it are
    /// accepted).
    pub fn tar_at_far(&self, far: f32) -> Operating {
        let mut diff = self.different.clone();
        diff.sort_by(|a, b| b.total_cmp(a));
        let k = (far * diff.len() as f32).floor() as usize;
        let threshold = diff.get(k).copied().unwrap_or(f32::NEG_INFINITY);
        self.at(threshold)
    }

    /// The equal error rate (where false accepts and false rejects are closest, their mean)
    /// and its threshold.
    pub fn eer(&self) -> (f32, f32) {
        let mut cuts: Vec<f32> = self.same.iter().chain(&self.different).copied().collect();
        cuts.sort_by(f32::total_cmp);
        let mut best = (f32::INFINITY, 1.0f32, 0.0f32);
        for &t in &cuts {
            let op = self.at(t);
            let frr = 1.0 - op.tar;
            let gap = (op.far - frr).abs();
            if gap < best.0 {
                best = (gap, (op.far + frr) / 2.0, t);
            }
        }
        (best.1, best.2)
    }

    /// Area under the ROC curve: the probability that a random same-person pair is more
    /// similar than a random different-person pair (ties count half).
    pub fn auc(&self) -> f32 {
        if self.same.is_empty() || self.different.is_empty() {
            return 0.0;
        }
        let mut wins = 0f64;
        for s in &self.same {
            for d in &self.different {
                wins += match s.total_cmp(d) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Less => 0.0,
                };
            }
        }
        (wins / (self.same.len() * self.different.len()) as f64) as f32
    }
}

/// A grouping of faces judged against who they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupingScore {
    /// Of the face pairs put in one group, the fraction showing one person.
    pub precision: f32,
    /// Of the face pairs showing one person, the fraction put in one group.
    pub recall: f32,
    /// Distinct groups the faces were put in.
    pub groups: usize,
    /// Distinct people.
    pub people: usize,
    /// People all of whose faces are in one group holding no one else's.
    pub separated: Vec<String>,
    /// Faces left unsorted.
    pub unsorted: usize,
}

/// Scores `groups[i]` (the group of face `i`, `None`: unsorted) against `who[i]`.
pub fn grouping_score<S: AsRef<str>>(who: &[S], groups: &[Option<i64>]) -> GroupingScore {
    let n = who.len().min(groups.len());
    let (mut together, mut right, mut same, mut found) = (0usize, 0usize, 0usize, 0usize);
    for i in 0..n {
        for j in i + 1..n {
            let truly = who[i].as_ref() == who[j].as_ref();
            let grouped = groups[i].is_some() && groups[i] == groups[j];
            together += usize::from(grouped);
            right += usize::from(grouped && truly);
            same += usize::from(truly);
            found += usize::from(grouped && truly);
        }
    }
    let mut people: Vec<&str> = who[..n].iter().map(AsRef::as_ref).collect();
    people.sort_unstable();
    people.dedup();
    let mut ids: Vec<i64> = groups[..n].iter().flatten().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let separated = people
        .iter()
        .filter(|p| {
            let mine: Vec<Option<i64>> = (0..n)
                .filter(|&i| who[i].as_ref() == **p)
                .map(|i| groups[i])
                .collect();
            let Some(Some(g)) = mine.first().copied() else {
                return false;
            };
            mine.iter().all(|&x| x == Some(g))
                && (0..n).all(|i| groups[i] != Some(g) || who[i].as_ref() == **p)
        })
        .map(|p| (*p).to_owned())
        .collect();
    GroupingScore {
        precision: if together == 0 {
            1.0
        } else {
            frac(right, together)
        },
        recall: frac(found, same),
        groups: ids.len(),
        people: people.len(),
        separated,
        unsorted: groups[..n].iter().filter(|g| g.is_none()).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(angle: f32) -> Vec<f32> {
        vec![angle.cos(), angle.sin()]
    }

    #[test]
    fn pairs_split_by_identity() {
        let who = ["a", "a", "b"];
        let e = vec![unit(0.0), unit(0.1), unit(1.5)];
        let p = Pairs::of(&who, &e);
        assert_eq!(p.same.len(), 1);
        assert_eq!(p.different.len(), 2);
        assert!(p.mean_same() > p.mean_different());
        assert_eq!(p.auc(), 1.0);
    }

    #[test]
    fn grouping_is_scored_pairwise_and_by_person() {
        let who = ["a", "a", "a", "b", "b", "c"];
        // a in one group, b split between a group and unsorted, c lone in a group with a b.
        let groups = [Some(1), Some(1), Some(1), Some(2), None, Some(2)];
        let g = grouping_score(&who, &groups);
        // Pairs together: a×3 (right) + b–c (wrong): 3 of 4.
        assert_eq!(g.precision, 0.75);
        // Same-person pairs: a×3, b×1: 3 of 4 found.
        assert_eq!(g.recall, 0.75);
        assert_eq!((g.groups, g.people, g.unsorted), (2, 3, 1));
        assert_eq!(g.separated, vec!["a".to_owned()]);
        let nothing = grouping_score(&who, &[None; 6]);
        assert_eq!((nothing.precision, nothing.recall), (1.0, 0.0));
        assert!(nothing.separated.is_empty());
    }

    #[test]
    fn tar_at_far_and_eer_on_known_scores() {
        let p = Pairs {
            same: vec![0.9, 0.8, 0.7, 0.3],
            different: (0..100).map(|i| i as f32 / 200.0).collect(), // 0 .. 0.495
        };
        // 1 % of 100 different pairs: one may be accepted, the threshold is the 2nd highest.
        let op = p.tar_at_far(0.01);
        assert_eq!(op.threshold, 0.49);
        assert_eq!(op.far, 0.01);
        assert_eq!(op.tar, 0.75);
        let (eer, t) = p.eer();
        assert!(eer <= 0.25 && t > 0.3, "{eer} at {t}");
        assert!(p.auc() > 0.7 && p.auc() < 1.0);
        // Perfectly separated scores: no error.
        let clean = Pairs {
            same: vec![0.9, 0.8],
            different: vec![0.1, 0.2],
        };
        assert_eq!(clean.tar_at_far(0.0).tar, 1.0);
        assert_eq!(clean.eer().0, 0.0);
    }
}
