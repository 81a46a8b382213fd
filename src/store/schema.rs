//! Versioned schema migrations, applied in order when a database is opened. The version lives
//! in `PRAGMA user_version`; a database newer than the code refuses to open instead of being
//! damaged by an old binary.

/// Migration `i` upgrades a database from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: photos, labels, model runs, tag index.
    r#"
CREATE TABLE roots (
    id        INTEGER PRIMARY KEY,
    path      BLOB NOT NULL UNIQUE,
    added_at  INTEGER NOT NULL
);

CREATE TABLE photos (
    id            INTEGER PRIMARY KEY,
    path          BLOB NOT NULL UNIQUE,      -- raw OS bytes: non-UTF-8 names survive
    root_id       INTEGER REFERENCES roots(id) ON DELETE SET NULL,
    size          INTEGER NOT NULL,
    mtime_ns      INTEGER NOT NULL,
    hash          TEXT,                      -- blake3 of the content, hex
    format        TEXT,
    width         INTEGER,
    height        INTEGER,
    taken_at      TEXT,                      -- EXIF DateTimeOriginal as written (local time)
    taken_ts      INTEGER,                   -- the same as seconds, for ordering
    camera_make   TEXT,
    camera_model  TEXT,
    orientation   INTEGER,
    exposure_s    REAL,
    f_number      REAL,
    flash         INTEGER,
    focal_mm      REAL,
    iso           INTEGER,
    gps           INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL CHECK (status IN ('ok', 'error', 'missing')),
    error         TEXT,
    thumb         INTEGER NOT NULL DEFAULT 0, -- 1 when a cached thumbnail exists
    label_status  TEXT NOT NULL DEFAULT 'pending'
                  CHECK (label_status IN ('pending', 'labelled', 'failed')),
    sort_key      INTEGER NOT NULL UNIQUE,   -- (taken or modified seconds) << 16 | tie-break
    added_at      INTEGER NOT NULL,
    scanned_at    INTEGER NOT NULL
);
CREATE INDEX photos_hash ON photos(hash);
CREATE INDEX photos_root ON photos(root_id);
CREATE INDEX photos_pending ON photos(label_status, status);

CREATE TABLE labels (
    id          INTEGER PRIMARY KEY,
    photo_id    INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    label       TEXT NOT NULL,
    model       TEXT NOT NULL,
    confidence  REAL NOT NULL,
    box_x       REAL, box_y REAL, box_w REAL, box_h REAL,  -- relative to the image, 0..1
    source      TEXT NOT NULL CHECK (source IN ('model', 'user'))
);
CREATE INDEX labels_photo ON labels(photo_id);
CREATE INDEX labels_label ON labels(label);

CREATE TABLE model_runs (
    id               INTEGER PRIMARY KEY,
    photo_id         INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model            TEXT NOT NULL,
    seq              INTEGER NOT NULL,       -- decision order within the photo
    predicted_value  REAL,
    actual_value     REAL,
    start_ms         REAL,                   -- from the start of the photo's schedule
    duration_ms      REAL,
    peak_mem_bytes   INTEGER,
    status           TEXT NOT NULL CHECK (status IN ('ran', 'skipped', 'failed')),
    reason           TEXT,
    run_at           INTEGER NOT NULL
);
CREATE INDEX model_runs_photo ON model_runs(photo_id);
CREATE INDEX model_runs_model ON model_runs(model, status);

-- Folders and files the walk could not read (no photo row can hold them).
CREATE TABLE scan_issues (
    path     BLOB PRIMARY KEY,
    root_id  INTEGER REFERENCES roots(id) ON DELETE CASCADE,
    message  TEXT NOT NULL,
    seen_at  INTEGER NOT NULL
);

-- Parents of labels in a vocabulary (COCO supercategories, WordNet hypernyms), for search.
CREATE TABLE label_parents (
    label   TEXT NOT NULL,
    parent  TEXT NOT NULL,
    PRIMARY KEY (label, parent)
) WITHOUT ROWID;

-- Every word ever indexed (tags and ancestors), for expanding prefix queries into exact terms
-- that FTS5 can merge lazily in rowid order. Words are never removed: a stale word costs one
-- empty term lookup.
CREATE TABLE tag_words (word TEXT PRIMARY KEY) WITHOUT ROWID;

