//! The reader thread: a read-only connection answering the GUI's queries (photo ids in grid
//! order, rows by id, search, suggestions, one photo's detail with its faces, the library summary
//! and its tag tree, the persons and a person's photos). Reads
//! never wait for the writers (WAL), and a slow query only delays other reads.

use std::path::PathBuf;

use crossbeam_channel::Receiver;

use super::EventSink;
use super::command::{Command, Event, LibrarySnapshot, PhotoDetail};
use crate::store::{Store, query::Query};

/// Most search hits listed.
pub(crate) const SEARCH_LIMIT: usize = 10_000;

pub(crate) fn spawn(db: PathBuf, rx: Receiver<Command>, sink: EventSink) {
    let spawned = std::thread::Builder::new()
        .name("photolabel-reader".into())
        .spawn(move || {
            let store = match Store::open_readonly(&db) {
                Ok(s) => s,
                Err(e) => {
                    sink.send(Event::Error(format!("cannot read the library: {e:#}")));
                    return;
                }
            };
            for cmd in rx {
                let ev = match answer(&store, cmd) {
                    Ok(Some(ev)) => ev,
                    Ok(None) => continue,
                    Err(e) => Event::Error(format!("{e:#}")),
                };
                if !sink.send(ev) {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        log::error!("cannot start the reader thread: {e}");
    }
}

fn answer(store: &Store, cmd: Command) -> crate::Result<Option<Event>> {
    Ok(Some(match cmd {
        Command::ListPhotos(order) => Event::PhotoIds {
            order,
            ids: store.photo_ids(order)?,
        },
        Command::Search(query) => {
            let result = match Query::parse(&query) {
                Ok(q) => store
                    .search(&q, SEARCH_LIMIT, 0)
                    .map_err(|e| format!("{e:#}")),
                Err(e) => Err(format!("{e:#}")),
            };
            Event::SearchResults { query, result }
        }
        Command::Suggest(prefix) => Event::Suggestions {
            tags: store.suggest_tags(&prefix, 8)?,
            prefix,
        },
        Command::FetchPhotos(ids) => Event::Photos(store.photos_by_ids(&ids)?),
        Command::LoadDetail(id) => {
            let Some(photo) = store.photo(id)? else {
                return Ok(None);
            };
            Event::Detail(Box::new(PhotoDetail {
                labels: store.labels_for(id)?,
                runs: store.runs_for(id)?,
                deadline_ms: store.sched_run(id)?.1,
                faces: crate::people::service::photo_faces(store, id)?,
                photo,
            }))
        }
        Command::LoadLibrary => {
            let roots = store.roots()?;
            Event::Library(Box::new(LibrarySnapshot {
                offline: {
                    let holding = store.roots_holding_photos()?;
                    crate::scan::watch::split_offline(roots.clone(), &holding).1
                },
                roots,
                stats: store.stats()?,
                runs: store.run_summary()?,
                tags: store.tag_tree()?,
            }))
        }
        Command::LoadPeople => Event::People(Box::new(crate::people::service::overview(store)?)),
        Command::ListPersonPhotos(person) => Event::PersonPhotos {
            person,
            ids: store.person_photo_ids(person)?,
        },
        other => {
            log::warn!("reader got a command it does not handle: {other:?}");
            return Ok(None);
        }
    }))
}
