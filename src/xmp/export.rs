//! Exporting a photo's tags to its XMP sidecar: which tags (the vocabulary's friendly tags and
//! categories of its labels, user tags always, model tags at or above a confidence), their
//! category paths for the hierarchical fields, and the careful write (parse the old sidecar,
//! merge, temporary file in the same folder, rename). Used by `photolabel export-xmp` and by
//! labelling when "Write XMP sidecars" is on.
//!
//! Main items: [`photo_tags`], [`write_sidecar`], [`export`] and its [`ExportReport`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::merge::{self, OurTags};
use super::{Naming, XmpOptions, dom, sidecar_path};
use crate::error::{Error, Result};
use crate::store::{KeywordOrigin, Photo, PhotoStatus, Store};
use crate::vocab::{ExtraParents, TagKind};

/// A new sidecar before our tags are merged in.
const TEMPLATE: &str = "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"photolabel\">\n \
<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n  \
<rdf:Description rdf:about=\"\"/>\n \
</rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>\n";

/// Most category paths written for one tag (a tag under many categories).
const MAX_PATHS_PER_TAG: usize = 16;

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExportReport {
    /// Sidecars written.
    pub written: usize,
    /// Sidecars that already held exactly these tags (not rewritten).
    pub unchanged: usize,
    /// Photos with no tags to write and no sidecar to update.
    pub skipped: usize,
    /// Photos whose sidecar could not be written, with why (the others went on).
    pub failed: Vec<(PathBuf, String)>,
    pub elapsed_s: f64,
}

/// The tags of a photo to write: its friendly tags, categories and rule tags (raw model
/// classes and keywords imported from other programs left out), model tags only at or above
/// `min_confidence`, user tags always; each with its category paths from the top down.
pub fn photo_tags(store: &Store, photo_id: i64, min_confidence: f32) -> Result<OurTags> {
    let vocab = store.vocabulary();
    let rows = store.photo_tags_for(photo_id)?;
    let imported = [KeywordOrigin::Xmp.model(), KeywordOrigin::Iptc.model()];
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    // Categories a raw class adds on top of its tag's own (per photo).
    let mut own: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &rows {
        if t.kind == TagKind::Raw || imported.contains(&t.model.as_str()) {
            continue;
        }
        if t.model != "user" && t.confidence < min_confidence {
            continue;
        }
        chosen.insert(t.tag.clone());
        if t.kind == TagKind::Tag
            && let Some(entry) = vocab.set_for(&t.model).and_then(|s| s.labels.get(&t.label))
        {
            own.entry(t.tag.clone())
                .or_default()
                .extend(entry.categories.iter().cloned());
        }
    }
    let mut extra = ExtraParents::new();
    for (label, parent) in store.label_parents()? {
        extra.entry(label).or_default().push(parent);
    }
    let parents = |tag: &str| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let defined = vocab
            .tags
            .get(tag)
            .map(|d| &d.categories[..])
            .unwrap_or(&[]);
        let more = extra.get(tag).map(|v| &v[..]).unwrap_or(&[]);
        let mine = own.get(tag).map(|v| &v[..]).unwrap_or(&[]);
        for p in defined.iter().chain(more).chain(mine) {
            if p != tag && chosen.contains(p) && !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    };
    let mut paths = Vec::new();
    for tag in &chosen {
        let mut found = Vec::new();
        chains(tag, &parents, &mut vec![tag.clone()], &mut found);
        found.sort();
        found.dedup();
        paths.extend(found);
    }
    paths.sort();
    Ok(OurTags {
        flat: chosen.into_iter().collect(),
        paths,
    })
}

/// Every path from a top category down to `path[0]` (built bottom-up in `path`).
fn chains(
    tag: &str,
    parents: &dyn Fn(&str) -> Vec<String>,
    path: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
) {
    if out.len() >= MAX_PATHS_PER_TAG {
        return;
    }
    let ps: Vec<String> = parents(tag)
        .into_iter()
        .filter(|p| !path.contains(p))
        .collect();
    if ps.is_empty() || path.len() > 12 {
        out.push(path.iter().rev().cloned().collect());
        return;
    }
    for p in ps {
        path.push(p.clone());
        chains(&p, parents, path, out);
        path.pop();
    }
}

/// What [`write_sidecar`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SidecarWrite {
    /// The sidecar was created or rewritten.
    Written(PathBuf),
    /// It already held exactly these tags: left as it was.
    Unchanged(PathBuf),
}

impl SidecarWrite {
    /// The sidecar's path.
    pub fn path(&self) -> &Path {
        match self {
            SidecarWrite::Written(p) | SidecarWrite::Unchanged(p) => p,
        }
    }
}