-- One document per photo: its tags and their ancestors. rowid = photos.sort_key, so that
-- "newest first" is FTS5's own rowid order.
CREATE VIRTUAL TABLE tag_index USING fts5(
    tags, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
"#,
    // 2: the scheduler's context of a photo (JSON), kept so the execution log can be replayed
    // for retraining with the same inputs the scheduler saw.
    r#"
ALTER TABLE photos ADD COLUMN sched_context TEXT;
"#,
    // 3: the per-photo deadline the scheduler actually applied (ms; NULL = none), so the
    // timeline draws the deadline of that run rather than today's setting.
    r#"
ALTER TABLE photos ADD COLUMN sched_deadline_ms REAL;
"#,
    // 4: runs that finished after the photo's deadline are `late` (their true duration counts
    // towards the model's cost); photos remember how often labelling failed and whether the
    // reason can go away (weights missing, device error), so they are retried, at most 3 times.
    r#"
CREATE TABLE model_runs_v4 (
    id               INTEGER PRIMARY KEY,
    photo_id         INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model            TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    predicted_value  REAL,
    actual_value     REAL,
    start_ms         REAL,
    duration_ms      REAL,
    peak_mem_bytes   INTEGER,
    status           TEXT NOT NULL CHECK (status IN ('ran', 'late', 'skipped', 'failed')),
    reason           TEXT,
    run_at           INTEGER NOT NULL
);
INSERT INTO model_runs_v4 SELECT id, photo_id, model, seq, predicted_value, actual_value,
    start_ms, duration_ms, peak_mem_bytes, status, reason, run_at FROM model_runs;
DROP TABLE model_runs;
ALTER TABLE model_runs_v4 RENAME TO model_runs;
CREATE INDEX model_runs_photo ON model_runs(photo_id);
CREATE INDEX model_runs_model ON model_runs(model, status);
ALTER TABLE photos ADD COLUMN label_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE photos ADD COLUMN label_retry INTEGER NOT NULL DEFAULT 0;
"#,
    // 5: the vocabulary's tags of each photo (friendly tags, categories, rule tags and raw
    // classes, computed by `vocab::Vocabulary::photo_tags` from the stored labels), for tag
    // counts, the tag browser and suggestions; and key/value facts about the library, such as
    // the hash of the vocabulary the tags were built with.
    r#"
CREATE TABLE photo_tags (
    photo_id    INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('tag', 'category', 'rule', 'raw')),
    priority    INTEGER NOT NULL,
    confidence  REAL NOT NULL,                -- best confidence of the labels giving it
    PRIMARY KEY (photo_id, tag)
) WITHOUT ROWID;
CREATE INDEX photo_tags_tag ON photo_tags(tag);

CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
"#,
    // 6: the shared stage (faces, text boxes) a run computed for the photo and how long it
    // took (part of duration_ms), so a model's own cost and the stage's are learnt apart.
    r#"
ALTER TABLE model_runs ADD COLUMN stage TEXT;
ALTER TABLE model_runs ADD COLUMN stage_ms REAL;
"#,
    // 7: the GPS position (degrees, WGS 84; metres above sea level), for place tags. Photos
    // that had GPS get their modification time forgotten, so the next scan reads their
    // position (same content: their labels stay).
    r#"
ALTER TABLE photos ADD COLUMN latitude REAL;
ALTER TABLE photos ADD COLUMN longitude REAL;
ALTER TABLE photos ADD COLUMN altitude_m REAL;
UPDATE photos SET mtime_ns = 0 WHERE gps = 1 AND status = 'ok';
"#,
    // 8: the user's corrections of labels: a model label removed from a photo is `wrong` there
    // (kept, so that relabelling the photo does not bring it back, and with its confidence, so
    // that the library learns a confidence below which that label is not shown); a tag the
    // user added is `right`.
    r#"
CREATE TABLE corrections (
    photo_id    INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    label       TEXT NOT NULL,
    verdict     TEXT NOT NULL CHECK (verdict IN ('wrong', 'right')),
    model       TEXT,
    confidence  REAL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (photo_id, label)
) WITHOUT ROWID;
CREATE INDEX corrections_label ON corrections(label, verdict);
"#,
    // 9: people. A row per face a face-embedding model found (box and landmarks relative to
    // the photo, detector score, quality, L2-normalised embedding as little-endian f32), the
    // persons faces are grouped into (named by the user or not), each face's person with the
    // source of that assignment ('auto': grouping, 'confirmed': the user; NULL person:
    // unsorted), the user's "not this person" decisions, which grouping never overrides, and
    // which photo contents a face model has looked at (faces found or not).
    r#"
CREATE TABLE persons (
    id          INTEGER PRIMARY KEY,
    name        TEXT COLLATE NOCASE UNIQUE,  -- NULL until the user names the person
    created_at  INTEGER NOT NULL
);

CREATE TABLE faces (
    id          INTEGER PRIMARY KEY,
    photo_id    INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model       TEXT NOT NULL,                -- the embedding model ('faceres')
    box_x REAL NOT NULL, box_y REAL NOT NULL, box_w REAL NOT NULL, box_h REAL NOT NULL,
    landmarks   BLOB NOT NULL,                -- 5 × (x, y) relative to the photo, f32 LE
    score       REAL NOT NULL,                -- detector score
    quality     REAL NOT NULL,                -- 0..1, see people::quality
    embedding   BLOB NOT NULL,                -- f32 LE, unit length
    person_id   INTEGER REFERENCES persons(id),  -- unassign before deleting a person
    assignment  TEXT CHECK (assignment IN ('auto', 'confirmed')),
    added_at    INTEGER NOT NULL,
    CHECK ((person_id IS NULL) = (assignment IS NULL))
);
CREATE INDEX faces_photo ON faces(photo_id);
CREATE INDEX faces_person ON faces(person_id);

CREATE TABLE face_rejections (
    face_id    INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    person_id  INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    PRIMARY KEY (face_id, person_id)
) WITHOUT ROWID;

CREATE TABLE face_scans (
    photo_id    INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model       TEXT NOT NULL,
    hash        TEXT,                         -- photos.hash when it was looked at
    scanned_at  INTEGER NOT NULL,
    PRIMARY KEY (photo_id, model)
) WITHOUT ROWID;
"#,
];
