//! The library scanner: walks folders in a background thread, examines new and changed files
//! on a bounded pool of worker threads (content detection, hash, header checks, EXIF,
//! thumbnail) and writes the results through the single store writer in batched transactions.
//!
//! Incremental and resumable: a file whose size and modification time match the store is not
//! opened again; a file with new content at a known path is re-examined; the same content at a
//! new path is a move (labels follow); files that vanished are marked missing. Work is
//! committed every few hundred files, so a killed scan resumes where it stopped.
//!
//! A library folder whose path is gone (an unplugged drive) is not scanned by the app (see
//! [`watch`]), and a folder that vanishes while being scanned, or is found empty although its
//! photos were there (an unmounted drive's mount folder), keeps its photos: only files missing
//! from a folder that is there are marked missing. Photos with a GPS position get place
//! tags ([`places`]).
//!
//! Thumbnails other programs already made (freedesktop shared thumbnails) are reused when
//! valid ([`shared_thumbs`]).
//!
//! Keywords other programs wrote (XMP sidecars, embedded XMP and IPTC) are read with the file
//! (`crate::xmp::read`) and stored as user tags. Originals are opened read-only and never
//! written.

pub mod detect;
pub mod exif;
pub mod places;
pub mod read;
pub mod shared_thumbs;
mod sidecars;
pub mod thumb;
pub mod walk;
pub mod watch;

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::{PhotoMeta, ScanRecord, Store, path_to_bytes, photos::RecordOutcome};
use detect::{Detected, SNIFF_LEN};

pub use read::MAX_FILE_BYTES;

/// How a scan behaves.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Also descend into hidden folders and read hidden files.
    pub include_hidden: bool,
    /// Make thumbnails while scanning (the file is read once for both).
    pub thumbnails: bool,
    /// Worker threads examining files.
    pub jobs: usize,
    /// Where thumbnails are cached.
    pub thumbs_dir: PathBuf,
    /// Files written per transaction.
    pub batch: usize,
    /// The freedesktop.org shared thumbnail folder (`~/.cache/thumbnails`): a valid thumbnail
    /// there is reused instead of decoding the photo; `None` never looks.
    pub shared_thumbs: Option<PathBuf>,
    /// Also leave a `large` thumbnail in [`Self::shared_thumbs`] for each photo the scan
    /// decodes, for other programs to reuse (off by default; the app's Settings).
    pub write_shared_thumbs: bool,
}

impl ScanOptions {
    /// Defaults: skip hidden folders, make thumbnails, one worker per core.
    pub fn new(thumbs_dir: PathBuf) -> Self {
        ScanOptions {
            include_hidden: false,
            thumbnails: true,
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            thumbs_dir,
            batch: 256,
            shared_thumbs: shared_thumbs::default_dir(),
            write_shared_thumbs: false,
        }
    }
}

/// Counters reported while a scan runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScanProgress {
    /// Files found by the walk so far.
    pub seen: u64,
    /// Files that needed examining (new or changed).
    pub queued: u64,
    /// Files examined and written.
    pub done: u64,
    /// Files skipped because the store already has them as they are.
    pub unchanged: u64,
    /// Files recorded with an error, and unreadable folders.
    pub failed: u64,
    /// Whether the walk is still finding files.
    pub walking: bool,
    pub elapsed_s: f64,
}

impl ScanProgress {
    /// Files examined per second.
    pub fn rate(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            self.done as f64 / self.elapsed_s
        } else {
            0.0
        }
    }
}

/// What a finished (or cancelled) scan did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScanSummary {
    pub seen: u64,
    pub new: u64,
    pub updated: u64,
    pub moved: u64,
    pub unchanged: u64,
    /// Files recorded with an error.
    pub failed: u64,
    /// Folders or links the walk could not read.
    pub walk_errors: u64,
    /// Photos whose files disappeared since the last scan.
    pub missing: u64,
    /// Library folders found gone or empty although the library holds photos from them (an
    /// unplugged or unmounted drive): offline, their photos kept as they were.
    pub offline: u64,
    /// Files that are not images (ignored).
    pub not_images: u64,
    pub thumbnails: u64,
    pub cancelled: bool,
    pub elapsed_s: f64,
}

