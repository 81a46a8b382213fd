//! Converted weights: the verified source file of a hand-written burn network (PyTorch `.pth`,
//! or ONNX initializers for NudeNet and MTCNN) is converted once into burn's native burnpack
//! format, cached next to it as `CACHE/models/ID/ID.bpk`, and later loads read that instead.
//!
//! The burnpack carries a tag in its metadata: the model id, the sha256 of the source file it
//! was converted from (the manifest's `sha256`, which loading has just verified the source
//! against) and [`CONVERTER_VERSION`]. A burnpack whose tag does not match, or that cannot be
//! read or applied (truncated, corrupt header, wrong shapes, missing tensors), is never an
//! error: it is logged and the model is converted again from the verified source, and the file
//! rewritten. Writing goes to a unique temporary file renamed into place, so a reader never
//! sees a half-written burnpack.
//!
//! What is not checked: the burnpack's tensor bytes are not hashed (that would cost as much as
//! hashing the source), so a bit flip inside tensor data that keeps the file's size and
//! structure would go unnoticed. The source file is still sha256-checked on every load.
//!
//! The ONNX graph-executor models ([`super::graph`]) are not converted: ONNX is already a
//! runtime format whose graph the executor needs anyway, see `models/README.md`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use burn::module::Module;
use burn::store::burn_pack::Reader;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;

use super::manifest::ModelSpec;
use crate::error::{Error, Result};

/// Version of the source → burnpack conversion. Bump it whenever a network's layout, a key
/// mapping or a layout transform changes, so cached burnpacks are converted again.
pub const CONVERTER_VERSION: u32 = 2;

/// Metadata key: the manifest id the burnpack was converted for.
pub const META_MODEL: &str = "photolabel.model";
/// Metadata key: sha256 of the source weight file.
pub const META_SOURCE_SHA256: &str = "photolabel.source_sha256";
/// Metadata key: [`CONVERTER_VERSION`] at conversion time.
pub const META_CONVERTER: &str = "photolabel.converter";

/// Weight ids (manifest ids) whose source is converted to a burnpack.
pub const CONVERTED_IDS: &[&str] = &[
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "mobilenet_v2",
    "nudenet_320n",
    "mtcnn_pnet",
    "mtcnn_rnet",
    "mtcnn_onet",
];

/// Whether the weights of manifest id `id` are converted to a burnpack.
pub fn is_converted(id: &str) -> bool {
    CONVERTED_IDS.contains(&id)
}

/// What a burnpack is expected to say about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub model: String,
    pub source_sha256: String,
    pub converter: u32,
}

impl Tag {
    /// The tag for `spec` under this build's converter.
    pub fn for_spec(spec: &ModelSpec) -> Self {
        Tag {
            model: spec.id.clone(),
            source_sha256: spec.sha256.clone(),
            converter: CONVERTER_VERSION,
        }
    }
}

/// Where the burnpack of a source weight file at `source` for model `id` lives (same folder).
pub fn burnpack_path_for(source: &Path, id: &str) -> PathBuf {
    source.with_file_name(format!("{id}.bpk"))
}

/// Where `spec`'s burnpack lives in the cache: `CACHE/models/ID/ID.bpk`.
pub fn burnpack_path(cache_dir: &Path, spec: &ModelSpec) -> PathBuf {
    burnpack_path_for(&super::weights::weight_path(cache_dir, spec), &spec.id)
}

/// State of a burnpack file, judged from its header and metadata only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Present, readable, tagged for the expected source and converter.
    Fresh,
    /// No file.
    Missing,
    /// Present but unusable: why (unreadable, truncated, or tagged for another source or
    /// converter).
    Stale(String),
}

