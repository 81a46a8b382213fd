//! Recall and precision of tag search for everyday words, before and after the vocabulary, on
//! a folder of photos with ground truth (ImageNet samples named `nXXXXXXXX_class.JPEG`, COCO
//! photos with YOLO box files beside them) and a recorded trace of every model's outputs on
//! them. It scans the folder into a fresh library, writes the trace's labels as the stored raw
//! labels, and runs the real `Store::search` for each word: "before" with an empty vocabulary
//! (raw classes only, as before the vocabulary existed), "after" with the embedded one.
//!
//! ```sh
//! cargo run --release --example vocab_search_quality -- ../shared/photos \
//!     traces/shared-photos-17models.jsonl
//! ```
//!
//! The ground truth of each word is written out below as ImageNet class indices and COCO
//! class ids, independently of the vocabulary file. "person", "people", "bicycle", "cup" and
//! "chair" are judged on the COCO photos only (ImageNet samples show people and things without
//! saying so), and a last table judges every word on the COCO photos, whose objects are all
//! annotated (fair to an object detector, whose finds in the background of an ImageNet photo
//! count as false there).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use photolabel::sched::trace::Trace;
use photolabel::store::query::Query;
use photolabel::store::{NewLabel, Store};
use photolabel::vocab::Vocabulary;

/// What a photo really shows.
#[derive(Default)]
struct Truth {
    /// ImageNet class index (ImageNet samples).
    imagenet: Option<usize>,
    /// COCO class ids with their box counts (COCO photos).
    coco: Option<HashMap<usize, usize>>,
}

fn ranges(rs: &[(usize, usize)]) -> BTreeSet<usize> {
    rs.iter().flat_map(|&(a, b)| a..=b).collect()
}

/// ImageNet indices and COCO ids that a word means, and whether ImageNet photos are judged.
fn ground_truth(word: &str) -> (BTreeSet<usize>, BTreeSet<usize>, bool) {
    let cars = [407, 436, 468, 511, 609, 627, 656, 661, 751, 817];
    let vehicles: Vec<usize> = cars
        .iter()
        .copied()
        .chain([
            // trucks, buses, trains, bicycles, motorcycles, boats and ships, aircraft
            555, 569, 675, 717, 734, 864, 867, 654, 779, 874, 466, 547, 565, 705, 820, 829, 444,
            671, 870, 880, 665, 670, 472, 484, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914,
            403, 510, 404, 405, 895, 417, 812,
        ])
        .collect();
    match word {
        "dog" => (ranges(&[(151, 268)]), [16].into(), true),
        "cat" => (ranges(&[(281, 285)]), [15].into(), true),
        "bird" => (ranges(&[(7, 24), (80, 100), (127, 146)]), [14].into(), true),
        "fish" => (ranges(&[(0, 6), (389, 397)]), BTreeSet::new(), true),
        "food" => (ranges(&[(923, 957), (959, 965)]), ranges(&[(46, 55)]), true),
        "animal" => (ranges(&[(0, 397)]), ranges(&[(14, 23)]), true),
        "car" => (cars.into_iter().collect(), [2].into(), true),
        "vehicle" => (vehicles.into_iter().collect(), ranges(&[(1, 8)]), true),
        "person" | "people" => (BTreeSet::new(), [0].into(), false),
        "bicycle" => (BTreeSet::new(), [1].into(), false),
        "cup" => (BTreeSet::new(), [41].into(), false),
        "chair" => (BTreeSet::new(), [56].into(), false),
        _ => (BTreeSet::new(), BTreeSet::new(), false),
    }
}

fn is_relevant(word: &str, t: &Truth) -> bool {
    let (inet, coco, _) = ground_truth(word);
    if let Some(i) = t.imagenet {
        return inet.contains(&i);
    }
    let Some(boxes) = &t.coco else {
        return false;
    };
    if word == "people" {
        return boxes.get(&0).copied().unwrap_or(0) >= 2;
    }
    coco.iter().any(|c| boxes.contains_key(c))
}

