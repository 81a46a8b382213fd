//! A folder of photos with known identities (`identities.csv`: `file,person`, one face per
//! photo that matters), the ground truth that face embeddings and grouping are measured on
//! (`examples/faces.rs`, `tests/people.rs`). The photos are read where they are (the shared
//! set is never copied into the repository); [`main_face`] picks the face a portrait is of.
//! Main type: [`FaceSet`].

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::zoo::mtcnn::Face;

/// Photos and who they show, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceSet {
    pub dir: PathBuf,
    /// `(file name, person)`.
    pub photos: Vec<(String, String)>,
}

impl FaceSet {
    /// Reads `dir/identities.csv` (a header line, then `file,person`).
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("identities.csv");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io("reading identities", &path, e))?;
        let mut photos = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some((file, person)) = line.split_once(',') else {
                return Err(Error::Model(format!(
                    "{}: line {} is not file,person",
                    path.display(),
                    i + 1
                )));
            };
            photos.push((file.trim().to_owned(), person.trim().to_owned()));
        }
        Ok(FaceSet {
            dir: dir.to_path_buf(),
            photos,
        })
    }

    /// Number of distinct people.
    pub fn people(&self) -> usize {
        let mut p: Vec<&str> = self.photos.iter().map(|(_, p)| p.as_str()).collect();
        p.sort_unstable();
        p.dedup();
        p.len()
    }
}

/// The face a portrait is of: the largest box among `faces` (`None` when there is none).
pub fn main_face(faces: &[Face]) -> Option<Face> {
    let area = |f: &Face| (f.xyxy[2] - f.xyxy[0]) * (f.xyxy[3] - f.xyxy[1]);
    faces
        .iter()
        .copied()
        .max_by(|a, b| area(a).total_cmp(&area(b)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn identities_are_read_and_the_largest_face_is_the_main_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("identities.csv"),
            "file,person\na.jpg,p1\nb.jpg, p2\n\nc.jpg,p1\n",
        )
        .unwrap();
        let set = FaceSet::read(dir.path()).unwrap();
        assert_eq!(set.photos.len(), 3);
        assert_eq!(set.photos[1], ("b.jpg".to_owned(), "p2".to_owned()));
        assert_eq!(set.people(), 2);
        std::fs::write(dir.path().join("identities.csv"), "file,person\nbad\n").unwrap();
        assert!(FaceSet::read(dir.path()).is_err());

        let small = Face::new([0.0, 0.0, 10.0, 10.0], 0.99);
        let big = Face::new([0.0, 0.0, 50.0, 40.0], 0.9);
        assert_eq!(main_face(&[small, big]), Some(big));
        assert_eq!(main_face(&[]), None);
    }
}
