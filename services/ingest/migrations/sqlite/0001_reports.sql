-- Every accepted platform report, in feed order (the sequence). Raw identifiers are never
-- stored: the payload (acx.ingest.v1.Report, protobuf-encoded) holds them only as keyed hashes.
CREATE TABLE reports (
    sequence        INTEGER PRIMARY KEY AUTOINCREMENT,
    platform        TEXT    NOT NULL,
    report_id       TEXT    NOT NULL,
    -- acx.ingest.v1.ReportKind
    kind            INTEGER NOT NULL,
    -- HMAC-SHA256 of the stored report under key_id: tells a retry from a reuse of the id
    content_hash    BLOB    NOT NULL,
    key_id          TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    receive_time_us INTEGER NOT NULL,
    -- report_id of the retraction that withdrew this report, if any
    retracted_by    TEXT,
    UNIQUE (platform, report_id)
);
CREATE INDEX reports_by_platform ON reports (platform, sequence);