/// Events a scan sends while it runs.
#[derive(Debug, Clone)]
pub enum ScanEvent {
    /// Updated counters (at most about ten a second).
    Progress(ScanProgress),
    /// A file or folder could not be used; the message is also recorded in the store.
    Failed { path: PathBuf, message: String },
    /// The scan ended.
    Finished(ScanSummary),
}

struct Job {
    file: walk::FoundFile,
    root_id: i64,
    known_id: Option<i64>,
}

enum FileOutcome {
    Record(Box<ScanRecord>, bool),
    NotImage,
    /// An XMP sidecar (not an image), with its modification time.
    Sidecar(PathBuf, i64),
    Vanished(Option<i64>),
}

/// What examining one file found.
#[derive(Debug, Clone, PartialEq)]
pub enum Examined {
    /// An image (or a broken file that claims to be one), ready for the store.
    Record(Box<ScanRecord>),
    /// Not an image and not named like one: ignored.
    NotImage,
    /// The file disappeared between the walk and the read.
    Vanished,
}

/// Examines one file as a scan would (detection, hash, header checks, EXIF, thumbnail).
pub fn examine_file(path: &Path, opts: &ScanOptions) -> Examined {
    let (size, mtime_ns) = match std::fs::metadata(path) {
        Ok(m) => (
            m.len(),
            m.modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0),
        ),
        Err(_) => (0, 0),
    };
    let job = Job {
        file: walk::FoundFile {
            path: path.to_path_buf(),
            size,
            mtime_ns,
        },
        root_id: 0,
        known_id: None,
    };
    match examine(&job, opts) {
        FileOutcome::Record(mut rec, _) => {
            rec.root_id = None;
            Examined::Record(rec)
        }
        FileOutcome::NotImage | FileOutcome::Sidecar(..) => Examined::NotImage,
        FileOutcome::Vanished(_) => Examined::Vanished,
    }
}

enum Msg {
    Unchanged,
    Queued,
    WalkError {
        root_id: i64,
        path: PathBuf,
        message: String,
    },
    WalkDone(HashSet<i64>),
    File(FileOutcome),
}

