//! The vocabulary: turns the raw classes models emit ("golden retriever", "FACE_FEMALE") into
//! the tags people search for ("dog", its categories "pet" and "animal", and rule tags such as
//! "people" for two faces). The data lives in `models/vocabulary.toml` (format in
//! `models/README.md`), embedded at build time; [`Vocabulary::photo_tags`] is the one function
//! that computes a photo's tags from its stored labels, used both to build the search index and
//! to confirm search hits, so the two never disagree.
//!
//! Main types: [`Vocabulary`] (parsed file), [`PhotoTag`] (one tag of a photo, with the raw
//! label it came from), [`TagKind`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The embedded vocabulary file's text.
pub const EMBEDDED: &str = include_str!("../models/vocabulary.toml");

/// Priority of a tag that is not defined in `[tags]` (raw classes, user tags).
pub const DEFAULT_PRIORITY: i32 = 40;

/// A parsed vocabulary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    /// Informational version written in the file (the store keys its reindex on [`Self::hash`]).
    pub version: u32,
    /// Label sets by name: which models emit them and what each raw class becomes.
    pub sets: BTreeMap<String, LabelSet>,
    /// Friendly tags and categories: their parents and priority.
    #[serde(default)]
    pub tags: BTreeMap<String, TagDef>,
    /// Tags derived from how many labels of one model carry a tag.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// blake3 of the file's text (hex), set by [`Vocabulary::parse`].
    #[serde(skip)]
    hash: String,
    /// Model id -> set name, built by [`Vocabulary::parse`].
    #[serde(skip)]
    model_sets: HashMap<String, String>,
}

/// The raw classes of one or more models.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSet {
    /// Model ids whose labels this set decides.
    pub models: Vec<String>,
    /// Raw class -> decision.
    #[serde(default)]
    pub labels: BTreeMap<String, Entry>,
    /// Labels are free text (recognised words): kept as they are, no friendly tag.
    #[serde(default)]
    pub free_text: bool,
}

/// What one raw class becomes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The friendly tag (several raw classes may share one).
    pub tag: Option<String>,
    /// Categories on top of the tag's own.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Confidence below which the label gives no tag at all (the model's own threshold applies
    /// before it).
    pub threshold: Option<f32>,
    /// Overrides the tag's priority for this class.
    pub priority: Option<i32>,
    /// Noise on photos: no tag.
    #[serde(default)]
    pub ignore: bool,
}

/// A friendly tag or category.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagDef {
    /// Parent categories.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Higher leads a photo's tag list.
    pub priority: Option<i32>,
}

/// "`tag` when at least `min_count` labels of one model carry tag `when` at `min_confidence`".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub tag: String,
    pub when: String,
    pub min_count: usize,
    #[serde(default)]
    pub min_confidence: f32,
}

/// How a tag of a photo arose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TagKind {
    /// The friendly tag of a label (or a user's tag).
    Tag,
    /// A category above a tag.
    Category,
    /// From a rule.
    Rule,
    /// The model's raw class, kept as a child tag (searchable).
    Raw,
}

impl TagKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TagKind::Tag => "tag",
            TagKind::Category => "category",
            TagKind::Rule => "rule",
            TagKind::Raw => "raw",
        }
    }

    /// Inverse of [`TagKind::as_str`] (unknown names read as raw).
    pub fn parse(s: &str) -> Self {
        match s {
            "tag" => TagKind::Tag,
            "category" => TagKind::Category,
            "rule" => TagKind::Rule,
            _ => TagKind::Raw,
        }
    }
}

/// A label as stored: raw class, model, confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct RawLabel {
    pub label: String,
    pub model: String,
    pub confidence: f32,
}

/// One tag of a photo and the label it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoTag {
    pub tag: String,
    pub kind: TagKind,
    pub priority: i32,
    /// The raw class it came from (for a rule tag: the best label counted).
    pub label: String,
    pub model: String,
    pub confidence: f32,
}

/// Label -> extra parents declared in the store (`label_parents`).
pub type ExtraParents = HashMap<String, Vec<String>>;

