//! People: recognising the same person across the library. Faces found by MTCNN are embedded
//! by [`crate::zoo::faceres`]; this module holds what is done with the embeddings, apart from
//! any model: verification figures ([`verify`]) over a folder of known faces ([`faceset`]).

pub mod faceset;
pub mod verify;