/// Merges `tags` into the sidecar of `photo` (creating it from an empty packet when there is
/// none). An existing sidecar whose keywords would not change is not rewritten; one that is not
/// valid XML, or not XMP, is left untouched and is an error. The photo itself is never opened.
pub fn write_sidecar(photo: &Path, naming: Naming, tags: &OurTags) -> Result<SidecarWrite> {
    let path = sidecar_path(photo, naming);
    let xmp_err = |msg: String| Error::Xmp {
        msg,
        path: path.clone(),
    };
    let (text, perms, existed) = match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| xmp_err("not UTF-8 text; left untouched".into()))?;
            let perms = std::fs::metadata(&path).ok().map(|m| m.permissions());
            (text, perms, true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (TEMPLATE.to_string(), None, false),
        Err(e) => return Err(Error::io("cannot read the XMP sidecar", &path, e)),
    };
    let mut doc =
        dom::parse(&text).map_err(|e| xmp_err(format!("not valid XML ({e}); left untouched")))?;
    let before = merge::read_fields(&doc);
    merge::merge(&mut doc, tags).map_err(|e| xmp_err(format!("{e}; left untouched")))?;
    if existed && merge::read_fields(&doc) == before {
        return Ok(SidecarWrite::Unchanged(path));
    }
    let mut out = dom::write(&doc);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    write_atomically(&path, out.as_bytes(), perms)?;
    Ok(SidecarWrite::Written(path))
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8], perms: Option<std::fs::Permissions>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.photolabel-{}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if let Some(p) = perms {
            f.set_permissions(p)?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("cannot write the XMP sidecar", &tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("cannot replace the XMP sidecar", path, e)
    })
}

/// Writes the sidecar of one photo from the store; `Ok(None)` when it has no tags to write
/// and no sidecar to update.
pub fn export_photo(
    store: &Store,
    photo: &Photo,
    opts: &XmpOptions,
) -> Result<Option<SidecarWrite>> {
    let tags = photo_tags(store, photo.id, opts.min_confidence)?;
    if tags.flat.is_empty() && !sidecar_path(&photo.path, opts.naming).exists() {
        return Ok(None);
    }
    write_sidecar(&photo.path, opts.naming, &tags).map(Some)
}

/// Writes the sidecars of `photos` (readable ones; missing or broken files are skipped). A
/// sidecar that cannot be written is reported in the result and the others go on; only a
/// database failure stops the export.
pub fn export(store: &Store, photos: &[Photo], opts: &XmpOptions) -> Result<ExportReport> {
    let start = std::time::Instant::now();
    let mut report = ExportReport::default();
    for p in photos {
        // A photo gone since the last scan gets no sidecar of its own.
        if p.status != PhotoStatus::Ok || !p.path.is_file() {
            report.skipped += 1;
            continue;
        }
        match export_photo(store, p, opts) {
            Ok(Some(SidecarWrite::Written(_))) => report.written += 1,
            Ok(Some(SidecarWrite::Unchanged(_))) => report.unchanged += 1,
            Ok(None) => report.skipped += 1,
            Err(e @ (Error::Xmp { .. } | Error::Io { .. })) => {
                report.failed.push((p.path.clone(), format!("{e:#}")));
            }
            Err(e) => return Err(e),
        }
    }
    report.elapsed_s = start.elapsed().as_secs_f64();
    Ok(report)
}

/// The library's readable photos at or under `paths` (files or folders; every photo when
/// `paths` is empty), in path order.
pub fn photos_under(store: &Store, paths: &[PathBuf]) -> Result<Vec<Photo>> {
    let roots: Vec<PathBuf> = paths
        .iter()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        .collect();
    let mut out: Vec<Photo> = store
        .photos_newest_first(1 << 40, 0)?
        .into_iter()
        .filter(|p| p.status == PhotoStatus::Ok)
        .filter(|p| roots.is_empty() || roots.iter().any(|r| p.path.starts_with(r)))
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_sidecar_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let photo = dir.path().join("a.jpg");
        let side = sidecar_path(&photo, Naming::Ext);
        std::fs::write(&side, "<x:xmpmeta><rdf:RDF></x:xmpmeta>").unwrap();
        let tags = OurTags {
            flat: vec!["dog".into()],
            paths: vec![vec!["dog".into()]],
        };
        let err = write_sidecar(&photo, Naming::Ext, &tags).unwrap_err();
        assert!(format!("{err:#}").contains("not valid XML"), "{err:#}");
        assert_eq!(
            std::fs::read_to_string(&side).unwrap(),
            "<x:xmpmeta><rdf:RDF></x:xmpmeta>"
        );
        assert!(!photo.exists(), "the photo is never created or opened");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_new_sidecar_is_a_complete_packet() {
        let dir = tempfile::tempdir().unwrap();
        let photo = dir.path().join("b.jpg");
        let tags = OurTags {
            flat: vec!["dog".into(), "pet".into()],
            paths: vec![vec!["pet".into()], vec!["pet".into(), "dog".into()]],
        };
        let side = write_sidecar(&photo, Naming::Replace, &tags).unwrap();
        assert_eq!(side, SidecarWrite::Written(dir.path().join("b.xmp")));
        let side = side.path().to_path_buf();
        let modified = std::fs::metadata(&side).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            write_sidecar(&photo, Naming::Replace, &tags).unwrap(),
            SidecarWrite::Unchanged(side.clone()),
            "the same tags again: not rewritten"
        );
        assert_eq!(
            std::fs::metadata(&side).unwrap().modified().unwrap(),
            modified
        );
        let text = std::fs::read_to_string(&side).unwrap();
        assert!(text.starts_with("<?xpacket begin="), "{text}");
        assert!(
            text.contains("<rdf:li>photolabel|pet|dog</rdf:li>"),
            "{text}"
        );
        assert!(
            text.contains("<rdf:li>photolabel/pet/dog</rdf:li>"),
            "{text}"
        );
        let doc = dom::parse(&text).unwrap();
        assert!(merge::foreign_keywords(&doc).is_empty());
    }
}