impl Vocabulary {
    /// The vocabulary built into this binary (parsed once).
    pub fn embedded() -> Result<&'static Vocabulary> {
        static VOCAB: OnceLock<std::result::Result<Vocabulary, String>> = OnceLock::new();
        VOCAB
            .get_or_init(|| Vocabulary::parse(EMBEDDED).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::Vocabulary(e.clone()))
    }

    /// Parses and checks vocabulary text: every category defined, no cycles, each model in one
    /// set at most, rules naming defined tags.
    pub fn parse(text: &str) -> Result<Vocabulary> {
        let mut v: Vocabulary =
            toml::from_str(text).map_err(|e| Error::Vocabulary(e.to_string()))?;
        v.hash = blake3::hash(text.as_bytes()).to_hex().to_string();
        for (name, set) in &v.sets {
            for m in &set.models {
                if let Some(other) = v.model_sets.insert(m.clone(), name.clone()) {
                    return Err(Error::Vocabulary(format!(
                        "model {m} is in sets {other} and {name}"
                    )));
                }
            }
        }
        v.check()?;
        Ok(v)
    }

    /// blake3 of the vocabulary's text: a changed file means a reindex.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The set deciding model `model`'s labels.
    pub fn set_for(&self, model: &str) -> Option<&LabelSet> {
        self.model_sets.get(model).and_then(|s| self.sets.get(s))
    }

    /// Priority of a tag (its `[tags]` entry, else [`DEFAULT_PRIORITY`]).
    pub fn priority(&self, tag: &str) -> i32 {
        self.tags
            .get(tag)
            .and_then(|t| t.priority)
            .unwrap_or(DEFAULT_PRIORITY)
    }

    fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Vocabulary(msg));
        let mut referenced: Vec<(&str, &str)> = Vec::new();
        for (tag, def) in &self.tags {
            referenced.extend(def.categories.iter().map(|c| (tag.as_str(), c.as_str())));
        }
        for set in self.sets.values() {
            for (raw, e) in &set.labels {
                if !e.ignore && e.tag.is_none() {
                    return bad(format!("{raw:?} has neither a tag nor ignore = true"));
                }
                referenced.extend(e.categories.iter().map(|c| (raw.as_str(), c.as_str())));
            }
        }
        for r in &self.rules {
            if !self.tags.contains_key(&r.tag) {
                return bad(format!("rule tag {:?} is not defined in [tags]", r.tag));
            }
            if r.min_count == 0 {
                return bad(format!("rule {:?}: min_count must be at least 1", r.tag));
            }
        }
        for (from, cat) in referenced {
            if !self.tags.contains_key(cat) {
                return bad(format!(
                    "{from:?}: category {cat:?} is not defined in [tags]"
                ));
            }
        }
        for tag in self.tags.keys() {
            if let Some(cycle) = self.cycle_from(tag) {
                return bad(format!("category cycle: {}", cycle.join(" -> ")));
            }
        }
        Ok(())
    }

    /// A path from `start` back to itself through `[tags]` categories, if any.
    fn cycle_from(&self, start: &str) -> Option<Vec<String>> {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.to_string(), vec![start.into()])];
        let mut seen: BTreeSet<String> = BTreeSet::new();
        while let Some((t, path)) = stack.pop() {
            for c in self.tags.get(&t).map(|d| &d.categories[..]).unwrap_or(&[]) {
                let mut p = path.clone();
                p.push(c.clone());
                if c == start {
                    return Some(p);
                }
                if seen.insert(c.clone()) {
                    stack.push((c.clone(), p));
                }
            }
        }
        None
    }

    /// All categories above `tag` (through `[tags]` and `extra`), nearest first, no repeats.
    pub fn categories_of(&self, tag: &str, extra: &ExtraParents) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut frontier: Vec<String> = vec![tag.to_string()];
        let mut i = 0;
        while i < frontier.len() {
            let t = frontier[i].clone();
            i += 1;
            let own = self.tags.get(&t).map(|d| &d.categories[..]).unwrap_or(&[]);
            let more = extra.get(&t).map(|v| &v[..]).unwrap_or(&[]);
            for c in own.iter().chain(more) {
                if c != tag && !out.contains(c) {
                    out.push(c.clone());
                    frontier.push(c.clone());
                }
            }
        }
        out
    }

    /// A photo's tags from its labels: per label that passes its threshold and is not ignored,
    /// the raw class, the friendly tag and every category above it; then the rule tags. Labels
    /// of models the vocabulary does not know (user tags) are tags themselves. `extra` adds
    /// parents declared in the store. One row per (tag, label, model), sorted by priority
    /// (highest first), then tag.
    pub fn photo_tags(&self, labels: &[RawLabel], extra: &ExtraParents) -> Vec<PhotoTag> {
        let mut out: Vec<PhotoTag> = Vec::new();
        let push = |out: &mut Vec<PhotoTag>, tag: &str, kind, priority, l: &RawLabel| {
            let dup = out
                .iter()
                .any(|t| t.tag == tag && t.label == l.label && t.model == l.model);
            if !dup {
                out.push(PhotoTag {
                    tag: tag.to_string(),
                    kind,
                    priority,
                    label: l.label.clone(),
                    model: l.model.clone(),
                    confidence: l.confidence,
                });
            }
        };
        // (model, tag) -> labels carrying it, for the rules.
        let mut carried: HashMap<(&str, String), Vec<&RawLabel>> = HashMap::new();
        for l in labels {
            let set = self.set_for(&l.model);
            let entry = set.and_then(|s| s.labels.get(&l.label));
            let (tag, own_cats, priority) = match (set, entry) {
                (Some(_), Some(e)) => {
                    if e.ignore || e.threshold.is_some_and(|t| l.confidence < t) {
                        continue;
                    }
                    let Some(tag) = e.tag.as_deref() else {
                        continue;
                    };
                    let p = e.priority.unwrap_or_else(|| self.priority(tag));
                    (Some(tag), &e.categories[..], p)
                }
                // Free text, or a class missing from its set (a new model version): raw only.
                (Some(_), None) => (None, &[][..], DEFAULT_PRIORITY),
                // Not a model the vocabulary decides (user tags): the label is the tag.
                (None, _) => (Some(l.label.as_str()), &[][..], self.priority(&l.label)),
            };
            let mut names: Vec<String> = Vec::new();
            if let Some(tag) = tag {
                push(&mut out, tag, TagKind::Tag, priority, l);
                names.push(tag.to_string());
                let mut cats = self.categories_of(tag, extra);
                for c in own_cats {
                    if !cats.contains(c) {
                        cats.push(c.clone());
                    }
                    for a in self.categories_of(c, extra) {
                        if !cats.contains(&a) {
                            cats.push(a);
                        }
                    }
                }
                for c in cats {
                    push(&mut out, &c, TagKind::Category, self.priority(&c), l);
                    names.push(c);
                }
            }
            if tag != Some(l.label.as_str()) {
                push(&mut out, &l.label, TagKind::Raw, DEFAULT_PRIORITY, l);
                for a in self.categories_of(&l.label, extra) {
                    if tag != Some(a.as_str()) && !names.contains(&a) {
                        push(&mut out, &a, TagKind::Category, self.priority(&a), l);
                        names.push(a);
                    }
                }
                names.push(l.label.clone());
            }
            for n in names {
                carried.entry((l.model.as_str(), n)).or_default().push(l);
            }
        }
        for rule in &self.rules {
            let best = carried
                .iter()
                .filter(|((_, t), _)| *t == rule.when)
                .filter_map(|(_, ls)| {
                    let passing: Vec<&&RawLabel> = ls
                        .iter()
                        .filter(|l| l.confidence >= rule.min_confidence)
                        .collect();
                    (passing.len() >= rule.min_count).then(|| {
                        passing
                            .into_iter()
                            .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
                    })?
                })
                .max_by(|a, b| {
                    a.confidence
                        .total_cmp(&b.confidence)
                        .then_with(|| b.model.cmp(&a.model))
                });
            if let Some(l) = best {
                let l = (*l).clone();
                push(
                    &mut out,
                    &rule.tag,
                    TagKind::Rule,
                    self.priority(&rule.tag),
                    &l,
                );
                for c in self.categories_of(&rule.tag, extra) {
                    push(&mut out, &c, TagKind::Category, self.priority(&c), &l);
                }
            }
        }
        out.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| a.kind.cmp(&b.kind))
                .then_with(|| a.tag.cmp(&b.tag))
                .then_with(|| b.confidence.total_cmp(&a.confidence))
                .then_with(|| a.model.cmp(&b.model))
                .then_with(|| a.label.cmp(&b.label))
        });
        out
    }

    /// Tag -> the friendly tags and categories directly below it (for the tag tree): every
    /// `[tags]` parent link plus every raw-class entry's tag under its categories.
    pub fn children(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (tag, def) in &self.tags {
            for c in &def.categories {
                out.entry(c.clone()).or_default().insert(tag.clone());
            }
        }
        for set in self.sets.values() {
            for e in set.labels.values() {
                if let Some(tag) = &e.tag {
                    for c in &e.categories {
                        out.entry(c.clone()).or_default().insert(tag.clone());
                    }
                }
            }
        }
        out
    }
}

