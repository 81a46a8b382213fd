//! The labelling thread, present only when a [`Labeller`] is plugged in: it takes the photos
//! still waiting for labels, labels them one at a time and writes labels and decision log in
//! one transaction per photo. A failing photo is marked failed with a `failed` run that says
//! why, is reported once, and the run goes on.

use std::path::PathBuf;

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded};

use super::EventSink;
use super::command::Event;
use super::plugins::Labeller;
use super::settings::LabelSettings;
use crate::store::{RunRecord, RunStatus, Store};

/// Messages to the labelling thread.
#[derive(Debug)]
pub(crate) enum LabelMsg {
    /// New photos may be waiting.
    Wake,
    /// Settings changed.
    Settings(LabelSettings),
}

pub(crate) fn spawn(
    db: PathBuf,
    mut labeller: Box<dyn Labeller>,
    sink: EventSink,
) -> Sender<LabelMsg> {
    let (tx, rx) = bounded(64);
    let status_sink = sink.clone();
    labeller.set_status_sink(std::sync::Arc::new(move |s| {
        status_sink.send(Event::Model(s));
    }));
    let spawned = std::thread::Builder::new()
        .name("photolabel-labelling".into())
        .spawn(move || run(&db, labeller, &rx, &sink));
    if let Err(e) = spawned {
        log::error!("cannot start the labelling thread: {e}");
    }
    tx
}

fn run(
    db: &std::path::Path,
    mut labeller: Box<dyn Labeller>,
    rx: &Receiver<LabelMsg>,
    sink: &EventSink,
) {
    let mut store = match Store::open(db) {
        Ok(s) => s,
        Err(e) => {
            sink.send(Event::Error(format!(
                "labelling cannot open the library: {e:#}"
            )));
            return;
        }
    };
    let mut settings = LabelSettings::default();
    while let Ok(msg) = rx.recv() {
        if let LabelMsg::Settings(s) = msg {
            settings = s;
        }
        loop {
            let batch = match store.photos_pending_labels(32) {
                Ok(b) => b,
                Err(e) => {
                    sink.send(Event::Error(format!("{e:#}")));
                    break;
                }
            };
            if batch.is_empty() {
                break;
            }
            for photo in batch {
                loop {
                    match rx.try_recv() {
                        Ok(LabelMsg::Settings(s)) => settings = s,
                        Ok(LabelMsg::Wake) => {}
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => return,
                    }
                }
                sink.send(Event::LabellingStarted(photo.id));
                let (written, error) = match labeller.label(&photo, &settings) {
                    Ok(out) => (
                        store
                            .write_photo_results(photo.id, &out.labels, &out.runs, false)
                            .and_then(|()| {
                                store.set_sched_run(
                                    photo.id,
                                    out.context.as_deref(),
                                    out.deadline_ms,
                                )
                            }),
                        None,
                    ),
                    Err(e) => {
                        let msg = format!("{e:#}");
                        let run = RunRecord {
                            model: "labeller".into(),
                            seq: 0,
                            predicted_value: None,
                            actual_value: None,
                            start_ms: None,
                            duration_ms: None,
                            peak_mem_bytes: None,
                            status: RunStatus::Failed,
                            reason: Some(msg.clone()),
                        };
                        (
                            store.write_photo_results(photo.id, &[], &[run], true),
                            Some(msg),
                        )
                    }
                };
                if let Err(e) = written {
                    // The database refused: stop until woken again rather than spin.
                    sink.send(Event::Error(format!("{e:#}")));
                    sink.send(Event::LabellingDone {
                        photo_id: photo.id,
                        error: Some(format!("{e:#}")),
                    });
                    break;
                }
                if !sink.send(Event::LabellingDone {
                    photo_id: photo.id,
                    error,
                }) {
                    return;
                }
            }
        }
    }
}
