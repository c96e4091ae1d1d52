-- Scoring's history: every input scoring learns from (feed batches, recorded
-- declarations, inspection outcomes) as one ordered log that every replica applies in
-- order (services/scoring/src/history.rs). Positions are dense and commit in order.
CREATE TABLE history (
    position       BIGINT PRIMARY KEY,
    -- which entry (history::Entry): 1 feed batch, 2 declaration, 3 outcome
    kind           SMALLINT NOT NULL,
    -- how many inputs it holds (reports of a feed batch; 1 otherwise)
    records        INTEGER  NOT NULL,
    -- the entry, protobuf-encoded
    payload        BYTEA   NOT NULL,
    -- when it was appended: the "as of" time of everything applying it computes
    append_time_us BIGINT     NOT NULL
);

-- Recorded declarations, once per (authority, declaration_id), written in the same
-- transaction as their history entry: a second assessment through any replica returns
-- the stored one.
CREATE TABLE declarations (
    authority      TEXT   NOT NULL,
    declaration_id TEXT   NOT NULL,
    position       BIGINT   NOT NULL,
    -- SHA-256 of the declaration as sent (canonical form), to tell a retry from a reuse
    content_hash   BYTEA NOT NULL,
    -- acx.scoring.v1.DeclaredShipment as recorded (declaration time set), encoded
    shipment       BYTEA NOT NULL,
    -- acx.scoring.v1.ShipmentAssessment as answered, encoded
    assessment     BYTEA NOT NULL,
    PRIMARY KEY (authority, declaration_id)
);

-- Recorded inspection outcomes, once per declaration, with their history entry.
CREATE TABLE inspection_outcomes (
    authority      TEXT NOT NULL,
    declaration_id TEXT NOT NULL,
    position       BIGINT NOT NULL,
    PRIMARY KEY (authority, declaration_id)
);

-- The last history position whose stored effects (seller_risk, risk_history, blacklist,
-- blacklist_changes, cluster_merges) are written. Whichever replica applies an entry
-- first writes its effects and moves this on, in the same transaction; the others skip.
CREATE TABLE effects_cursor (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position BIGINT NOT NULL
);
INSERT INTO effects_cursor (id, position) VALUES (1, 0);

-- Leases: one replica at a time follows ingest's feed ('feed') or writes snapshots
-- ('snapshot'). A holder renews before expiry; anyone takes an expired lease.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_us BIGINT NOT NULL
);

-- Snapshots of the whole in-memory state at a history position (services/scoring/src/
-- snapshot.rs): a replica starts from the latest valid one and applies the tail.
CREATE TABLE snapshots (
    position       BIGINT PRIMARY KEY,
    format_version INTEGER NOT NULL,
    -- SHA-256 of the bytes (all chunks in order)
    checksum       BYTEA  NOT NULL,
    size_bytes     BIGINT    NOT NULL,
    create_time_us BIGINT    NOT NULL
);
CREATE TABLE snapshot_chunks (
    position BIGINT    NOT NULL,
    chunk    INTEGER NOT NULL,
    bytes    BYTEA  NOT NULL,
    PRIMARY KEY (position, chunk)
);
