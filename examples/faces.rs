//! Face verification and grouping figures of `faceres` on a folder of photos with known
//! identities (`identities.csv`; by default `../shared/faces`, read in place): MTCNN finds the
//! faces, the largest is the photo's subject, `faceres` embeds it, and every pair of photos is
//! scored by cosine similarity. Prints, for each chip framing, the mean same/different-person
//! similarity, the true-accept rate at 1 % false accepts, the equal error rate and the ROC
//! area, then the time per face embedding. Then the grouping: the folder is scanned into a
//! temporary library, every face of every photo (the group photos without identities too)
//! is stored photo by photo, grouping running after each as in the app; printed are the
//! pairwise precision and recall of the portraits' groups, groups against people, and the
//! people who got a group of their own.
//!
//! ```sh
//! cargo run --example faces -- [FACES_DIR] [CACHE_DIR]
//! ```
//!
//! `CACHE_DIR` (default `target/tmp/zoo-cache`, where the tests fetch) must hold `faceres`
//! and the `mtcnn_*` weights: `PHOTOLABEL_CACHE_DIR=… photolabel models fetch faceres`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use photolabel::people::cluster::{ClusterFace, Params, plan};
use photolabel::people::faceset::{FaceSet, main_face};
use photolabel::people::grouping;
use photolabel::people::verify::{Pairs, grouping_score};
use photolabel::scan::{self, ScanOptions};
use photolabel::store::Store;
use photolabel::zoo::align::ChipTemplate;
use photolabel::zoo::device::{self, DeviceChoice};
use photolabel::zoo::face_attr::labelled_faces;
use photolabel::zoo::face_attr::{chip_box, face_crop};
use photolabel::zoo::faceres::FaceEmbedding;
use photolabel::zoo::faceres::{CHIP, FaceRes};
use photolabel::zoo::manifest::Manifest;
use photolabel::zoo::mtcnn::Mtcnn;
use photolabel::zoo::{self, weights};

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let faces_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/faces"));
    let cache = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/tmp/zoo-cache"));
    let set = FaceSet::read(&faces_dir)?;
    let dev = device::select_with(DeviceChoice::Cpu)?.device;
    let spec = Manifest::embedded()?.get("faceres")?;
    let json = weights::verify(&cache, spec).context("faceres weights")?;
    let shards = weights::extra_file_paths(&cache, spec);
    let mut net = FaceRes::load(spec, &json, &shards, &cache, &dev)?;
    let mtcnn = Mtcnn::load(&cache, &dev)?;

    // Detect once; the subject of each photo is its largest face.
    let mut photos = Vec::new();
    let mut who = Vec::new();
    for (file, person) in &set.photos {
        let img = zoo::load_photo(&set.dir.join(file))?;
        let faces = mtcnn.detect(&img)?;
        let Some(face) = main_face(&faces) else {
            println!("{file}: no face found, left out");
            continue;
        };
        photos.push((img, face));
        who.push(person.clone());
    }
    println!(
        "{} of {} photos with a face, {} people ({})",
        photos.len(),
        set.photos.len(),
        set.people(),
        faces_dir.display()
    );
    println!("framing        same   diff   TAR@1%FAR  thr     EER    thr     AUC");
    let mut timed = None;
    let mut counts = (0, 0);
    for zoom in [1.2, 1.0, 0.8, 0.65, f32::NAN] {
        let boxed = zoom.is_nan();
        net = net.with_template(ChipTemplate { zoom, ..CHIP });
        let t = Instant::now();
        let mut embeddings = Vec::new();
        for (img, face) in &photos {
            let chip = if boxed {
                face_crop(img, &chip_box(&face.xyxy))
            } else {
                net.chip(img, face)
            };
            let mut e = net.embed_chips(&[chip])?;
            embeddings.push(e.pop().context("no descriptor")?);
        }
        if zoom == CHIP.zoom {
            timed = Some(t.elapsed().as_secs_f64() * 1e3 / photos.len().max(1) as f64);
        }
        let pairs = Pairs::of(&who, &embeddings);
        counts = (pairs.same.len(), pairs.different.len());
        let op = pairs.tar_at_far(0.01);
        let (eer, eer_t) = pairs.eer();
        let name = if boxed {
            "box crop".to_owned()
        } else {
            format!("aligned {zoom:.2}")
        };
        println!(
            "{name:<13} {:.3}  {:.3}  {:>6.1} %   {:.3}  {:>5.1} %  {:.3}  {:.3}",
            pairs.mean_same(),
            pairs.mean_different(),
            op.tar * 100.0,
            op.threshold,
            eer * 100.0,
            eer_t,
            pairs.auc()
        );
    }
    println!(
        "{} same-person pairs, {} different-person pairs",
        counts.0, counts.1
    );
    if let Some(ms) = timed {
        println!(
            "faceres: {ms:.0} ms per face (chip + network, one face per run, this profile, CPU)"
        );
    }
    net = net.with_template(CHIP);
    group_folder(&set, &mtcnn, &net)
}

