//! Tag search benchmark: p99 latency of typical queries over a library of 1,000,000 photos with
//! 10 labels each (goal p99 <= 10 ms on 2 cores), with the ratio to a bare FTS5 `MATCH ...
//! ORDER BY rowid DESC LIMIT 50` for the same candidates, measured in the same run.
//!
//! Run: `cargo bench --bench search` (`-- --quick` for 100,000 photos). The generated database
//! is kept under target/bench-data and reused.

use std::path::{Path, PathBuf};
use std::time::Instant;

use photolabel::store::query::{FtsPlan, Query};
use photolabel::store::{NewLabel, PhotoMeta, ScanRecord, Store};

/// Small deterministic generator (xorshift64*), so every run builds the same library.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn vocabulary() -> (Vec<String>, Vec<(String, String)>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/labels");
    let names = std::fs::read_to_string(root.join("imagenet1k.txt")).expect("labels");
    let mut labels: Vec<String> = names.lines().map(str::to_string).collect();
    labels.extend(["person", "car", "beach", "sky", "tree", "text"].map(String::from));
    let parents = std::fs::read_to_string(root.join("imagenet1k_parent.txt")).expect("parents");
    let mut pairs: Vec<(String, String)> = parents
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    for group in [
        "fish",
        "bird",
        "mammal",
        "reptile",
        "insect",
        "invertebrate",
        "amphibian",
    ] {
        pairs.push((group.to_string(), "animal".to_string()));
    }
    pairs.push(("dog".into(), "mammal".into()));
    (labels, pairs)
}

fn build(path: &Path, photos: usize) {
    let t = Instant::now();
    let mut store = Store::open(path).expect("store");
    let (vocab, parents) = vocabulary();
    store.set_label_parents(&parents).expect("parents");
    // Zipf-like popularity: label rank r drawn with weight 1/(r+1).
    let weights: Vec<f64> = (0..vocab.len()).map(|r| 1.0 / (r as f64 + 1.0)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cdf.push(acc);
    }
    // Shuffle which label gets which rank, deterministically.
    let mut rng = Rng(0x5eed);
    let mut order: Vec<usize> = (0..vocab.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    let chunk = 20_000;
    for start in (0..photos).step_by(chunk) {
        let end = (start + chunk).min(photos);
        let records: Vec<ScanRecord> = (start..end)
            .map(|i| {
                let ts = 1_262_304_000 + (rng.next() % 473_040_000) as i64; // 2010..2025
                ScanRecord {
                    path: PathBuf::from(format!("/photos/{:04}/IMG_{i:07}.jpg", i / 1000)),
                    root_id: None,
                    size: 1000 + i as u64,
                    mtime_ns: ts * 1_000_000_000,
                    hash: Some(format!("{:016x}{:016x}", rng.next(), i)),
                    meta: Ok(PhotoMeta {
                        format: "jpeg".into(),
                        width: 4000,
                        height: 3000,
                        taken_ts: Some(ts),
                        ..Default::default()
                    }),
                    thumb: false,
                }
            })
            .collect();
        let ids = store.record_scans(&records).expect("photos");
        let items: Vec<(i64, Vec<NewLabel>)> = ids
            .iter()
            .map(|(_, id)| {
                let mut chosen: Vec<usize> = Vec::with_capacity(10);
                while chosen.len() < 10 {
                    let u = rng.unit();
                    let rank = cdf.partition_point(|&c| c < u).min(vocab.len() - 1);
                    let l = order[rank];
                    if !chosen.contains(&l) {
                        chosen.push(l);
                    }
                }
                let labels = chosen
                    .into_iter()
                    .map(|l| NewLabel {
                        label: vocab[l].clone(),
                        model: "bench".into(),
                        confidence: 0.3 + 0.7 * rng.unit() as f32,
                        bbox: None,
                    })
                    .collect();
                (*id, labels)
            })
            .collect();
        store.write_many_labels(&items).expect("labels");
        if end % 100_000 == 0 {
            eprintln!("built {end} photos in {:.0}s", t.elapsed().as_secs_f64());
        }
    }
    eprintln!(
        "built {photos} photos x 10 labels in {:.0}s",
        t.elapsed().as_secs_f64()
    );
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let photos = if quick { 100_000 } else { 1_000_000 };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let path = dir.join(format!("search-{photos}-v2.sqlite"));
    if !path.exists() {
        let tmp = path.with_extension("partial");
        let _ = std::fs::remove_file(&tmp);
        build(&tmp, photos);
        std::fs::rename(&tmp, &path).expect("rename");
    }
    let store = Store::open_readonly(&path).expect("open");

    let queries = [
        "dog",
        "golden retriever",
        "\"golden retriever\"",
        "animal",
        "cat OR dog",
        "car -person",
        "te",
        "zebra",
        "beach conf>0.8",
        "(fish OR bird) -person",
        "person",
        "-person",
    ];
    let rounds = if quick { 20 } else { 30 };
    let mut all = Vec::new();
    let mut all_base = Vec::new();
    println!(
        "{:<26} {:>9} {:>9} {:>9} {:>8}",
        "query", "p50 ms", "p99 ms", "bare p99", "hits"
    );
    for q in queries {
        let parsed = Query::parse(q).expect("query");
        let mut times = Vec::new();
        let mut base = Vec::new();
        let mut hits = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            hits = store.search(&parsed, 50, 0).expect("search").len();
            times.push(t.elapsed().as_secs_f64() * 1e3);
            if let FtsPlan::Matching(m) = parsed.fts_plan() {
                let t = Instant::now();
                store.bare_fts_rowids(&m, 50).expect("bare");
                base.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        all.extend_from_slice(&times);
        all_base.extend_from_slice(&base);
        let bare = if base.is_empty() {
            "-".to_string()
        } else {
            format!("{:.2}", percentile(&mut base, 0.99))
        };
        println!(
            "{q:<26} {:>9.2} {:>9.2} {bare:>9} {hits:>8}",
            percentile(&mut times.clone(), 0.5),
            percentile(&mut times, 0.99)
        );
    }
    let p99 = percentile(&mut all, 0.99);
    let base99 = percentile(&mut all_base, 0.99);
    println!(
        "search: {photos} photos x 10 labels: p50 {:.2} ms, p99 {p99:.2} ms (goal <= 10) | \
         bare FTS5 p99 {base99:.2} ms | ratio {:.2}x",
        percentile(&mut all, 0.5),
        p99 / base99
    );
}
