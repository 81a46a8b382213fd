//! XMP sidecars: photolabel's tags written beside the photos, where digiKam, darktable,
//! Lightroom and ExifTool find them, and keywords those programs wrote read back at scan.
//!
//! Opt-in and non-destructive: originals are never opened for writing; a sidecar is written to
//! a temporary file in the same folder and renamed over the old one; an existing sidecar keeps
//! every field and keyword other programs put there (only our own earlier tags are replaced,
//! see [`merge`]); a sidecar that is not valid XML is left alone and reported.
//!
//! - [`dom`]: the XML tree (quick-xml) that lets us rewrite a packet without losing anything.
//! - [`merge`]: our tags into `dc:subject`, `digiKam:TagsList` and `lr:hierarchicalSubject`.
//! - [`export`]: a photo's tags from the store, and writing its sidecar ([`export::export`]).
//! - [`read`]: keywords from sidecars and embedded XMP/IPTC blocks, for the scanner.
//!
//! Main types: [`XmpOptions`] (the setting), [`Naming`].

pub mod dom;
pub mod embedded;
pub mod export;
pub mod merge;
pub mod read;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// RDF's namespace.
pub const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// Dublin Core (`dc:subject`: flat keywords).
pub const DC_NS: &str = "http://purl.org/dc/elements/1.1/";
/// digiKam's namespace (`digiKam:TagsList`: `a/b/c` paths).
pub const DIGIKAM_NS: &str = "http://www.digikam.org/ns/1.0/";
/// Lightroom's namespace (`lr:hierarchicalSubject`: `a|b|c` paths).
pub const LR_NS: &str = "http://ns.adobe.com/lightroom/1.0/";
/// photolabel's own namespace: `photolabel:subjects` lists the `dc:subject` words we added.
pub const OUR_NS: &str = "urn:photolabel:xmp:1.0:";
/// The root of our hierarchical keywords (`photolabel/animal/pet/dog`).
pub const ROOT_TAG: &str = "photolabel";

/// How a sidecar is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Naming {
    /// `photo.jpg.xmp` (digiKam, darktable).
    #[default]
    Ext,
    /// `photo.xmp` (Lightroom, some others).
    Replace,
}

/// The sidecar setting: off by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct XmpOptions {
    /// Write a photo's sidecar as soon as it is labelled.
    pub write_on_label: bool,
    pub naming: Naming,
    /// Model tags below this confidence are not written (user tags always are).
    pub min_confidence: f32,
}

impl Default for XmpOptions {
    fn default() -> Self {
        XmpOptions {
            write_on_label: false,
            naming: Naming::Ext,
            min_confidence: 0.5,
        }
    }
}

/// The sidecar of `photo` under `naming`.
pub fn sidecar_path(photo: &Path, naming: Naming) -> PathBuf {
    match naming {
        Naming::Ext => {
            let mut s = photo.as_os_str().to_os_string();
            s.push(".xmp");
            PathBuf::from(s)
        }
        Naming::Replace => photo.with_extension("xmp"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_names() {
        let p = Path::new("/a/IMG_1.JPG");
        assert_eq!(sidecar_path(p, Naming::Ext), Path::new("/a/IMG_1.JPG.xmp"));
        assert_eq!(sidecar_path(p, Naming::Replace), Path::new("/a/IMG_1.xmp"));
    }

    #[test]
    fn options_from_an_older_build_load_with_defaults() {
        let o: XmpOptions = serde_json::from_str(r#"{"naming":"replace"}"#).unwrap();
        assert_eq!(o.naming, Naming::Replace);
        assert!(!o.write_on_label);
        assert_eq!(o.min_confidence, 0.5);
    }
}
