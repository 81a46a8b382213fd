//! Shared stages: intermediate results that several labelers need on the same photo, computed
//! once per photo and handed to every labeler that asks for them. MTCNN's faces feed
//! `mtcnn_onet` (face boxes), `age_v1`, `gender_v1`, `emotion_human` and `faceres`; each
//! PP-OCR text detector's boxes feed the detector's own labeler and its recogniser. Without sharing, every
//! face-attribute model re-ran the whole MTCNN cascade and every recogniser its detector: about
//! a third of run-all time was the same work done again.
//!
//! A [`PhotoStages`] lives as long as one photo's labelling; each model run sees it through a
//! [`StageScope`], which records the stages that run computed and how long they took
//! ([`StageRun`]): the run's time then splits into its own cost and the stage's, which the
//! scheduler charges once per photo ([`crate::sched::Catalog::cost_ms`]). Concurrent runs
//! asking for the same stage wait for the first one to finish it (the slot is a `OnceLock`).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Every face candidate MTCNN finds on the photo (`Vec<mtcnn::Face>`, best first).
pub const FACES: &str = "faces";
/// Text boxes of PP-OCRv4's detector at its default input size (`Vec<ocr::TextBox>`).
pub const TEXT_V4: &str = "text_v4";
/// Text boxes of PP-OCRv5's detector at its default input size (`Vec<ocr::TextBox>`).
pub const TEXT_V5: &str = "text_v5";

/// The shared stage a model needs (and computes when it is the first on the photo to need it).
/// Each model of the zoo needs at most one.
pub fn stage_of(model: &str) -> Option<&'static str> {
    match model {
        "mtcnn_onet" | "age_v1" | "gender_v1" | "emotion_human" | "faceres" => Some(FACES),
        "ppocr_v4_det" | "ppocr_v4_rec" => Some(TEXT_V4),
        "ppocr_v5_det" | "ppocr_v5_rec" => Some(TEXT_V5),
        _ => None,
    }
}

/// One stage computed during a model's run, with its time (part of the run's time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRun {
    pub stage: String,
    pub time_ms: f64,
}

type StageValue = std::result::Result<Arc<dyn Any + Send + Sync>, String>;

/// The stages of one photo computed so far.
#[derive(Default)]
pub struct PhotoStages {
    slots: Mutex<HashMap<&'static str, Arc<OnceLock<StageValue>>>>,
    /// What runs handed over for the store beside their labels ([`StageScope::publish`]),
    /// by key: not stages (nothing reads them during the photo), kept even when unshared.
    published: Mutex<HashMap<&'static str, Arc<dyn Any + Send + Sync>>>,
    /// The photo resized as models' inputs need it ([`StageScope::view`]), by what the resize
    /// was: models trained on the same input (three take the 224-px centre crop of the photo
    /// at short side 256) resize it once.
    views: Mutex<HashMap<String, Arc<OnceLock<Arc<RgbImage>>>>>,
    /// Every run computes its stages itself (nothing kept): how labelling worked before stages
    /// were shared, kept as the baseline the library benchmark measures against.
    unshared: bool,
}

impl std::fmt::Debug for PhotoStages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mut done: Vec<&str> = slots
            .iter()
            .filter(|(_, s)| s.get().is_some())
            .map(|(id, _)| *id)
            .collect();
        done.sort_unstable();
        f.debug_struct("PhotoStages").field("done", &done).finish()
    }
}

impl PhotoStages {
    /// No stage computed yet (a new photo).
    pub fn new() -> Self {
        PhotoStages::default()
    }

    /// Stages that are never shared: every run that needs one computes it again (the
    /// baseline of `benches/library.rs`; [`crate::label::LabelConfig::share_stages`] off).
    pub fn unshared() -> Self {
        PhotoStages {
            unshared: true,
            ..PhotoStages::default()
        }
    }

    /// [`Self::new`], or [`Self::unshared`] when `share` is false.
    pub fn with_sharing(share: bool) -> Self {
        if share { Self::new() } else { Self::unshared() }
    }

