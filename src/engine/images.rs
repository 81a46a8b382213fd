//! The image thread: decodes cached thumbnails for the grid and full images for the detail
//! view, off the GUI thread. The grid sends the complete list of thumbnails it wants each time
//! its viewport changes; the newest list replaces the old one, so scrolling fast through
//! 100,000 photos never builds a backlog. A full image always goes before thumbnails.

use std::collections::VecDeque;
use std::path::Path;

use crossbeam_channel::{Receiver, RecvError};
use image::imageops::FilterType;

use super::EventSink;
use super::command::{Command, DecodedImage, Event, ThumbRequest};
use crate::scan::detect::{Detected, SNIFF_LEN, detect};
use crate::scan::thumb::decode_upright;

/// Longest side of a full image sent to the GUI (textures beyond this cost memory for nothing
/// on a screen).
pub(crate) const FULL_IMAGE_MAX_SIDE: u32 = 2048;

struct FullJob {
    photo_id: i64,
    path: std::path::PathBuf,
    orientation: Option<u16>,
}

pub(crate) fn spawn(rx: Receiver<Command>, sink: EventSink) {
    let spawned = std::thread::Builder::new()
        .name("photolabel-images".into())
        .spawn(move || run(&rx, &sink));
    if let Err(e) = spawned {
        log::error!("cannot start the image thread: {e}");
    }
}

fn run(rx: &Receiver<Command>, sink: &EventSink) {
    let mut thumbs: VecDeque<ThumbRequest> = VecDeque::new();
    let mut full: Option<FullJob> = None;
    loop {
        if thumbs.is_empty() && full.is_none() {
            match rx.recv() {
                Ok(cmd) => apply(cmd, &mut thumbs, &mut full),
                Err(RecvError) => return,
            }
        }
        while let Ok(cmd) = rx.try_recv() {
            apply(cmd, &mut thumbs, &mut full);
        }
        let ev = if let Some(job) = full.take() {
            Event::Image {
                photo_id: job.photo_id,
                image: decode_full(&job.path, job.orientation),
            }
        } else if let Some(t) = thumbs.pop_front() {
            Event::Thumbnail {
                photo_id: t.photo_id,
                image: decode_thumb(&t.path),
            }
        } else {
            continue;
        };
        if !sink.send(ev) {
            return;
        }
    }
}

fn apply(cmd: Command, thumbs: &mut VecDeque<ThumbRequest>, full: &mut Option<FullJob>) {
    match cmd {
        Command::WantThumbnails(list) => *thumbs = list.into(),
        Command::LoadImage {
            photo_id,
            path,
            orientation,
        } => {
            *full = Some(FullJob {
                photo_id,
                path,
                orientation,
            })
        }
        other => log::warn!("image thread got a command it does not handle: {other:?}"),
    }
}

fn to_decoded(img: image::DynamicImage) -> DecodedImage {
    let rgba = img.to_rgba8();
    let (width, height) = rgba.dimensions();
    DecodedImage {
        width,
        height,
        rgba: rgba.into_raw(),
    }
}

/// Decodes a cached thumbnail file.
pub fn decode_thumb(path: &Path) -> Result<DecodedImage, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read thumbnail: {e}"))?;
    let img = image::load_from_memory(&bytes).map_err(|e| format!("bad thumbnail: {e}"))?;
    Ok(to_decoded(img))
}

/// Decodes a photo upright (EXIF orientation applied), at most [`FULL_IMAGE_MAX_SIDE`] a side.
pub fn decode_full(path: &Path, orientation: Option<u16>) -> Result<DecodedImage, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the photo: {e}"))?;
    let head = bytes.get(..SNIFF_LEN.min(bytes.len())).unwrap_or(&[]);
    let format = match detect(head) {
        Detected::Image(f) => f,
        Detected::Unsupported(name) => return Err(format!("{name} images cannot be shown")),
        Detected::NotImage => return Err("not an image".into()),
    };
    let img = decode_upright(&bytes, format, orientation, FULL_IMAGE_MAX_SIDE)?;
    let img = if img.width().max(img.height()) > FULL_IMAGE_MAX_SIDE {
        img.resize(
            FULL_IMAGE_MAX_SIDE,
            FULL_IMAGE_MAX_SIDE,
            FilterType::Triangle,
        )
    } else {
        img
    };
    Ok(to_decoded(img))
}
