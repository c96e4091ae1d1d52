-- Declarations shared by customs, stored before they are assessed, so nothing is lost when
-- scoring is down: state 1 = pending assessment, 2 = assessed.
CREATE TABLE declarations (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    authority       TEXT    NOT NULL,
    declaration_id  TEXT    NOT NULL,
    -- SHA-256 of the declaration as submitted: a retry or a reuse of the id
    content_hash    BLOB    NOT NULL,
    -- acx.liaison.v1.Declaration, encoded
    payload         BLOB    NOT NULL,
    state           INTEGER NOT NULL,
    -- acx.scoring.v1.ShipmentAssessment, encoded, once assessed
    assessment      BLOB,
    risk            REAL,
    lane            INTEGER,
    receive_time_us INTEGER NOT NULL,
    UNIQUE (authority, declaration_id)
);
CREATE INDEX declarations_pending ON declarations (state, seq);

-- Inspection results, one per declaration, and the outbox to scoring: forwarded = 1 once
-- scoring acknowledged the outcome.
CREATE TABLE inspection_results (
    authority      TEXT    NOT NULL,
    declaration_id TEXT    NOT NULL,
    -- acx.liaison.v1.InspectionResult, encoded
    payload        BLOB    NOT NULL,
    forwarded      INTEGER NOT NULL,
    attempts       INTEGER NOT NULL,
    PRIMARY KEY (authority, declaration_id)
);
