//! The labelling thread, present only when a [`Labeller`] is plugged in: it takes the photos
//! still waiting for labels, labels them one at a time and writes labels and decision log in
//! one transaction per photo (through `label::write`, as the CLI does). A failing photo is
//! marked failed with a `failed` run that says why, is reported once, and the run goes on;
//! when the reason can go away it is retried (Retry, next start), at most three times.
//! After every photo it reports progress (done / total, photos per second, time left) and it
//! can be paused and resumed between photos. Faces the face embedder described are stored
//! with the photo and grouped every few seconds, and when the queue is empty.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded};

use super::EventSink;
use super::command::{Event, LabelProgress};
use super::plugins::{LabelOutcome, Labeller};
use super::settings::LabelSettings;
use crate::label::write;
use crate::people::grouping::{Grouped, Regroup};
use crate::store::Store;

/// Messages to the labelling thread.
#[derive(Debug)]
pub(crate) enum LabelMsg {
    /// New photos may be waiting.
    Wake,
    /// Settings changed.
    Settings(LabelSettings),
    /// Stop after the photo in hand until resumed.
    Pause,
    /// Go on after a pause.
    Resume,
    /// Put photos that failed for a reason that can go away back in the queue, and let the
    /// labeller try the models it could not have again.
    Retry,
    /// Label the waiting photos within this time (`None`: the per-photo deadline again).
    Budget(Option<std::time::Duration>),
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

/// The thread's state between messages.
struct Worker {
    /// The labeller's settings (without the sidecar setting, which is `xmp`).
    settings: LabelSettings,
    xmp: crate::xmp::XmpOptions,
    /// Whether a sidecar failure was already reported in this run (each is logged).
    sidecar_reported: bool,
    paused: bool,
    /// Photos finished since labelling (re)started, and when it started.
    done: u64,
    since: Option<Instant>,
}

impl Worker {
    /// Applies one message and reports the new state.
    fn apply(
        &mut self,
        msg: LabelMsg,
        store: &mut Store,
        labeller: &mut dyn Labeller,
        sink: &EventSink,
    ) {
        match msg {
            LabelMsg::Wake => {}
            LabelMsg::Settings(mut s) => {
                self.xmp = std::mem::take(&mut s.xmp);
                self.sidecar_reported = false;
                self.settings = s;
            }
            LabelMsg::Pause => self.paused = true,
            LabelMsg::Budget(within) => {
                let backlog = store.count_pending_labels().unwrap_or(0) as usize;
                labeller.set_budget(within, backlog);
            }
            LabelMsg::Resume => {
                self.paused = false;
                // Throughput is measured from here on (a pause is not slow labelling).
                self.done = 0;
                self.since = None;
            }
            LabelMsg::Retry => {
                // A new round over the photos that come back.
                self.done = 0;
                self.since = None;
                labeller.retry();
                match store.requeue_retryable() {
                    Ok(n) => log::info!("retry: {n} photos back in the labelling queue"),
                    Err(e) => {
                        sink.send(Event::Error(format!("{e:#}")));
                    }
                }
            }
        }
        self.report(store, None, labeller, sink);
    }

