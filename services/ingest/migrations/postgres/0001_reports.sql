-- Every accepted platform report, in feed order. Raw identifiers are never stored: the
-- payload holds them only as keyed hashes.
CREATE TABLE reports (
    sequence        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform        TEXT   NOT NULL,
    report_id       TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    -- SHA-256 of the canonical report, to tell a retry from a conflicting reuse of the id
    content_hash    BYTEA  NOT NULL,
    payload         BYTEA  NOT NULL,
    receive_time_us BIGINT NOT NULL,
    UNIQUE (platform, report_id)
);
