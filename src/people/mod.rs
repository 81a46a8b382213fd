//! People: recognising the same person across the library. Faces found by MTCNN are embedded
//! by [`crate::zoo::faceres`]; this module holds what is done with the embeddings, apart from
//! any model: incremental grouping ([`cluster`], run on the store by [`grouping`]),
//! verification and grouping figures ([`verify`]) over a folder of known faces ([`faceset`]),
//! and the operations the CLI and the app share ([`service`]).

pub mod cluster;
pub mod faceset;
pub mod grouping;
pub mod service;
pub mod verify;

use crate::zoo::mtcnn::Face;

/// Side (pixels) from which a face counts as fully sharp for grouping.
pub const SHARP_FACE_SIDE: f32 = 64.0;

/// A face's quality for grouping, 0..1: the detector's score times the face's size (shorter
/// side of its box over [`SHARP_FACE_SIDE`], at most 1). Small faces give noisy descriptors;
/// below [`cluster::Params::min_quality`] they wait as unsorted.
pub fn quality(face: &Face) -> f32 {
    let side = (face.xyxy[2] - face.xyxy[0]).min(face.xyxy[3] - face.xyxy[1]);
    (side / SHARP_FACE_SIDE).clamp(0.0, 1.0) * face.score.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_or_doubtful_faces_have_low_quality() {
        assert_eq!(quality(&Face::new([0.0, 0.0, 100.0, 120.0], 1.0)), 1.0);
        assert!((quality(&Face::new([0.0, 0.0, 32.0, 40.0], 1.0)) - 0.5).abs() < 1e-6);
        assert!((quality(&Face::new([0.0, 0.0, 100.0, 100.0], 0.9)) - 0.9).abs() < 1e-6);
    }
}
