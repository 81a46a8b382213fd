//! The trainer thread, present only when a [`Trainer`] is plugged in: retrains the scheduler
//! on the library's decision log, reporting progress, then waits for the user to keep the
//! result or roll it back.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crossbeam_channel::{Sender, bounded};

use super::EventSink;
use super::command::{Command, Event};
use super::plugins::Trainer;

pub(crate) fn spawn(
    db: PathBuf,
    mut trainer: Box<dyn Trainer>,
    sink: EventSink,
) -> Sender<Command> {
    let (tx, rx) = bounded::<Command>(16);
    let spawned = std::thread::Builder::new()
        .name("photolabel-trainer".into())
        .spawn(move || {
            let cancel = AtomicBool::new(false);
            for cmd in rx {
                match cmd {
                    Command::Retrain => {
                        let mut progress = |p| sink.offer(Event::TrainProgress(p));
                        let result = trainer
                            .train(&db, &mut progress, &cancel)
                            .map_err(|e| format!("{e:#}"));
                        sink.send(Event::TrainFinished(result));
                    }
                    Command::KeepTrained => match trainer.keep() {
                        Ok(()) => {
                            sink.send(Event::TrainDecided(true));
                        }
                        Err(e) => {
                            sink.send(Event::Error(format!("{e:#}")));
                        }
                    },
                    Command::RollBackTrained => match trainer.roll_back() {
                        Ok(()) => {
                            sink.send(Event::TrainDecided(false));
                        }
                        Err(e) => {
                            sink.send(Event::Error(format!("{e:#}")));
                        }
                    },
                    other => log::warn!("trainer got a command it does not handle: {other:?}"),
                }
            }
        });
    if let Err(e) = spawned {
        log::error!("cannot start the trainer thread: {e}");
    }
    tx
}
