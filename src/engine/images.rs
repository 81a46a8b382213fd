//! The image thread: decodes cached thumbnails for the grid and full images for the detail
//! view, off the GUI thread. The grid sends the complete list of thumbnails it wants each time
//! its viewport changes; the newest list replaces the old one, so scrolling fast through
//! 100,000 photos never builds a backlog. A full image always goes before thumbnails, and
//! thumbnails before the face crops of the People view (same rule: the latest list wins).

use std::collections::VecDeque;
use std::path::Path;

use crossbeam_channel::{Receiver, RecvError};
use image::imageops::FilterType;

use super::EventSink;
use super::command::{Command, DecodedImage, Event, FaceCropRequest, ThumbRequest};
use crate::scan::detect::{Detected, SNIFF_LEN, detect};
use crate::scan::thumb::decode_upright;

/// Longest side of a full image sent to the GUI (textures beyond this cost memory for nothing
/// on a screen).
pub(crate) const FULL_IMAGE_MAX_SIDE: u32 = 2048;
/// Longest side a photo is decoded at for its face crops (faces of a group photo stay sharp).
const FACE_DECODE_SIDE: u32 = 1024;
/// Side of a face crop (square, pixels).
pub(crate) const FACE_CROP_SIDE: u32 = 160;
/// A face crop shows this much of the photo around the face box (each side, box widths).
const FACE_MARGIN: f32 = 0.25;

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
    let mut q = Queues::default();
    loop {
        if q.thumbs.is_empty() && q.full.is_none() && q.faces.is_empty() {
            match rx.recv() {
                Ok(cmd) => q.apply(cmd),
                Err(RecvError) => return,
            }
        }
        while let Ok(cmd) = rx.try_recv() {
            q.apply(cmd);
        }
        let Queues {
            thumbs,
            full,
            faces,
        } = &mut q;
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
        } else if let Some(f) = faces.pop_front() {
            Event::FaceCrop {
                face_id: f.face_id,
                image: decode_face(&f),
            }
        } else {
            continue;
        };
        if !sink.send(ev) {
            return;
        }
    }
}

/// What the thread has to do, most urgent first.
#[derive(Default)]
struct Queues {
    full: Option<FullJob>,
    thumbs: VecDeque<ThumbRequest>,
    faces: VecDeque<FaceCropRequest>,
}

impl Queues {
    fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::WantThumbnails(list) => self.thumbs = list.into(),
            Command::WantFaceCrops(list) => self.faces = list.into(),
            Command::LoadImage {
                photo_id,
                path,
                orientation,
            } => {
                self.full = Some(FullJob {
                    photo_id,
                    path,
                    orientation,
                })
            }
            other => log::warn!("image thread got a command it does not handle: {other:?}"),
        }
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

/// Decodes the square around a face (its box and a margin, clipped to the photo), upright, at
/// [`FACE_CROP_SIDE`] pixels a side at most.
pub fn decode_face(req: &FaceCropRequest) -> Result<DecodedImage, String> {
    let bytes = std::fs::read(&req.path).map_err(|e| format!("cannot read the photo: {e}"))?;
    let head = bytes.get(..SNIFF_LEN.min(bytes.len())).unwrap_or(&[]);
    let format = match detect(head) {
        Detected::Image(f) => f,
        Detected::Unsupported(name) => return Err(format!("{name} images cannot be shown")),
        Detected::NotImage => return Err("not an image".into()),
    };
    let img = decode_upright(&bytes, format, req.orientation, FACE_DECODE_SIDE)?;
    let (w, h) = (img.width() as f32, img.height() as f32);
    let [x, y, bw, bh] = req.bbox;
    // A square on the face's centre, its side the longer side of the box plus the margins.
    let side = (bw * w).max(bh * h) * (1.0 + 2.0 * FACE_MARGIN);
    let side = side.min(w).min(h).max(1.0);
    let (cx, cy) = ((x + bw / 2.0) * w, (y + bh / 2.0) * h);
    let left = (cx - side / 2.0).clamp(0.0, (w - side).max(0.0));
    let top = (cy - side / 2.0).clamp(0.0, (h - side).max(0.0));
    let crop = img.crop_imm(left as u32, top as u32, side as u32, side as u32);
    let crop = if crop.width().max(crop.height()) > FACE_CROP_SIDE {
        crop.resize(FACE_CROP_SIDE, FACE_CROP_SIDE, FilterType::Triangle)
    } else {
        crop
    };
    Ok(to_decoded(crop))
}
