//! Recorded executions: every model run on every photo of a set, with outputs, time and
//! memory. Traces are the ground truth the scheduler is trained and evaluated on.
//!
//! Format (versioned JSON lines): the first line is a [`TraceHeader`], every following line a
//! [`PhotoTrace`]. Lines are independent, so a recording can be appended to and a truncated
//! last line (a killed recording) is ignored on reading.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::zoo::stages::StageRun;

/// Version written by this build; readers accept this and older ones they know.
pub const TRACE_VERSION: u32 = 1;

/// First line of a trace file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceHeader {
    pub format: String,
    pub version: u32,
    /// The device the models ran on ("wgpu: <adapter>" or "cpu").
    pub device: String,
    /// Models in their run-all order, with the thresholds used for "valuable".
    pub models: Vec<TraceModel>,
}

/// A model as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceModel {
    pub id: String,
    pub family: String,
    /// Confidence at or above which a label is valuable.
    pub threshold: f32,
}

/// Cheap context known before any model runs: EXIF fields and thumbnail statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub flash: Option<bool>,
    pub exposure_s: Option<f64>,
    pub focal_mm: Option<f64>,
    pub iso: Option<u32>,
    pub gps: bool,
    /// Hour of day taken (0..24).
    pub hour: Option<u8>,
    pub width: u32,
    pub height: u32,
    /// Thumbnail statistics: mean and standard deviation of R, G, B (0..1), mean saturation,
    /// edge density (share of strong gradients), share of skin-tone pixels.
    pub thumb: Option<ThumbStats>,
}

/// Statistics of a small version of the image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThumbStats {
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub saturation: f32,
    pub edges: f32,
    pub skin: f32,
}

/// One label produced by a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub label: String,
    pub confidence: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f32; 4]>,
}

/// One model's execution on one photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRun {
    pub model: String,
    pub time_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_mem_bytes: Option<u64>,
    pub outputs: Vec<Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Shared stages this run computed (their time is part of `time_ms`); empty when the
    /// stages it needs were already done, or in traces recorded before stages were shared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageRun>,
}

impl ModelRun {
    /// Time of the shared stages this run computed.
    pub fn stage_ms(&self) -> f64 {
        // fold from +0.0: an empty sum of f64 is -0.0, which prints as "-0".
        self.stages.iter().fold(0.0, |t, s| t + s.time_ms)
    }

    /// The run's own time: `time_ms` without the shared stages it computed.
    pub fn own_ms(&self) -> f64 {
        (self.time_ms - self.stage_ms()).max(0.0)
    }
}

/// Every model's execution on one photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoTrace {
    /// Path relative to the recorded folder.
    pub photo: String,
    pub hash: String,
    pub context: Context,
    pub runs: Vec<ModelRun>,
}

impl PhotoTrace {
    /// How long shared stage `stage` took on this photo (whichever run computed it; 0 when
    /// none recorded it).
    pub fn stage_ms(&self, stage: &str) -> f64 {
        self.runs
            .iter()
            .flat_map(|r| &r.stages)
            .find(|s| s.stage == stage)
            .map_or(0.0, |s| s.time_ms)
    }

    /// The time replaying `run` costs when the shared stages in `done` have run already: its
    /// own time, plus its stage's recorded time if that stage is not done (a stage is charged
    /// once per photo, whichever model needs it first).
    pub fn charge(&self, run: &ModelRun, stage: Option<&str>, done: bool) -> f64 {
        run.own_ms() + stage.filter(|_| !done).map_or(0.0, |s| self.stage_ms(s))
    }
}

/// A whole trace in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub header: TraceHeader,
    pub photos: Vec<PhotoTrace>,
}

impl TraceHeader {
    /// A header for this build's format.
    pub fn new(device: String, models: Vec<TraceModel>) -> Self {
        TraceHeader {
            format: "photolabel-trace".into(),
            version: TRACE_VERSION,
            device,
            models,
        }
    }
}

impl Trace {
    /// Reads a trace file; a torn last line (interrupted recording) is dropped.
    pub fn read(path: &Path) -> Result<Trace> {
        let file =
            std::fs::File::open(path).map_err(|e| Error::io("cannot open trace", path, e))?;
        Self::parse(BufReader::new(file), path)
    }