fn read_truth(root: &Path, rel: &str, wnids: &[&str]) -> Truth {
    let name = Path::new(rel)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if rel.starts_with("imagenet") {
        let wnid = name.split('_').next().unwrap_or("");
        return Truth {
            imagenet: wnids.iter().position(|w| *w == wnid),
            coco: None,
        };
    }
    let txt = root.join(rel).with_extension("txt");
    let mut boxes = HashMap::new();
    for line in std::fs::read_to_string(txt).unwrap_or_default().lines() {
        if let Some(Ok(c)) = line.split_whitespace().next().map(str::parse::<usize>) {
            *boxes.entry(c).or_insert(0) += 1;
        }
    }
    Truth {
        imagenet: None,
        coco: Some(boxes),
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(root), Some(trace)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: vocab_search_quality PHOTOS_DIR TRACE.jsonl");
    };
    let root = PathBuf::from(root).canonicalize()?;
    let trace = Trace::read(Path::new(trace))?;
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(&dir.path().join("library.sqlite"))?;
    let opts = photolabel::scan::ScanOptions::new(dir.path().join("thumbs"));
    photolabel::scan::scan(
        &mut store,
        std::slice::from_ref(&root),
        &opts,
        None,
        &AtomicBool::new(false),
    )?;
    let wnids = photolabel::zoo::manifest::imagenet_wnids()?;
    let mut items = Vec::new();
    let mut truth: HashMap<i64, Truth> = HashMap::new();
    for p in &trace.photos {
        let photo = store
            .photo_by_path(&root.join(&p.photo))?
            .with_context(|| format!("not scanned: {}", p.photo))?;
        let labels: Vec<NewLabel> = p
            .runs
            .iter()
            .flat_map(|r| {
                r.outputs.iter().map(|o| NewLabel {
                    label: o.label.clone(),
                    model: r.model.clone(),
                    confidence: o.confidence,
                    bbox: o.bbox,
                })
            })
            .collect();
        items.push((photo.id, labels));
        truth.insert(photo.id, read_truth(&root, &p.photo, &wnids));
    }
    store.write_many_labels(&items)?;
    let words = [
        "dog", "cat", "bird", "fish", "food", "animal", "car", "vehicle", "person", "people",
        "bicycle", "cup", "chair",
    ];
    let empty = Vocabulary::parse("version = 0\n[sets]\n")?;
    let embedded = Vocabulary::embedded()?;
    println!("photos: {}", truth.len());
    println!(
        "word      judged  relevant | before: found  recall  precision | after: found  recall  precision"
    );
    for (quoted, coco_only) in [(false, false), (true, false), (true, true)] {
        if coco_only {
            println!(
                "-- whole words, COCO photos only (every object of a COCO photo is annotated, so a \
                 detector's finds there are judged fairly; an ImageNet photo has one class)"
            );
        } else if quoted {
            println!("-- whole words (\"WORD\": no prefix matches such as car -> cardigan)");
        }
        for word in words {
            let (_, _, imagenet_judged) = ground_truth(word);
            let judged: Vec<i64> = truth
                .iter()
                .filter(|(_, t)| (imagenet_judged && !coco_only) || t.coco.is_some())
                .map(|(id, _)| *id)
                .collect();
            let relevant: BTreeSet<i64> = judged
                .iter()
                .copied()
                .filter(|id| is_relevant(word, &truth[id]))
                .collect();
            let q = if quoted {
                format!("\"{word}\"")
            } else {
                word.to_string()
            };
            let query = Query::parse(&q)?;
            let mut row = format!("{q:<9} {:>6}  {:>8}", judged.len(), relevant.len());
            for vocab in [&empty, embedded] {
                store.apply_vocabulary(vocab)?;
                let found: BTreeSet<i64> = store
                    .search(&query, 100_000, 0)?
                    .into_iter()
                    .map(|h| h.photo_id)
                    .filter(|id| judged.contains(id))
                    .collect();
                let (recall, precision) = recall_precision(&found, &relevant);
                row += &format!(
                    " | {:>13}  {:>6.2}  {:>9.2}",
                    found.len(),
                    recall,
                    precision
                );
            }
            println!("{row}");
        }
    }
    coco_class_means(&mut store, &truth, embedded)
}

/// Recall and precision of `found` against `relevant` (0 when nothing was found).
fn recall_precision(found: &BTreeSet<i64>, relevant: &BTreeSet<i64>) -> (f64, f64) {
    let hit = found.intersection(relevant).count() as f64;
    let recall = hit / relevant.len().max(1) as f64;
    let precision = if found.is_empty() {
        0.0
    } else {
        hit / found.len() as f64
    };
    (recall, precision)
}

/// Mean recall and precision over the COCO classes with at least 3 COCO photos, each searched
/// by the friendly tag the vocabulary gives its COCO name (`couch` -> "sofa"), judged on the
/// COCO photos (every object annotated).
fn coco_class_means(
    store: &mut Store,
    truth: &HashMap<i64, Truth>,
    vocab: &Vocabulary,
) -> anyhow::Result<()> {
    let names = photolabel::zoo::Manifest::embedded()?
        .get("centernet")?
        .label_list()?;
    let set = vocab
        .set_for("centernet")
        .context("the vocabulary has no set for centernet")?;
    store.apply_vocabulary(vocab)?;
    let coco: Vec<(i64, &HashMap<usize, usize>)> = truth
        .iter()
        .filter_map(|(id, t)| Some((*id, t.coco.as_ref()?)))
        .collect();
    let judged: BTreeSet<i64> = coco.iter().map(|(id, _)| *id).collect();
    let (mut recall, mut precision, mut n) = (0.0, 0.0, 0);
    let mut rows = Vec::new();
    for (class, name) in names.iter().enumerate() {
        let relevant: BTreeSet<i64> = coco
            .iter()
            .filter(|(_, b)| b.contains_key(&class))
            .map(|(id, _)| *id)
            .collect();
        if relevant.len() < 3 {
            continue;
        }
        let tag = set
            .labels
            .get(name)
            .and_then(|e| e.tag.clone())
            .unwrap_or_else(|| name.clone());
        let query = Query::parse(&format!("\"{tag}\""))?;
        let found: BTreeSet<i64> = store
            .search(&query, 100_000, 0)?
            .into_iter()
            .map(|h| h.photo_id)
            .filter(|id| judged.contains(id))
            .collect();
        let (r, p) = recall_precision(&found, &relevant);
        rows.push(format!(
            "{tag}: {}/{} r {r:.2} p {p:.2}",
            found.len(),
            relevant.len()
        ));
        recall += r;
        precision += p;
        n += 1;
    }
    println!(
        "-- COCO classes with >= 3 COCO photos, searched by their friendly tag (after vocabulary): \
         {n} classes, mean recall {:.2}, mean precision {:.2}",
        recall / n.max(1) as f64,
        precision / n.max(1) as f64
    );
    println!("   {}", rows.join("; "));
    Ok(())
}