/// Every label string a labeler can emit, for the coverage check: `None` for free text.
pub fn emitted_labels(model: &str) -> Result<Option<Vec<String>>> {
    use crate::zoo::manifest::Manifest;
    Ok(Some(match model {
        "mtcnn_onet" => vec!["face".into()],
        "faceres" => vec![crate::zoo::faceres::LABEL.into()],
        "movenet_lightning" => [
            crate::zoo::movenet::PERSON_POSE,
            crate::zoo::movenet::FULL_BODY,
            crate::zoo::movenet::UPPER_BODY,
        ]
        .map(String::from)
        .to_vec(),
        "ppocr_v4_det" | "ppocr_v5_det" => vec!["text".into()],
        "ppocr_v4_rec" | "ppocr_v5_rec" => return Ok(None),
        "age_v1" => crate::zoo::face_attr::AGE_BANDS
            .iter()
            .map(|b| b.0.to_string())
            .collect(),
        "image_orientation" => Manifest::embedded()?
            .get(model)?
            .label_list()?
            .into_iter()
            .skip(1)
            .map(|l| format!("rotated {l}"))
            .collect(),
        _ => Manifest::embedded()?.get(model)?.label_list()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(label: &str, model: &str, confidence: f32) -> RawLabel {
        RawLabel {
            label: label.into(),
            model: model.into(),
            confidence,
        }
    }

    fn names(tags: &[PhotoTag]) -> BTreeSet<String> {
        tags.iter().map(|t| t.tag.clone()).collect()
    }

    #[test]
    fn the_embedded_vocabulary_parses_and_checks() {
        let v = Vocabulary::embedded().unwrap();
        assert_eq!(v.hash().len(), 64);
        assert!(v.set_for("mobilenet_v2").is_some());
    }

    #[test]
    fn every_label_of_every_shipped_labeler_is_decided() {
        let v = Vocabulary::embedded().unwrap();
        let mut missing = Vec::new();
        for model in crate::zoo::IMPLEMENTED {
            let set = v
                .set_for(model)
                .unwrap_or_else(|| panic!("model {model} has no vocabulary set"));
            match emitted_labels(model).unwrap() {
                None => assert!(set.free_text, "{model} emits free text"),
                Some(labels) => {
                    assert!(!labels.is_empty(), "{model}");
                    for l in labels {
                        if !set.labels.contains_key(&l) {
                            missing.push(format!("{model}: {l}"));
                        }
                    }
                }
            }
        }
        // The label lists of models not shipped yet are decided too.
        for (model, file) in [
            ("emotion_fer_cnn", "emotion_fer_cnn.txt"),
            ("hand", "hand.txt"),
        ] {
            let set = v.set_for(model).unwrap();
            for l in crate::zoo::manifest::label_file(file).unwrap().lines() {
                if !set.labels.contains_key(l) {
                    missing.push(format!("{model}: {l}"));
                }
            }
        }
        assert!(missing.is_empty(), "undecided raw classes: {missing:?}");
        let imagenet = &v.set_for("efficientnet_lite0").unwrap().labels;
        // 1,000 classes, two names listed twice ("missile", "sunglasses").
        assert_eq!(imagenet.len(), 998);
    }

    #[test]
    fn categories_are_defined_acyclic_and_reach_a_root() {
        let v = Vocabulary::embedded().unwrap();
        let none = ExtraParents::new();
        for tag in v.tags.keys() {
            let cats = v.categories_of(tag, &none);
            assert!(!cats.contains(tag), "{tag} is its own ancestor");
            // Following parents ends at a root (a tag without categories).
            assert!(
                v.tags[tag].categories.is_empty()
                    || cats.iter().any(|c| v.tags[c].categories.is_empty()),
                "{tag} never reaches a root"
            );
        }
        let cyclic = "version = 1\n[sets]\n[tags]\na = { categories = [\"b\"] }\n\
                      b = { categories = [\"a\"] }\n";
        let err = Vocabulary::parse(cyclic).unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
        let undefined = "version = 1\n[sets.s]\nmodels = [\"m\"]\n[sets.s.labels]\n\
                         x = { tag = \"x\", categories = [\"nowhere\"] }\n";
        let err = Vocabulary::parse(undefined).unwrap_err().to_string();
        assert!(err.contains("nowhere"), "{err}");
    }

    #[test]
    fn a_golden_retriever_is_a_dog_a_pet_and_an_animal() {
        let v = Vocabulary::embedded().unwrap();
        let tags = v.photo_tags(
            &[raw("Golden Retriever", "mobilenet_v2", 0.8)],
            &ExtraParents::new(),
        );
        let n = names(&tags);
        for want in ["Golden Retriever", "dog", "pet", "animal"] {
            assert!(n.contains(want), "{want} missing from {n:?}");
        }
        // The friendly tag leads; the raw class is kept as a child tag.
        assert_eq!(tags[0].tag, "dog");
        let r = tags.iter().find(|t| t.tag == "Golden Retriever").unwrap();
        assert_eq!(r.kind, TagKind::Raw);
    }

    #[test]
    fn thresholds_ignore_and_free_text_are_applied() {
        let v = Vocabulary::embedded().unwrap();
        let none = ExtraParents::new();
        assert!(
            v.photo_tags(&[raw("wool", "mobilenet_v2", 0.9)], &none)
                .is_empty()
        );
        assert!(
            v.photo_tags(&[raw("website", "mobilenet_v2", 0.3)], &none)
                .is_empty()
        );
        assert!(
            !v.photo_tags(&[raw("website", "mobilenet_v2", 0.6)], &none)
                .is_empty()
        );
        // A recognised word stays a word: "goldfish" on a sign is not a fish.
        let n = names(&v.photo_tags(&[raw("goldfish", "ppocr_v4_rec", 0.9)], &none));
        assert_eq!(n, BTreeSet::from(["goldfish".to_string()]));
    }

    #[test]
    fn faces_make_person_people_and_group_by_count() {
        let v = Vocabulary::embedded().unwrap();
        let none = ExtraParents::new();
        let faces = |n: usize| -> BTreeSet<String> {
            let ls: Vec<RawLabel> = (0..n).map(|_| raw("face", "mtcnn_onet", 0.95)).collect();
            names(&v.photo_tags(&ls, &none))
        };
        assert!(faces(1).contains("person"));
        assert!(!faces(1).contains("people"));
        assert!(faces(2).contains("people"));
        assert!(!faces(2).contains("group"));
        assert!(faces(3).contains("group"));
        // Faces of two different models are not added up (they are usually the same face).
        let two_models = names(&v.photo_tags(
            &[
                raw("face", "mtcnn_onet", 0.95),
                raw("FACE_MALE", "nudenet_320n", 0.8),
            ],
            &none,
        ));
        assert!(two_models.contains("person") && !two_models.contains("people"));
    }

    #[test]
    fn user_tags_get_the_categories_of_a_known_tag() {
        let v = Vocabulary::embedded().unwrap();
        let n = names(&v.photo_tags(&[raw("dog", "user", 1.0)], &ExtraParents::new()));
        assert!(n.contains("pet") && n.contains("animal"), "{n:?}");
        let n = names(&v.photo_tags(&[raw("holiday", "user", 1.0)], &ExtraParents::new()));
        assert_eq!(n, BTreeSet::from(["holiday".to_string()]));
    }
}