/// Checks the burnpack at `path` against `want` without reading tensor data.
pub fn status(path: &Path, want: &Tag) -> Status {
    if !path.is_file() {
        return Status::Missing;
    }
    let reader = match Reader::from_file_exact(path) {
        Ok(r) => r,
        Err(e) => return Status::Stale(format!("unreadable: {e}")),
    };
    let meta = reader.metadata();
    let get = |k: &str| meta.get(k).map(String::as_str).unwrap_or("(none)");
    if get(META_MODEL) != want.model {
        return Status::Stale(format!(
            "converted for model {}, not {}",
            get(META_MODEL),
            want.model
        ));
    }
    if get(META_SOURCE_SHA256) != want.source_sha256 {
        return Status::Stale(format!(
            "converted from source sha256 {}, the source is now {}",
            get(META_SOURCE_SHA256),
            want.source_sha256
        ));
    }
    if get(META_CONVERTER) != want.converter.to_string() {
        return Status::Stale(format!(
            "converter version {}, this build's is {}",
            get(META_CONVERTER),
            want.converter
        ));
    }
    Status::Fresh
}

/// Where a [`load_or_convert_tagged`] got its weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Read from a fresh burnpack.
    Burnpack,
    /// Converted from the source; `rewritten` says whether the burnpack was (re)written (a
    /// failed write is logged and does not fail the load), `reason` why the burnpack was not
    /// used.
    Converted { reason: String, rewritten: bool },
}

/// Builds a network for `spec` from its burnpack next to `source` if that is fresh, else from
/// the source (`from_source`), then writes the burnpack. `empty` builds the network with
/// placeholder parameters for the burnpack to fill. `source` must already be verified.
pub fn load_or_convert<M: Module>(
    spec: &ModelSpec,
    source: &Path,
    empty: impl FnOnce() -> M,
    from_source: impl FnOnce() -> Result<M>,
) -> Result<M> {
    load_or_convert_tagged(&Tag::for_spec(spec), source, empty, from_source).map(|(m, _)| m)
}

/// [`load_or_convert`] with an explicit tag, also saying where the weights came from.
pub fn load_or_convert_tagged<M: Module>(
    tag: &Tag,
    source: &Path,
    empty: impl FnOnce() -> M,
    from_source: impl FnOnce() -> Result<M>,
) -> Result<(M, Origin)> {
    let bpk = burnpack_path_for(source, &tag.model);
    let reason = match status(&bpk, tag) {
        Status::Fresh => match read(&bpk, empty) {
            Ok(net) => return Ok((net, Origin::Burnpack)),
            Err(e) => format!("unusable: {e}"),
        },
        Status::Missing => "not converted yet".to_owned(),
        Status::Stale(why) => why,
    };
    if bpk.exists() {
        log::warn!(
            "model {}: converted weights {} {reason}; converting again from {}",
            tag.model,
            bpk.display(),
            source.display()
        );
    } else {
        log::info!(
            "model {}: converting {} to {}",
            tag.model,
            source.display(),
            bpk.display()
        );
    }
    let net = from_source()?;
    let rewritten = match write(&bpk, &net, tag) {
        Ok(()) => true,
        Err(e) => {
            log::warn!(
                "model {}: cannot write converted weights {}: {e}",
                tag.model,
                bpk.display()
            );
            false
        }
    };
    Ok((net, Origin::Converted { reason, rewritten }))
}

/// Fills `empty()` from the burnpack at `path`; every parameter must come from the file.
/// A panic inside burn-store (malformed data) is caught and reported as an error.
///
/// The file is read into memory first: burn-store's file mode leaves tensor data file-backed
/// and reads it by path at first use (panicking if the file is gone or changed by then), which
/// would move I/O failures from here into inference.
fn read<M: Module>(path: &Path, empty: impl FnOnce() -> M) -> std::result::Result<M, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let run = || -> std::result::Result<M, String> {
        let mut net = empty();
        let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(data)))
            .allow_partial(false)
            .validate(true);
        let result = net.load_from(&mut store).map_err(|e| e.to_string())?;
        if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
            return Err(format!(
                "{} errors, {} missing, {} unused tensors",
                result.errors.len(),
                result.missing.len(),
                result.unused.len()
            ));
        }
        Ok(net)
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err("reading it panicked".to_owned()))
}

