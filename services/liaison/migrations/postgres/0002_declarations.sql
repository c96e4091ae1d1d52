-- Declarations shared by customs, stored before they are assessed, so nothing is lost when
-- scoring is down: state 1 = pending assessment, 2 = assessed.
CREATE TABLE declarations (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    authority       TEXT    NOT NULL,
    declaration_id  TEXT    NOT NULL,
    -- SHA-256 of the declaration as submitted: a retry or a reuse of the id
    content_hash    BYTEA    NOT NULL,
    -- acx.liaison.v1.Declaration, encoded
    payload         BYTEA    NOT NULL,
    state           INTEGER NOT NULL,
    -- acx.scoring.v1.ShipmentAssessment, encoded, once assessed
    assessment      BYTEA,
    risk            DOUBLE PRECISION,
    lane            INTEGER,
    -- search fields, copied from the declaration
    customs_office  TEXT    NOT NULL,
    importer_id     TEXT    NOT NULL,
    seller_platform TEXT,
    seller_id       TEXT,
    -- the lines' HS codes, space-separated with spaces around: ' 851830 950300 '
    hs_codes        TEXT    NOT NULL,
    declaration_time_us BIGINT NOT NULL,
    receive_time_us BIGINT NOT NULL,
    UNIQUE (authority, declaration_id)
);
CREATE INDEX declarations_pending ON declarations (state, seq);
-- the orders and the most selective filters of SearchShipments
CREATE INDEX declarations_by_risk ON declarations (authority, (COALESCE(risk, -1.0)), seq);
CREATE INDEX declarations_by_time ON declarations (authority, declaration_time_us, seq);
CREATE INDEX declarations_by_importer ON declarations (authority, importer_id, seq);
CREATE INDEX declarations_by_seller ON declarations (authority, seller_platform, seller_id, seq);
CREATE INDEX declarations_by_office ON declarations (authority, customs_office, declaration_time_us, seq);

-- Newly assessed RED and YELLOW shipments, in the order they were assessed: the cursor of
-- WatchAlerts. Written in the transaction that stores the assessment.
CREATE TABLE alerts (
    cursor         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    authority      TEXT NOT NULL,
    declaration_id TEXT NOT NULL
);

-- Inspection results, one per declaration, and the outbox to scoring: forwarded = 1 once
-- scoring acknowledged the outcome.
CREATE TABLE inspection_results (
    authority      TEXT    NOT NULL,
    declaration_id TEXT    NOT NULL,
    -- acx.liaison.v1.InspectionResult, encoded
    payload        BYTEA    NOT NULL,
    forwarded      INTEGER NOT NULL,
    attempts       INTEGER NOT NULL,
    PRIMARY KEY (authority, declaration_id)
);
