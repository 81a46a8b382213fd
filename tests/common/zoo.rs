//! Helpers of the model-zoo integration tests (`tests/zoo.rs`, `tests/zoo_tfjs.rs`): the
//! skip switch, the shared weight cache, the shared photos and the wgpu device.

use std::path::{Path, PathBuf};

use photolabel::zoo::device::{self, DeviceChoice};

/// Whether `PHOTOLABEL_SKIP_MODEL_TESTS=1` asks to skip `test` (it says so).
pub fn skip(test: &str) -> bool {
    let skip = std::env::var("PHOTOLABEL_SKIP_MODEL_TESTS").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("{test}: skipped (PHOTOLABEL_SKIP_MODEL_TESTS=1)");
    }
    skip
}

/// The weight cache every zoo test fetches into (under the cargo target dir).
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("zoo-cache")
}

/// `../shared/photos`, or `PHOTOLABEL_PHOTOS`.
pub fn photos_dir() -> PathBuf {
    match std::env::var_os("PHOTOLABEL_PHOTOS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/photos"),
    }
}

/// The wgpu device (lavapipe without a GPU), or `None` (said why) when no adapter starts;
/// `PHOTOLABEL_REQUIRE_WGPU=1` makes a missing adapter a failure.
pub fn wgpu_device(test: &str) -> Option<device::SelectedDevice> {
    match device::select_with(DeviceChoice::Wgpu) {
        Ok(d) => Some(d),
        Err(e) if std::env::var("PHOTOLABEL_REQUIRE_WGPU").is_ok_and(|v| v == "1") => {
            panic!("PHOTOLABEL_REQUIRE_WGPU=1 but {e:#}")
        }
        Err(e) => {
            eprintln!("{test}: skipped, no wgpu adapter: {e:#}");
            None
        }
    }
}