    fn report(
        &self,
        store: &Store,
        current: Option<i64>,
        labeller: &dyn Labeller,
        sink: &EventSink,
    ) {
        let pending = store.count_pending_labels().unwrap_or(0) as u64;
        let retryable = store.retryable_failures().unwrap_or(0) as u64;
        let secs = self.since.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let rate = if secs > 0.0 && self.done > 0 {
            self.done as f64 / secs
        } else {
            0.0
        };
        let budget = labeller.budget();
        let eta_s = match &budget {
            Some(b) => b.expected.map(|e| e.as_secs_f64()),
            None => (rate > 0.0).then(|| pending as f64 / rate),
        };
        sink.offer(Event::LabelProgress(LabelProgress {
            done: self.done,
            total: self.done + pending,
            photos_per_s: rate,
            eta_s,
            budget_left_s: budget.map(|b| b.left.as_secs_f64()),
            current,
            paused: self.paused,
            retryable_failed: retryable,
        }));
    }
}

/// How long faces stored by labelling wait, at most, for grouping while photos keep coming.
const REGROUP_EVERY: Duration = Duration::from_secs(10);

/// Writes a labelled photo: its faces (noted for grouping), then labels and decision log.
fn write_outcome(
    store: &mut Store,
    photo_id: i64,
    out: &LabelOutcome,
    regroup: &mut Regroup,
) -> crate::Result<()> {
    if let Some(found) = &out.faces {
        regroup.stored(write::faces(store, photo_id, found)?);
    }
    write::outcome(
        store,
        photo_id,
        &out.labels,
        &out.runs,
        out.context.as_deref(),
        out.deadline_ms,
    )
}

/// Reports a grouping pass: the People view refreshes when persons may have changed.
fn group_waiting_faces(grouped: crate::Result<Option<Grouped>>, sink: &EventSink) {
    match grouped {
        Ok(None) => {}
        Ok(Some(g)) => {
            log::info!(
                "grouped faces: {} joined, {} new persons, {} unsorted",
                g.joined,
                g.new_persons,
                g.unsorted
            );
            sink.send(Event::PeopleChanged);
        }
        Err(e) => {
            log::warn!("grouping faces: {e:#}");
            sink.send(Event::Error(format!("grouping faces: {e:#}")));
        }
    }
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
    let mut w = Worker {
        settings: LabelSettings::default(),
        xmp: Default::default(),
        sidecar_reported: false,
        paused: false,
        done: 0,
        since: None,
    };
    let mut regroup = Regroup::new(REGROUP_EVERY);
    'outer: while let Ok(msg) = rx.recv() {
        w.apply(msg, &mut store, labeller.as_mut(), sink);
        loop {
            if w.paused {
                continue 'outer;
            }
            let batch = match store.photos_pending_labels(32) {
                Ok(b) => b,
                Err(e) => {
                    sink.send(Event::Error(format!("{e:#}")));
                    break;
                }
            };
            if batch.is_empty() {
                group_waiting_faces(regroup.flush(&mut store), sink);
                break;
            }
            for photo in batch {
                loop {
                    match rx.try_recv() {
                        Ok(msg) => w.apply(msg, &mut store, labeller.as_mut(), sink),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => return,
                    }
                }
                if w.paused {
                    continue 'outer;
                }
                w.since.get_or_insert_with(Instant::now);
                sink.send(Event::LabellingStarted(photo.id));
                if let Ok(n) = store.count_pending_labels() {
                    labeller.set_backlog(n as usize);
                }
                w.report(&store, Some(photo.id), labeller.as_ref(), sink);
                let (written, error) = match labeller.label(&photo, &w.settings) {
                    Ok(out) => (
                        write_outcome(&mut store, photo.id, &out, &mut regroup),
                        None,
                    ),
                    Err(e) => {
                        let msg = format!("{e:#}");
                        // The photo's own fault (unreadable) is final; anything else (no
                        // weights, a device error) may go away and is retried.
                        let retryable = e
                            .downcast_ref::<crate::Error>()
                            .is_none_or(write::retryable);
                        (
                            write::failure_message(
                                &mut store,
                                photo.id,
                                "labeller",
                                msg.clone(),
                                retryable,
                            ),
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
                if error.is_none()
                    && let Err(e) = write::sidecar(&store, photo.id, &w.xmp)
                {
                    log::warn!("{e:#}");
                    if !std::mem::replace(&mut w.sidecar_reported, true) {
                        sink.send(Event::Error(format!("{e:#}")));
                    }
                }
                w.done += 1;
                group_waiting_faces(regroup.tick(&mut store), sink);
                if !sink.send(Event::LabellingDone {
                    photo_id: photo.id,
                    error,
                }) {
                    return;
                }
                w.report(&store, None, labeller.as_ref(), sink);
            }
        }
    }
}