/// Scans `roots` into `store`. Sends [`ScanEvent`]s to `events` when given; stops early (and
/// marks the summary cancelled) when `cancel` becomes true. Fails only when a root itself is
/// unusable or the database fails; bad files are recorded and skipped.
pub fn scan(
    store: &mut Store,
    roots: &[PathBuf],
    opts: &ScanOptions,
    events: Option<&Sender<ScanEvent>>,
    cancel: &AtomicBool,
) -> Result<ScanSummary> {
    let start = Instant::now();
    let mut targets = Vec::new();
    for root in roots {
        let canon = std::fs::canonicalize(root)
            .map_err(|e| Error::io("cannot open library folder", root, e))?;
        if !canon.is_dir() {
            return Err(Error::io(
                "not a folder",
                root,
                std::io::Error::from(std::io::ErrorKind::NotADirectory),
            ));
        }
        let id = store.add_root(&canon)?;
        let known = store.known_files(id)?;
        targets.push((canon, id, known));
    }

    let send = |ev: ScanEvent| {
        if let Some(tx) = events {
            let _ = tx.send(ev);
        }
    };
    let mut summary = ScanSummary::default();
    let mut progress = ScanProgress {
        walking: true,
        ..Default::default()
    };
    let mut issues: Vec<(i64, PathBuf, String)> = Vec::new();
    let mut vanished: Vec<i64> = Vec::new();
    let mut seen_ids = HashSet::new();
    let mut moved_ids = HashSet::new();
    let mut batch: Vec<ScanRecord> = Vec::with_capacity(opts.batch);
    let mut batch_thumbs = 0u64;
    let mut sidecars: Vec<(PathBuf, i64)> = Vec::new();
    let mut examined: HashSet<PathBuf> = HashSet::new();

    std::thread::scope(|s| -> Result<()> {
        let (job_tx, job_rx) = bounded::<Job>(512);
        let (msg_tx, msg_rx) = bounded::<Msg>(1024);

        let walker_tx = msg_tx.clone();
        let targets_ref = &targets;
        s.spawn(move || {
            let mut seen = HashSet::new();
            for (root, root_id, known) in targets_ref {
                walk::walk(root, opts.include_hidden, |item| {
                    if cancel.load(Ordering::Relaxed) {
                        return false;
                    }
                    let msg = match item {
                        walk::WalkItem::File(f) => {
                            let k = known.get(&path_to_bytes(&f.path));
                            if let Some(k) = k {
                                seen.insert(k.id);
                            }
                            let unchanged = k.is_some_and(|k| {
                                !k.missing
                                    && k.size == f.size
                                    && k.mtime_ns == f.mtime_ns
                                    && (k.thumb || !opts.thumbnails || !k.ok)
                            });
                            if unchanged {
                                Msg::Unchanged
                            } else {
                                let job = Job {
                                    file: f,
                                    root_id: *root_id,
                                    known_id: k.map(|k| k.id),
                                };
                                if job_tx.send(job).is_err() {
                                    return false;
                                }
                                Msg::Queued
                            }
                        }
                        walk::WalkItem::Error { path, message } => Msg::WalkError {
                            root_id: *root_id,
                            path,
                            message,
                        },
                    };
                    walker_tx.send(msg).is_ok()
                });
            }
            drop(job_tx);
            let _ = walker_tx.send(Msg::WalkDone(seen));
        });

        for _ in 0..opts.jobs.max(1) {
            let rx = job_rx.clone();
            let tx = msg_tx.clone();
            s.spawn(move || {
                for job in rx {
                    if cancel.load(Ordering::Relaxed) {
                        continue; // drain so the walker can finish
                    }
                    let out = examine(&job, opts);
                    if tx.send(Msg::File(out)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(job_rx);
        drop(msg_tx);

        let mut last_flush = Instant::now();
        let mut last_event = Instant::now();
        for msg in msg_rx {
            match msg {
                Msg::Unchanged => {
                    progress.seen += 1;
                    progress.unchanged += 1;
                }
                Msg::Queued => {
                    progress.seen += 1;
                    progress.queued += 1;
                }
                Msg::WalkError {
                    root_id,
                    path,
                    message,
                } => {
                    progress.failed += 1;
                    summary.walk_errors += 1;
                    send(ScanEvent::Failed {
                        path: path.clone(),
                        message: message.clone(),
                    });
                    issues.push((root_id, path, message));
                }
                Msg::WalkDone(seen) => {
                    progress.walking = false;
                    seen_ids = seen;
                }
                Msg::File(FileOutcome::NotImage) => {
                    progress.done += 1;
                    summary.not_images += 1;
                }
                Msg::File(FileOutcome::Sidecar(path, mtime_ns)) => {
                    progress.done += 1;
                    summary.not_images += 1;
                    sidecars.push((path, mtime_ns));
                }
                Msg::File(FileOutcome::Vanished(id)) => {
                    progress.done += 1;
                    vanished.extend(id);
                }
                Msg::File(FileOutcome::Record(rec, thumb_made)) => {
                    progress.done += 1;
                    if let Err(message) = &rec.meta {
                        progress.failed += 1;
                        summary.failed += 1;
                        send(ScanEvent::Failed {
                            path: rec.path.clone(),
                            message: message.clone(),
                        });
                    }
                    batch_thumbs += u64::from(thumb_made);
                    examined.insert(rec.path.clone());
                    batch.push(*rec);
                }
            }
            if batch.len() >= opts.batch
                || (!batch.is_empty() && last_flush.elapsed() > Duration::from_millis(500))
            {
                flush(store, &mut batch, &mut summary, &mut moved_ids)?;
                summary.thumbnails += std::mem::take(&mut batch_thumbs);
                last_flush = Instant::now();
            }
            if last_event.elapsed() > Duration::from_millis(100) {
                progress.elapsed_s = start.elapsed().as_secs_f64();
                send(ScanEvent::Progress(progress.clone()));
                last_event = Instant::now();
            }
        }
        flush(store, &mut batch, &mut summary, &mut moved_ids)?;
        summary.thumbnails += batch_thumbs;
        Ok(())
    })?;

    summary.cancelled = cancel.load(Ordering::Relaxed);
    if !summary.cancelled {
        // Anything known but not seen is gone, except below folders the walk could not read.
        let unreadable: Vec<&Path> = issues.iter().map(|(_, p, _)| p.as_path()).collect();
        let mut gone: Vec<i64> = vanished;
        for (root, _, known) in &targets {
            if !root.is_dir() {
                // The folder itself went away during the scan (a drive unplugged): it is
                // offline, not emptied; its photos stay as they were.
                log::warn!("library folder vanished while scanning: {}", root.display());
                summary.offline += 1;
                continue;
            }
            if watch::is_offline(root, known.values().any(|k| !k.missing)) {
                // Empty, although its photos were here: the mount folder of a drive that is
                // not mounted. Marking them missing would lose their labels on a move.
                log::warn!(
                    "library folder is empty; its drive may not be mounted; its photos are kept: {}",
                    root.display()
                );
                summary.offline += 1;
                continue;
            }
            for (path, k) in known {
                if k.missing || seen_ids.contains(&k.id) || moved_ids.contains(&k.id) {
                    continue;
                }
                let path = crate::store::path_from_bytes(path);
                if !unreadable.iter().any(|u| path.starts_with(u)) {
                    gone.push(k.id);
                }
            }
        }
        gone.sort_unstable();
        gone.dedup();
        summary.missing = gone.len() as u64;
        store.mark_missing(&gone)?;
        let known: Vec<_> = targets.iter().map(|(_, _, k)| k).collect();
        sidecars::refresh(store, &known, &sidecars, &examined)?;
        for (_, root_id, _) in &targets {
            let mine: Vec<(PathBuf, String)> = issues
                .iter()
                .filter(|(r, _, _)| r == root_id)
                .map(|(_, p, m)| (p.clone(), m.clone()))
                .collect();
            store.set_scan_issues(*root_id, &mine)?;
        }
    }
    summary.seen = progress.seen;
    summary.unchanged = progress.unchanged;
    summary.elapsed_s = start.elapsed().as_secs_f64();
    progress.walking = false;
    progress.elapsed_s = summary.elapsed_s;
    send(ScanEvent::Progress(progress));
    send(ScanEvent::Finished(summary.clone()));
    Ok(summary)
}

/// Writes a batch; rows that moved are added to `seen` (their old path is gone but the photo
/// is not).
fn flush(
    store: &mut Store,
    batch: &mut Vec<ScanRecord>,
    summary: &mut ScanSummary,
    seen: &mut HashSet<i64>,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    for (outcome, id) in store.record_scans(batch)? {
        match outcome {
            RecordOutcome::Inserted => summary.new += 1,
            RecordOutcome::Updated => summary.updated += 1,
            RecordOutcome::Moved => {
                summary.moved += 1;
                seen.insert(id);
            }
        }
    }
    batch.clear();
    Ok(())
}

fn examine(job: &Job, opts: &ScanOptions) -> FileOutcome {
    let f = &job.file;
    let record = |hash: Option<String>, meta: std::result::Result<PhotoMeta, String>, thumb| {
        FileOutcome::Record(
            Box::new(ScanRecord {
                path: f.path.clone(),
                root_id: Some(job.root_id),
                size: f.size,
                mtime_ns: f.mtime_ns,
                hash,
                meta,
                thumb,
            }),
            thumb,
        )
    };
    let mut file = match File::open(&f.path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return FileOutcome::Vanished(job.known_id);
        }
        Err(e) => return record(None, Err(format!("cannot read: {e}")), false),
    };
    let mut head = [0u8; SNIFF_LEN];
    let n = match read_up_to(&mut file, &mut head) {
        Ok(n) => n,
        Err(e) => return record(None, Err(format!("cannot read: {e}")), false),
    };
    let format = match detect::detect(&head[..n]) {
        Detected::Image(fmt) => fmt,
        other => {
            if !detect::has_image_extension(&f.path) && other == Detected::NotImage {
                if sidecars::is_sidecar(&f.path) {
                    return FileOutcome::Sidecar(f.path.clone(), f.mtime_ns);
                }
                return FileOutcome::NotImage;
            }
            let msg = match other {
                Detected::Unsupported(name) => format!("{name} images are not supported yet"),
                _ if n == 0 => "empty file (0 bytes)".to_string(),
                _ => {
                    "not an image: the content is not JPEG, PNG, WebP, GIF, TIFF or BMP".to_string()
                }
            };
            return record(None, Err(msg), false);
        }
    };
    // The hash streams; the bytes are kept only when small enough to decode.
    let content = match read::read_hashing(&mut file, &head[..n], f.size) {
        Ok(c) => c,
        Err(e) => return record(None, Err(format!("cannot read: {e}")), false),
    };
    let hash = content.hash;
    let Some(bytes) = content.bytes else {
        return record(
            Some(hash),
            Err(read::too_large(content.len).to_string()),
            false,
        );
    };
    let meta = examine_image(&bytes, format).map(|mut m| {
        m.keywords = crate::xmp::read::photo_keywords(&f.path, &bytes);
        m
    });
    let mut thumb = false;
    let meta = match meta {
        Ok(meta) if opts.thumbnails => {
            let path = thumb::thumb_path(&opts.thumbs_dir, &hash);
            if path.exists() {
                thumb = true;
                Ok(meta)
            } else {
                let shared = opts
                    .shared_thumbs
                    .as_deref()
                    .and_then(|dir| shared_thumbs::reuse(dir, &f.path, f.mtime_ns, upright(&meta)));
                let made = match shared {
                    Some(jpeg) => Ok(jpeg),
                    None => decoded_thumbnail(f, &bytes, format, &meta, opts),
                };
                match made {
                    Ok(jpeg) => {
                        match thumb::store_thumbnail(&opts.thumbs_dir, &hash, &jpeg) {
                            Ok(_) => thumb = true,
                            Err(e) => log::warn!(
                                "cannot write thumbnail: {e}: {}",
                                opts.thumbs_dir.display()
                            ),
                        }
                        Ok(meta)
                    }
                    Err(e) => Err(e),
                }
            }
        }
        other => other,
    };
    record(Some(hash), meta, thumb)
}

/// Our thumbnail of a photo decoded for it, and (when the options say so) the shared `large`
/// thumbnail other programs can reuse, made from the same decoded image.
fn decoded_thumbnail(
    f: &walk::FoundFile,
    bytes: &[u8],
    format: detect::ImageFormat,
    meta: &PhotoMeta,
    opts: &ScanOptions,
) -> std::result::Result<Vec<u8>, String> {
    let img = thumb::decode_upright(bytes, format, meta.orientation, thumb::THUMB_SIZE)?;
    if opts.write_shared_thumbs
        && let Some(dir) = &opts.shared_thumbs
    {
        let source = shared_thumbs::ThumbSource {
            path: &f.path,
            mtime_ns: f.mtime_ns,
            size: f.size,
            mime: format.mime(),
        };
        if let Err(e) = shared_thumbs::write_large(dir, source, &img) {
            log::warn!("cannot write a shared thumbnail: {e}: {}", dir.display());
        }
    }
    thumb::thumbnail_jpeg(img)
}

/// A photo's size once its EXIF orientation is applied (5 to 8 turn it a quarter).
fn upright(meta: &PhotoMeta) -> (u32, u32) {
    match meta.orientation {
        Some(5..=8) => (meta.height, meta.width),
        _ => (meta.width, meta.height),
    }
}

/// Header-level examination of a file's content in `format` (as [`detect::detect`] found it):
/// completeness, dimensions (refusing bombs), EXIF, place tags.
pub fn examine_image(
    bytes: &[u8],
    format: detect::ImageFormat,
) -> std::result::Result<PhotoMeta, String> {
    detect::check_complete(format, bytes)?;
    let (width, height) = thumb::header_dimensions(bytes, format)?;
    detect::check_format_dimensions(format, width, height)?;
    let mut meta = PhotoMeta {
        format: format.name().to_string(),
        width,
        height,
        ..Default::default()
    };
    exif::read_exif(bytes, &mut meta);
    if let (Some(lat), Some(lon)) = (meta.latitude, meta.longitude) {
        meta.places = places::place_tags(lat, lon);
    }
    Ok(meta)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
