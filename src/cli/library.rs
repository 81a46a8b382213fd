//! The read-only commands over the library: `search`, `show`, `stats` and `tags`. They take no lock:
//! SQLite's WAL lets them read while the app or a `label` run writes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use photolabel::config::Paths;
use photolabel::store::query::Query;

use super::exit;
use super::scan::open_existing;

/// `photolabel search QUERY`.
pub fn search(
    paths: &Paths,
    query: &[String],
    limit: usize,
    offset: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = open_existing(paths)?;
    let q = Query::parse(&query.join(" "))?;
    let hits = store.search(&q, limit, offset)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
    } else {
        let mut out = std::io::stdout().lock();
        for h in &hits {
            let tags: Vec<String> = h
                .matched
                .iter()
                .map(|m| match &m.via {
                    Some(via) => format!("{} ({:.2}, {via})", m.label, m.confidence),
                    None => format!("{} ({:.2})", m.label, m.confidence),
                })
                .collect();
            writeln!(
                out,
                "{}\t{}\t{}",
                h.taken_at.as_deref().unwrap_or("-"),
                tags.join(", "),
                h.path.display()
            )?;
        }
    }
    Ok(if hits.is_empty() {
        ExitCode::from(exit::NOT_FOUND)
    } else {
        ExitCode::SUCCESS
    })
}

/// `photolabel show PATH`.
pub fn show(paths: &Paths, path: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing(paths)?;
    let abs = std::fs::canonicalize(&path).unwrap_or(path.clone());
    let Some(photo) = store.photo_by_path(&abs)? else {
        eprintln!("photolabel: not in the library: {}", path.display());
        return Ok(ExitCode::from(exit::NOT_FOUND));
    };
    let labels = store.labels_for(photo.id)?;
    let runs = store.runs_for(photo.id)?;
    if json {
        let v = serde_json::json!({ "photo": photo, "labels": labels, "runs": runs });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_photo(&photo, &labels, &runs);
    }
    Ok(ExitCode::SUCCESS)
}

/// `photolabel tags [--tree]`.
pub fn tags(paths: &Paths, tree: bool, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing(paths)?;
    if json {
        let v = if tree {
            serde_json::to_value(store.tag_tree()?)?
        } else {
            serde_json::to_value(store.tag_counts(false)?)?
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        photolabel::store::tags::write_tags(&store, tree, &mut std::io::stdout().lock())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `photolabel stats`.
pub fn stats(paths: &Paths, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing(paths)?;
    let stats = store.stats()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        println!("database      {}", paths.db.display());
        println!("folders       {}", stats.roots);
        println!("photos        {}", stats.photos_ok);
        println!("  with errors {}", stats.photos_error);
        println!("  missing     {}", stats.photos_missing);
        println!("  labelled    {}", stats.photos_labelled);
        println!("thumbnails    {}", stats.thumbnails);
        println!(
            "labels        {} ({} distinct)",
            stats.labels, stats.distinct_labels
        );
        println!(
            "model runs    {} ran, {} skipped, {} failed",
            stats.runs_ran, stats.runs_skipped, stats.runs_failed
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_photo(
    photo: &photolabel::store::Photo,
    labels: &[photolabel::store::Label],
    runs: &[photolabel::store::RunRecord],
) {
    let m = &photo.meta;
    println!("path         {}", photo.path.display());
    println!(
        "status       {:?}{}",
        photo.status,
        photo
            .error
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    );
    println!(
        "size         {} bytes, {} {}x{}",
        photo.size, m.format, m.width, m.height
    );
    println!("hash         {}", photo.hash.as_deref().unwrap_or("-"));
    println!("taken        {}", m.taken_at.as_deref().unwrap_or("-"));
    let camera = [m.camera_make.as_deref(), m.camera_model.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "camera       {}",
        if camera.is_empty() { "-" } else { &camera }
    );
    println!(
        "exposure     {} f/{} ISO {} {}mm flash {} orientation {} gps {}",
        m.exposure_s
            .map(|e| format!("{e:.4}s"))
            .unwrap_or("-".into()),
        m.f_number.map(|f| format!("{f:.1}")).unwrap_or("-".into()),
        m.iso.map(|i| i.to_string()).unwrap_or("-".into()),
        m.focal_mm.map(|f| format!("{f:.0}")).unwrap_or("-".into()),
        m.flash.map(|f| if f { "yes" } else { "no" }).unwrap_or("-"),
        m.orientation.unwrap_or(1),
        if m.gps { "yes" } else { "no" }
    );
    if let Some(pos) = m.position_text() {
        println!("position     {pos}");
    }
    println!("labelling    {:?}", photo.label_status);
    for l in labels {
        println!(
            "  label      {:<24} {:.3}  {}",
            l.label, l.confidence, l.model
        );
    }
    for r in runs {
        println!(
            "  run #{:<3}   {:<20} {:?} {}",
            r.seq,
            r.model,
            r.status,
            r.reason.as_deref().unwrap_or("")
        );
    }
}