    /// The view one model run gets.
    pub fn scope(&self) -> StageScope<'_> {
        StageScope {
            stages: self,
            computed: Mutex::new(Vec::new()),
        }
    }

    /// Whether stage `id` has a result (or an error) for this photo.
    pub fn is_done(&self, id: &str) -> bool {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .is_some_and(|s| s.get().is_some())
    }

    /// What a run published under `key` on this photo ([`StageScope::publish`]), if it is a
    /// `T`.
    pub fn published<T: Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
    }

    /// How many resized views of the photo runs made ([`StageScope::view`]).
    pub fn views(&self) -> usize {
        self.views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|v| v.get().is_some())
            .count()
    }

    fn slot(&self, id: &'static str) -> Arc<OnceLock<StageValue>> {
        if self.unshared {
            return Arc::default();
        }
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_default()
            .clone()
    }
}

/// One model run's access to the photo's stages.
pub struct StageScope<'a> {
    stages: &'a PhotoStages,
    computed: Mutex<Vec<StageRun>>,
}

impl StageScope<'_> {
    /// Stage `id` of this photo: computed by `compute` if no run has done it yet (the time is
    /// recorded against this run), else the earlier result. A failed stage fails every model
    /// needing it with the same message; a stage that panicked is left undone (the panic goes
    /// on to the run boundary) and the next run tries again.
    pub fn get<T: Any + Send + Sync>(
        &self,
        id: &'static str,
        compute: impl FnOnce() -> Result<T>,
    ) -> Result<Arc<T>> {
        let slot = self.stages.slot(id);
        let value = slot.get_or_init(|| {
            let t = Instant::now();
            let v = compute()
                .map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>)
                .map_err(|e| format!("{e:#}"));
            self.computed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(StageRun {
                    stage: id.to_owned(),
                    time_ms: t.elapsed().as_secs_f64() * 1e3,
                });
            v
        });
        match value {
            Ok(v) => v
                .clone()
                .downcast::<T>()
                .map_err(|_| Error::Model(format!("shared stage {id} holds another type"))),
            Err(msg) => Err(Error::Model(format!("shared stage {id} failed: {msg}"))),
        }
    }

    /// Hands `value` over for the store beside the run's labels (e.g. the face descriptors
    /// [`super::faceres`] computes, which are not labels): read back with
    /// [`PhotoStages::published`] after the run. A later publish under the same key replaces
    /// it.
    pub fn publish<T: Any + Send + Sync>(&self, key: &'static str, value: T) {
        self.stages
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::new(value));
    }

    /// The photo resized as `key` says (the resize's kind and size: the same key must give the
    /// same image), by `compute` if no run has made it yet on this photo. Not a stage: it is
    /// cheap next to any model and never costed, and unshared stages resize every time.
    pub fn view(&self, key: String, compute: impl FnOnce() -> RgbImage) -> Arc<RgbImage> {
        if self.stages.unshared {
            return Arc::new(compute());
        }
        let slot = self
            .stages
            .views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        slot.get_or_init(|| Arc::new(compute())).clone()
    }

    /// The stages this run computed, in order.
    pub fn into_computed(self) -> Vec<StageRun> {
        self.computed
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_stage_is_computed_once_per_photo_and_charged_to_the_first_run() {
        let calls = AtomicUsize::new(0);
        let compute = || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(vec![1u32, 2, 3])
        };
        let photo = PhotoStages::new();
        let first = photo.scope();
        assert_eq!(*first.get(FACES, compute).unwrap(), vec![1, 2, 3]);
        let second = photo.scope();
        assert_eq!(*second.get(FACES, compute).unwrap(), vec![1, 2, 3]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(photo.is_done(FACES) && !photo.is_done(TEXT_V4));
        let first = first.into_computed();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].stage, FACES);
        assert!(second.into_computed().is_empty());
        // The next photo starts afresh.
        let next = PhotoStages::new();
        next.scope().get(FACES, compute).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_resized_view_is_made_once_per_photo_and_key_unless_stages_are_unshared() {
        let calls = AtomicUsize::new(0);
        let make = |side: u32| {
            calls.fetch_add(1, Ordering::SeqCst);
            RgbImage::new(side, side)
        };
        let photo = PhotoStages::new();
        let a = photo.scope().view("Stretch 4x4".into(), || make(4));
        let b = photo.scope().view("Stretch 4x4".into(), || make(4));
        let c = photo.scope().view("Stretch 2x2".into(), || make(2));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(
            (c.width(), calls.load(Ordering::SeqCst), photo.views()),
            (2, 2, 2)
        );
        let run = photo.scope();
        run.view("Stretch 4x4".into(), || make(4));
        assert!(
            run.into_computed().is_empty(),
            "a view is not a costed stage"
        );
        let unshared = PhotoStages::unshared();
        unshared.scope().view("Stretch 4x4".into(), || make(4));
        unshared.scope().view("Stretch 4x4".into(), || make(4));
        assert_eq!((calls.load(Ordering::SeqCst), unshared.views()), (4, 0));
    }

    #[test]
    fn a_published_output_is_kept_for_the_photo_even_when_stages_are_unshared() {
        for photo in [PhotoStages::new(), PhotoStages::unshared()] {
            assert!(photo.published::<Vec<u8>>("k").is_none());
            let run = photo.scope();
            run.publish("k", vec![1u8, 2]);
            assert!(run.into_computed().is_empty(), "publishing is not a stage");
            assert_eq!(*photo.published::<Vec<u8>>("k").unwrap(), vec![1, 2]);
            assert!(photo.published::<String>("k").is_none(), "another type");
        }
    }

    #[test]
    fn a_failed_stage_fails_every_reader_and_a_panicked_one_is_retried() {
        let photo = PhotoStages::new();
        let err = photo
            .scope()
            .get::<u8>(TEXT_V4, || Err(Error::Model("det broke".into())))
            .unwrap_err();
        assert!(err.to_string().contains("det broke"), "{err}");
        let again = photo.scope().get(TEXT_V4, || Ok(1u8)).unwrap_err();
        assert!(again.to_string().contains("det broke"), "{again}");

        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            photo.scope().get::<u8>(FACES, || panic!("lost device"))
        }));
        assert!(panicked.is_err());
        assert!(!photo.is_done(FACES));
        assert_eq!(*photo.scope().get(FACES, || Ok(7u8)).unwrap(), 7);
    }

    #[test]
    fn concurrent_readers_share_one_computation() {
        let calls = AtomicUsize::new(0);
        let photo = PhotoStages::new();
        let computed: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let scope = photo.scope();
                        let v = scope
                            .get(FACES, || {
                                calls.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(20));
                                Ok(42u64)
                            })
                            .unwrap();
                        assert_eq!(*v, 42);
                        scope.into_computed().len()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(computed.iter().sum::<usize>(), 1);
    }

    #[test]
    fn unshared_stages_are_computed_by_every_run() {
        let calls = AtomicUsize::new(0);
        let compute = || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(5u8)
        };
        let photo = PhotoStages::with_sharing(false);
        let (a, b) = (photo.scope(), photo.scope());
        a.get(FACES, compute).unwrap();
        b.get(FACES, compute).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(a.into_computed().len() + b.into_computed().len(), 2);
        assert!(!photo.is_done(FACES));
    }

    #[test]
    fn the_wrong_type_is_an_error_not_a_panic() {
        let photo = PhotoStages::new();
        photo.scope().get(FACES, || Ok(1u8)).unwrap();
        assert!(photo.scope().get(FACES, || Ok(1u16)).is_err());
    }

    #[test]
    fn models_sharing_a_detector_share_its_stage() {
        for id in [
            "mtcnn_onet",
            "age_v1",
            "gender_v1",
            "emotion_human",
            "faceres",
        ] {
            assert_eq!(stage_of(id), Some(FACES), "{id}");
        }
        assert_eq!(stage_of("ppocr_v4_rec"), stage_of("ppocr_v4_det"));
        assert_eq!(stage_of("ppocr_v5_rec"), stage_of("ppocr_v5_det"));
        assert_ne!(stage_of("ppocr_v4_rec"), stage_of("ppocr_v5_rec"));
        assert_eq!(stage_of("mobilenet_v2"), None);
    }
}