/// Writes `net` as a burnpack tagged with `tag` to `path`: a unique temporary file in the same
/// folder, renamed into place.
pub fn write<M: Module>(path: &Path, net: &M, tag: &Tag) -> Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = path.with_extension(format!(
        "bpk.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let mut store = BurnpackStore::from_file(&tmp)
        .auto_extension(false)
        .overwrite(true)
        .metadata(META_MODEL, tag.model.as_str())
        .metadata(META_SOURCE_SHA256, tag.source_sha256.as_str())
        .metadata(META_CONVERTER, tag.converter.to_string());
    let fail = |msg: String| Error::WeightsLoad {
        model: tag.model.clone(),
        msg: format!("writing {}: {msg}", tmp.display()),
    };
    if let Err(e) = net.save_into(&mut store) {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e.to_string()));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("moving converted weights into place", path, e)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::prelude::*;
    use burn::tensor::TensorData;

    fn dev() -> Device {
        crate::zoo::device::select_with(crate::zoo::device::DeviceChoice::Cpu)
            .unwrap()
            .device
    }

    /// Whether a load converted the source and rewrote the burnpack.
    fn reconverted(origin: &Origin) -> bool {
        matches!(
            origin,
            Origin::Converted {
                rewritten: true,
                ..
            }
        )
    }

    /// A "source" network with known, non-zero weights (what a converter would produce).
    fn source_net(dev: &Device) -> Linear {
        let mut net = LinearConfig::new(3, 2).init(dev);
        let w: Vec<f32> = (0..6).map(|i| i as f32 * 0.25 - 0.5).collect();
        net.weight = net
            .weight
            .map(|_| Tensor::from_data(TensorData::new(w.clone(), [3, 2]), dev));
        net.bias = net
            .bias
            .map(|b| b.map(|_| Tensor::from_data(TensorData::new(vec![0.1f32, -0.2], [2]), dev)));
        net
    }

    fn empty_net(dev: &Device) -> Linear {
        LinearConfig::new(3, 2)
            .with_initializer(burn::module::Initializer::Zeros)
            .init(dev)
    }

    fn out(net: &Linear, dev: &Device) -> Vec<f32> {
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), dev);
        net.forward(x).into_data().try_to_vec::<f32>().unwrap()
    }

    fn tag(sha: &str, converter: u32) -> Tag {
        Tag {
            model: "toy".to_owned(),
            source_sha256: sha.to_owned(),
            converter,
        }
    }

    /// Loads through [`load_or_convert_tagged`], counting calls of the source converter.
    fn load(source: &Path, tag: &Tag, dev: &Device, conversions: &mut u32) -> (Linear, Origin) {
        load_or_convert_tagged(
            tag,
            source,
            || empty_net(dev),
            || {
                *conversions += 1;
                Ok(source_net(dev))
            },
        )
        .unwrap()
    }

    #[test]
    fn first_load_converts_second_reads_burnpack() {
        let dev = dev();
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("toy.pth");
        std::fs::write(&source, b"source").unwrap();
        let bpk = burnpack_path_for(&source, "toy");
        let t = tag("aa", CONVERTER_VERSION);
        let mut n = 0;
        assert_eq!(status(&bpk, &t), Status::Missing);
        let (a, origin) = load(&source, &t, &dev, &mut n);
        assert!(reconverted(&origin), "{origin:?}");
        assert_eq!(n, 1);
        assert_eq!(status(&bpk, &t), Status::Fresh);
        let (b, origin) = load(&source, &t, &dev, &mut n);
        assert_eq!(origin, Origin::Burnpack);
        assert_eq!(n, 1, "the second load must not touch the source");
        assert_eq!(out(&a, &dev), out(&b, &dev));
        assert_ne!(
            out(&b, &dev),
            vec![0.0, 0.0],
            "weights came from the burnpack"
        );
        // No temporary file left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn truncated_or_garbage_burnpack_is_reconverted_and_rewritten() {
        let dev = dev();
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("toy.pth");
        let bpk = burnpack_path_for(&source, "toy");
        let t = tag("aa", CONVERTER_VERSION);
        let mut n = 0;
        let (want, _) = load(&source, &t, &dev, &mut n);
        let full = std::fs::read(&bpk).unwrap();
        for bad in [
            &full[..full.len() - 8],
            &full[..full.len() / 2],
            &b"junk"[..],
            &[][..],
        ] {
            std::fs::write(&bpk, bad).unwrap();
            assert!(matches!(status(&bpk, &t), Status::Stale(_)));
            let before = n;
            let (net, origin) = load(&source, &t, &dev, &mut n);
            assert!(reconverted(&origin), "{origin:?}");
            assert_eq!(n, before + 1);
            assert_eq!(out(&net, &dev), out(&want, &dev));
            // Rewritten in full (not byte-identical: burnpack stores each parameter's random
            // id), and used by the next load.
            assert_eq!(status(&bpk, &t), Status::Fresh);
            assert!(std::fs::metadata(&bpk).unwrap().len() > bad.len() as u64);
            let (again, origin) = load(&source, &t, &dev, &mut n);
            assert_eq!(origin, Origin::Burnpack);
            assert_eq!(out(&again, &dev), out(&want, &dev));
        }
    }

    #[test]
    fn changed_source_sha_or_converter_version_reconverts() {
        let dev = dev();
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("toy.pth");
        let bpk = burnpack_path_for(&source, "toy");
        let mut n = 0;
        load(&source, &tag("aa", CONVERTER_VERSION), &dev, &mut n);
        assert_eq!(n, 1);
        let (_, origin) = load(&source, &tag("bb", CONVERTER_VERSION), &dev, &mut n);
        match origin {
            Origin::Converted { reason, rewritten } => {
                assert!(rewritten);
                assert!(reason.contains("source sha256 aa"), "{reason}");
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(n, 2);
        assert_eq!(status(&bpk, &tag("bb", CONVERTER_VERSION)), Status::Fresh);
        let (_, origin) = load(&source, &tag("bb", CONVERTER_VERSION + 1), &dev, &mut n);
        match origin {
            Origin::Converted { reason, .. } => assert!(reason.contains("converter"), "{reason}"),
            o => panic!("{o:?}"),
        }
        assert_eq!(n, 3);
        assert_eq!(
            load(&source, &tag("bb", CONVERTER_VERSION + 1), &dev, &mut n).1,
            Origin::Burnpack
        );
        // A burnpack of another model at this path is not used either.
        let other = Tag {
            model: "other".to_owned(),
            ..tag("bb", CONVERTER_VERSION + 1)
        };
        assert!(matches!(status(&bpk, &other), Status::Stale(_)));
    }

    #[test]
    fn unwritable_cache_still_loads_from_source() {
        let dev = dev();
        let dir = tempfile::tempdir().unwrap();
        // The burnpack's folder does not exist, so writing fails.
        let source = dir.path().join("gone").join("toy.pth");
        let mut n = 0;
        let (net, origin) = load(&source, &tag("aa", CONVERTER_VERSION), &dev, &mut n);
        assert!(
            matches!(
                origin,
                Origin::Converted {
                    rewritten: false,
                    ..
                }
            ),
            "{origin:?}"
        );
        assert_eq!(out(&net, &dev), out(&source_net(&dev), &dev));
    }

    #[test]
    fn wrong_shapes_in_burnpack_are_reconverted() {
        let dev = dev();
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("toy.pth");
        let bpk = burnpack_path_for(&source, "toy");
        let t = tag("aa", CONVERTER_VERSION);
        // A well-formed, correctly tagged burnpack of a different network.
        write(&bpk, &LinearConfig::new(4, 2).init(&dev), &t).unwrap();
        assert_eq!(status(&bpk, &t), Status::Fresh);
        let mut n = 0;
        let (net, origin) = load(&source, &t, &dev, &mut n);
        assert!(matches!(origin, Origin::Converted { .. }), "{origin:?}");
        assert_eq!(out(&net, &dev), out(&source_net(&dev), &dev));
        assert_eq!(load(&source, &t, &dev, &mut n).1, Origin::Burnpack);
    }
}
