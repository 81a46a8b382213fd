//! Sidecar export rate: photos per second that `photolabel export-xmp` writes, on generated
//! photos with tags (a few model labels and a user tag each). Four passes: new sidecars; the
//! same tags again (parse + merge + compare, nothing rewritten); changed tags (every sidecar
//! rewritten); changed tags into sidecars another program changed too (foreign fields kept).
//!
//! ```sh
//! cargo run --release --example xmp_export_rate -- 200
//! ```

use std::sync::atomic::AtomicBool;

use photolabel::fixtures;
use photolabel::scan::{self, ScanOptions};
use photolabel::store::{NewLabel, Store};
use photolabel::xmp::{Naming, XmpOptions, export, sidecar_path};

const CLASSES: [&str; 6] = [
    "Golden Retriever",
    "tabby cat",
    "sports car",
    "daisy",
    "seashore",
    "pizza",
];

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("photos");
    let paths = fixtures::generate_library(&root, n, (64, 48))?;
    let mut store = Store::open(&dir.path().join("library.sqlite"))?;
    let mut opts = ScanOptions::new(dir.path().join("thumbs"));
    opts.thumbnails = false;
    scan::scan(&mut store, &[root], &opts, None, &AtomicBool::new(false))?;
    for (i, p) in paths.iter().enumerate() {
        let p = std::fs::canonicalize(p)?;
        let Some(photo) = store.photo_by_path(&p)? else {
            anyhow::bail!("not scanned: {}", p.display());
        };
        let labels: Vec<NewLabel> = (0..3)
            .map(|k| NewLabel {
                label: CLASSES[(i + k) % CLASSES.len()].into(),
                model: "efficientnet_lite0".into(),
                confidence: 0.9 - 0.2 * k as f32,
                bbox: None,
            })
            .collect();
        store.write_photo_results(photo.id, &labels, &[], false)?;
        store.add_user_label(photo.id, &format!("album {}", i % 7))?;
    }
    let photos = export::photos_under(&store, &[])?;
    let xmp = XmpOptions::default();
    let pass = |store: &Store, name: &str| -> anyhow::Result<()> {
        let r = export::export(store, &photos, &xmp)?;
        anyhow::ensure!(r.failed.is_empty(), "failures: {:?}", r.failed);
        let n = r.written + r.unchanged;
        println!(
            "{name:<34} {:>5} photos ({:>5} rewritten) in {:.3} s: {:>7.0} photos/s",
            n,
            r.written,
            r.elapsed_s,
            n as f64 / r.elapsed_s.max(1e-9)
        );
        Ok(())
    };
    let retag = |store: &mut Store, tag: &str| -> anyhow::Result<()> {
        for p in &photos {
            store.add_user_label(p.id, tag)?;
        }
        Ok(())
    };
    pass(&store, "new sidecars")?;
    pass(&store, "same tags again (no rewrite)")?;
    retag(&mut store, "reviewed")?;
    pass(&store, "changed tags into our own")?;
    retag(&mut store, "printed")?;
    for p in &photos {
        let foreign = std::fs::read_to_string(sidecar_path(&p.path, Naming::Ext))?.replace(
            "<rdf:Description rdf:about=\"\"",
            "<rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" \
             xmp:Rating=\"4\"",
        );
        std::fs::write(sidecar_path(&p.path, Naming::Ext), foreign)?;
    }
    pass(&store, "changed tags into foreign sidecars")?;
    Ok(())
}
