//! `photolabel recover`: the way out of a damaged library database. It is moved aside (kept
//! for inspection), the newest backup that opens replaces it (or an empty library), and the
//! folders the restored library knows are rescanned so it matches the photos again.

use std::process::ExitCode;

use photolabel::config::Paths;
use photolabel::json_path::JsonPath;
use photolabel::label::lock::LibraryLock;
use photolabel::scan::ScanOptions;
use photolabel::store::recover;

pub fn run(paths: &Paths, json: bool) -> anyhow::Result<ExitCode> {
    if !paths.db.exists() {
        anyhow::bail!("there is no library to recover at {}", paths.db.display());
    }
    let recovery = {
        let _lock = LibraryLock::acquire(&paths.db)?;
        recover::recover(&paths.db)?
    };
    if json {
        println!(
            "{}",
            serde_json::json!({
                "moved_to": JsonPath(&recovery.moved_to),
                "restored_from": recovery.restored_from.as_deref().map(JsonPath),
                "roots": recovery.roots.iter().map(|r| JsonPath(r)).collect::<Vec<_>>(),
                "photos": recovery.photos,
            })
        );
    } else {
        println!(
            "moved the damaged library aside: {}",
            recovery.moved_to.display()
        );
        match &recovery.restored_from {
            Some(b) => println!(
                "restored the backup {} ({} photos in {} folders)",
                b.display(),
                recovery.photos,
                recovery.roots.len()
            ),
            None => println!(
                "no backup opens: the library starts empty; add your folders again \
                 (`photolabel scan DIR`, or drop them on the window) and they are relabelled"
            ),
        }
    }
    if recovery.roots.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        println!("rescanning its folders so it matches the photos again");
    }
    super::scan::run(
        paths,
        &recovery.roots,
        &ScanOptions::new(paths.thumbs_dir()),
        json,
    )
}