/// Scans the folder into a temporary library and groups its faces photo by photo.
fn group_folder(set: &FaceSet, mtcnn: &Mtcnn, net: &FaceRes) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut store = Store::open(&tmp.path().join("library.sqlite"))?;
    let dir = std::fs::canonicalize(&set.dir)?;
    let opts = ScanOptions::new(tmp.path().join("thumbs"));
    scan::scan(
        &mut store,
        std::slice::from_ref(&dir),
        &opts,
        None,
        &std::sync::atomic::AtomicBool::new(false),
    )?;
    let mut files: Vec<(String, Option<&str>)> = set
        .photos
        .iter()
        .map(|(f, p)| (f.clone(), Some(p.as_str())))
        .collect();
    let mut others: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .filter(|f| f.ends_with(".jpg") && !set.photos.iter().any(|(k, _)| k == f))
        .collect();
    others.sort();
    files.extend(others.into_iter().map(|f| (f, None)));
    let params = Params::default();
    let mut subjects = Vec::new();
    let mut all_faces = 0;
    let mut arrivals = Vec::new();
    for (file, person) in &files {
        let img = zoo::load_photo(&dir.join(file))?;
        let faces: Vec<_> = labelled_faces(&mtcnn.detect(&img)?)
            .into_iter()
            .filter(FaceRes::embeddable)
            .collect();
        let chips: Vec<_> = faces.iter().map(|f| net.chip(&img, f)).collect();
        let embedded: Vec<FaceEmbedding> = faces
            .iter()
            .zip(net.embed_chips(&chips)?)
            .map(|(face, embedding)| FaceEmbedding {
                face: *face,
                embedding,
            })
            .collect();
        let photo = store
            .photo_by_path(&dir.join(file))?
            .with_context(|| format!("{file} not scanned"))?;
        let ids =
            grouping::store_faces(&mut store, photo.id, "faceres", img.dimensions(), &embedded)?;
        all_faces += ids.len();
        grouping::group(&mut store, &params, false)?;
        let subject = main_face(&faces).and_then(|m| faces.iter().position(|f| *f == m));
        if let (Some(person), Some(k)) = (person, subject) {
            subjects.push((*person, ids[k]));
        }
        arrivals.push((person.map(str::to_owned), subject, embedded));
    }
    let mut groups = Vec::new();
    for (_, f) in &subjects {
        groups.push(store.face(*f)?.and_then(|r| r.person).map(|p| p.0));
    }
    let who: Vec<&str> = subjects.iter().map(|(p, _)| *p).collect();
    let score = grouping_score(&who, &groups);
    let persons = store.persons()?;
    let unsorted = store
        .all_faces()?
        .iter()
        .filter(|f| f.person.is_none())
        .count();
    println!(
        "grouping ({params:?}), {} photos, {all_faces} faces:",
        files.len()
    );
    println!(
        "  portraits: pairwise precision {:.3}, recall {:.3}; {} groups for {} people; {} of {} portraits unsorted",
        score.precision,
        score.recall,
        score.groups,
        score.people,
        score.unsorted,
        who.len()
    );
    println!(
        "  library: {} persons, {unsorted} faces unsorted; a group of their own: {} of {} people {:?}",
        persons.len(),
        score.separated.len(),
        score.people,
        score.separated
    );
    arrival_orders(&arrivals);
    Ok(())
}

/// One photo as grouping receives it: whose portrait it is, its subject's index, its faces.
type Arrival = (Option<String>, Option<usize>, Vec<FaceEmbedding>);

/// Grouping does not depend on the order photos arrive in only if its thresholds leave no
/// borderline pair to chain through: the photos are fed in 50 shuffled orders (fixed seed),
/// grouping after each photo in memory ([`plan`], as the store does), for several seeding
/// thresholds (`link`), and the portraits' pairwise precision and recall and the people with
/// a group of their own are printed (mean and worst over the orders).
fn arrival_orders(photos: &[Arrival]) {
    println!("arrival orders (50 shuffles, grouping after each photo):");
    println!("  link   precision mean/min   recall mean/min   own group mean/min");
    for link in [0.60, 0.65, 0.70, 0.75] {
        let params = Params {
            link,
            ..Params::default()
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let (mut p, mut r, mut s) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..50 {
            let mut order: Vec<usize> = (0..photos.len()).collect();
            for i in (1..order.len()).rev() {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                order.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let score = group_in_order(photos, &order, &params);
            p.push(f64::from(score.precision));
            r.push(f64::from(score.recall));
            s.push(score.separated.len() as f64);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "  {link:.2}   {:.3} / {:.3}        {:.3} / {:.3}     {:.2} / {:.0}",
            mean(&p),
            min(&p),
            mean(&r),
            min(&r),
            mean(&s),
            min(&s)
        );
    }
}

/// Groups the photos arriving in `order`, after each photo, in memory.
fn group_in_order(
    photos: &[Arrival],
    order: &[usize],
    params: &Params,
) -> photolabel::people::verify::GroupingScore {
    let mut faces: Vec<ClusterFace> = Vec::new();
    let mut subjects: Vec<(&str, i64)> = Vec::new();
    let mut next_person = 0;
    for &k in order {
        let (person, subject, embedded) = &photos[k];
        for (j, e) in embedded.iter().enumerate() {
            let id = faces.len() as i64;
            if let (Some(p), Some(s)) = (person, subject)
                && *s == j
            {
                subjects.push((p.as_str(), id));
            }
            faces.push(ClusterFace {
                id,
                quality: photolabel::people::quality(&e.face),
                embedding: e.embedding.clone(),
                person: None,
            });
        }
        plan(&faces, &[], params, false).apply_to(&mut faces, || {
            next_person += 1;
            next_person
        });
    }
    let who: Vec<&str> = subjects.iter().map(|s| s.0).collect();
    let groups: Vec<Option<i64>> = subjects
        .iter()
        .map(|s| faces[s.1 as usize].person.map(|p| p.0))
        .collect();
    grouping_score(&who, &groups)
}
