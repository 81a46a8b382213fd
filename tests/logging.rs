//! The app's log file (`photolabel::logging`): messages and panics land in
//! `DATA_DIR/logs/photolabel.log`, which is all a user started from a launcher has. Its own test
//! binary, because the logger and the panic hook are process-wide.

#![allow(clippy::unwrap_used)]

use photolabel::logging;

#[test]
fn messages_and_panics_are_written_to_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = logging::init(Some(dir.path())).unwrap().unwrap();
    assert_eq!(path, logging::log_path(dir.path()));
    // Other crates' messages from warn up; photolabel's own from info up.
    log::warn!("hello from the test");
    log::info!("not at info");
    log::info!(target: "photolabel::test", "photolabel at info");
    let crashed = std::thread::Builder::new()
        .name("worker".into())
        .spawn(|| panic!("something broke"))
        .unwrap()
        .join();
    assert!(crashed.is_err());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("WARN  logging: hello from the test"),
        "{text}"
    );
    assert!(!text.contains("not at info"), "{text}");
    assert!(
        text.contains("INFO  photolabel::test: photolabel at info"),
        "{text}"
    );
    assert!(
        text.contains("thread 'worker' panicked") && text.contains("something broke"),
        "{text}"
    );
    assert!(
        text.contains("tests/logging.rs"),
        "the panic's place: {text}"
    );
}
