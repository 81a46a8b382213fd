//! The fuzzers' short run for CI (the real fuzzing is AFL++, `fuzz/README.md`): for each target
//! of `photolabel::fuzz_targets`, replays its committed seed corpus and every regression input
//! (`fuzz/seeds/<target>/`, `fuzz/regressions/<target>/`), then mutates the seeds at random
//! (bit flips, interesting values, inserts, deletes, duplications, splices) for
//! `PHOTOLABEL_FUZZ_SECS` seconds (default 8) through the same entry points the AFL targets
//! call, uninstrumented. The mutations come from a fixed seed (`PHOTOLABEL_FUZZ_SEED` changes
//! it), so a failure is reproducible: it prints the target, seed and iteration and writes the
//! input to the temporary folder.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use photolabel::fuzz_targets::{TARGETS, Target, target};

/// SplitMix64: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const INTERESTING: &[u32] = &[
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
];

/// Largest input the mutator makes (AFL's default is 1 MB; ours stay far below).
const MAX_LEN: usize = 64 << 10;

fn mutate(rng: &mut Rng, data: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                // An interesting value, 1, 2 or 4 bytes, either byte order.
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let width = [1, 2, 4][rng.below(3)];
                let bytes = if rng.below(2) == 0 {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                let i = rng.below(len);
                let take = width.min(len - i);
                data[i..i + take].copy_from_slice(&bytes[4 - width..][..take]);
            }
            3 if len < MAX_LEN => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let fill: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(i..i, fill);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                data.drain(i..i + n);
            }
            5 if len > 0 && len < MAX_LEN => {
                // Duplicate a block (grows repetitive structure: nesting, long runs).
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let block = data[i..i + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, block);
            }
            6 if !seeds.is_empty() => {
                // Splice: our head, another seed's tail.
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            7 if len > 0 => {
                let i = rng.below(len);
                data.truncate(i);
            }
            _ if len > 1 => {
                // Copy a block over another place.
                let (a, b) = (rng.below(len), rng.below(len));
                let n = 1 + rng.below((len - a.max(b)).min(32));
                let block = data[a..a + n].to_vec();
                data[b..b + n].copy_from_slice(&block);
            }
            _ => data.push(rng.next() as u8),
        }
    }
    data.truncate(MAX_LEN);
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted by name.
fn inputs(kind: &str, name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(name);
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// Runs `t` on `data`; on a panic, saves the input and fails naming how to reproduce it.
fn run_one(name: &str, t: Target, data: &[u8], what: &str) {
    if std::panic::catch_unwind(|| t(data)).is_err() {
        let saved = std::env::temp_dir().join(format!("photolabel-fuzz-{name}-crash"));
        let _ = std::fs::write(&saved, data);
        panic!(
            "fuzz target {name} panicked on {what} ({} bytes, saved to {}); replay it with \
             `photolabel::fuzz_targets::{name}(&std::fs::read(path)?)` or add it to \
             fuzz/regressions/{name}/",
            data.len(),
            saved.display()
        );
    }
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Replays the corpus and regressions of `name`, then mutates for the time budget; returns
/// the number of executions.
fn smoke(name: &str) -> u64 {
    let t = target(name).expect("a known target");
    let seeds = inputs("seeds", name);
    assert!(!seeds.is_empty(), "no seed corpus in fuzz/seeds/{name}");
    for (path, bytes) in seeds.iter().chain(&inputs("regressions", name)) {
        run_one(name, t, bytes, &path.display().to_string());
    }
    let corpus: Vec<Vec<u8>> = seeds.into_iter().map(|(_, b)| b).collect();
    let secs = env_u64("PHOTOLABEL_FUZZ_SECS", 8);
    let seed = env_u64("PHOTOLABEL_FUZZ_SEED", 17);
    // Each target draws from its own stream, so targets can run in any order or alone.
    let mut rng = Rng(seed
        ^ name
            .bytes()
            .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(b)));
    let start = Instant::now();
    let mut execs = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        let mut data = corpus[rng.below(corpus.len())].clone();
        mutate(&mut rng, &mut data, &corpus);
        run_one(
            name,
            t,
            &data,
            &format!("mutation {execs} of seed {seed} (PHOTOLABEL_FUZZ_SEED)"),
        );
        execs += 1;
    }
    eprintln!("fuzz smoke {name}: {execs} executions in {secs} s (seed {seed})");
    execs
}

#[test]
fn every_target_has_a_test_here() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "photo",
            "thumbnail",
            "query",
            "trace",
            "onnx",
            "tfjs",
            "xmp"
        ]
    );
    for n in names {
        assert!(
            fuzz_dir().join("src/bin").join(format!("{n}.rs")).is_file(),
            "fuzz/src/bin/{n}.rs (the AFL target) is missing"
        );
    }
}

#[test]
fn the_mutator_is_deterministic_and_changes_inputs() {
    let seeds = vec![b"hello fuzz".to_vec()];
    let run = || {
        let mut rng = Rng(5);
        (0..50)
            .map(|_| {
                let mut d = seeds[0].clone();
                mutate(&mut rng, &mut d, &seeds);
                d
            })
            .collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run());
    assert!(a.iter().filter(|d| **d != seeds[0]).count() > 40);
}

#[test]
fn photo_survives_its_corpus_and_mutations() {
    assert!(smoke("photo") > 0);
}

#[test]
fn thumbnail_survives_its_corpus_and_mutations() {
    assert!(smoke("thumbnail") > 0);
}

#[test]
fn query_survives_its_corpus_and_mutations() {
    assert!(smoke("query") > 0);
}

#[test]
fn trace_survives_its_corpus_and_mutations() {
    assert!(smoke("trace") > 0);
}

#[test]
fn onnx_survives_its_corpus_and_mutations() {
    assert!(smoke("onnx") > 0);
}

#[test]
fn tfjs_survives_its_corpus_and_mutations() {
    assert!(smoke("tfjs") > 0);
}

#[test]
fn xmp_survives_its_corpus_and_mutations() {
    assert!(smoke("xmp") > 0);
}