    /// Reads a trace from `reader` (the content of the file at `path`, named in errors).
    pub fn parse(reader: impl BufRead, path: &Path) -> Result<Trace> {
        let mut lines = reader.lines();
        let bad = |msg: String| Error::Trace(format!("{msg}: {}", path.display()));
        let first = lines
            .next()
            .ok_or_else(|| bad("empty trace".into()))?
            .map_err(|e| Error::io("cannot read trace", path, e))?;
        let header: TraceHeader =
            serde_json::from_str(&first).map_err(|e| bad(format!("bad header: {e}")))?;
        if header.format != "photolabel-trace" || header.version > TRACE_VERSION {
            return Err(bad(format!(
                "unsupported trace format {} version {}",
                header.format, header.version
            )));
        }
        let mut photos = Vec::new();
        let all: Vec<String> = lines
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io("cannot read trace", path, e))?;
        let n = all.len();
        for (i, line) in all.into_iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<PhotoTrace>(&line) {
                Ok(p) => photos.push(p),
                Err(_) if i + 1 == n => log::warn!("ignoring a torn last line: {}", path.display()),
                Err(e) => return Err(bad(format!("line {}: {e}", i + 2))),
            }
        }
        Ok(Trace { header, photos })
    }

    /// Writes the whole trace.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut w = TraceWriter::create(path, &self.header)?;
        for p in &self.photos {
            w.append(p)?;
        }
        w.finish()
    }

    /// Splits photos deterministically by content hash: `train_share` of them (by hash order,
    /// so the split does not depend on file order) go to the first trace.
    pub fn split(&self, train_share: f64, seed: u64) -> (Trace, Trace) {
        let mut keyed: Vec<(u64, &PhotoTrace)> = self
            .photos
            .iter()
            .map(|p| (mix(seed ^ fnv(&p.hash)), p))
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        let n_train = ((self.photos.len() as f64) * train_share).round() as usize;
        let (a, b) = keyed.split_at(n_train.min(keyed.len()));
        let pick = |v: &[(u64, &PhotoTrace)]| Trace {
            header: self.header.clone(),
            photos: v.iter().map(|(_, p)| (*p).clone()).collect(),
        };
        (pick(a), pick(b))
    }
}

impl Trace {
    /// `k` validation folds (k >= 2) of the photos, assigned by a seeded hash of their content
    /// (deterministic, disjoint, sizes within one): for each fold, (the other photos, the
    /// fold). `k` of 1 or less gives no fold.
    pub fn folds(&self, k: usize, seed: u64) -> Vec<(Trace, Trace)> {
        if k < 2 {
            return Vec::new();
        }
        let mut keyed: Vec<(u64, usize)> = self
            .photos
            .iter()
            .enumerate()
            .map(|(i, p)| (mix(seed ^ fnv(&p.hash)), i))
            .collect();
        keyed.sort_by_key(|(key, _)| *key);
        let fold_of: Vec<(usize, usize)> = keyed
            .iter()
            .enumerate()
            .map(|(rank, (_, i))| (*i, rank % k))
            .collect();
        (0..k)
            .map(|f| {
                let pick = |inside: bool| Trace {
                    header: self.header.clone(),
                    photos: fold_of
                        .iter()
                        .filter(|(_, g)| (*g == f) == inside)
                        .map(|(i, _)| self.photos[*i].clone())
                        .collect(),
                };
                (pick(false), pick(true))
            })
            .collect()
    }
}

/// Appends photos to a trace file as they are recorded.
pub struct TraceWriter {
    out: BufWriter<std::fs::File>,
    path: std::path::PathBuf,
}

impl TraceWriter {
    /// Creates (truncates) `path` and writes the header.
    pub fn create(path: &Path, header: &TraceHeader) -> Result<Self> {
        let file =
            std::fs::File::create(path).map_err(|e| Error::io("cannot create trace", path, e))?;
        let mut w = TraceWriter {
            out: BufWriter::new(file),
            path: path.to_path_buf(),
        };
        w.line(&serde_json::to_string(header).map_err(|e| Error::Trace(e.to_string()))?)?;
        Ok(w)
    }

    /// Appends one photo's record and flushes it.
    pub fn append(&mut self, photo: &PhotoTrace) -> Result<()> {
        self.line(&serde_json::to_string(photo).map_err(|e| Error::Trace(e.to_string()))?)?;
        self.out
            .flush()
            .map_err(|e| Error::io("cannot write trace", &self.path, e))
    }

    fn line(&mut self, s: &str) -> Result<()> {
        writeln!(self.out, "{s}").map_err(|e| Error::io("cannot write trace", &self.path, e))
    }

    /// Flushes and closes.
    pub fn finish(mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io("cannot write trace", &self.path, e))
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// splitmix64 finaliser.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
