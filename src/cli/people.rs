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
use photolabel::people::{grouping, service};
use photolabel::store::Store;
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
            service::merge(&mut store, into, &from)?;
            Ok(ExitCode::SUCCESS)
        }
        PeopleCmd::Find { limit } => find(paths, limit, json),
        PeopleCmd::Group { full } => {
            let (_lock, mut store) = writer(paths)?;
            let g = grouping::group(&mut store, &Params::default(), full)?;
            report(
                &service::FindReport {
                    joined: g.joined,
                    new_persons: g.new_persons,
                    in_new_persons: g.in_new_persons,
                    unsorted: g.unsorted,
                    ..Default::default()
                },
                json,
            )
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
    let people = service::overview(&store)?;
    let persons: Vec<_> = people.persons.iter().map(|t| &t.person).collect();
    let unsorted = people.unsorted_faces;
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
    let net = service::load_embedder(&paths.cache_dir)
        .context("loading the face embedder (photolabel models fetch faceres)")?;
    let g = service::find_faces_with(
        &mut store,
        &mut |img| net.embed_faces(img, &PhotoStages::new().scope()),
        limit,
        &mut |step| {
            if let Some(e) = &step.error {
                eprintln!("photolabel: {e}");
            }
            true
        },
    )?;
    if !json {
        println!("{} photos looked at", g.photos);
    }
    report(&g, json)?;
    Ok(if g.failed > 0 {
        ExitCode::from(exit::PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

fn report(g: &service::FindReport, json: bool) -> anyhow::Result<ExitCode> {
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
